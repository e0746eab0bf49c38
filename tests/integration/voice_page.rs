//! The voice page's "listen" samples (OpenAI text-to-speech, made once and
//! kept) and "call my receptionist" (a test call through Twilio's REST
//! API), on the real binary against the local fakes of both.

use std::time::Duration;

use serde_json::json;

use crate::support::fake_media::twilio_signature;
use crate::support::fake_openai::FakeOpenAi;
use crate::support::fake_twilio::{FakeTwilio, AUTH_TOKEN};
use crate::support::ui::*;
use frontdesk::ids::CallSid;

const PUBLIC: &str = "https://voice.test";
const NUMBER_A: &str = "+13125550100";
const OWNER_A: &str = "+13125550199";

/// A business with its own greeting and, optionally, a Twilio number.
fn import(ui: &Ui, name: &str, plan: &str, number: Option<&str>) -> String {
    let number = number.map(|n| format!("twilio_phone_number = \"{n}\"\n")).unwrap_or_default();
    let file = format!(
        r#"
[business]
name = "{name}"
business_type = "PLUMBING"
plan_tier = "{plan}"
country = "US"
notification_email = "owner@example.com"
notification_phone_number = "{OWNER_A}"
{number}
[agent]
agent_name = "Pip"
voice_greeting_message = "Thanks for calling {name}, this is Pip."
"#
    );
    let path = ui.fd.dir.path().join(format!("{}.toml", name.replace(' ', "_")));
    std::fs::write(&path, file).unwrap();
    ui.fd.ok(&["business", "import", path.to_str().unwrap()])
}

