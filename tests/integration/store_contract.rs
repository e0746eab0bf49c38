//! One contract for every store backend, told as a story: import → chat
//! conversation → lead with transcript → URGENT escalation with outbox rows
//! → claim/deliver/retry/dead (and several workers delivering each row once)
//! → call lifecycle → knowledge add/search/delete → analytics → tenant
//! isolation. Runs on SQLite always, and on Postgres (a fresh schema per run)
//! when FRONTDESK_TEST_DATABASE_URL names one.

use std::collections::BTreeMap;
use std::sync::Arc;

use frontdesk::domain::{
    BusinessBundle, BusinessType, CallMode, Channel, EndedReason, Gloss, KnowledgeDoc, LeadDraft, LeadStatus,
    NotifyChannel, Priority, Speaker,
};
use frontdesk::ids::{BusinessId, CallSid, ConversationId, LeadId};
use frontdesk::notify::policy::NotifyPolicy;
use frontdesk::store::admin::{LeadFilter, NotificationSettings};
use frontdesk::store::outbox::Outcome;
use frontdesk::store::postgres::PgStore;
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{
    CallStatus, InspectableStore, KnowledgeQuery, NewCall, Store, StoreError, StoreInspect, TurnRecord,
};

use crate::support::postgres::FreshSchema;

const DEMO: &str = include_str!("../../assets/demo/acme-plumbing.toml");

