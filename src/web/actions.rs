//! Everything the owner can change, once: role and plan checks, validation,
//! the store write. The pages and the admin API both call these, so a rule
//! (a FREE business has at most 5 questions, staff change no settings)
//! holds on both.

use super::auth::Caller;
use super::forms;
use super::input::{ActionError, FieldErrors, Input};
use super::notify_forms;
use crate::agent::triage::Rules;
use crate::domain::{
    starter_questions_for, AgentConfig, BusinessBundle, BusinessFacts, BusinessType, Gloss, Lead,
    NewBusiness, NotificationPrefs, NotifyEvent, PlanTier, Priority, Role, Speaker, User,
};
use crate::error::ApiError;
use crate::ids::{BusinessId, LeadId};
use crate::notify::policy::Refusal;
use crate::plans::{Feature, Limit};
use crate::state::AppState;
use crate::store::admin::{KnowledgeEntry, QuestionRow};
use crate::store::{NewUser, StoreError};
use crate::validate;

type Result<T> = std::result::Result<T, ActionError>;

/// A manager (owner or operator) acting on a business, with its plan.
fn managed(caller: &Caller) -> Result<(&BusinessId, PlanTier)> {
    caller.require_manager()?;
    let b = caller.business()?;
    Ok((&b.id, b.plan_tier))
}

async fn current_agent(app: &AppState, business_id: &BusinessId) -> Result<AgentConfig> {
    Ok(app.store.agent_profile(business_id).await?.agent)
}

pub async fn save_agent(app: &AppState, caller: &Caller, input: &Input) -> Result<()> {
    let (id, _) = managed(caller)?;
    let agent = forms::agent(input, &current_agent(app, id).await?)?;
    app.store.update_agent(id, agent).await?;
    Ok(())
}

pub async fn save_voice(app: &AppState, caller: &Caller, input: &Input) -> Result<()> {
    let (id, plan) = managed(caller)?;
    app.plans.require(plan, Feature::VoiceConfiguration)?;
    let agent = forms::voice(input, &current_agent(app, id).await?)?;
    if validate::is_premium_voice(&agent.twilio_voice, &agent.realtime_voice) {
        app.plans.require(plan, Feature::PremiumVoices)?;
    }
    app.store.update_agent(id, agent).await?;
    Ok(())
}

/// The operator assigns the Twilio number (it routes calls to a business).
pub async fn save_twilio_number(app: &AppState, caller: &Caller, input: &Input) -> Result<()> {
    caller.require_operator()?;
    let b = caller.business()?;
    let raw = input.get("twilio_phone_number").trim();
    let number = match raw {
        "" => None,
        raw => {
            Some(validate::phone(raw, &b.country).map_err(|m| ActionError::field("twilio_phone_number", m))?)
        }
    };
    match app.store.set_twilio_number(&b.id, number).await {
        Err(StoreError::Conflict(m)) => Err(ActionError::field("twilio_phone_number", m)),
        other => Ok(other?),
    }
}

pub async fn add_question(app: &AppState, caller: &Caller, input: &Input) -> Result<QuestionRow> {
    let (id, plan) = managed(caller)?;
    let question = forms::question(input, None)?;
    let count = app.store.questions(id).await?.len();
    app.plans.within(plan, Limit::Questions, count)?;
    Ok(app.store.add_question(id, question).await?)
}

pub async fn edit_question(app: &AppState, caller: &Caller, question_id: &str, input: &Input) -> Result<()> {
    let (id, _) = managed(caller)?;
    let rows = app.store.questions(id).await?;
    let current = rows
        .iter()
        .find(|q| q.id == question_id)
        .ok_or_else(|| ApiError::NotFound("question not found".into()))?;
    let question = forms::question(input, Some(&current.question))?;
    Ok(app.store.update_question(id, question_id, question).await?)
}

pub async fn delete_question(app: &AppState, caller: &Caller, question_id: &str) -> Result<()> {
    let (id, _) = managed(caller)?;
    Ok(app.store.delete_question(id, question_id).await?)
}

