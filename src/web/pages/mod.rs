//! The owner's web UI: server-rendered pages and plain forms
//! (POST-redirect-GET with a flash message). One dispatcher reads the
//! session, checks CSRF on every state-changing request, and routes.

mod account;
mod agent;
mod knowledge;
mod leads;
mod operator;
mod reports;
mod settings;

pub(crate) use leads::csv_response;
pub(crate) use settings::voice_urls;

use std::net::SocketAddr;

use askama::Template;
use futures_util::StreamExt;
use warp::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use warp::hyper::body::Bytes;
use warp::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::auth::{self, Caller};
use super::input::{ActionError, FieldErrors, Input};
use super::templates::{ErrorPage, Layout, NavItem};
use crate::error::ApiError;
use crate::server::AppState;

/// Largest request body read (uploads are checked against 1 MB themselves,
/// so a slightly larger file still gets a clear message on the page).
pub const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
const FLASH_COOKIE: &str = "fd_flash";
/// Double-submit token for the forms shown before signing in (login, setup).
const PRE_CSRF_COOKIE: &str = "fd_csrf";
const PAGE_PREFIXES: &[&str] = &[
    "setup",
    "login",
    "logout",
    "dashboard",
    "leads",
    "settings",
    "knowledge",
    "analytics",
    "account",
    "operator",
    "static",
];

/// A request as the pages see it.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub ip: String,
    pub body: Bytes,
    /// The body was larger than [`MAX_BODY_BYTES`] and was not read.
    pub too_large: bool,
    /// A multipart form's fields and files, read once.
    pub multipart: Option<(Input, Vec<Upload>)>,
}

/// A file sent with a form.
pub struct Upload {
    pub field: String,
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl Req {
    pub fn segments(&self) -> Vec<&str> {
        self.path.split('/').filter(|s| !s.is_empty()).collect()
    }

    pub fn query_input(&self) -> Input {
        Input::from_urlencoded(self.query.as_bytes())
    }

    /// The form's fields, urlencoded or multipart.
    pub fn form(&self) -> Input {
        match &self.multipart {
            Some((input, _)) => input.clone(),
            None => Input::from_urlencoded(&self.body),
        }
    }

    /// The file sent as `field`, if one was chosen.
    pub fn upload(&self, field: &str) -> Option<(&str, &[u8])> {
        let (_, files) = self.multipart.as_ref()?;
        files
            .iter()
            .find(|f| f.field == field && !f.filename.is_empty())
            .map(|f| (f.filename.as_str(), f.bytes.as_slice()))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

fn is_page_path(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    first.is_empty() || PAGE_PREFIXES.contains(&first)
}

pub fn routes(app: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path::full()
        .and_then(|p: FullPath| async move {
            if is_page_path(p.as_str()) {
                Ok(p)
            } else {
                Err(warp::reject::not_found())
            }
        })
        .and(warp::method())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::header::optional::<u64>("content-length"))
        .and(warp::body::stream())
        .then(
            move |path: FullPath,
                  method,
                  query,
                  headers: HeaderMap,
                  remote: Option<SocketAddr>,
                  length: Option<u64>,
                  body| {
                let app = app.clone();
                async move {
                    let ip = crate::channels::chat::client_address(
                        remote,
                        header_str(&headers, "x-forwarded-for"),
                    );
                    let (body, too_large) = read_body(body, length).await;
                    let multipart = match multer::parse_boundary(
                        header_str(&headers, "content-type").unwrap_or_default(),
                    ) {
                        Ok(boundary) if !too_large => read_multipart(body.clone(), boundary).await,
                        _ => None,
                    };
                    let req = Req {
                        method,
                        path: path.as_str().to_string(),
                        query,
                        headers,
                        ip,
                        body,
                        too_large,
                        multipart,
                    };
                    handle(app, req).await
                }
            },
        )
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Reads the body up to the limit; past it, stops and says so.
pub(crate) async fn read_body<S, B>(mut stream: S, length: Option<u64>) -> (Bytes, bool)
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Unpin,
    B: warp::hyper::body::Buf,
{
    if length.is_some_and(|l| l > MAX_BODY_BYTES) {
        return (Bytes::new(), true);
    }
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(mut chunk) = chunk else { break };
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
        if out.len() as u64 > MAX_BODY_BYTES {
            return (Bytes::new(), true);
        }
    }
    (Bytes::from(out), false)
}

/// The fields and files of a multipart body (None when it is malformed).
async fn read_multipart(body: Bytes, boundary: String) -> Option<(Input, Vec<Upload>)> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut fields, mut files) = (Vec::new(), Vec::new());
    while let Ok(Some(field)) = multipart.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(filename) => {
                let bytes = field.bytes().await.ok()?.to_vec();
                files.push(Upload { field: name, filename, bytes });
            }
            None => fields.push((name, field.text().await.ok()?)),
        }
    }
    Some((Input::from_pairs(fields), files))
}

