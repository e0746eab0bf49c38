//! The JSON admin API: what the pages do, for integrations and tests.
//! `POST /api/auth/login` gives a bearer token; every `/api/admin/…` call
//! carries it (`Authorization: Bearer …`). Bearer tokens are not cookies, so
//! no CSRF token is needed. An operator names the business with the
//! `X-Business-Id` header or `?business=`; owners and staff act on their own.
//! Every answer is a camelCase struct of `answers`; errors are `{"error", "code"}`.

mod answers;
mod fields;
mod notifications;

use serde::Serialize;
use serde_json::{json, Value};
use warp::http::{HeaderMap, Method, StatusCode};
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::actions;
use super::analytics;
use super::auth::{self, Caller};
use super::forms::{self, zone};
use super::input::{ActionError, Input};
use crate::error::ApiError;
use crate::ids::{BusinessId, LeadId};
use crate::plans::Feature;
use crate::state::AppState;

/// Largest API body: a file to import (10 MB, see `import::extract`) with
/// room to spare, so one a little over the cap gets the importer's own
/// message naming the limit.
const MAX_BODY_BYTES: u64 = 12 * 1024 * 1024;

pub fn routes(app: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let is_api = |path: &str| path.starts_with("/api/auth/") || path.starts_with("/api/admin/");
    super::pages::raw(app.clone(), is_api, body_limit).then(move |raw: super::pages::Raw| {
        let app = app.clone();
        async move {
            if let Some(e) = raw.body_error {
                return ApiError::from(e).reply();
            }
            let super::pages::Raw { method, path, query, headers, ip, body, .. } = raw;
            let req = ApiReq { method, path, query, headers, ip, body };
            match dispatch(&app, &req).await {
                Ok(response) => response,
                Err(e) => error_reply(e),
            }
        }
    })
}

/// Large bodies only with a bearer token that checks out.
fn body_limit(app: &AppState, headers: &HeaderMap) -> u64 {
    let token =
        headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|h| h.strip_prefix("Bearer "));
    if token.is_some_and(|t| auth::decode(app, t.trim(), "api").is_some()) {
        MAX_BODY_BYTES
    } else {
        super::pages::ANONYMOUS_BODY_BYTES
    }
}

struct ApiReq {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    ip: String,
    body: Bytes,
}

impl ApiReq {
    /// The JSON body, read with the endpoint's field names (see `fields`).
    fn json(&self, fields: &fields::Fields) -> Result<Input, ApiError> {
        if self.body.is_empty() {
            return Ok(Input::default());
        }
        let value: Value = serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
        fields.read(&value)
    }

    fn query_input(&self) -> Input {
        Input::from_urlencoded(self.query.as_bytes())
    }
}

fn error_reply(e: ActionError) -> Response {
    match e {
        ActionError::Api(e) => {
            if let ApiError::Internal(detail) | ApiError::Unavailable(detail) = &e {
                tracing::error!(error = %detail, "admin API request failed");
            }
            e.reply()
        }
        ActionError::Fields(fields) => {
            let map: serde_json::Map<String, Value> =
                fields.0.iter().map(|(f, m)| (f.clone(), Value::String(m.clone()))).collect();
            let body = json!({ "error": fields.summary(), "code": "bad_request", "fields": map });
            warp::reply::with_status(warp::reply::json(&body), StatusCode::BAD_REQUEST).into_response()
        }
    }
}

// Every answer is one of `answers`' camelCase structs (see there).
fn ok(answer: impl Serialize) -> Result<Response, ActionError> {
    Ok(warp::reply::json(&answer).into_response())
}

/// 202: a background job was queued; the body is the job.
fn accepted(answer: impl Serialize) -> Result<Response, ActionError> {
    Ok(warp::reply::with_status(warp::reply::json(&answer), StatusCode::ACCEPTED).into_response())
}

fn created(answer: impl Serialize) -> Result<Response, ActionError> {
    Ok(warp::reply::with_status(warp::reply::json(&answer), StatusCode::CREATED).into_response())
}