/// Moves one question up or down a place (the no-JavaScript reorder).
pub async fn move_question(app: &AppState, caller: &Caller, question_id: &str, up: bool) -> Result<()> {
    let (id, _) = managed(caller)?;
    let mut ids: Vec<String> = app.store.questions(id).await?.into_iter().map(|q| q.id).collect();
    let at = ids
        .iter()
        .position(|q| q == question_id)
        .ok_or_else(|| ApiError::NotFound("question not found".into()))?;
    let to = if up { at.checked_sub(1) } else { Some(at + 1).filter(|&t| t < ids.len()) };
    if let Some(to) = to {
        ids.swap(at, to);
        app.store.reorder_questions(id, ids).await?;
    }
    Ok(())
}

/// Puts the questions in the order given (`ids`, every question once).
pub async fn reorder_questions(app: &AppState, caller: &Caller, input: &Input) -> Result<()> {
    let (id, _) = managed(caller)?;
    let ids: Vec<String> = input
        .lines("ids")
        .into_iter()
        .flat_map(|l| l.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    match app.store.reorder_questions(id, ids).await {
        Err(StoreError::Invalid(m)) => Err(ActionError::field("ids", m)),
        other => Ok(other?),
    }
}

fn knowledge_manager(app: &AppState, caller: &Caller) -> Result<BusinessId> {
    let (id, plan) = managed(caller)?;
    app.plans.require(plan, Feature::KnowledgeBaseManagement)?;
    Ok(id.clone())
}

/// Replaces the business's own glossary (the knowledge page, the admin
/// API): searched from the next question on.
pub async fn save_glossary(app: &AppState, caller: &Caller, input: &Input) -> Result<Vec<Gloss>> {
    let id = knowledge_manager(app, caller)?;
    let glossary = forms::glossary(input)?;
    app.store.set_business_glossary(&id, glossary.clone()).await?;
    Ok(glossary)
}

pub async fn add_knowledge(
    app: &AppState,
    caller: &Caller,
    input: &Input,
    upload: Option<(&str, &[u8])>,
) -> Result<KnowledgeEntry> {
    let (id, plan) = managed(caller)?;
    app.plans.require(plan, Feature::KnowledgeBaseManagement)?;
    let count = app.store.knowledge_entries(id).await?.len();
    app.plans.within(plan, Limit::Documents, count)?;
    let doc = forms::document(input, upload, None)?;
    Ok(app.store.add_knowledge(id, doc).await?)
}

pub async fn edit_knowledge(
    app: &AppState,
    caller: &Caller,
    doc_id: &str,
    input: &Input,
    upload: Option<(&str, &[u8])>,
) -> Result<KnowledgeEntry> {
    let id = knowledge_manager(app, caller)?;
    let entry = app.store.knowledge_entry(&id, doc_id).await?;
    let current = crate::domain::KnowledgeDoc {
        title: entry.title,
        content: entry.content,
        source_url: entry.source_url,
    };
    let doc = forms::document(input, upload, Some(&current))?;
    Ok(app.store.update_knowledge(&id, doc_id, doc).await?)
}

pub async fn delete_knowledge(app: &AppState, caller: &Caller, doc_id: &str) -> Result<()> {
    let id = knowledge_manager(app, caller)?;
    Ok(app.store.delete_knowledge(&id, doc_id).await?)
}

/// Queues the import of an uploaded file (PDF, DOCX, HTML, Markdown, text):
/// the name and size are checked now, the parsing happens in the job.
pub async fn import_file(
    app: &AppState,
    caller: &Caller,
    name: &str,
    bytes: Vec<u8>,
    title: Option<String>,
) -> Result<crate::store::imports::KnowledgeImport> {
    use crate::import::extract::{FileKind, MAX_FILE_BYTES};
    let (id, plan) = managed(caller)?;
    app.plans.require(plan, Feature::KnowledgeBaseManagement)?;
    let count = app.store.knowledge_entries(id).await?.len();
    app.plans.within(plan, Limit::Documents, count)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ApiError::TooLarge(format!(
            "'{name}' is {:.1} MB; files of up to {} MB can be imported",
            bytes.len() as f64 / 1_048_576.0,
            MAX_FILE_BYTES / 1_048_576
        ))
        .into());
    }
    if FileKind::of(name).is_none() {
        return Err(ActionError::field(
            "file",
            format!("'{name}' is not a PDF, Word (.docx), HTML, Markdown or text file"),
        ));
    }
    let title = title.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if title.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ActionError::field("title", "is too long (at most 200 characters)"));
    }
    let upload = crate::import::FileUpload { name: name.to_string(), bytes, title };
    Ok(crate::import::start_file(app, id, plan, upload).await?)
}

