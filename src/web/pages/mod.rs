//! The owner's web UI: server-rendered pages and plain forms
//! (POST-redirect-GET with a flash message). One dispatcher reads the
//! session, checks CSRF on every state-changing request, and routes.

mod account;
mod agent;
mod facts;
mod knowledge;
mod leads;
mod notifications;
mod operator;
pub(crate) mod reports;
mod request;
mod respond;
mod settings;
mod voice_tools;

pub(crate) use leads::{csv_file, csv_response};
pub use request::{raw, routes, BodyLimit, Raw, Req, Upload, ANONYMOUS_BODY_BYTES, MAX_BODY_BYTES};
pub use respond::{form_error, local_time, redirect, redirect_with, render, render_status, status_for};
pub(crate) use settings::voice_urls;
pub(crate) use voice_tools::audio_response;

use request::header_str;
use respond::{error_page, flash, security_headers, static_file, urlencode};
use warp::http::{header, HeaderValue, Method, StatusCode};
use warp::reply::Response;

use super::auth::{self, Caller};
use super::input::{ActionError, FieldErrors, Input};
use super::templates::{Layout, NavItem};
use crate::error::ApiError;
use crate::ids::{BusinessId, LeadId};
use crate::state::AppState;

/// Double-submit token for the forms shown before signing in (login, setup).
const PRE_CSRF_COOKIE: &str = "fd_csrf";

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
            let next = if req.method == Method::GET || req.method == Method::HEAD {
                format!("?next={}", urlencode(&req.path))
            } else {
                String::new()
            };
            redirect(&format!("/login{next}"))
        }
        Err(PageError::Api(e)) => error_page(&e),
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