async fn login(app: &AppState, req: &ApiReq) -> Result<Response, ActionError> {
    let input = req.json(&fields::LOGIN)?;
    let user =
        auth::login(app, input.get("email"), input.get("password"), &req.ip).await.map_err(ApiError::from)?;
    let (token, claims) = auth::issue(app, &user, "api", auth::API_TOKEN)?;
    ok(answers::LoginAnswer { token: &token, expires_at: claims.exp, user: (&user).into() })
}

fn bearer_token(req: &ApiReq) -> Option<&str> {
    let header = req.headers.get("authorization").and_then(|v| v.to_str().ok())?;
    header.strip_prefix("Bearer ").map(str::trim)
}

/// The caller named by the bearer token, acting on the business asked for.
async fn bearer(app: &AppState, req: &ApiReq) -> Result<Caller, ApiError> {
    let unauthorized = || {
        ApiError::Unauthorized(
            "sign in: POST /api/auth/login, then send Authorization: Bearer <token>".into(),
        )
    };
    let token = bearer_token(req).ok_or_else(unauthorized)?;
    let claims = auth::decode(app, token.trim(), "api").ok_or_else(unauthorized)?;
    let user = auth::session_user(app, token.trim(), &claims).await.ok_or_else(unauthorized)?;
    let from_header = req.headers.get("x-business-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let query = req.query_input();
    let wanted = from_header.or_else(|| query.opt("business").map(str::to_string));
    auth::caller(app, user, claims, wanted.as_deref()).await
}

async fn dispatch(app: &AppState, req: &ApiReq) -> Result<Response, ActionError> {
    if req.path.starts_with("/api/auth/") {
        return auth_route(app, req).await;
    }
    let caller = bearer(app, req).await?;
    admin_route(app, &caller, req).await
}

/// Signing in and out: the only routes without a bearer token (login).
async fn auth_route(app: &AppState, req: &ApiReq) -> Result<Response, ActionError> {
    match (req.path.as_str(), &req.method) {
        ("/api/auth/login", &Method::POST) => login(app, req).await,
        ("/api/auth/logout", &Method::POST) => {
            let caller = bearer(app, req).await?;
            let token = bearer_token(req).unwrap_or_default();
            auth::revoke(app, token, &caller.claims).await?;
            ok(answers::SignedOut { signed_out: true })
        }
        _ => Err(ApiError::NotFound("POST /api/auth/login or /api/auth/logout".into()).into()),
    }
}

fn no_such_endpoint(req: &ApiReq) -> ActionError {
    ApiError::NotFound(format!("no such endpoint: {} {}", req.method, req.path)).into()
}

/// The admin API's route table, one arm per endpoint (each a line or a
/// few); the knowledge and notification routes have their own tables.
async fn admin_route(app: &AppState, caller: &Caller, req: &ApiReq) -> Result<Response, ActionError> {
    let rest = req.path.trim_start_matches("/api/admin/");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let m = &req.method;
    let (get, post, put, delete) =
        (m == Method::GET || m == Method::HEAD, m == Method::POST, m == Method::PUT, m == Method::DELETE);
    let c = caller;
    match segments.as_slice() {
        ["me"] if get => me(app, c),
        ["dashboard"] if get => report(app, c, 7, false).await,
        ["analytics"] if get => report(app, c, 30, true).await,
        ["analytics.csv"] if get => {
            let b = c.business()?;
            app.plans.require(b.plan_tier, Feature::AdvancedAnalytics)?;
            let (report, outcomes) = super::pages::reports::load(app, b, 30).await?;
            Ok(super::pages::csv_file(super::analytics::report_csv(&report, &outcomes)?, "analytics"))
        }
        ["business"] if get => business(app, c).await,
        ["business"] if post || put => {
            actions::save_business(app, c, &req.json(&fields::BUSINESS)?).await?;
            business(app, c).await
        }
        ["config", "agent"] if get => agent(app, c).await,
        ["config", "agent"] if post || put => {
            actions::save_agent(app, c, &req.json(&fields::AGENT)?).await?;
            agent(app, c).await
        }
        ["config", "voice"] if get => voice(app, c).await,
        ["config", "voice"] if post || put => {
            actions::save_voice(app, c, &req.json(&fields::VOICE)?).await?;
            voice(app, c).await
        }
        ["voice", "samples", voice] if get => {
            c.require_manager()?;
            let audio = crate::channels::voice::samples::sample(app, &c.business()?.id, voice)
                .await
                .map_err(ApiError::from)?;
            Ok(super::pages::audio_response(audio))
        }
        ["voice", "test-call"] if post => {
            c.require_manager()?;
            let to = req.json(&fields::TEST_CALL)?;
            let placed = crate::channels::voice::test_call::place(app, c.business()?, to.get("to"))
                .await
                .map_err(ApiError::from)?;
            created(answers::TestCallAnswer::from(&placed))
        }
        ["config", "notifications"] if post || put => {
            actions::save_notifications(app, c, &req.json(&fields::NOTIFICATIONS)?).await?;
            business(app, c).await
        }
        ["config", "widget"] if post || put => {
            actions::save_origins(app, c, &req.json(&fields::WIDGET)?).await?;
            business(app, c).await
        }
        ["config", "emergency-rules"] if get => rules(app, c).await,
        ["config", "emergency-rules"] if post || put => {
            actions::save_rules(app, c, &req.json(&fields::RULES)?).await?;
            rules(app, c).await
        }
        ["leads"] if get => leads(app, c, req).await,
        ["leads", "export.csv"] if get => export(app, c, req).await,
        ["leads", id] if get => ok(answers::LeadDetailView::from(
            &app.store.lead_detail(&c.business()?.id, &LeadId::from(*id)).await?,
        )),
        ["leads", id, "status"] if post || put => {
            let lead = actions::set_lead_status(app, c, &LeadId::from(*id), &req.json(&fields::LEAD_STATUS)?)
                .await?;
            ok(answers::LeadView::from(&lead))
        }
        ["leads", id, "notes"] if post || put => {
            actions::set_lead_notes(app, c, &LeadId::from(*id), &req.json(&fields::LEAD_NOTES)?).await?;
            ok(answers::LeadView::from(&app.store.lead(&c.business()?.id, &LeadId::from(*id)).await?))
        }
        ["leads", id, "test"] if post || put => {
            actions::set_lead_test(app, c, &LeadId::from(*id), &req.json(&fields::LEAD_TEST)?).await?;
            ok(answers::LeadView::from(&app.store.lead(&c.business()?.id, &LeadId::from(*id)).await?))
        }
        ["leads", id] if delete => {
            actions::delete_lead(app, c, &LeadId::from(*id)).await?;
            ok(answers::Deleted { deleted: id })
        }
        ["facts"] if get => {
            c.require_manager()?;
            ok(answers::FactsView::from(&app.store.business_facts(&c.business()?.id).await?))
        }
        ["facts"] if post || put => {
            ok(answers::FactsView::from(&actions::save_facts(app, c, &req.json(&fields::FACTS)?).await?))
        }
        ["leads", id, "triage"] if post || put => {
            let (level, text) =
                actions::mark_triage(app, c, &LeadId::from(*id), &req.json(&fields::TRIAGE_MARK)?).await?;
            ok(answers::TriageMarked { lead_id: id, level, text: &text })
        }
        ["questions"] if get => questions(app, c).await,
        ["questions"] if post => created(answers::QuestionView::from(
            &actions::add_question(app, c, &req.json(&fields::QUESTION)?).await?,
        )),
        ["questions", "reorder"] if post || put => {
            actions::reorder_questions(app, c, &req.json(&fields::REORDER)?).await?;
            questions(app, c).await
        }
        ["questions", id] if put || post => {
            actions::edit_question(app, c, id, &req.json(&fields::QUESTION)?).await?;
            questions(app, c).await
        }
        ["questions", id] if delete => {
            actions::delete_question(app, c, id).await?;
            questions(app, c).await
        }
        ["knowledge", rest @ ..] => knowledge(app, c, req, rest).await,
        ["notifications", rest @ ..] => notifications::dispatch(app, c, req, rest).await,
        ["businesses"] if get => {
            c.require_operator()?;
            let businesses = app.store.list_businesses().await?;
            ok(answers::BusinessesAnswer {
                businesses: businesses.iter().map(answers::BusinessSummaryView::from).collect(),
            })
        }
        ["businesses"] if post => {
            let id = actions::create_business(app, c, &req.json(&fields::NEW_BUSINESS)?).await?;
            created(answers::BusinessView::from(&app.store.business(&id).await?))
        }
        ["operator", "analytics"] if get => {
            c.require_operator()?;
            let days = super::pages::reports::DAYS;
            ok(super::operator_analytics::load(app, days).await?)
        }
        ["operator", "analytics.csv"] if get => {
            c.require_operator()?;
            let report = super::operator_analytics::load(app, super::pages::reports::DAYS).await?;
            Ok(super::pages::csv_file(super::operator_analytics::csv(&report)?, "analytics-all"))
        }
        ["businesses", id, "plan"] if post || put => {
            let plan =
                actions::change_plan(app, c, &BusinessId::from(*id), &req.json(&fields::PLAN)?).await?;
            ok(answers::PlanChanged { business_id: id, plan })
        }
        _ => Err(no_such_endpoint(req)),
    }
}

/// `/api/admin/knowledge/...`: documents, file and web imports.
async fn knowledge(app: &AppState, c: &Caller, req: &ApiReq, rest: &[&str]) -> Result<Response, ActionError> {
    let m = &req.method;
    let (get, post, put, delete) =
        (m == Method::GET || m == Method::HEAD, m == Method::POST, m == Method::PUT, m == Method::DELETE);
    match rest {
        ["glossary"] if get => {
            c.require_manager()?;
            ok(answers::GlossaryView::from(app.store.business_glossary(&c.business()?.id).await?.as_slice()))
        }
        ["glossary"] if post || put => {
            let glossary = actions::save_glossary(app, c, &req.json(&fields::GLOSSARY)?).await?;
            ok(answers::GlossaryView::from(glossary.as_slice()))
        }
        [] if get => {
            c.require_manager()?;
            let documents = app.store.knowledge_entries(&c.business()?.id).await?;
            ok(answers::DocumentsAnswer {
                documents: documents.iter().map(answers::DocumentView::from).collect(),
            })
        }
        [] if post => {
            let doc = actions::add_knowledge(app, c, &req.json(&fields::KNOWLEDGE)?, None).await?;
            created(answers::DocumentView::from(&doc))
        }
        ["files"] if post => {
            // The file is the raw body; its name (which says its kind) and an
            // optional title in the query: ?name=brochure.pdf&title=Brochure
            let q = req.query_input();
            let name = q.get("name").trim();
            if name.is_empty() {
                return Err(ActionError::field("name", "give the file's name (?name=brochure.pdf)"));
            }
            let title = q.opt("title").map(str::to_string);
            accepted(answers::ImportView::from(
                &actions::import_file(app, c, name, req.body.to_vec(), title).await?,
            ))
        }
        ["web"] if post => {
            let input = req.json(&fields::KNOWLEDGE_WEB)?;
            accepted(answers::ImportView::from(
                &actions::import_web(app, c, input.get("url"), input.flag("site")).await?,
            ))
        }
        ["imports"] if get => {
            c.require_manager()?;
            let imports = app.store.knowledge_imports(&c.business()?.id, 50).await?;
            ok(answers::ImportsAnswer { imports: imports.iter().map(answers::ImportView::from).collect() })
        }
        ["imports", id] if get => {
            c.require_manager()?;
            ok(answers::ImportView::from(&app.store.knowledge_import(&c.business()?.id, id).await?))
        }
        [id] if get => {
            c.require_manager()?;
            ok(answers::DocumentView::from(&app.store.knowledge_entry(&c.business()?.id, id).await?))
        }
        [id] if put || post => {
            let doc = actions::edit_knowledge(app, c, id, &req.json(&fields::KNOWLEDGE)?, None).await?;
            ok(answers::DocumentView::from(&doc))
        }
        [id] if delete => {
            actions::delete_knowledge(app, c, id).await?;
            ok(answers::Deleted { deleted: id })
        }
        _ => Err(no_such_endpoint(req)),
    }
}

fn me(app: &AppState, c: &Caller) -> Result<Response, ActionError> {
    let plan = c.business.as_ref().map(|b| b.plan_tier);
    // Keyed by the feature's code, the name a `plan_required` error gives.
    let features = plan
        .map(|p| {
            app.plans
                .features(p)
                .into_iter()
                .map(|(f, on)| (json!(f).as_str().unwrap_or_default().to_string(), on))
                .collect()
        })
        .unwrap_or_default();
    let limits = plan.map(|p| {
        use crate::plans::Limit;
        let table = crate::plans::limits(p);
        let enforced = app.plans.enforce;
        answers::PlanLimits {
            questions: app.plans.limit(p, Limit::Questions),
            documents: app.plans.limit(p, Limit::Documents),
            document_bytes: table.document_bytes,
            conversations_per_month: table.conversations_per_month.filter(|_| enforced),
        }
    });
    let business = c.business.as_ref().map(answers::BusinessView::from);
    ok(answers::MeAnswer { user: (&c.user).into(), business, plan, features, limits })
}

async fn business(app: &AppState, c: &Caller) -> Result<Response, ActionError> {
    let b = app.store.business(&c.business()?.id).await?;
    ok(answers::BusinessView::from(&b))
}

async fn agent(app: &AppState, c: &Caller) -> Result<Response, ActionError> {
    c.require_manager()?;
    ok(answers::AgentView::from(&app.store.agent_profile(&c.business()?.id).await?.agent))
}

async fn voice(app: &AppState, c: &Caller) -> Result<Response, ActionError> {
    c.require_manager()?;
    let b = c.business()?;
    app.plans.require(b.plan_tier, Feature::VoiceConfiguration)?;
    let agent = app.store.agent_profile(&b.id).await?.agent;
    let urls = super::pages::voice_urls(app);
    ok(answers::VoiceAnswer::new(&agent, b, urls))
}

async fn rules(app: &AppState, c: &Caller) -> Result<Response, ActionError> {
    c.require_manager()?;
    // `add` and `remove` are already single words; EmergencyRules is the answer.
    ok(app.store.agent_profile(&c.business()?.id).await?.emergency_rules)
}

async fn questions(app: &AppState, c: &Caller) -> Result<Response, ActionError> {
    c.require_manager()?;
    let b = c.business()?;
    let limit = app.plans.question_limit(b.plan_tier);
    let questions = app.store.questions(&b.id).await?;
    ok(answers::QuestionsAnswer {
        questions: questions.iter().map(answers::QuestionView::from).collect(),
        limit,
    })
}

async fn leads(app: &AppState, c: &Caller, req: &ApiReq) -> Result<Response, ActionError> {
    let b = c.business()?;
    let filter = forms::lead_filter(&req.query_input(), zone(b))?;
    let (leads, total) = app.store.find_leads(&b.id, filter).await?;
    ok(answers::LeadsAnswer { leads: leads.iter().map(answers::LeadView::from).collect(), total })
}

async fn export(app: &AppState, c: &Caller, req: &ApiReq) -> Result<Response, ActionError> {
    let b = c.business()?;
    let mut filter = forms::lead_filter(&req.query_input(), zone(b))?;
    filter.limit = super::export::MAX_EXPORT;
    let (leads, _) = app.store.find_leads(&b.id, filter).await?;
    Ok(super::pages::csv_response(super::export::leads_csv(&leads, zone(b))?))
}

/// The dashboard counts (any plan), or the full analytics report (PRO).
async fn report(app: &AppState, c: &Caller, days: u32, full: bool) -> Result<Response, ActionError> {
    let b = c.business()?;
    if full {
        app.plans.require(b.plan_tier, Feature::AdvancedAnalytics)?;
    }
    if full {
        let (report, outcomes) = super::pages::reports::load(app, b, days).await?;
        return ok(answers::AnalyticsAnswer { report: &report, outcomes: &outcomes });
    }
    let tz = zone(b);
    let now = chrono::Utc::now();
    let data = app.store.activity(&b.id, analytics::period_start(now, tz, days)).await?;
    let report = analytics::report(&data, tz, now, days);
    ok(answers::DashboardAnswer { today: report.today, week: report.week, timezone: &report.timezone })
}
