//! The website chat channel: `POST /api/chat`, its streaming twin
//! `POST /api/chat/stream` (server-sent events), the widget's public settings
//! and `GET /widget.js`.

use std::convert::Infallible;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use warp::http::{header, HeaderValue, StatusCode};
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::sse::Event;
use warp::{Filter, Rejection, Reply};

use super::engine;
use crate::agent::conversation::Context;
use crate::domain::{Channel, Priority};
use crate::error::ApiError;
use crate::http::with_state;
use crate::ids::{BusinessId, LeadId};
use crate::plans::Feature;
use crate::state::AppState;

/// Longest visitor message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4000;
/// Largest request body read at all.
const MAX_BODY_BYTES: u64 = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChatRequest {
    business_id: BusinessId,
    message: String,
    #[serde(default)]
    session_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChatResponse {
    session_id: String,
    reply: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    emergency: Option<Emergency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lead_id: Option<LeadId>,
    done: bool,
}

#[derive(Debug, Serialize)]
struct Emergency {
    level: Priority,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WidgetConfig {
    business_id: BusinessId,
    agent_name: String,
    welcome_message: String,
    color_theme: std::collections::BTreeMap<String, String>,
    show_branding: bool,
}

pub fn routes(app: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let request = origin()
        .and(own_page())
        .and(crate::http::client_ip::filter(app.config.server.trusted_proxies.clone()))
        .and(crate::http::body::limited(MAX_BODY_BYTES, app.body_deadline()));
    let chat = warp::path!("api" / "chat")
        .and(warp::post())
        .and(with_state(app.clone()))
        .and(request.clone())
        .then(|app, origin, own, ip, body| post_chat(app, origin, own, ip, body, false));
    let stream = warp::path!("api" / "chat" / "stream")
        .and(warp::post())
        .and(with_state(app.clone()))
        .and(request)
        .then(|app, origin, own, ip, body| post_chat(app, origin, own, ip, body, true));
    let config = warp::path!("api" / "chat" / "config" / String)
        .and(crate::http::get_or_head())
        .and(with_state(app))
        .and(origin())
        .then(get_config);
    let preflight = warp::path("api")
        .and(warp::path("chat"))
        .and(warp::options())
        .and(warp::header::optional::<String>("origin"))
        .map(preflight);
    let widget = warp::path!("widget.js").and(crate::http::get_or_head()).map(widget_js);
    let demo = warp::path!("demo" / String).and(crate::http::get_or_head()).map(demo_page);
    chat.or(stream).or(config).or(preflight).or(widget).or(demo)
}

/// The request's Origin, or None for a same-origin request (the widget on a
/// page of this instance, such as /demo or the admin preview).
fn origin() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("origin").and(warp::header::optional::<String>("host")).map(
        |origin: Option<String>, host: Option<String>| {
            let same = match (&origin, &host) {
                (Some(o), Some(h)) => url::Url::parse(o).ok().is_some_and(|u| {
                    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                    format!("{}{port}", u.host_str().unwrap_or_default()).eq_ignore_ascii_case(h)
                }),
                _ => false,
            };
            origin.filter(|_| !same)
        },
    )
}

/// Whether a browser sent this from one of this instance's own pages (the
/// owner's preview, the demo page): its Origin is this host.
fn own_page() -> impl Filter<Extract = (bool,), Error = Rejection> + Clone {
    warp::header::optional::<String>("origin").and(warp::header::optional::<String>("host")).map(
        |origin: Option<String>, host: Option<String>| match (origin, host) {
            (Some(o), Some(h)) => url::Url::parse(&o).ok().is_some_and(|u| {
                let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{}{port}", u.host_str().unwrap_or_default()).eq_ignore_ascii_case(&h)
            }),
            _ => false,
        },
    )
}

/// Where a browser request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    /// No Origin: a server or API client.
    Unknown,
    /// One of the business's own sites.
    Business,
    /// This instance's own pages or its demo/test URLs: a test conversation.
    Instance,
}