/// Queues the import of a web page, or (`whole_site`) a crawl of its site.
/// A URL naming a private or internal address is refused here, before
/// anything connects (the crawler checks every fetch again).
pub async fn import_web(
    app: &AppState,
    caller: &Caller,
    raw_url: &str,
    whole_site: bool,
) -> Result<crate::store::imports::KnowledgeImport> {
    let (id, plan) = managed(caller)?;
    app.plans.require(plan, Feature::KnowledgeBaseManagement)?;
    let url = validate::http_url(raw_url).ok().and_then(|u| url::Url::parse(&u).ok()).ok_or_else(|| {
        ActionError::field(
            "url",
            format!("expected an http(s) URL such as https://www.example.com, got '{}'", raw_url.trim()),
        )
    })?;
    let policy =
        crate::import::fetch::AddressPolicy { allow_loopback: app.config.knowledge.allow_loopback_crawl };
    policy.check(&url).map_err(|e| ActionError::field("url", e.to_string()))?;
    Ok(crate::import::start_web(app, id, plan, url, whole_site).await?)
}

pub async fn save_notifications(app: &AppState, caller: &Caller, input: &Input) -> Result<()> {
    let (id, _) = managed(caller)?;
    let settings = forms::notifications(input, caller.business()?)?;
    if let Some(url) = settings.webhook_url.as_deref().filter(|_| input.has("notification_webhook_url")) {
        let allow = app.config.notify.allow_private_webhooks;
        crate::notify::destination::check_url(url, allow)
            .await
            .map_err(|why| ActionError::field("notification_webhook_url", why))?;
    }
    Ok(app.store.update_notification_settings(id, settings).await?)
}

/// Puts a dead notification back in the queue and wakes the worker.
/// Another business's id is NotFound; a row that is not dead is a Conflict.
pub async fn retry_notification(app: &AppState, caller: &Caller, notification_id: &str) -> Result<()> {
    let (id, _) = managed(caller)?;
    app.store.retry_notification(id, notification_id).await?;
    app.notify_wake.notify_one();
    tracing::info!(business_id = %id, notification_id, user = %caller.user.id, "notification retried");
    Ok(())
}

/// Tests a business may send per minute (`notify.tests_per_minute`).
fn test_limiter(app: &AppState) -> &'static crate::http::ratelimit::RateLimiter {
    static TESTS: std::sync::OnceLock<crate::http::ratelimit::RateLimiter> = std::sync::OnceLock::new();
    TESTS.get_or_init(|| {
        crate::http::ratelimit::RateLimiter::new(
            "notify-test",
            app.config.notify.tests_per_minute,
            std::time::Duration::from_secs(60),
            &app.shared,
        )
    })
}

/// Enqueues a test on `channel` and wakes the worker so it goes at once.
/// A channel the plan lacks is PlanRequired; a missing address (or calls
/// switched off on this instance, or a daily cap reached) is an error on
/// `channel` naming it; more than `notify.tests_per_minute` is a 429.
pub async fn send_test_notification(app: &AppState, caller: &Caller, input: &Input) -> Result<String> {
    let (id, plan) = managed(caller)?;
    let channel = notify_forms::channel(input)?;
    let policy = app.notify_policy();
    if let Err(Refusal::Plan(missing)) = policy.check(plan, channel, NotifyEvent::Test) {
        return Err(missing.into());
    }
    if !test_limiter(app).allow(id).await {
        return Err(ApiError::TooManyRequests(format!(
            "at most {} tests a minute: wait a moment and try again",
            app.config.notify.tests_per_minute
        ))
        .into());
    }
    match app.store.enqueue_test_notification(id, channel, policy).await {
        Ok(notification_id) => {
            app.notify_wake.notify_one();
            Ok(notification_id)
        }
        Err(StoreError::Invalid(why)) => Err(ActionError::field("channel", why)),
        Err(e) => Err(e.into()),
    }
}