/// Why a page was not shown.
pub enum PageError {
    /// No valid session: to the login page.
    SignIn,
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError::Api(e)
    }
}

impl From<crate::plans::PlanRequired> for PageError {
    fn from(e: crate::plans::PlanRequired) -> Self {
        PageError::Api(e.into())
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError::Api(e.into())
    }
}

impl From<ActionError> for PageError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Api(e) => PageError::Api(e),
            ActionError::Fields(f) => PageError::Api(ApiError::BadRequest(f.summary())),
        }
    }
}

pub type PageResult = Result<Response, PageError>;

async fn handle(app: AppState, req: Req) -> Response {
    let mut response = match dispatch(&app, &req).await {
        Ok(r) => r,
        Err(PageError::SignIn) => {
            let next = if req.method == Method::GET {
                format!("?next={}", urlencode(&req.path))
            } else {
                String::new()
            };
            redirect(&format!("/login{next}"))
        }
        Err(PageError::Api(e)) => error_page(&app, &e),
    };
    // A page that showed the flash message clears it; a redirect passes it on.
    if flash(&req.headers).is_some() && response.status() != StatusCode::SEE_OTHER {
        response
            .headers_mut()
            .append(header::SET_COOKIE, HeaderValue::from_static("fd_flash=; Path=/; Max-Age=0"));
    }
    security_headers(response.headers_mut(), !req.path.starts_with("/static/"));
    response
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn dispatch(app: &AppState, req: &Req) -> PageResult {
    let segments = req.segments();
    let get = req.method == Method::GET;
    let post = req.method == Method::POST;
    match (segments.as_slice(), get, post) {
        (["static", file], true, _) => return Ok(static_file(file)),
        ([], true, _) => return account::root(app, req).await,
        (["setup"], true, _) => return account::setup_form(app, req).await,
        (["setup"], _, true) => return account::setup(app, req).await,
        (["login"], true, _) => return account::login_form(app, req).await,
        (["login"], _, true) => return account::login(app, req).await,
        _ => {}
    }
    let caller = signed_in(app, req).await?;
    if !get && req.method != Method::HEAD {
        if req.too_large {
            return Err(ApiError::BadRequest(format!(
                "the upload is too large (at most {} MB per request)",
                MAX_BODY_BYTES / 1_000_000
            ))
            .into());
        }
        check_csrf(app, req, &caller)?;
    }
    let page = Page { app, req, caller: &caller };
    match (segments.as_slice(), get, post) {
        (["logout"], _, true) => account::logout(&page),
        (["account"], true, _) => account::account_form(&page, None, FieldErrors::default()).await,
        (["account"], _, true) => account::change_password(&page).await,
        (["dashboard"], true, _) => leads::dashboard(&page).await,
        (["leads"], true, _) => leads::list(&page).await,
        (["leads", "export.csv"], true, _) => leads::export(&page).await,
        (["leads", id], true, _) => leads::detail(&page, id).await,
        (["leads", id, "status"], _, true) => leads::set_status(&page, id).await,
        (["analytics"], true, _) => reports::analytics(&page).await,
        (["settings", "agent"], true, _) => agent::show(&page, agent::Shown::default()).await,
        (["settings", "agent"], _, true) => agent::save(&page).await,
        (["settings", "questions"], _, true) => agent::add_question(&page).await,
        (["settings", "questions", "order"], _, true) => agent::reorder(&page).await,
        (["settings", "questions", id], _, true) => agent::edit_question(&page, id).await,
        (["settings", "questions", id, "delete"], _, true) => agent::delete_question(&page, id).await,
        (["settings", "questions", id, "move"], _, true) => agent::move_question(&page, id).await,
        (["settings", "voice"], true, _) => settings::voice(&page, None, FieldErrors::default()).await,
        (["settings", "voice"], _, true) => settings::save_voice(&page).await,
        (["settings", "voice", "number"], _, true) => settings::save_number(&page).await,
        (["settings", "notifications"], true, _) => {
            settings::notifications(&page, None, FieldErrors::default()).await
        }
        (["settings", "notifications"], _, true) => settings::save_notifications(&page).await,
        (["settings", "business"], true, _) => settings::business(&page, None, FieldErrors::default()).await,
        (["settings", "business"], _, true) => settings::save_business(&page).await,
        (["settings", "widget"], true, _) => settings::widget(&page, None, FieldErrors::default()).await,
        (["settings", "widget"], _, true) => settings::save_widget(&page).await,
        (["settings", "emergency"], true, _) => {
            settings::emergency(&page, None, FieldErrors::default()).await
        }
        (["settings", "emergency"], _, true) => settings::save_emergency(&page).await,
        (["settings", "plan"], true, _) => settings::plan(&page).await,
        (["knowledge"], true, _) => knowledge::list(&page, None, FieldErrors::default()).await,
        (["knowledge"], _, true) => knowledge::add(&page).await,
        (["knowledge", id], true, _) => knowledge::edit_form(&page, id, None, FieldErrors::default()).await,
        (["knowledge", id], _, true) => knowledge::edit(&page, id).await,
        (["knowledge", id, "delete"], _, true) => knowledge::delete(&page, id).await,
        (["operator"], true, _) => operator::list(&page, None, FieldErrors::default()).await,
        (["operator", "businesses"], _, true) => operator::create(&page).await,
        (["operator", "businesses", id, "plan"], _, true) => operator::change_plan(&page, id).await,
        (["operator", "switch"], _, true) => operator::switch(&page),
        _ => Err(ApiError::NotFound("no such page".into()).into()),
    }
}

/// What every signed-in page handler gets.
pub struct Page<'a> {
    pub app: &'a AppState,
    pub req: &'a Req,
    pub caller: &'a Caller,
}