async fn post_chat(
    app: AppState,
    origin: Option<String>,
    own: bool,
    ip: String,
    body: Bytes,
    stream: bool,
) -> Response {
    // The visitor's message is here (the body was read by the filter): the
    // reply's latency counts from now.
    let received = std::time::Instant::now();
    let request: ChatRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(ApiError::BadRequest(format!("invalid JSON body: {e}")), None),
    };
    let message = request.message.trim();
    if message.is_empty() {
        return error(ApiError::BadRequest("message must not be empty".into()), None);
    }
    if message.len() > MAX_MESSAGE_BYTES {
        return error(
            ApiError::BadRequest(format!("message is too long (at most {MAX_MESSAGE_BYTES} bytes)")),
            None,
        );
    }
    let ctx = match engine::context(&app, &request.business_id).await {
        Ok(ctx) => ctx,
        Err(e) => return error(ApiError::from(e), None),
    };
    let (cors, site) = match allowed_origin(&app, &ctx, origin.as_deref()) {
        Ok(found) => found,
        Err(e) => return error(e, None),
    };
    // The owner trying the agent out never alerts anyone.
    let test = own || site == Site::Instance;
    let session_ok = match request.session_id.as_deref() {
        Some(id) => app.chat_limits.per_session.allow(id).await,
        None => true,
    };
    if !session_ok || !app.chat_limits.per_ip.allow(&ip).await {
        return error(
            ApiError::TooManyRequests("too many messages; please wait a moment and try again".into()),
            cors.as_deref(),
        );
    }
    if stream {
        return with_cors(sse_turn(app, ctx, request, test, received).into_response(), cors.as_deref());
    }
    match engine::run_turn(&app, &ctx, Channel::Chat, request.session_id.as_deref(), message, None, test)
        .await
    {
        Ok(reply) => {
            // In one piece: the whole reply is its first word.
            let elapsed = received.elapsed();
            let sample =
                engine::latency_sample(&ctx.business, &reply.conversation_id, Channel::Chat, "chat", elapsed);
            engine::record_latency(&app, sample);
            with_cors(warp::reply::json(&response(reply)).into_response(), cors.as_deref())
        }
        Err(e) => error(ApiError::from(e), cors.as_deref()),
    }
}

/// Streams the reply as `delta` events, then one `done` event carrying the
/// same JSON `POST /api/chat` answers (or an `error` event).
fn sse_turn(
    app: AppState,
    ctx: Context,
    request: ChatRequest,
    test: bool,
    received: std::time::Instant,
) -> impl Reply {
    let (events, rx) = mpsc::channel::<Result<Event, Infallible>>(32);
    tokio::spawn(async move {
        let (deltas, mut delta_rx) = mpsc::channel::<String>(32);
        // Returns when the first delta went to the visitor: the reply's latency.
        let forward = {
            let events = events.clone();
            tokio::spawn(async move {
                let mut first = None;
                while let Some(text) = delta_rx.recv().await {
                    let event = Event::default().event("delta").data(json!({ "text": text }).to_string());
                    if events.send(Ok(event)).await.is_err() {
                        break;
                    }
                    first = first.or_else(|| Some(received.elapsed()));
                }
                first
            })
        };
        let message = request.message.trim().to_string();
        let result = engine::run_turn(
            &app,
            &ctx,
            Channel::Chat,
            request.session_id.as_deref(),
            &message,
            Some(deltas),
            test,
        )
        .await;
        let first = forward.await.ok().flatten();
        let event = match result {
            Ok(reply) => {
                if let Some(elapsed) = first {
                    let conversation = &reply.conversation_id;
                    let sample = engine::latency_sample(
                        &ctx.business,
                        conversation,
                        Channel::Chat,
                        "chat_stream",
                        elapsed,
                    );
                    engine::record_latency(&app, sample);
                }
                Event::default().event("done").data(json!(response(reply)).to_string())
            }
            Err(e) => {
                let e = ApiError::from(e);
                Event::default().event("error").data(json!({ "error": e.to_string() }).to_string())
            }
        };
        let _ = events.send(Ok(event)).await;
    });
    warp::sse::reply(ReceiverStream::new(rx))
}

fn response(reply: engine::Reply) -> ChatResponse {
    ChatResponse {
        session_id: reply.session_id,
        reply: reply.text,
        emergency: reply.emergency.map(|level| Emergency { level }),
        lead_id: reply.lead_id,
        done: reply.done,
    }
}