/// Which channels hear about new leads and ended calls, and the daily digest.
pub async fn save_notification_prefs(
    app: &AppState,
    caller: &Caller,
    input: &Input,
) -> Result<NotificationPrefs> {
    let (id, plan) = managed(caller)?;
    let current = app.store.notification_prefs(id).await?;
    let prefs = notify_forms::prefs(input, &current, plan, &app.notify_policy())?;
    app.store.set_notification_prefs(id, prefs.clone()).await?;
    Ok(prefs)
}

/// Hours, area, prices, about: every plan.
pub async fn save_facts(app: &AppState, caller: &Caller, input: &Input) -> Result<BusinessFacts> {
    let (id, _) = managed(caller)?;
    let current = app.store.business_facts(id).await?;
    let facts = forms::facts(input, &current, &caller.business()?.country)?;
    app.store.set_business_facts(id, facts.clone()).await?;
    Ok(facts)
}

/// The owner's notes on a lead (staff too: they call customers back).
pub async fn set_lead_notes(app: &AppState, caller: &Caller, lead_id: &LeadId, input: &Input) -> Result<()> {
    let b = caller.business()?;
    let notes = validate::optional_text(input.get("owner_notes"), forms::MAX_MESSAGE)
        .map_err(|m| ActionError::field("owner_notes", m))?;
    Ok(app.store.set_lead_notes(&b.id, lead_id, notes).await?)
}

/// Marks a lead as a test (or not): tests stay out of the counts.
pub async fn set_lead_test(app: &AppState, caller: &Caller, lead_id: &LeadId, input: &Input) -> Result<bool> {
    let b = caller.business()?;
    let test = input.flag("is_test");
    app.store.set_lead_test(&b.id, lead_id, test).await?;
    Ok(test)
}

/// Deletes a lead and its conversation: owners and operators only.
pub async fn delete_lead(app: &AppState, caller: &Caller, lead_id: &LeadId) -> Result<()> {
    let (id, _) = managed(caller)?;
    app.store.delete_lead(id, lead_id).await?;
    tracing::info!(business_id = %id, %lead_id, user = %caller.user.id, "lead deleted");
    Ok(())
}

pub async fn save_business(app: &AppState, caller: &Caller, input: &Input) -> Result<()> {
    let (id, _) = managed(caller)?;
    let settings = forms::business(input, caller.business()?)?;
    Ok(app.store.update_business_settings(id, settings).await?)
}

pub async fn save_origins(app: &AppState, caller: &Caller, input: &Input) -> Result<()> {
    let (id, _) = managed(caller)?;
    let origins = forms::origins(input)?;
    Ok(app.store.set_website_origins(id, origins).await?)
}

pub async fn save_rules(app: &AppState, caller: &Caller, input: &Input) -> Result<()> {
    let (id, _) = managed(caller)?;
    let rules = forms::rules(input)?;
    Ok(app.store.set_emergency_rules(id, rules).await?)
}

/// Staff may do this too.
pub async fn set_lead_status(
    app: &AppState,
    caller: &Caller,
    lead_id: &LeadId,
    input: &Input,
) -> Result<Lead> {
    let b = caller.business()?;
    let status = forms::lead_status(input)?;
    Ok(app.store.set_lead_status(&b.id, lead_id, status).await?)
}

/// The owner's "this was (not) an emergency" on a lead. The visitor's
/// sentence triage rated most urgent (the one that raised the alarm, or
/// should have) is kept as an example of that level for the business's
/// classifier: a sentence, so a name or number said alongside does not blur it.
pub async fn mark_triage(
    app: &AppState,
    caller: &Caller,
    lead_id: &LeadId,
    input: &Input,
) -> Result<(Priority, String)> {
    let b = caller.business()?;
    let detail = app.store.lead_detail(&b.id, lead_id).await?;
    let level = forms::triage_mark(input)?;
    let profile = app.store.agent_profile(&b.id).await?;
    let rules = Rules::cached_with_marks(b.business_type, &profile.emergency_rules, &profile.triage_marks);
    let text = detail
        .transcript
        .iter()
        .filter(|m| m.role == Speaker::User)
        .flat_map(|m| crate::retrieval::sentences(&m.content))
        .map(|s| (rules.urgency(s), s.to_string()))
        .reduce(|best, s| if (s.0 .0, s.0 .1) > (best.0 .0, best.0 .1) { s } else { best })
        .map(|(_, text)| text)
        .or(detail.lead.notes.clone())
        .ok_or_else(|| ActionError::field("emergency", "this lead has no message to learn from"))?;
    app.store.mark_triage(&b.id, lead_id, level, &text).await?;
    Ok((level, text))
}