impl Page<'_> {
    /// The business acted on.
    pub fn business(&self) -> Result<&crate::domain::Business, PageError> {
        Ok(self.caller.business()?)
    }

    /// The layout for a page titled `title`, with `nav` highlighted.
    pub async fn layout(&self, title: &str, nav: &str) -> Layout {
        let c = self.caller;
        let business = c.business.as_ref();
        let businesses = if c.is_operator() {
            self.app
                .store
                .list_businesses()
                .await
                .map(|list| list.into_iter().map(|s| (s.business.id, s.business.name)).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Layout {
            title: title.to_string(),
            signed_in: true,
            user_email: c.user.email.clone(),
            role: c.user.role.as_str().to_string(),
            can_manage: c.can_manage(),
            is_operator: c.is_operator(),
            business_id: business.map(|b| b.id.clone()).unwrap_or_default(),
            business_name: business.map(|b| b.name.clone()).unwrap_or_default(),
            plan: business.map(|b| b.plan_tier.as_str().to_string()).unwrap_or_default(),
            csrf: c.claims.csrf.clone(),
            flash: flash(&self.req.headers),
            nav: nav_items(c, nav),
            businesses,
        }
    }
}

fn nav_items(c: &Caller, active: &str) -> Vec<NavItem> {
    let mut items = vec![("/dashboard", "Dashboard"), ("/leads", "Leads"), ("/analytics", "Analytics")];
    if c.can_manage() && c.business.is_some() {
        items.extend([
            ("/settings/agent", "Agent"),
            ("/knowledge", "Knowledge"),
            ("/settings/voice", "Voice"),
            ("/settings/notifications", "Notifications"),
            ("/settings/emergency", "Emergencies"),
            ("/settings/widget", "Widget"),
            ("/settings/business", "Business"),
            ("/settings/plan", "Plan"),
        ]);
    }
    if c.is_operator() {
        items.push(("/operator", "All businesses"));
    }
    items.into_iter().map(|(href, label)| NavItem { href, label, active: href == active }).collect()
}

/// The signed-in caller, or a redirect to the login page.
async fn signed_in(app: &AppState, req: &Req) -> Result<Caller, PageError> {
    let token = auth::cookie(&req.headers, auth::SESSION_COOKIE).ok_or(PageError::SignIn)?;
    let claims = auth::decode(app, token, "web").ok_or(PageError::SignIn)?;
    let user = auth::session_user(app, &claims).await.ok_or(PageError::SignIn)?;
    let wanted = auth::cookie(&req.headers, auth::BUSINESS_COOKIE).map(str::to_string);
    match auth::caller(app, user.clone(), claims.clone(), wanted.as_deref()).await {
        // A switcher cookie naming a deleted business: fall back to the first.
        Err(ApiError::NotFound(_)) if wanted.is_some() => Ok(auth::caller(app, user, claims, None).await?),
        other => Ok(other?),
    }
}

/// Every state-changing request carries the session's token and comes from here.
fn check_csrf(app: &AppState, req: &Req, caller: &Caller) -> Result<(), PageError> {
    let form = req.form();
    let given = match form.get("_csrf") {
        "" => header_str(&req.headers, "x-csrf-token").unwrap_or_default(),
        token => token.to_string(),
    };
    if !auth::csrf_matches(&caller.claims, &given) || !auth::same_origin(app, &req.headers) {
        tracing::warn!(path = %req.path, user = %caller.user.id, "CSRF check failed");
        return Err(ApiError::Forbidden(
            "This form has expired or did not come from this site. Reload the page and try again.".into(),
        )
        .into());
    }
    Ok(())
}

/// The pre-login double-submit token: the cookie's value, or a new one.
fn pre_csrf(req: &Req) -> (String, Option<String>) {
    match auth::cookie(&req.headers, PRE_CSRF_COOKIE).filter(|t| t.len() >= 16) {
        Some(token) => (token.to_string(), None),
        None => {
            let mut bytes = [0u8; 18];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
            let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
            let cookie = format!("{PRE_CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
            (token, Some(cookie))
        }
    }
}

/// Checks a pre-login form's token against its cookie, and its origin.
fn check_pre_csrf(app: &AppState, req: &Req, form: &Input) -> Result<(), PageError> {
    let cookie = auth::cookie(&req.headers, PRE_CSRF_COOKIE).unwrap_or("");
    let given = form.get("_csrf");
    let same =
        !cookie.is_empty() && subtle::ConstantTimeEq::ct_eq(cookie.as_bytes(), given.as_bytes()).into();
    if !same || !auth::same_origin(app, &req.headers) {
        return Err(
            ApiError::Forbidden("This form has expired. Reload the page and try again.".into()).into()
        );
    }
    Ok(())
}

/// The flash message set by the previous redirect, if any.
fn flash(headers: &HeaderMap) -> Option<String> {
    let raw = auth::cookie(headers, FLASH_COOKIE)?;
    let text: String = url::form_urlencoded::parse(format!("m={raw}").as_bytes())
        .find(|(k, _)| k == "m")
        .map(|(_, v)| v.into_owned())?;
    (!text.is_empty()).then_some(text)
}

/// Renders a template as a page.
pub fn render<T: Template>(page: &T) -> PageResult {
    render_status(page, StatusCode::OK)
}

/// Renders with a status other than 200 (a form shown again with errors: 400).
pub fn render_status<T: Template>(page: &T, status: StatusCode) -> PageResult {
    let html = page.render().map_err(|e| ApiError::Internal(format!("template: {e}")))?;
    let mut response = Response::new(html.into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    *response.status_mut() = status;
    Ok(response)
}

/// 200 for a page, 400 for a form shown again with errors.
pub fn status_for(errors: &FieldErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

pub fn redirect(location: &str) -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// A redirect that shows `message` on the next page.
pub fn redirect_with(location: &str, message: &str) -> Response {
    let mut response = redirect(location);
    let cookie = format!("{FLASH_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60", urlencode(message));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Bad input shows the form again (400); anything else is an error page.
pub fn form_error(e: ActionError) -> Result<FieldErrors, PageError> {
    match e {
        ActionError::Fields(f) => Ok(f),
        ActionError::Api(e) => Err(PageError::Api(e)),
    }
}

fn error_page(app: &AppState, e: &ApiError) -> Response {
    if let ApiError::Internal(detail) | ApiError::Unavailable(detail) = e {
        tracing::error!(error = %detail, "page failed");
    }
    let (heading, upgrade) = match e {
        ApiError::NotFound(_) => ("Not found", None),
        ApiError::PlanRequired(p) => {
            ("Not on your plan", Some(format!("This needs the {} plan.", p.required)))
        }
        ApiError::Forbidden(_) | ApiError::Unauthorized(_) => ("Not allowed", None),
        ApiError::BadRequest(_) => ("That did not work", None),
        ApiError::Conflict(_) => ("Already done", None),
        ApiError::TooManyRequests(_) => ("Slow down", None),
        ApiError::Unavailable(_) | ApiError::Internal(_) => ("Something went wrong", None),
    };
    let message = match e {
        ApiError::Internal(_) => {
            "Something went wrong on our side; it has been logged. Please try again.".to_string()
        }
        other => other.to_string(),
    };
    let _ = app;
    let page = ErrorPage {
        l: Layout { title: heading.to_string(), ..Layout::default() },
        heading: heading.into(),
        message,
        upgrade,
    };
    let mut response = match page.render() {
        Ok(html) => Response::new(html.into()),
        Err(_) => Response::new(e.to_string().into()),
    };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    *response.status_mut() = e.status();
    response
}

/// CSP without inline script, no framing, no referrer leaks, and no caching
/// of pages that show a business's data.
fn security_headers(headers: &mut HeaderMap, private: bool) {
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    // The widget preview injects its own <style>, hence 'unsafe-inline' for styles only.
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
    );
    set(headers, "x-frame-options", "DENY");
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "same-origin");
    if private {
        set(headers, "cache-control", "no-store");
    }
}

fn static_file(name: &str) -> Response {
    let (path, kind) = match name {
        "app.css" => ("static/app.css", "text/css; charset=utf-8"),
        "app.js" => ("static/app.js", "application/javascript; charset=utf-8"),
        _ => return error_404(),
    };
    match crate::assets::ASSETS.get_file(path) {
        Some(file) => {
            let mut response = Response::new(file.contents().to_vec().into());
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            response
        }
        None => error_404(),
    }
}

fn error_404() -> Response {
    let mut response = Response::new("not found".into());
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A UTC timestamp in the business's zone, as the owner reads it.
pub fn local_time(ts: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| t.with_timezone(&tz).format("%b %-d, %H:%M").to_string())
        .unwrap_or_else(|_| ts.to_string())
}