#[tokio::test]
async fn the_story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn InspectableStore> =
        Arc::new(SqliteStore::open(&dir.path().join("contract.db")).unwrap());
    story(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_on_postgres() {
    let Some(pg) = FreshSchema::new("contract").await else { return };
    let store: Arc<dyn InspectableStore> = Arc::new(PgStore::open(&pg.url).await.unwrap());
    assert_eq!(store.backend(), "postgres");
    story(store).await;
    pg.drop().await;
}

/// Knowledge writes for one business at the same moment (an upload job
/// beside an owner's edit, two instances) all land: the word counts are
/// recounted one writer at a time, never failing on each other's rows.
async fn concurrent_knowledge_writes(store: Arc<dyn InspectableStore>) {
    let bundle = frontdesk::provision::parse_bundle(DEMO).unwrap();
    let b = store.import_business(bundle).await.unwrap().business_id;
    let before = store.knowledge_entries(&b).await.unwrap().len();
    let writes = (0..12).map(|n| {
        let (store, b) = (store.clone(), b.clone());
        tokio::spawn(async move {
            let doc = KnowledgeDoc {
                title: format!("Note {n}"),
                content: format!("Special offer {n}: gutter cleaning and drain jetting, booked this week."),
                source_url: None,
            };
            store.add_knowledge(&b, doc).await
        })
    });
    for write in futures_util::future::join_all(writes).await {
        write.unwrap().expect("a concurrent knowledge write failed");
    }
    assert_eq!(store.knowledge_entries(&b).await.unwrap().len(), before + 12);
    let query = KnowledgeQuery { text: "gutter cleaning".into(), embedding: None, limit: 5 };
    assert!(!store.search_knowledge(&b, &query).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_knowledge_writes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_knowledge_writes(Arc::new(SqliteStore::open(&dir.path().join("k.db")).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_knowledge_writes_on_postgres() {
    let Some(pg) = FreshSchema::new("kwrites").await else { return };
    concurrent_knowledge_writes(Arc::new(PgStore::open(&pg.url).await.unwrap())).await;
    pg.drop().await;
}

/// Knowledge ranked by meaning follows writes made through another store
/// (another instance): a new document's chunks are found by their vectors
/// at once, a deleted one's never.
async fn vectors_follow_writes(writer: Arc<dyn InspectableStore>, reader: Arc<dyn InspectableStore>) {
    const MODEL: &str = "contract-test-model";
    let bundle = frontdesk::provision::parse_bundle(DEMO).unwrap();
    let b = writer.import_business(bundle).await.unwrap().business_id;
    let embed_all = |vector: Vec<f32>| {
        let writer = writer.clone();
        async move {
            let chunks = writer.chunks_to_embed(MODEL, 10_000).await.unwrap();
            assert!(!chunks.is_empty());
            let vectors = chunks.iter().map(|(id, _)| (*id, vector.clone())).collect();
            writer.save_embeddings(MODEL, vectors).await.unwrap();
        }
    };
    embed_all(vec![1.0, 0.0, 0.0]).await;
    // No word matches: only the vectors rank.
    let query = KnowledgeQuery {
        text: "qqqq".into(),
        embedding: Some((MODEL.into(), vec![0.0, 1.0, 0.0])),
        limit: 3,
    };
    let titles = |found: Vec<frontdesk::retrieval::Passage>| -> Vec<String> {
        found.into_iter().map(|p| p.title).collect()
    };
    let before = titles(reader.search_knowledge(&b, &query).await.unwrap());
    assert_eq!(before.len(), 3, "{before:?}");
    assert!(!before.contains(&"Meaning only".to_string()));
    let doc = KnowledgeDoc {
        title: "Meaning only".into(),
        content: "Nothing here shares a word.".into(),
        source_url: None,
    };
    let doc = writer.add_knowledge(&b, doc).await.unwrap();
    embed_all(vec![0.0, 1.0, 0.0]).await;
    let after = titles(reader.search_knowledge(&b, &query).await.unwrap());
    assert_eq!(after.first().map(String::as_str), Some("Meaning only"), "{after:?}");
    writer.delete_knowledge(&b, &doc.id).await.unwrap();
    let deleted = titles(reader.search_knowledge(&b, &query).await.unwrap());
    assert_eq!(deleted, before, "the deleted document is gone from the ranking");
}

#[tokio::test]
async fn vectors_follow_writes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn InspectableStore> =
        Arc::new(SqliteStore::open(&dir.path().join("vectors.db")).unwrap());
    vectors_follow_writes(store.clone(), store).await;
}

/// Two stores on one schema, as two instances have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_follow_writes_on_another_postgres_instance() {
    let Some(pg) = FreshSchema::new("vectors").await else { return };
    let writer: Arc<dyn InspectableStore> = Arc::new(PgStore::open(&pg.url).await.unwrap());
    let reader: Arc<dyn InspectableStore> = Arc::new(PgStore::open(&pg.url).await.unwrap());
    vectors_follow_writes(writer, reader).await;
    pg.drop().await;
}

fn turn(business: &str, conversation: &str, lines: &[(&str, &str)]) -> TurnRecord {
    TurnRecord {
        business_id: business.into(),
        conversation_id: conversation.into(),
        channel: Channel::Chat,
        messages: lines.iter().map(|(r, t)| (Speaker::parse(r).expect("a speaker"), t.to_string())).collect(),
        lead: None,
        level: Priority::Normal,
        escalate: false,
        notify: NotifyPolicy::default(),
        events: vec![("message".into(), serde_json::json!({}))],
        unalerted_reply: None,
        details_complete: false,
    }
}

fn draft(name: Option<&str>, priority: Priority) -> LeadDraft {
    LeadDraft {
        name: name.map(str::to_string),
        email: None,
        phone: Some("+13125550142".into()),
        address: None,
        notes: Some("kitchen sink leaking".into()),
        priority,
        captured: BTreeMap::from([("problem".to_string(), "kitchen sink leaking".to_string())]),
    }
}

async fn story(store: Arc<dyn InspectableStore>) {
    // Import: created once, then updated in place.
    let bundle = frontdesk::provision::parse_bundle(DEMO).unwrap();
    let first = store.import_business(bundle.clone()).await.unwrap();
    assert!(first.created);
    let again = store.import_business(bundle.clone()).await.unwrap();
    assert_eq!(again.business_id, first.business_id);
    assert!(!again.created);
    let b = first.business_id.clone();
    let mut other_bundle = bundle.clone();
    other_bundle.business.name = "Other Co".into();
    other_bundle.business.twilio_phone_number = None;
    let other = store.import_business(other_bundle).await.unwrap().business_id;
    assert_ne!(other, b);
    assert_eq!(store.list_businesses().await.unwrap().len(), 2);
    let profile = store.agent_profile(&b).await.unwrap();
    assert_eq!(profile.questions.len(), bundle.questions.len());
    assert_eq!(store.business_bundle(&b).await.unwrap().knowledge.len(), bundle.knowledge.len());
    store
        .update_notification_settings(
            &b,
            NotificationSettings {
                email: Some("owner@example.com".into()),
                phone: Some("+13125550199".into()),
                webhook_url: Some("https://hooks.example.com/lead".into()),
            },
        )
        .await
        .unwrap();

    // A chat conversation, its lead and transcript, the new-lead rows.
    let conv = store.start_conversation(&b, Channel::Chat, Some("session-1"), false).await.unwrap();
    let mut t =
        turn(&b, &conv, &[("user", "my kitchen sink is leaking"), ("assistant", "What is your name?")]);
    t.lead = Some(draft(None, Priority::Normal));
    let saved = store.record_turn(t).await.unwrap();
    let lead_id = saved.lead_id.clone().unwrap();
    assert_eq!(saved.reply.as_deref(), Some("What is your name?"));
    let mut t = turn(&b, &conv, &[("user", "Dana Reyes"), ("assistant", "Thanks Dana")]);
    t.lead = Some(draft(Some("Dana Reyes"), Priority::Normal));
    assert_eq!(store.record_turn(t).await.unwrap().lead_id.as_deref(), Some(lead_id.as_str()));
    assert_eq!(store.transcript(&conv).await.unwrap().len(), 4);
    let lead = store.lead(&b, &lead_id).await.unwrap();
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Reyes"));
    assert_eq!(lead.captured["problem"], "kitchen sink leaking");
    assert_eq!(store.leads(&b).await.unwrap().len(), 1);
    let rows = store.notifications(&b).await.unwrap();
    let mut kinds: Vec<_> = rows.iter().map(|n| (n.kind.as_str(), n.channel.as_str())).collect();
    kinds.sort();
    assert_eq!(kinds, [("new_lead", "email"), ("new_lead", "sms"), ("new_lead", "webhook")]);

    // URGENT: every channel the plan allows, the new-lead rows replaced.
    let mut t =
        turn(&b, &conv, &[("user", "water everywhere, it's flooding"), ("assistant", "Help is on the way")]);
    t.lead = Some(draft(Some("Dana Reyes"), Priority::Urgent));
    t.level = Priority::Urgent;
    t.escalate = true;
    let saved = store.record_turn(t).await.unwrap();
    assert_eq!(saved.alerted, Some(true));
    let rows = store.notifications(&b).await.unwrap();
    let mut kinds: Vec<_> = rows.iter().map(|n| (n.kind.as_str(), n.channel.as_str())).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("urgent_lead", "email"),
            ("urgent_lead", "sms"),
            ("urgent_lead", "voice_call"),
            ("urgent_lead", "webhook")
        ]
    );
    let lead = store.lead(&b, &lead_id).await.unwrap();
    assert_eq!(lead.priority, Priority::Urgent);
    let detail = store.lead_detail(&b, &lead_id).await.unwrap();
    assert_eq!(detail.transcript.len(), 6);

    // Claim, deliver, retry, dead, retried by the owner.
    let claimed = store.claim_due(NotifyChannel::Email, 10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    assert!(store.claim_due(NotifyChannel::Email, 10, 60_000).await.unwrap().is_empty(), "leased");
    let ctx = store.delivery_context(&claimed[0]).await.unwrap();
    assert_eq!(ctx.lead.as_ref().map(|l| l.id.as_str()), Some(lead_id.as_str()));
    assert_eq!(ctx.transcript.len(), 6);
    assert!(!ctx.webhook_secret.is_empty());
    let (id, token) = (claimed[0].id.clone(), claimed[0].lease_token.clone());
    assert!(store
        .finish_delivery(&id, &token, Outcome::Sent { provider_id: Some("m1".into()) })
        .await
        .unwrap());
    assert!(!store.finish_delivery(&id, &token, Outcome::Dead { error: "late".into() }).await.unwrap());
    let sms = store.claim_due(NotifyChannel::Sms, 10, 60_000).await.unwrap().remove(0);
    let past = frontdesk::domain::parse_rfc3339("2000-01-01T00:00:00.000Z").unwrap();
    assert!(store
        .finish_delivery(&sms.id, &sms.lease_token, Outcome::Retry { error: "busy".into(), at: past })
        .await
        .unwrap());
    let sms = store.claim_due(NotifyChannel::Sms, 10, 60_000).await.unwrap().remove(0);
    assert_eq!(sms.attempts, 2);
    assert!(store
        .finish_delivery(&sms.id, &sms.lease_token, Outcome::Dead { error: "bad".into() })
        .await
        .unwrap());
    let counts = store.notification_counts(&b).await.unwrap();
    let count = |s: &str| counts.iter().find(|(st, _)| st.as_str() == s).map(|(_, n)| *n).unwrap();
    assert_eq!((count("sent"), count("dead"), count("pending")), (1, 1, 2));
    assert!(matches!(store.retry_notification(&b, &id).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.retry_notification(&other, &sms.id).await, Err(StoreError::NotFound(_))));
    store.retry_notification(&b, &sms.id).await.unwrap();
    assert_eq!(store.claim_due(NotifyChannel::Sms, 10, 60_000).await.unwrap().len(), 1);
    assert_eq!(store.lead(&b, &lead_id).await.unwrap().alert.map(|a| format!("{a:?}")), Some("Sent".into()));

    several_workers_deliver_each_row_once(&store, &b).await;

    // A phone call: idempotent start, out-of-order callbacks, one end.
    let sid = "CA0123456789abcdef0123456789abcdef";
    let call = NewCall {
        call_sid: sid.into(),
        business_id: b.clone(),
        from_number: Some("+13125550142".into()),
        to_number: Some("+13125550100".into()),
        mode: CallMode::Gather,
    };
    let call_conv = store.start_call(call.clone()).await.unwrap();
    assert_eq!(store.start_call(call).await.unwrap(), call_conv);
    assert_eq!(store.business_by_number("+13125550100").await.unwrap().id, b);
    for (status, seq) in [("ringing", 0), ("completed", 2), ("in-progress", 1)] {
        let s = CallStatus {
            call_sid: sid.into(),
            status: status.into(),
            sequence: Some(seq),
            duration_seconds: (status == "completed").then_some(42),
            ..CallStatus::default()
        };
        store.record_call_status(s).await.unwrap();
    }
    let c = store.call(&CallSid::from(sid)).await.unwrap();
    assert_eq!((c.status.as_str(), c.duration_seconds), ("completed", Some(42)));
    assert_eq!(store.call_events(&CallSid::from(sid)).await.unwrap().len(), 3);
    store
        .finish_call(&CallSid::from(sid), "leak fixed", EndedReason::CallerHungUp, NotifyPolicy::default())
        .await
        .unwrap();
    store
        .finish_call(&CallSid::from(sid), "leak fixed", EndedReason::AgentHungUp, NotifyPolicy::default())
        .await
        .unwrap();
    let c = store.call(&CallSid::from(sid)).await.unwrap();
    assert_eq!(c.ended_reason.map(|r| r.as_str()), Some("caller_hung_up"));
    let ended: Vec<_> =
        store.notifications(&b).await.unwrap().into_iter().filter(|n| n.kind == "call_ended").collect();
    assert_eq!(ended.len(), 1, "call_ended once, on the webhook (the default preference)");

    // Knowledge: add, search (full-text, and fused with the embedded model's vectors), delete.
    let doc = store
        .add_knowledge(
            &b,
            KnowledgeDoc {
                title: "Aquarium plumbing".into(),
                content: "We install zebrafish aquarium drains and sump pumps for pet shops.".into(),
                source_url: None,
            },
        )
        .await
        .unwrap();
    assert!(doc.chunks >= 1);
    let query = |text: &str| KnowledgeQuery {
        text: text.into(),
        embedding: frontdesk::agent::local_model::get().map(|m| (m.id().to_string(), m.embed(text))),
        limit: 3,
    };
    let found = store.search_knowledge(&b, &query("zebrafish drains")).await.unwrap();
    assert_eq!(found.first().map(|p| p.title.as_str()), Some("Aquarium plumbing"));
    let plain = KnowledgeQuery { embedding: None, ..query("zebrafish") };
    assert_eq!(store.search_knowledge(&b, &plain).await.unwrap().len(), 1);
    assert!(store.search_knowledge(&other, &plain).await.unwrap().is_empty(), "another business's knowledge");
    assert!(matches!(store.knowledge_entry(&other, &doc.id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.delete_knowledge(&other, &doc.id).await, Err(StoreError::NotFound(_))));
    store.delete_knowledge(&b, &doc.id).await.unwrap();
    assert!(store.search_knowledge(&b, &plain).await.unwrap().is_empty());
    assert_eq!(store.knowledge_entries(&b).await.unwrap().len(), bundle.knowledge.len());

    // Analytics.
    let since = frontdesk::domain::parse_rfc3339("2000-01-01T00:00:00.000Z").unwrap();
    let activity = store.activity(&b, since).await.unwrap();
    // What the report counts: conversations by channel (and knowledge questions).
    let started: u32 =
        activity.events.iter().filter(|e| e.kind == "conversation_started").map(|e| e.count).sum();
    assert!(started >= 1, "{:?}", activity.events);
    assert!(activity
        .events
        .iter()
        .all(|e| e.kind == "conversation_started" || e.kind.starts_with("knowledge_")));
    assert_eq!(activity.calls.len(), 1);
    let outcomes = store.outcomes(&b, since).await.unwrap();
    assert_eq!((outcomes.calls.total, outcomes.calls.p90_seconds), (1, Some(42)), "{outcomes:?}");
    assert_eq!(outcomes.calls.average_seconds, Some(42.0));
    assert!(outcomes.emergencies.urgent >= 1, "{outcomes:?}");
    assert!(!outcomes.lead_status_by_week.is_empty());
    let none = store.outcomes(&other, since).await.unwrap();
    assert_eq!((none.calls.total, none.emergencies.urgent), (0, 0), "another business's calls and leads");
    let all = store.businesses_activity(since).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|a| a.business_id == b && a.leads >= 1));

    // Leads as the owner finds them; another business sees none of them.
    let (found, total) = store
        .find_leads(&b, LeadFilter { search: Some("(312) 555-0142".into()), ..Default::default() })
        .await
        .unwrap();
    assert!(total >= 1 && found.iter().any(|l| l.id == lead_id));
    let (found, _) =
        store.find_leads(&b, LeadFilter { search: Some("DANA".into()), ..Default::default() }).await.unwrap();
    assert!(found.iter().any(|l| l.id == lead_id), "search ignores case");
    store.set_lead_status(&b, &lead_id, LeadStatus::Contacted).await.unwrap();
    assert_eq!(store.find_leads(&other, LeadFilter::default()).await.unwrap().1, 0);
    assert!(matches!(store.lead(&other, &lead_id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.lead_detail(&other, &lead_id).await, Err(StoreError::NotFound(_))));
    assert!(matches!(
        store.set_lead_status(&other, &lead_id, LeadStatus::Closed).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(store.delete_lead(&other, &lead_id).await, Err(StoreError::NotFound(_))));
    assert!(store.notifications(&other).await.unwrap().is_empty());
    store.mark_triage(&b, &lead_id, Priority::Urgent, "flooding").await.unwrap();
    assert_eq!(store.triage_mark(&b, &lead_id).await.unwrap(), Some(Priority::Urgent));
    assert!(matches!(
        store.mark_triage(&other, &lead_id, Priority::Normal, "x").await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_lead(&b, &lead_id).await.unwrap();
    assert!(store.transcript(&conv).await.unwrap().is_empty());
    imports(&store, &b, &other).await;
    glossaries(&store, &b).await;
}

/// A business's own glossary: imported and exported with it, in its
/// profile, searched for it alone; the owner's replacement is searched at once.
async fn glossaries(store: &Arc<dyn InspectableStore>, b: &str) {
    let b = BusinessId::from(b);
    let bundle = frontdesk::provision::parse_bundle(DEMO).unwrap();
    assert!(!bundle.glossary.is_empty());
    assert_eq!(store.business_glossary(&b).await.unwrap(), bundle.glossary);
    assert_eq!(store.agent_profile(&b).await.unwrap().glossary, bundle.glossary);
    assert_eq!(store.business_bundle(&b).await.unwrap().glossary, bundle.glossary);
    // The same documents at an HVAC company without the demo's glossary.
    let hvac = BusinessBundle::with_knowledge("Cool Air", BusinessType::Hvac, bundle.knowledge.clone());
    let h = store.import_business(hvac).await.unwrap().business_id;
    assert!(store.business_glossary(&h).await.unwrap().is_empty());
    let top = |id: BusinessId| {
        let store = store.clone();
        async move {
            let q =
                KnowledgeQuery { text: "will the tech let themselves in".into(), embedding: None, limit: 3 };
            store.search_knowledge(&id, &q).await.unwrap().first().map(|p| p.title.clone())
        }
    };
    let visits = "Business hours, appointments and the 24/7 emergency line";
    assert_eq!(top(b.clone()).await.as_deref(), Some(visits), "the demo's own words");
    assert_ne!(top(h.clone()).await.as_deref(), Some(visits), "not another business's");
    // The owner writes the entry: searched from the next question on.
    let own = vec![Gloss { phrase: "let themselves in".into(), words: "adult home".into() }];
    store.set_business_glossary(&h, own.clone()).await.unwrap();
    assert_eq!(store.business_glossary(&h).await.unwrap(), own);
    assert_eq!(top(h.clone()).await.as_deref(), Some(visits));
    assert_eq!(top(h.clone()).await.as_deref(), Some(visits), "and the question after");
    // Taken out again: the next question is without it.
    store.set_business_glossary(&h, Vec::new()).await.unwrap();
    assert_ne!(top(h.clone()).await.as_deref(), Some(visits), "an edit is searched at once");
    store.set_business_glossary(&h, own.clone()).await.unwrap();
    assert_eq!(top(h.clone()).await.as_deref(), Some(visits));
    assert_eq!(
        store.business_glossary(&b).await.unwrap(),
        bundle.glossary,
        "the other business's is untouched"
    );
    let missing = BusinessId::from("no-such-business");
    assert!(matches!(store.set_business_glossary(&missing, own).await, Err(StoreError::NotFound(_))));
}

/// Import jobs and a website's pages: added, replaced, kept, removed in one
/// transaction; headings as chunk titles; tenant isolation.
async fn imports(store: &Arc<dyn InspectableStore>, b: &str, other: &str) {
    use frontdesk::store::imports::{ImportKind, ImportState};
    let job =
        store.create_import(&BusinessId::from(b), ImportKind::Site, "https://acme.example/").await.unwrap();
    assert_eq!(job.state, ImportState::Queued);
    store
        .set_import_state(&BusinessId::from(b), &job.id, ImportState::Running, Some("2 page(s)".into()), 2)
        .await
        .unwrap();
    assert!(matches!(
        store.set_import_state(&BusinessId::from(other), &job.id, ImportState::Done, None, 0).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.knowledge_import(&BusinessId::from(other), &job.id).await,
        Err(StoreError::NotFound(_))
    ));
    let page = |path: &str, text: &str| KnowledgeDoc {
        title: path.into(),
        content: format!("## Section {path}\n\n{text}"),
        source_url: Some(format!("https://acme.example{path}")),
    };
    let pages = vec![page("/a", "Septic pumping is $310."), page("/b", "Zorbex descaling is $420.")];
    let sync = store
        .sync_web_documents(&BusinessId::from(b), pages, Some("https://acme.example/".into()))
        .await
        .unwrap();
    assert_eq!((sync.added, sync.updated, sync.unchanged, sync.removed), (2, 0, 0, 0));
    let q = KnowledgeQuery { text: "septic pumping".into(), embedding: None, limit: 1 };
    let found = store.search_knowledge(&BusinessId::from(b), &q).await.unwrap();
    assert_eq!(found[0].title, "/a — Section /a");
    assert_eq!(found[0].source_url.as_deref(), Some("https://acme.example/a"), "a chunk keeps its page");
    let pages = vec![page("/a", "Septic pumping is $330.")];
    let sync = store
        .sync_web_documents(&BusinessId::from(b), pages, Some("https://acme.example/".into()))
        .await
        .unwrap();
    assert_eq!((sync.added, sync.updated, sync.unchanged, sync.removed), (0, 1, 0, 1));
    let q = KnowledgeQuery { text: "zorbex descaling".into(), embedding: None, limit: 3 };
    assert!(store
        .search_knowledge(&BusinessId::from(b), &q)
        .await
        .unwrap()
        .iter()
        .all(|p| !p.text.contains("Zorbex")));
    let q = KnowledgeQuery { text: "septic pumping".into(), embedding: None, limit: 3 };
    assert!(store.search_knowledge(&BusinessId::from(b), &q).await.unwrap()[0].text.contains("$330"));
    assert!(store
        .search_knowledge(&BusinessId::from(other), &q)
        .await
        .unwrap()
        .iter()
        .all(|p| !p.text.contains("$3")));
    assert_eq!(store.fail_interrupted_imports().await.unwrap() >= 1, store.backend() == "sqlite");
    store
        .set_import_state(&BusinessId::from(b), &job.id, ImportState::Done, Some("ok".into()), 1)
        .await
        .unwrap();
    let jobs = store.knowledge_imports(&BusinessId::from(b), 10).await.unwrap();
    assert_eq!((jobs.len(), jobs[0].state, jobs[0].documents), (1, ImportState::Done, 1));
    assert!(store.knowledge_imports(&BusinessId::from(other), 10).await.unwrap().is_empty());
}

/// Twenty URGENT leads, then four workers claiming webhook rows at once:
/// each row is claimed exactly once.
async fn several_workers_deliver_each_row_once(store: &Arc<dyn InspectableStore>, b: &str) {
    for i in 0..20 {
        let conv = store.start_conversation(&BusinessId::from(b), Channel::Chat, None, false).await.unwrap();
        let mut t = turn(b, &conv, &[("user", "flooding"), ("assistant", "on our way")]);
        t.lead = Some(draft(Some(&format!("Caller {i}")), Priority::Urgent));
        t.escalate = true;
        store.record_turn(t).await.unwrap();
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.claim_due(NotifyChannel::Webhook, 3, 60_000).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                for c in batch {
                    assert!(store
                        .finish_delivery(&c.id, &c.lease_token, Outcome::Sent { provider_id: None })
                        .await
                        .unwrap());
                    mine.push(c.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a row was claimed twice");
    // The first URGENT lead's webhook row was still pending too.
    assert_eq!(all.len(), 21);
}

/// The original design's `.env` form (Prisma's URL with `?schema=` and a
/// parameter only Prisma knows) starts the server; two `serve` on one data
/// directory and one database both run (the lock is SQLite's), and `backup`
/// explains pg_dump.
#[tokio::test]
async fn serve_starts_on_the_prisma_url() {
    let Some(pg) = FreshSchema::new("serve").await else { return };
    let url = format!("{}&connection_limit=4&pgbouncer=false", pg.url);
    let fd = crate::support::instance::Instance::new();
    let env = [("DATABASE_URL", url.as_str())];
    let mut import = fd.command();
    import.envs(env).args(["business", "import", crate::support::instance::demo_file().to_str().unwrap()]);
    let out = import.output().unwrap();
    crate::support::instance::assert_success(&out, &["business", "import"]);
    let one = fd.serve_with_env(&env);
    let two = fd.serve_with_env(&env);
    for server in [&one, &two] {
        let health: serde_json::Value =
            reqwest::get(server.url("/health")).await.unwrap().json().await.unwrap();
        assert_eq!(health["database"]["backend"], "postgres", "{health}");
        assert_eq!(health["database"]["ok"], true, "{health}");
    }
    assert!(!fd.db().exists(), "no SQLite file on Postgres");
    let mut backup = fd.command();
    let out = backup.envs(env).args(["backup", "/tmp/never-written.db"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        crate::support::instance::stderr(&out).contains("pg_dump"),
        "{}",
        crate::support::instance::stderr(&out)
    );
    drop((one, two));
    pg.drop().await;
}

/// Two `serve` processes on one Postgres schema and one Redis act as one
/// receptionist: a chat whose messages alternate between them stays one
/// conversation, with one lead holding everything said to either.
#[tokio::test]
async fn two_processes_on_one_postgres_and_redis_share_a_chat() {
    let Some(pg) = FreshSchema::new("pair").await else { return };
    let Ok(redis) = std::env::var("FRONTDESK_TEST_REDIS_URL") else {
        eprintln!("NOTICE: FRONTDESK_TEST_REDIS_URL is not set; two processes on one Redis skipped");
        return pg.drop().await;
    };
    let prefix = format!("frontdesk-test:{}:", pg.schema);
    let fd = crate::support::instance::Instance::new();
    let env = [
        ("DATABASE_URL", pg.url.as_str()),
        ("REDIS_URL", redis.as_str()),
        ("FRONTDESK_REDIS_KEY_PREFIX", prefix.as_str()),
    ];
    let mut import = fd.command();
    import.envs(env).args(["business", "import", crate::support::instance::demo_file().to_str().unwrap()]);
    let out = import.output().unwrap();
    crate::support::instance::assert_success(&out, &["business", "import"]);
    let business = crate::support::instance::stdout(&out).trim().to_string();
    // One data directory, so one JWT secret; the database and Redis are shared.
    let servers = [fd.serve_with_env(&env), fd.serve_with_env(&env)];
    let client = reqwest::Client::new();
    let mut session: Option<String> = None;
    let mut lead: Option<String> = None;
    let said = [
        "my kitchen sink is leaking under the cabinet",
        "Dana Smith",
        "312-555-0142",
        "12 Oak Street, Springfield",
        "dana@example.com",
        "no thanks",
    ];
    let mut last = serde_json::Value::Null;
    for (i, message) in said.iter().enumerate() {
        let server = &servers[i % 2];
        let mut body = serde_json::json!({ "businessId": business, "message": message });
        if let Some(id) = &session {
            body["sessionId"] = serde_json::json!(id);
        }
        let res = client.post(server.url("/api/chat")).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        last = res.json().await.unwrap();
        let id = last["sessionId"].as_str().unwrap().to_string();
        assert!(session.as_ref().is_none_or(|s| *s == id), "one conversation across both: {last}");
        session = Some(id);
        if let Some(l) = last["leadId"].as_str() {
            assert!(lead.as_ref().is_none_or(|x| x == l), "one lead across both: {last}");
            lead = Some(l.to_string());
        }
    }
    assert_eq!(last["done"], true, "{last}");
    let store = PgStore::open(&pg.url).await.unwrap();
    let saved =
        store.lead(&BusinessId::from(&business), &LeadId::from(lead.as_deref().unwrap())).await.unwrap();
    assert_eq!(saved.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(saved.contact_phone.as_deref(), Some("+13125550142"));
    assert_eq!(saved.address.as_deref(), Some("12 Oak Street, Springfield"));
    assert_eq!(saved.contact_email.as_deref(), Some("dana@example.com"));
    let transcript =
        store.transcript(&ConversationId::from(saved.conversation_id.as_deref().unwrap())).await.unwrap();
    assert_eq!(transcript.iter().filter(|m| m.role.as_str() == "user").count(), said.len(), "{transcript:?}");
    let mut instances = Vec::new();
    for server in &servers {
        let health: serde_json::Value =
            reqwest::get(server.url("/health")).await.unwrap().json().await.unwrap();
        assert_eq!(health["sessions"]["backend"], "redis", "{health}");
        instances.push(health["instance"].to_string());
    }
    assert_ne!(instances[0], instances[1], "/health says which instance answered");
    drop(servers);
    pg.drop().await;
}