/// The current password is a guess like a sign-in's: throttled the same way
/// (per user and address), checked on the password threads, and the new one
/// is hashed only once the current one is right.
pub async fn change_password(app: &AppState, caller: &Caller, input: &Input, ip: &str) -> Result<User> {
    let account = caller.user.id.as_str();
    if let Err(wait) = app.web.password_changes.attempt(account, ip).await {
        return Err(ApiError::TooManyRequests(format!(
            "Too many wrong passwords. Please wait {} and try again.",
            super::throttle::describe(wait)
        ))
        .into());
    }
    let current_ok =
        app.web.passwords.verify(input.get("current_password"), Some(&caller.user.password_hash)).await;
    if !current_ok.map_err(ApiError::from)? {
        app.web.password_changes.failed(account, ip).await;
        return Err(ActionError::field("current_password", "is not your current password"));
    }
    app.web.password_changes.succeeded(account, ip).await;
    let new = input.get("new_password");
    if new != input.get("confirm_password") {
        return Err(ActionError::field("confirm_password", "does not match the new password"));
    }
    let business = caller.business.as_ref().map_or("", |b| b.name.as_str());
    let hash = app.web.passwords.hash(new, &[&caller.user.email, business]).await.map_err(ApiError::from)?;
    let hash = hash.map_err(|err| ActionError::field("new_password", err.to_string()))?;
    app.store.set_user_password(&caller.user.id, &hash).await?;
    Ok(app.store.user(&caller.user.id).await?)
}

/// A business with starter questions, from a name, type and plan.
fn new_bundle(input: &Input, e: &mut FieldErrors, plan: PlanTier) -> Option<BusinessBundle> {
    let name = e.check("name", validate::required_text(input.get("name"), 200));
    let kind = Some(input.get("business_type")).filter(|t| !t.trim().is_empty()).unwrap_or("OTHER");
    let business_type = e.check(
        "business_type",
        BusinessType::parse(kind).ok_or(format!("expected {}", BusinessType::choices())),
    );
    let timezone = match input.get("timezone").trim() {
        "" => Some("UTC".to_string()),
        tz => e.check("timezone", validate::timezone(tz)),
    };
    let country = match input.get("country").trim() {
        "" => Some("US".to_string()),
        c => e.check("country", validate::country(c)),
    };
    // The alert email: as given, else the owner's own (set by the caller).
    let alerts = match input.get("notification_email").trim() {
        "" => None,
        raw => e.check("notification_email", validate::email(raw)).map(|a| a.to_ascii_lowercase()),
    };
    let facts = forms::facts(input, &BusinessFacts::default(), country.as_deref().unwrap_or("US"));
    let facts = match facts {
        Ok(f) => Some(f),
        Err(ActionError::Fields(f)) => {
            e.0.extend(f.0);
            None
        }
        Err(ActionError::Api(_)) => None,
    };
    let (name, business_type, timezone, country, facts) =
        (name?, business_type?, timezone?, country?, facts?);
    Some(BusinessBundle {
        business: NewBusiness {
            plan_tier: plan,
            timezone,
            country,
            notification_email: alerts,
            ..NewBusiness::named(&name, business_type)
        },
        agent: AgentConfig::default(),
        questions: starter_questions_for(business_type),
        knowledge: Vec::new(),
        emergency_rules: Default::default(),
        notifications: Default::default(),
        facts,
        glossary: Vec::new(),
    })
}

