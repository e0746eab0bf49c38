//! frontdesk's Twilio REST client against the local fake of Twilio's API.

use std::time::Duration;

use frontdesk::config::{Secret, TwilioConfig};
use frontdesk::twilio::{CallUpdate, TwilioClient, TwilioError};

use crate::support::fake_twilio::{FakeTwilio, ACCOUNT_SID, AUTH_TOKEN};

fn client(fake: &FakeTwilio, token: &str) -> TwilioClient {
    TwilioClient::from_config(&TwilioConfig {
        account_sid: ACCOUNT_SID.into(),
        auth_token: Secret::new(token),
        webhook_base_url: String::new(),
        phone_number: String::new(),
        api_base_url: fake.base_url.clone(),
    })
    .unwrap()
}

#[tokio::test]
async fn sms_calls_and_updates_reach_twilio_with_the_right_fields() {
    let fake = FakeTwilio::start().await;
    let twilio = client(&fake, AUTH_TOKEN);

    let sid = twilio.send_sms("+13125550100", "+13125550199", "URGENT: burst pipe").await.unwrap();
    assert!(sid.starts_with("SM"), "{sid}");
    let sms = fake.wait_for("Messages", Duration::from_secs(5)).await;
    assert_eq!(sms.get("To"), Some("+13125550199"));
    assert_eq!(sms.get("From"), Some("+13125550100"));
    assert_eq!(sms.get("Body"), Some("URGENT: burst pipe"));

    let twiml = "<Response><Say>Hello &amp; goodbye</Say></Response>";
    let call = twilio.create_call("+13125550100", "+13125550199", twiml, None).await.unwrap();
    assert!(call.starts_with("CA"));
    assert_eq!(fake.accepted("Calls")[0].get("Twiml"), Some(twiml));

    twilio.update_call(&call, &CallUpdate::Url("https://fd.example/api/voice/next".into())).await.unwrap();
    twilio.update_call(&call, &CallUpdate::Complete).await.unwrap();
    let updates = fake.accepted(&format!("Calls/{call}"));
    assert_eq!(updates[0].get("Url"), Some("https://fd.example/api/voice/next"));
    assert_eq!(updates[0].get("Method"), Some("POST"));
    assert_eq!(updates[1].get("Status"), Some("completed"));
    // The call has ended: Twilio refuses to redirect it.
    let err = twilio.update_call(&call, &CallUpdate::Twiml(twiml.into())).await.unwrap_err();
    assert!(matches!(err, TwilioError::Status { status: 400, code: 21220, .. }), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn auth_and_server_errors_are_told_apart() {
    let fake = FakeTwilio::start().await;
    let err = client(&fake, "wrong-token").send_sms("+13125550100", "+13125550199", "x").await.unwrap_err();
    assert!(matches!(err, TwilioError::Status { status: 401, code: 20003, .. }), "{err}");
    assert!(!err.is_transient());

    let twilio = client(&fake, AUTH_TOKEN);
    fake.fail_next(1, 503);
    let err = twilio.send_sms("+13125550100", "+13125550199", "x").await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    let err = twilio.send_sms("+13125550100", "555-0199", "x").await.unwrap_err();
    assert!(matches!(err, TwilioError::Status { code: 21211, .. }), "{err}");
    twilio.send_sms("+13125550100", "+13125550199", "x").await.unwrap();

    // Nothing listening: a network error, worth retrying.
    let gone = TwilioClient::from_config(&TwilioConfig {
        account_sid: ACCOUNT_SID.into(),
        auth_token: Secret::new(AUTH_TOKEN),
        webhook_base_url: String::new(),
        phone_number: String::new(),
        api_base_url: "http://127.0.0.1:9".into(),
    })
    .unwrap();
    assert!(gone.send_sms("+13125550100", "+13125550199", "x").await.unwrap_err().is_transient());
}