async fn get_config(business_id: String, app: AppState, origin: Option<String>) -> Response {
    let ctx = match engine::context(&app, &BusinessId::from(business_id)).await {
        Ok(ctx) => ctx,
        Err(e) => return error(ApiError::from(e), None),
    };
    let (cors, site) = match allowed_origin(&app, &ctx, origin.as_deref()) {
        Ok(found) => found,
        Err(e) => return error(e, None),
    };
    if let (Site::Business, Some(origin)) = (site, &cors) {
        note_seen(&app, &ctx.business.id, origin).await;
    }
    let config = WidgetConfig {
        business_id: ctx.business.id.clone(),
        agent_name: ctx.agent.agent_name.clone(),
        welcome_message: ctx.agent.welcome_message.clone(),
        color_theme: ctx.agent.color_theme.clone(),
        show_branding: !app.plans.allows(ctx.business.plan_tier, Feature::BrandingRemoval),
    };
    with_cors(warp::reply::json(&config).into_response(), cors.as_deref())
}

/// The widget loaded on one of the business's own sites: the first time is
/// kept (the first-hour checklist); later loads write nothing.
async fn note_seen(app: &AppState, business_id: &BusinessId, origin: &str) {
    static SEEN: std::sync::OnceLock<moka::sync::Cache<String, ()>> = std::sync::OnceLock::new();
    let seen = SEEN.get_or_init(|| moka::sync::Cache::new(100_000));
    if seen.contains_key(business_id.as_str()) {
        return;
    }
    match app.store.note_widget_seen(business_id, origin).await {
        Ok(()) => seen.insert(business_id.to_string(), ()),
        Err(e) => tracing::warn!(%business_id, error = %e, "could not record where the widget was seen"),
    }
}

/// The origin to echo in `Access-Control-Allow-Origin`, and where it is, or a
/// 403 unless it is one of the business's sites or this instance's own
/// (APP_PRIMARY_URL, WIDGET_DEMO_URL, WIDGET_TEST_URL, the admin domain).
/// Requests without an Origin (curl, servers) need no CORS answer.
fn allowed_origin(
    app: &AppState,
    ctx: &Context,
    origin: Option<&str>,
) -> Result<(Option<String>, Site), ApiError> {
    let Some(origin) = origin.map(|o| o.trim_end_matches('/')) else { return Ok((None, Site::Unknown)) };
    let listed = &ctx.business.website_origins;
    let urls = &app.config.urls;
    let global = [
        app.config.public_url(),
        urls.app_primary_url.clone(),
        urls.admin_custom_domain_url.clone(),
        urls.widget_demo_url.clone(),
        urls.widget_test_url.clone(),
    ];
    let matches = |candidate: &str| origin_of(candidate).is_some_and(|o| o.eq_ignore_ascii_case(origin));
    if listed.iter().any(|o| matches(o)) {
        return Ok((Some(origin.to_string()), Site::Business));
    }
    if global.iter().any(|o| matches(o)) {
        return Ok((Some(origin.to_string()), Site::Instance));
    }
    Err(ApiError::Forbidden(format!("this site ({origin}) is not allowed to use this business's chat")))
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

fn preflight(origin: Option<String>) -> Response {
    // The business is in the body, so the real check happens on the POST.
    let mut response = warp::reply().into_response();
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    with_cors(response, origin.as_deref())
}

fn with_cors(mut response: Response, origin: Option<&str>) -> Response {
    if let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn error(e: ApiError, cors: Option<&str>) -> Response {
    with_cors(e.reply(), cors)
}

/// A stand-in business website with the widget, for trying a business out.
fn demo_page(business_id: String) -> Response {
    // Ids are hex; anything else is not put into the page at all.
    let valid = !business_id.is_empty()
        && business_id.len() <= 64
        && business_id.bytes().all(|b| b.is_ascii_hexdigit());
    let page = crate::assets::ASSETS.get_file("widget/demo.html").and_then(|f| f.contents_utf8());
    match (valid, page) {
        (true, Some(page)) => warp::reply::html(page.replace("BUSINESS_ID", &business_id)).into_response(),
        _ => error(ApiError::NotFound("no such business".into()), None),
    }
}

fn widget_js() -> Response {
    match crate::assets::ASSETS.get_file("widget/widget.js") {
        Some(file) => {
            let mut response = Response::new(file.contents().to_vec().into());
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/javascript; charset=utf-8"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            response
        }
        None => error(ApiError::NotFound("widget.js is missing from this build".into()), None),
    }
}
