//! Provider webhooks with real signatures computed the documented way: statuses recorded,
//! bad or missing signatures refused with nothing changed, STOP and bounces suppressing the
//! contact so the next message skips it, START lifting it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, event, http_client, spawn_app};

const PUBLIC_URL: &str = "https://amends.example";
const TOKEN: &str = "twilio-webhook-token";

fn twilio_sign(path: &str, params: &[(&str, &str)]) -> String {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    amends::signature::twilio_signature(TOKEN, &format!("{PUBLIC_URL}{path}"), &params)
}

async fn post_twilio(
    app: &TestApp,
    path: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
) -> reqwest::StatusCode {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut request = http_client()
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("X-Twilio-Signature", signature);
    }
    request.send().await.expect("webhook answers").status()
}

fn sending_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32].into()).expect("a valid scalar")
}

fn sendgrid_public_key() -> String {
    let der = sending_key()
        .verifying_key()
        .to_public_key_der()
        .expect("DER");
    STANDARD.encode(der.as_bytes())
}

async fn twilio_app(extra: &[(&str, &str)]) -> (MockServer, TestApp) {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SMstatus0000000000000000000000001", "status": "queued"
        })))
        .mount(&twilio)
        .await;
    let key = sendgrid_public_key();
    let mut env = vec![
        ("AMENDS_SMS_TRANSPORT", "twilio"),
        ("AMENDS_PUBLIC_URL", PUBLIC_URL),
        ("AMENDS_TWILIO_ACCOUNT_SID", "AC123"),
        ("AMENDS_TWILIO_AUTH_TOKEN", TOKEN),
        ("AMENDS_TWILIO_FROM", "+15550001111"),
        ("AMENDS_TWILIO_BASE_URL", twilio.uri().leak()),
        ("AMENDS_SENDGRID_WEBHOOK_PUBLIC_KEY", key.leak()),
        ("AMENDS_POSTMARK_WEBHOOK_USER", "postmark"),
        ("AMENDS_POSTMARK_WEBHOOK_PASSWORD", "pm-hook-secret"),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app(&env).await;
    (twilio, app)
}

fn sms_only(e: &mut Value) {
    e["data"]["customer"]
        .as_object_mut()
        .expect("customer")
        .remove("email");
}