// The pages' route table: one arm per page and form, each a line or two.
async fn dispatch(app: &AppState, req: &Req) -> PageResult {
    if let Some(e) = &req.body_error {
        return Err(ApiError::from(e.clone()).into());
    }
    let segments = req.segments();
    // HEAD is answered as GET; the server leaves the body out.
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let post = req.method == Method::POST;
    match (segments.as_slice(), get, post) {
        (["static", file], true, _) => return Ok(static_file(file)),
        ([], true, _) => return account::root(app, req).await,
        (["setup"], true, _) => return account::setup_form(app, req).await,
        (["setup"], _, true) => return account::setup(app, req).await,
        (["login"], true, _) => return account::login_form(app, req).await,
        (["login"], _, true) => return account::login(app, req).await,
        (["forgot-password"], true, _) => return account::forgot(),
        // The original design's `upgradeUrl`; the plan page is where upgrading is explained.
        (["admin", "upgrade"], true, _) => return Ok(redirect(crate::error::UPGRADE_PATH)),
        _ => {}
    }
    let caller = signed_in(app, req).await?;
    if !get {
        check_csrf(app, req, &caller)?;
    }
    let page = Page { app, req, caller: &caller };
    match (segments.as_slice(), get, post) {
        (["logout"], _, true) => account::logout(&page).await,
        (["account"], true, _) => account::account_form(&page, None, FieldErrors::default()).await,
        (["account"], _, true) => account::change_password(&page).await,
        (["dashboard"], true, _) => leads::dashboard(&page).await,
        (["leads"], true, _) => leads::list(&page).await,
        (["leads", "export.csv"], true, _) => leads::export(&page).await,
        (["leads", id], true, _) => leads::detail(&page, &LeadId::from(*id)).await,
        (["leads", id, "status"], _, true) => leads::set_status(&page, &LeadId::from(*id)).await,
        (["leads", id, "notes"], _, true) => leads::set_notes(&page, &LeadId::from(*id)).await,
        (["leads", id, "test"], _, true) => leads::set_test(&page, &LeadId::from(*id)).await,
        (["leads", id, "delete"], _, true) => leads::delete(&page, &LeadId::from(*id)).await,
        (["settings", "facts"], true, _) => facts::show(&page, None, FieldErrors::default()).await,
        (["settings", "facts"], _, true) => facts::save(&page).await,
        (["leads", id, "triage"], _, true) => leads::mark_triage(&page, &LeadId::from(*id)).await,
        (["analytics"], true, _) => reports::analytics(&page).await,
        (["analytics.csv"], true, _) => reports::analytics_csv(&page).await,
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
        (["settings", "voice", "samples", voice], true, _) => voice_tools::sample(&page, voice).await,
        (["settings", "voice", "test-call"], _, true) => voice_tools::test_call(&page).await,
        (["settings", "notifications"], true, _) => notifications::show(&page, Default::default()).await,
        (["settings", "notifications"], _, true) => notifications::save_addresses(&page).await,
        (["settings", "notifications", "prefs"], _, true) => notifications::save_prefs(&page).await,
        (["settings", "notifications", "test"], _, true) => notifications::send_test(&page).await,
        (["settings", "notifications", id, "retry"], _, true) => notifications::retry(&page, id).await,
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
        (["knowledge", "web"], _, true) => knowledge::import_web(&page).await,
        (["knowledge", "glossary"], true, _) => knowledge::list(&page, None, FieldErrors::default()).await,
        (["knowledge", "glossary"], _, true) => knowledge::save_glossary(&page).await,
        (["knowledge", id], true, _) => knowledge::edit_form(&page, id, None, FieldErrors::default()).await,
        (["knowledge", id], _, true) => knowledge::edit(&page, id).await,
        (["knowledge", id, "delete"], _, true) => knowledge::delete(&page, id).await,
        (["operator"], true, _) => operator::list(&page, None, FieldErrors::default()).await,
        (["operator", "analytics"], true, _) => operator::analytics(&page).await,
        (["operator", "analytics.csv"], true, _) => operator::analytics_csv(&page).await,
        (["operator", "businesses"], _, true) => operator::create(&page).await,
        (["operator", "businesses", id, "plan"], _, true) => {
            operator::change_plan(&page, &BusinessId::from(*id)).await
        }
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
                .map(|list| list.into_iter().map(|s| (s.business.id.into(), s.business.name)).collect())
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
            business_id: business.map(|b| b.id.to_string()).unwrap_or_default(),
            business_name: business.map(|b| b.name.clone()).unwrap_or_default(),
            plan: business.map(|b| b.plan_tier.as_str().to_string()).unwrap_or_default(),
            csrf: c.claims.csrf.clone(),
            flash: flash(&self.req.headers),
            nav: nav_items(c, nav),
            businesses,
            alert_banner: business.and_then(|b| self.app.notify_policy().alert_problem(b)),
        }
    }
}

fn nav_items(c: &Caller, active: &str) -> Vec<NavItem> {
    let mut items = vec![("/dashboard", "Dashboard"), ("/leads", "Leads"), ("/analytics", "Analytics")];
    if c.can_manage() && c.business.is_some() {
        items.extend([
            ("/settings/facts", "Facts"),
            ("/settings/agent", "Agent"),
            ("/knowledge", "Knowledge"),
            ("/settings/voice", "Voice"),
            ("/settings/notifications", "Notifications"),
            ("/settings/emergency", "Emergencies"),
            ("/settings/widget", "Widget"),
            ("/settings/business", "Business"),
            ("/settings/plan", "Plan"),
        ]);
    } else if c.business.is_some() {
        // Staff follow the outbox; the settings on that page are not shown to them.
        items.push(("/settings/notifications", "Notifications"));
    }
    if c.is_operator() {
        items.push(("/operator", "All businesses"));
        items.push(("/operator/analytics", "All analytics"));
    }
    items.into_iter().map(|(href, label)| NavItem { href, label, active: href == active }).collect()
}

/// The signed-in caller, or a redirect to the login page.
async fn signed_in(app: &AppState, req: &Req) -> Result<Caller, PageError> {
    let token = auth::cookie(&req.headers, auth::SESSION_COOKIE).ok_or(PageError::SignIn)?;
    let claims = auth::decode(app, token, "web").ok_or(PageError::SignIn)?;
    let user = auth::session_user(app, token, &claims).await.ok_or(PageError::SignIn)?;
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