async fn get_bytes(web: &Web, path: &str) -> (u16, String, Vec<u8>) {
    let cookies = web.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let res = web.http.get(format!("{}{path}", web.base)).header("cookie", cookies).send().await.unwrap();
    let kind = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (res.status().as_u16(), kind, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn listen_samples_are_made_once_kept_privately_and_only_for_their_own_business() {
    let (openai, base_url) = FakeOpenAi::start(Vec::new()).await;
    let ui = Ui::empty(&[
        ("OPENAI_API_KEY", "sk-test-speech"),
        ("OPENAI_BASE_URL", &base_url),
        ("OPENAI_CHAT_MODEL", ""),
    ]);
    let a = import(&ui, "Alpha Plumbing", "PRO", Some(NUMBER_A));
    let b = import(&ui, "Beta Drains", "BASIC", None);
    ui.user("a@alpha.example", "owner", Some(&a));
    ui.user("b@beta.example", "owner", Some(&b));
    let mut web_a = ui.sign_in("a@alpha.example").await;

    let (status, page) = web_a.get("/settings/voice").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"src="/settings/voice/samples/cedar""#), "a player per realtime voice");
    assert!(page.contains(r#"preload="none""#), "nothing is synthesised before the owner presses play");
    assert!(!page.contains("need an OpenAI key"));
    // No Twilio account on this server: the test call is greyed with the reason.
    assert!(page.contains("Test calls need a Twilio account on this server"), "{page}");
    assert!(openai.speech_requests().is_empty(), "showing the page makes no sample");

    let (status, kind, first) = get_bytes(&web_a, "/settings/voice/samples/cedar").await;
    assert_eq!((status, kind.as_str()), (200, "audio/mpeg"));
    assert!(first.starts_with(b"ID3"));
    let asked = openai.speech_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].0.as_deref(), Some("Bearer sk-test-speech"));
    assert_eq!(
        asked[0].1,
        json!({ "model": "gpt-4o-mini-tts", "voice": "cedar", "response_format": "mp3",
                "input": "Thanks for calling Alpha Plumbing, this is Pip." })
    );

    // The second listen comes from the kept file: the provider is not asked again.
    let (status, _, second) = get_bytes(&web_a, "/settings/voice/samples/cedar").await;
    assert_eq!((status, &second), (200, &first));
    assert_eq!(openai.speech_requests().len(), 1);
    let token_a = ui.token("a@alpha.example").await;
    let res =
        ui.http.get(ui.url("/api/admin/voice/samples/cedar")).bearer_auth(&token_a).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), first);
    assert_eq!(openai.speech_requests().len(), 1);

    // Kept under the data directory, private like the database.
    let dir = ui.fd.data_dir().join("voice-samples").join(&a);
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&files[0]), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }

    // Unknown voices are not sent to the provider.
    assert_eq!(get_bytes(&web_a, "/settings/voice/samples/bogus").await.0, 404);
    assert_eq!(get_bytes(&web_a, "/settings/voice/samples/..%2F..%2Ffrontdesk.db").await.0, 404);
    assert_eq!(openai.speech_requests().len(), 1);

    // Another business's owner never gets Alpha's sample, even naming Alpha.
    let mut web_b = ui.sign_in("b@beta.example").await;
    let (status, _, theirs) = get_bytes(&web_b, "/settings/voice/samples/cedar").await;
    assert_eq!(status, 200);
    assert_ne!(theirs, first);
    assert!(String::from_utf8_lossy(&theirs).contains("Beta Drains"));
    web_b.cookies.push(("fd_business".into(), a.clone()));
    let (_, _, named) = get_bytes(&web_b, "/settings/voice/samples/cedar").await;
    assert!(!String::from_utf8_lossy(&named).contains("Alpha Plumbing"));
    let token_b = ui.token("b@beta.example").await;
    let res = ui
        .http
        .get(ui.url("/api/admin/voice/samples/cedar"))
        .bearer_auth(&token_b)
        .header("x-business-id", &a)
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 200, "another business's owner cannot name it");
    // Signed out: to the login page.
    let anonymous = ui.http.get(ui.url("/settings/voice/samples/cedar")).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);

    // A new greeting is a new sample; the old one is not kept.
    let (status, _, _) = web_a
        .submit(
            "/settings/voice",
            &[
                ("voice_greeting_message", "Alpha Plumbing here, what can we fix?"),
                ("twilio_voice", "alice"),
                ("twilio_language", "en-US"),
                ("voice_mode", "auto"),
                ("realtime_voice", "cedar"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, _, renewed) = get_bytes(&web_a, "/settings/voice/samples/cedar").await;
    assert!(String::from_utf8_lossy(&renewed).contains("what can we fix?"));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[tokio::test]
async fn call_my_receptionist_rings_the_owner_through_twilio_and_says_what_happened() {
    let twilio = FakeTwilio::start().await;
    let mut env: Vec<(&str, String)> = twilio.env();
    env.push(("TWILIO_WEBHOOK_BASE_URL", PUBLIC.into()));
    let borrowed: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ui = Ui::empty(&borrowed);
    let a = import(&ui, "Alpha Plumbing", "PRO", Some(NUMBER_A));
    let b = import(&ui, "Beta Drains", "BASIC", Some("+13125550111"));
    let c = import(&ui, "Gamma Heating", "PRO", None);
    for (email, id) in [("a@alpha.example", &a), ("b@beta.example", &b), ("c@gamma.example", &c)] {
        ui.user(email, "owner", Some(id));
    }

    // No OpenAI key: the samples give way to a plain note.
    let mut web = ui.sign_in("a@alpha.example").await;
    let (_, page) = web.get("/settings/voice").await;
    assert!(page.contains("Voice samples need an OpenAI key"), "{page}");
    assert!(!page.contains("<audio"));
    assert!(page.contains("Call me now"));
    assert!(page.contains(&format!(r#"value="{OWNER_A}""#)), "the alert phone is offered");
    assert_eq!(web.get("/settings/voice/samples/cedar").await.0, 404);

    // Placed: Twilio is asked for a call from the business's number to the
    // owner, answered by the business's own incoming-call webhook.
    let (status, location, _) =
        web.submit("/settings/voice/test-call", &[("test_call_to", "(312) 555-0199")]).await;
    assert_eq!((status, location.as_str()), (303, "/settings/voice"));
    let call = twilio.wait_for("Calls", Duration::from_secs(10)).await;
    assert_eq!(call.get("To"), Some(OWNER_A));
    assert_eq!(call.get("From"), Some(NUMBER_A));
    assert_eq!(call.get("Url"), Some(format!("{PUBLIC}/api/voice/incoming").as_str()));
    assert_eq!(call.get("Method"), Some("POST"));
    assert_eq!(call.get("StatusCallback"), Some(format!("{PUBLIC}/api/voice/status").as_str()));
    assert!(call.get("Twiml").is_none());
    let (_, page) = web.get("/settings/voice").await;
    assert!(
        page.contains(&format!("Calling {OWNER_A} from {NUMBER_A} now (Twilio: queued)")),
        "the result is shown: {page}"
    );

    // When Twilio fetches that URL, the business's receptionist answers.
    let sid = call.sid.clone().unwrap();
    let params = [
        ("AccountSid", crate::support::fake_twilio::ACCOUNT_SID),
        ("CallSid", sid.as_str()),
        ("CallStatus", "in-progress"),
        ("Direction", "outbound-api"),
        ("From", NUMBER_A),
        ("To", OWNER_A),
    ];
    let signature = twilio_signature(AUTH_TOKEN, &format!("{PUBLIC}/api/voice/incoming"), &params);
    let answer = ui
        .http
        .post(ui.url("/api/voice/incoming"))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let twiml = answer.text().await.unwrap();
    assert!(twiml.contains("Thanks for calling Alpha Plumbing, this is Pip."), "{twiml}");
    assert!(twiml.contains("<Gather"), "{twiml}");
    let row = ui.store().call(&CallSid::from(&sid)).await.unwrap();
    assert_eq!(row.business_id.as_deref(), Some(a.as_str()));

    // Twilio's refusal is shown in its own words.
    twilio.fail_next(1, 429);
    let (status, _, page) = web.submit("/settings/voice/test-call", &[("test_call_to", OWNER_A)]).await;
    assert_eq!(status, 502);
    assert!(page.contains("Twilio did not place the call: Too Many Requests (Twilio error 20429)"), "{page}");
    assert!(page.contains(r#"role="alert""#));
    // A number that is not one: said, and Twilio is not asked.
    let before = twilio.requests().len();
    let (status, _, page) = web.submit("/settings/voice/test-call", &[("test_call_to", "12")]).await;
    assert_eq!(status, 400);
    assert!(page.contains("not a valid phone number"), "{page}");
    assert!(page.contains(r#"value="12""#), "what was typed is kept");
    assert_eq!(twilio.requests().len(), before);

    // A few an hour: the third goes through, the fourth is refused before Twilio.
    let token_a = ui.token("a@alpha.example").await;
    let (status, body) =
        ui.api(&token_a, "POST", "/api/admin/voice/test-call", Some(json!({ "to": OWNER_A }))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!((body["status"].as_str(), body["to"].as_str()), (Some("queued"), Some(OWNER_A)));
    assert!(body["callSid"].as_str().unwrap().starts_with("CA"));
    let before = twilio.requests().len();
    let (status, _, page) = web.submit("/settings/voice/test-call", &[("test_call_to", OWNER_A)]).await;
    assert_eq!(status, 429);
    assert!(page.contains("test calls in the last hour"), "{page}");
    let (status, body) =
        ui.api(&token_a, "POST", "/api/admin/voice/test-call", Some(json!({ "to": OWNER_A }))).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    assert_eq!(twilio.requests().len(), before);

    // Lower plans: greyed with one sentence, and refused as every plan feature is.
    let mut web_b = ui.sign_in("b@beta.example").await;
    let (_, page) = web_b.get("/settings/voice").await;
    assert!(page.contains("Test calls are part of the PRO plan"), "{page}");
    let (status, _, _) = web_b.submit("/settings/voice/test-call", &[("test_call_to", OWNER_A)]).await;
    assert_eq!(status, 403);
    let token_b = ui.token("b@beta.example").await;
    let (status, body) =
        ui.api(&token_b, "POST", "/api/admin/voice/test-call", Some(json!({ "to": OWNER_A }))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("plan_required")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("needs the PRO plan"), "{body}");
    // No number yet: greyed, and the API says why.
    let token_c = ui.token("c@gamma.example").await;
    let (status, body) =
        ui.api(&token_c, "POST", "/api/admin/voice/test-call", Some(json!({ "to": OWNER_A }))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("operator assigns it"), "{body}");
    assert_eq!(twilio.requests().len(), before, "no refused test reached Twilio");
}

/// In Chromium, at desktop and phone sizes: the players and the test call
/// pass axe-core, the page does not scroll sideways, a sample plays from
/// the owner's session and the test call says what Twilio answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_voice_page_works_in_a_real_browser() {
    let Some(driver) = crate::support::webdriver::driver() else { return };
    let axe = crate::support::webdriver::axe_source();
    let (openai, base_url) = FakeOpenAi::start(Vec::new()).await;
    let twilio = FakeTwilio::start().await;
    let mut env: Vec<(&str, String)> = twilio.env();
    env.extend([
        ("TWILIO_WEBHOOK_BASE_URL", PUBLIC.to_string()),
        ("OPENAI_API_KEY", "sk-test-speech".to_string()),
        ("OPENAI_BASE_URL", base_url),
        ("OPENAI_CHAT_MODEL", String::new()),
    ]);
    let borrowed: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ui = Ui::empty(&borrowed);
    let a = import(&ui, "Alpha Plumbing", "PRO", Some(NUMBER_A));
    ui.user("a@alpha.example", "owner", Some(&a));
    let b = crate::support::webdriver::Session::start(&driver).await;
    b.go(&ui.url("/login")).await;
    b.fill("#f-email", "a@alpha.example").await;
    b.fill("#f-password", crate::support::instance::PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.wait_path("/dashboard").await;

    let mut violations = Vec::new();
    for (width, height, size) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        b.size(width, height).await;
        b.go(&ui.url("/settings/voice")).await;
        b.wait_for("return document.readyState === 'complete'", "the voice page").await;
        b.js("document.getElementById('listen').scrollIntoView()").await;
        b.screenshot(&format!("voice-page-{size}.png")).await;
        let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
        if fits != json!(true) {
            violations.push(format!("/settings/voice ({size}): the page scrolls sideways"));
        }
        if let Some(axe) = &axe {
            violations.extend(b.axe(axe, &format!("/settings/voice ({size})")).await);
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));

    // The player's address answers the signed-in browser with audio.
    let src = b.js("return document.querySelector('.samples audio').getAttribute('src')").await;
    assert_eq!(src, "/settings/voice/samples/marin");
    let fetched = b
        .js_async(
            "fetch('/settings/voice/samples/marin', { credentials: 'same-origin' })\
             .then(r => r.arrayBuffer().then(a => done(r.status + ' ' + r.headers.get('content-type') + ' ' + a.byteLength)))",
        )
        .await;
    assert!(fetched.as_str().unwrap().starts_with("200 audio/mpeg "), "{fetched}");
    assert_eq!(openai.speech_requests().len(), 1);

    b.fill("#f-test_call_to", "312 555 0199").await;
    b.click("form[action='/settings/voice/test-call'] button[type=submit]").await;
    crate::support::webdriver::flash(&b, "Twilio: queued").await;
    assert_eq!(twilio.accepted("Calls").len(), 1);
    b.quit().await;
}