#[tokio::test]
async fn twilio_status_callbacks_update_the_message_only_when_signed() {
    let (_twilio, app) = twilio_app(&[]).await;
    app.publish(&event("order.delayed", sms_only)).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;

    let path = "/webhooks/twilio/status";
    let params = [
        ("MessageSid", "SMstatus0000000000000000000000001"),
        ("MessageStatus", "delivered"),
        ("To", "+34600111222"),
        ("AccountSid", "AC123"),
    ];
    // Unsigned, wrongly signed, or signed over other parameters: refused, nothing recorded.
    assert_eq!(post_twilio(&app, path, &params, None).await, 403);
    assert_eq!(
        post_twilio(&app, path, &params, Some("bm9wZQ==")).await,
        403
    );
    let other = twilio_sign(
        path,
        &[("MessageSid", "SMother"), ("MessageStatus", "failed")],
    );
    assert_eq!(post_twilio(&app, path, &params, Some(&other)).await, 403);
    assert_eq!(app.count("select count(*) from delivery_event").await, 0);

    let signature = twilio_sign(path, &params);
    assert_eq!(
        post_twilio(&app, path, &params, Some(&signature)).await,
        204
    );
    let (status, events): (Option<String>, i64) = sqlx::query_as(
        "select o.delivery_status, (select count(*) from delivery_event e where e.outbox_id = o.outbox_id)
         from outbox o",
    )
    .fetch_one(&app.pool)
    .await
    .expect("outbox");
    assert_eq!(status.as_deref(), Some("delivered"));
    assert_eq!(events, 1);

    // A lasting failure reported later is announced once, however often it is reported.
    let failed = [
        ("MessageSid", "SMstatus0000000000000000000000001"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
        ("To", "+34600111222"),
    ];
    let signature = twilio_sign(path, &failed);
    for _ in 0..2 {
        assert_eq!(
            post_twilio(&app, path, &failed, Some(&signature)).await,
            204
        );
    }
    let (count, data): (i64, Option<Value>) = sqlx::query_as(
        "select count(*), min(data::text)::jsonb from outcome_event where event_type = 'notification.failed'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("outcome events");
    assert_eq!(count, 1);
    let data = data.expect("an event");
    assert_eq!(data["delivery_status"], "undelivered");
    assert_eq!(data["error"], "Twilio error 30003");
    assert_eq!(data["channel"], "sms");
    app.stop().await;
}

#[tokio::test]
async fn stop_suppresses_the_number_and_start_lifts_it() {
    let (twilio, app) = twilio_app(&[]).await;
    let path = "/webhooks/twilio/inbound";
    let stop = [
        ("From", "+34600111222"),
        ("To", "+15550001111"),
        ("Body", " stop "),
    ];
    assert_eq!(post_twilio(&app, path, &stop, None).await, 403);
    assert_eq!(app.count("select count(*) from suppression").await, 0);
    assert_eq!(
        post_twilio(&app, path, &stop, Some(&twilio_sign(path, &stop))).await,
        200
    );
    assert_eq!(
        app.count("select count(*) from suppression where channel = 'sms' and reason = 'stop' and lifted_at is null")
            .await,
        1
    );

    // The next incident for that customer, reachable only by SMS, sends nothing, and says why.
    let suppressed = event("order.delayed", sms_only);
    app.publish(&suppressed).await;
    app.wait_for_count(
        "select count(*) from decision where skipped->>'sms' like 'the number is suppressed%'",
        1,
    )
    .await;
    assert_eq!(app.count("select count(*) from outbox").await, 0);
    assert!(
        twilio
            .received_requests()
            .await
            .expect("requests")
            .is_empty()
    );

    let start = [
        ("From", "+34600111222"),
        ("To", "+15550001111"),
        ("Body", "START"),
    ];
    assert_eq!(
        post_twilio(&app, path, &start, Some(&twilio_sign(path, &start))).await,
        200
    );
    assert_eq!(
        app.count("select count(*) from suppression where lifted_at is null")
            .await,
        0
    );
    app.publish(&event("order.delayed", sms_only)).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;
    app.stop().await;
}

#[tokio::test]
async fn sendgrid_events_need_their_ecdsa_signature_and_bounces_suppress() {
    let (_twilio, app) = twilio_app(&[]).await;
    let body = json!([
        { "email": "Ana@Example.com", "event": "bounce", "type": "bounce",
          "reason": "550 5.1.1 The email account that you tried to reach does not exist",
          "sg_message_id": "sg-1.filter0001", "timestamp": 1_764_000_000 },
        { "email": "bob@example.com", "event": "delivered", "sg_message_id": "sg-2.filter0001",
          "timestamp": 1_764_000_001 }
    ])
    .to_string();
    let timestamp = "1764000002";
    let sign = |payload: &str| {
        let signature: Signature = sending_key().sign(format!("{timestamp}{payload}").as_bytes());
        STANDARD.encode(signature.to_der().as_bytes())
    };
    let post = |signature: Option<String>, body: String| {
        let mut request = http_client()
            .post(app.url("/webhooks/sendgrid/events"))
            .header("content-type", "application/json")
            .header("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
            .body(body);
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Email-Event-Webhook-Signature", signature);
        }
        async move { request.send().await.expect("answers").status() }
    };
    assert_eq!(post(None, body.clone()).await, 403);
    // A valid signature of another body.
    assert_eq!(post(Some(sign("[]")), body.clone()).await, 403);
    assert_eq!(app.count("select count(*) from delivery_event").await, 0);

    assert_eq!(post(Some(sign(&body)), body.clone()).await, 204);
    assert_eq!(app.count("select count(*) from delivery_event").await, 2);
    let (contact, reason): (String, String) =
        sqlx::query_as("select contact, reason from suppression where channel = 'email'")
            .fetch_one(&app.pool)
            .await
            .expect("a suppression");
    assert_eq!(
        contact, "ana@example.com",
        "addresses are kept in lower case"
    );
    assert_eq!(reason, "hard_bounce");

    // The bounced address is skipped: the sample customer falls back to SMS.
    app.publish(&event("order.delayed", |_| {})).await;
    app.wait_for_count(
        "select count(*) from decision where skipped->>'email' like 'the address is suppressed%'",
        1,
    )
    .await;
    app.wait_for_count(
        "select count(*) from outbox where channel = 'sms' and status = 'sent'",
        1,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn postmark_webhooks_need_basic_auth_and_spam_complaints_suppress() {
    let (_twilio, app) = twilio_app(&[]).await;
    let complaint = json!({
        "RecordType": "SpamComplaint", "MessageID": "pm-1", "Email": "ana@example.com",
        "Description": "The subscriber explicitly marked this message as spam.",
        "Metadata": {}
    })
    .to_string();
    let post = |user: &str, password: &str| {
        http_client()
            .post(app.url("/webhooks/postmark/events"))
            .basic_auth(user, Some(password))
            .header("content-type", "application/json")
            .body(complaint.clone())
            .send()
    };
    assert_eq!(
        post("postmark", "wrong").await.expect("answers").status(),
        403
    );
    assert_eq!(
        http_client()
            .post(app.url("/webhooks/postmark/events"))
            .body(complaint.clone())
            .send()
            .await
            .expect("answers")
            .status(),
        403
    );
    assert_eq!(app.count("select count(*) from suppression").await, 0);
    assert_eq!(
        post("postmark", "pm-hook-secret")
            .await
            .expect("answers")
            .status(),
        204
    );
    assert_eq!(
        app.count(
            "select count(*) from suppression where channel = 'email' and reason = 'spam_complaint'"
        )
        .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn vonage_receipts_need_their_signature() {
    let (_twilio, app) = twilio_app(&[("AMENDS_VONAGE_SIGNATURE_SECRET", "vonage-sig")]).await;
    let mut params: Vec<(String, String)> = [
        ("msisdn", "34600111222"),
        ("to", "Northwind"),
        ("messageId", "0A0000000123ABCD1"),
        ("status", "delivered"),
        ("err-code", "0"),
        ("timestamp", "1764000000"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let post = |params: &[(String, String)]| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        http_client()
            .post(app.url("/webhooks/vonage/status"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(post(&params).await.expect("answers").status(), 403);
    let wrong = amends::signature::vonage_signature("other", &params);
    let mut forged = params.clone();
    forged.push(("sig".to_owned(), wrong));
    assert_eq!(post(&forged).await.expect("answers").status(), 403);
    assert_eq!(app.count("select count(*) from delivery_event").await, 0);

    let sig = amends::signature::vonage_signature("vonage-sig", &params);
    params.push(("sig".to_owned(), sig));
    assert_eq!(post(&params).await.expect("answers").status(), 204);
    assert_eq!(
        app.count(
            "select count(*) from delivery_event where provider = 'vonage' and status = 'delivered'"
        )
        .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_person_can_list_add_and_lift_suppressions_from_the_command_line() {
    let (_twilio, app) = twilio_app(&[]).await;
    let amends = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_amends"))
            .args(args)
            .env("AMENDS_DATABASE_URL", app.names.database_url())
            .output()
            .expect("amends runs");
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    };
    let (ok, text) = amends(&[
        "suppression",
        "add",
        "--channel",
        "email",
        "Ana@Example.com",
        "--note",
        "asked by phone",
    ]);
    assert!(ok, "{text}");
    let (ok, text) = amends(&["suppression", "list"]);
    assert!(ok, "{text}");
    assert!(text.contains("ana@example.com"), "{text}");
    assert!(
        text.contains("manual") && text.contains("asked by phone"),
        "{text}"
    );
    assert!(text.contains("1 suppression(s) in force"), "{text}");

    let (ok, text) = amends(&[
        "suppression",
        "lift",
        "--channel",
        "email",
        "ana@example.com",
    ]);
    assert!(ok, "{text}");
    let (ok, text) = amends(&[
        "suppression",
        "lift",
        "--channel",
        "email",
        "ana@example.com",
    ]);
    assert!(!ok, "lifting twice says there was nothing to lift: {text}");
    assert!(text.contains("no email suppression in force"), "{text}");
    assert_eq!(
        app.count("select count(*) from suppression where lifted_at is null")
            .await,
        0
    );
    app.stop().await;
}