/// An owner's email and password (typed twice), hashed on the password
/// threads once every other field checked out. `business` is the name the
/// password must not be made of.
async fn new_login(
    app: &AppState,
    input: &Input,
    e: &mut FieldErrors,
    role: Role,
    business: &str,
) -> Result<Option<NewUser>> {
    let email = e.check("email", validate::email(input.get("email")));
    let password = input.get("password");
    if password != input.get("confirm_password") {
        e.add("confirm_password", "does not match the password");
    }
    let context = [input.get("email"), business];
    // Cheap checks first: a form with mistakes costs no hashing.
    if let Err(err) = crate::auth::check_password(password, &context) {
        e.add("password", err.to_string());
    }
    let Some(email) = email.filter(|_| e.is_empty()) else { return Ok(None) };
    let hash = app.web.passwords.hash(password, &context).await.map_err(ApiError::from)?;
    let hash = e.check("password", hash.map_err(|err| err.to_string()));
    Ok(hash.map(|password_hash| NewUser {
        email: email.to_ascii_lowercase(),
        password_hash,
        role,
        business_id: None,
    }))
}

/// First-run setup: the first business and its owner; or, when businesses
/// were already imported (`serve --demo`, `business import`), the operator
/// who manages them.
pub async fn setup(app: &AppState, input: &Input) -> Result<User> {
    let mut e = FieldErrors::default();
    let existing = !app.store.list_businesses().await?.is_empty();
    let bundle = if existing { None } else { new_bundle(input, &mut e, PlanTier::Free) };
    let role = if existing { Role::Operator } else { Role::Owner };
    let user = new_login(app, input, &mut e, role, input.get("name")).await?;
    let user = match user {
        Some(u) if e.is_empty() && (existing || bundle.is_some()) => u,
        _ => return Err(ActionError::Fields(e)),
    };
    // Emergencies reach the owner from the first minute: their own email
    // unless they named another.
    let bundle = bundle.map(|mut b| {
        b.business.notification_email.get_or_insert_with(|| user.email.clone());
        b
    });
    match app.store.create_first_user(bundle, user).await {
        Err(StoreError::Conflict(m)) => Err(ActionError::Api(ApiError::Conflict(m))),
        other => Ok(other?),
    }
}

/// Operator: a new business, and its owner when an email is given.
pub async fn create_business(app: &AppState, caller: &Caller, input: &Input) -> Result<BusinessId> {
    caller.require_operator()?;
    let mut e = FieldErrors::default();
    let plan = match input.get("plan").trim() {
        "" => Some(PlanTier::Free),
        p => e.check("plan", PlanTier::parse(p).ok_or(format!("expected {}", PlanTier::choices()))),
    };
    // Every field is checked even when the plan is wrong, so all problems show at once.
    let bundle = new_bundle(input, &mut e, plan.unwrap_or(PlanTier::Free)).filter(|_| plan.is_some());
    let owner = if input.get("email").trim().is_empty() {
        None
    } else {
        new_login(app, input, &mut e, Role::Owner, input.get("name")).await?
    };
    let bundle = super::input::finish(e, bundle)?;
    if app
        .store
        .list_businesses()
        .await?
        .iter()
        .any(|s| s.business.name.eq_ignore_ascii_case(&bundle.business.name))
    {
        return Err(ActionError::field("name", "a business with this name already exists"));
    }
    if let Some(owner) = &owner {
        if app.store.user_by_email(&owner.email).await.is_ok() {
            return Err(ActionError::field("email", "a user with this email already exists"));
        }
    }
    let outcome = app.store.import_business(bundle).await?;
    if let Some(owner) = owner {
        app.store.create_user(NewUser { business_id: Some(outcome.business_id.clone()), ..owner }).await?;
    }
    tracing::info!(business_id = %outcome.business_id, operator = %caller.user.id, "business created");
    Ok(outcome.business_id)
}

/// Operator: a business's plan; a downgrade keeps every row.
pub async fn change_plan(
    app: &AppState,
    caller: &Caller,
    business_id: &BusinessId,
    input: &Input,
) -> Result<PlanTier> {
    caller.require_operator()?;
    let plan = forms::plan(input)?;
    app.store.set_plan(business_id, plan).await?;
    tracing::info!(%business_id, plan = %plan, operator = %caller.user.id, "plan changed");
    Ok(plan)
}
