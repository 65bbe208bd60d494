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

use amends::clock::{Clock, ManualTime};

use crate::helpers::{TestApp, event, http_client, not_vip, spawn_app, spawn_app_with_clock};

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

/// The current Unix time, as providers write signed timestamps.
fn now_unix() -> String {
    chrono::Utc::now().timestamp().to_string()
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
        ("MessageSid", "SMinbound0000000000000000000000001"),
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
        ("MessageSid", "SMinbound0000000000000000000000002"),
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
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let timestamp = timestamp.as_str();
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
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    params.push(("timestamp".to_owned(), now_unix()));
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

// --- replays, reordering and scoped lifts -------------------------------------------------------

/// Posts a SendGrid batch signed with `key` over `timestamp` and the body, as SendGrid does.
async fn post_sendgrid(
    app: &TestApp,
    key: &SigningKey,
    timestamp: &str,
    body: &str,
) -> reqwest::StatusCode {
    let signature: Signature = key.sign(format!("{timestamp}{body}").as_bytes());
    http_client()
        .post(app.url("/webhooks/sendgrid/events"))
        .header("content-type", "application/json")
        .header("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)
        .header(
            "X-Twilio-Email-Event-Webhook-Signature",
            STANDARD.encode(signature.to_der().as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await
        .expect("answers")
        .status()
}

/// Posts one Postmark event with basic auth `postmark:password`.
async fn post_postmark(app: &TestApp, password: &str, event: &Value) -> reqwest::StatusCode {
    http_client()
        .post(app.url("/webhooks/postmark/events"))
        .basic_auth("postmark", Some(password))
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .expect("answers")
        .status()
}

/// A Vonage receipt's parameters signed with `secret`.
fn vonage_signed(secret: &str, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let sig = amends::signature::vonage_signature(secret, &params);
    params.push(("sig".to_owned(), sig));
    params
}

async fn post_vonage(app: &TestApp, params: &[(String, String)]) -> reqwest::StatusCode {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    http_client()
        .post(app.url("/webhooks/vonage/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("answers")
        .status()
}

/// How many suppressions of `contact` are in force, and who put them there.
async fn in_force(app: &TestApp, contact: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "select source, reason from suppression where contact = $1 and lifted_at is null
         order by source, reason",
    )
    .bind(contact)
    .fetch_all(&app.pool)
    .await
    .expect("suppressions")
}

/// The delivery status of the one message on `channel`.
async fn delivery_status(app: &TestApp, channel: &str) -> Option<String> {
    sqlx::query_scalar("select delivery_status from outbox where channel = $1 and status = 'sent'")
        .bind(channel)
        .fetch_one(&app.pool)
        .await
        .expect("one message")
}

/// Sends one email (outbox transport) and returns its outbox id.
async fn one_email(app: &TestApp) -> String {
    app.publish(&event("order.delayed", not_vip)).await;
    app.wait_for_count(
        "select count(*) from outbox where channel = 'email' and status = 'sent'",
        1,
    )
    .await;
    sqlx::query_scalar(
        "select outbox_id::text from outbox where channel = 'email' and status = 'sent'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the email")
}

async fn other_store(app: &TestApp) -> amends::store::Store {
    amends::store::Store::open(
        &secrecy::SecretString::from(app.names.database_url()),
        1,
        "webhooks-test",
    )
    .await
    .expect("the database opens")
}

#[tokio::test]
async fn sendgrid_refuses_signed_timestamps_more_than_ten_minutes_off_its_clock() {
    // The daemon's clock is set, not read from the system: freshness goes by it.
    let now: chrono::DateTime<chrono::Utc> = "2026-12-07T10:00:00Z".parse().expect("time");
    let time = ManualTime::new(now);
    let key = sendgrid_public_key();
    let app = spawn_app_with_clock(
        &[("AMENDS_SENDGRID_WEBHOOK_PUBLIC_KEY", key.as_str())],
        Clock::new(time.clone()),
    )
    .await;
    let body = json!([{ "email": "ana@example.com", "event": "bounce", "type": "bounce",
                        "sg_event_id": "sg-event-stale", "timestamp": now.timestamp() }])
    .to_string();
    let at = |offset: i64| (now.timestamp() + offset).to_string();

    // Validly signed, but an hour old, or 11 minutes ahead: a replay, refused, nothing recorded.
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &at(-3600), &body).await,
        403
    );
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &at(11 * 60), &body).await,
        403
    );
    assert_eq!(
        post_sendgrid(&app, &sending_key(), "yesterday", &body).await,
        403
    );
    assert_eq!(app.count("select count(*) from delivery_event").await, 0);
    assert_eq!(app.count("select count(*) from suppression").await, 0);
    // The refusals say why, per provider, without any contents.
    let metrics = app.scrape_metrics().await.expect("metrics");
    assert!(
        metrics
            .contains(r#"amends_webhook_rejections_total{provider="sendgrid",reason="stale"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"amends_webhook_rejections_total{provider="sendgrid",reason="bad_timestamp"} 1"#
        ),
        "{metrics}"
    );

    // Fresh by the daemon's clock (a few minutes either way is fine): taken.
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &at(-5 * 60), &body).await,
        204
    );
    assert_eq!(app.count("select count(*) from delivery_event").await, 1);
    // Once the clock has moved on, the same signed request is stale.
    time.set(now + chrono::Duration::minutes(30));
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &at(-5 * 60), &body).await,
        403
    );
    app.stop().await;
}

#[tokio::test]
async fn a_vonage_receipt_with_an_old_signed_timestamp_is_refused() {
    let (_twilio, app) = twilio_app(&[("AMENDS_VONAGE_SIGNATURE_SECRET", "vonage-sig")]).await;
    let hour_ago = (chrono::Utc::now().timestamp() - 3600).to_string();
    let receipt = |timestamp: &str| {
        vonage_signed(
            "vonage-sig",
            &[
                ("msisdn", "34600111222"),
                ("messageId", "0A0000000123ABCD1"),
                ("status", "delivered"),
                ("err-code", "0"),
                ("nonce", "7c3a1f1e-0b8e-4f2e-9d5b-5a6f2c1d0e9a"),
                ("timestamp", timestamp),
            ],
        )
    };
    assert_eq!(post_vonage(&app, &receipt(&hour_ago)).await, 403);
    // Signed, but without the timestamp signed requests carry.
    let untimed = vonage_signed(
        "vonage-sig",
        &[("messageId", "0A0000000123ABCD1"), ("status", "delivered")],
    );
    assert_eq!(post_vonage(&app, &untimed).await, 403);
    assert_eq!(app.count("select count(*) from delivery_event").await, 0);

    let fresh = receipt(&now_unix());
    assert_eq!(post_vonage(&app, &fresh).await, 204);
    // The same receipt again (a retry or a replay within the window): recorded once.
    assert_eq!(post_vonage(&app, &fresh).await, 204);
    assert_eq!(app.count("select count(*) from delivery_event").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_start_does_not_lift_a_later_stop() {
    let (_twilio, app) = twilio_app(&[]).await;
    let path = "/webhooks/twilio/inbound";
    let reply = |sid: &'static str, body: &'static str| {
        [
            ("MessageSid", sid),
            ("AccountSid", "AC123"),
            ("From", "+34600111222"),
            ("To", "+15550001111"),
            ("Body", body),
        ]
    };
    let post = |params: [(&'static str, &'static str); 5]| {
        let signature = twilio_sign(path, &params);
        let app = &app;
        async move { post_twilio(app, path, &params, Some(&signature)).await }
    };
    let start = reply("SMreply00000000000000000000000001", "START");
    let stop = reply("SMreply00000000000000000000000002", "STOP");
    assert_eq!(post(start).await, 200);
    assert_eq!(post(stop).await, 200);
    assert_eq!(
        in_force(&app, "+34600111222").await,
        [("twilio".to_owned(), "stop".to_owned())]
    );

    // The earlier START, captured and sent again (validly signed: Twilio signs no time).
    assert_eq!(post(start).await, 200);
    assert_eq!(
        in_force(&app, "+34600111222").await.len(),
        1,
        "still suppressed"
    );
    assert_eq!(
        app.count("select count(*) from delivery_event where provider = 'twilio'")
            .await,
        2,
        "each reply recorded once"
    );

    // A new START from the customer lifts it; the old STOP replayed does not put it back.
    assert_eq!(
        post(reply("SMreply00000000000000000000000003", "start")).await,
        200
    );
    assert!(in_force(&app, "+34600111222").await.is_empty());
    assert_eq!(post(stop).await, 200);
    assert!(in_force(&app, "+34600111222").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_same_sendgrid_batch_twice_is_recorded_once() {
    let (_twilio, app) = twilio_app(&[]).await;
    let outbox_id = one_email(&app).await;
    let now = chrono::Utc::now().timestamp();
    let batch = json!([
        { "email": "ana@example.com", "event": "delivered", "sg_event_id": "sg-ev-1",
          "amends_outbox_id": outbox_id, "timestamp": now - 60 },
        { "email": "ana@example.com", "event": "spamreport", "sg_event_id": "sg-ev-2",
          "amends_outbox_id": outbox_id, "timestamp": now - 30 }
    ])
    .to_string();
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &now_unix(), &batch).await,
        204
    );
    assert_eq!(app.count("select count(*) from delivery_event").await, 2);
    assert_eq!(
        delivery_status(&app, "email").await.as_deref(),
        Some("complained")
    );
    assert_eq!(
        in_force(&app, "ana@example.com").await,
        [("sendgrid".to_owned(), "spam_complaint".to_owned())]
    );

    // A person decides the customer may be written to again.
    let store = other_store(&app).await;
    assert!(
        store
            .lift_suppression(
                amends::policy::Channel::Email,
                "ana@example.com",
                amends::store::Lift::Person { who: "coordinator" },
            )
            .await
            .expect("lifted")
    );
    store.close().await;

    // SendGrid retries the batch (or someone replays it, freshly timed): nothing changes, and
    // the complaint is not put back over the person's decision.
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &now_unix(), &batch).await,
        204
    );
    assert_eq!(app.count("select count(*) from delivery_event").await, 2);
    assert_eq!(
        delivery_status(&app, "email").await.as_deref(),
        Some("complained")
    );
    assert!(in_force(&app, "ana@example.com").await.is_empty());
    assert_eq!(
        app.count("select count(*) from suppression where lifted_by = 'coordinator'")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_sendgrid_batch_that_fails_half_way_records_nothing() {
    let (_twilio, app) = twilio_app(&[]).await;
    let outbox_id = one_email(&app).await;
    let now = chrono::Utc::now().timestamp();
    let good = json!([
        { "email": "ana@example.com", "event": "bounce", "type": "bounce",
          "sg_event_id": "sg-ok-1", "amends_outbox_id": outbox_id, "timestamp": now,
          "reason": "550 5.1.1 no such user" },
        { "email": "bob@example.com", "event": "delivered", "sg_event_id": "sg-ok-2",
          "timestamp": now }
    ]);
    // The last event's reason holds a NUL, which PostgreSQL cannot store in text: its write
    // fails after the first two were written in the same transaction.
    let mut bad = good.clone();
    bad.as_array_mut().expect("a batch").push(json!({
        "email": "carol@example.com", "event": "dropped", "sg_event_id": "sg-bad-3",
        "timestamp": now, "reason": "bad\u{0}reason"
    }));
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &now_unix(), &bad.to_string()).await,
        500
    );
    assert_eq!(app.count("select count(*) from delivery_event").await, 0);
    assert_eq!(app.count("select count(*) from suppression").await, 0);
    assert_eq!(delivery_status(&app, "email").await, None);
    assert_eq!(
        app.count("select count(*) from outcome_event where event_type = 'notification.failed'")
            .await,
        0
    );

    // The batch as SendGrid retries it (here without the event that cannot be stored): each
    // event recorded once, with its effects.
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &now_unix(), &good.to_string()).await,
        204
    );
    assert_eq!(app.count("select count(*) from delivery_event").await, 2);
    assert_eq!(
        delivery_status(&app, "email").await.as_deref(),
        Some("bounced")
    );
    assert_eq!(in_force(&app, "ana@example.com").await.len(), 1);
    assert_eq!(
        app.count("select count(*) from outcome_event where event_type = 'notification.failed'")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn statuses_reported_out_of_order_never_move_a_message_backwards() {
    let (_twilio, app) = twilio_app(&[]).await;
    let outbox_id = one_email(&app).await;
    app.publish(&event("order.delayed", sms_only)).await;
    app.wait_for_count(
        "select count(*) from outbox where channel = 'sms' and status = 'sent'",
        1,
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let sendgrid = |id: &str, event: &str, at: i64| {
        json!([{ "email": "ana@example.com", "event": event, "type": "bounce",
                 "sg_event_id": id, "amends_outbox_id": outbox_id, "timestamp": at }])
        .to_string()
    };
    // The bounce arrives first; the delivery SendGrid reported earlier arrives after it.
    for (id, kind, at) in [
        ("sg-o-1", "bounce", now - 10),
        ("sg-o-2", "delivered", now - 20),
        ("sg-o-3", "open", now - 5),
    ] {
        assert_eq!(
            post_sendgrid(&app, &sending_key(), &now_unix(), &sendgrid(id, kind, at)).await,
            204
        );
    }
    assert_eq!(
        delivery_status(&app, "email").await.as_deref(),
        Some("bounced")
    );
    // Every event is still kept as received.
    assert_eq!(
        app.count("select count(*) from delivery_event where provider = 'sendgrid'")
            .await,
        3
    );

    // Twilio: delivered, then the earlier "sent" arrives late.
    let path = "/webhooks/twilio/status";
    for status in ["delivered", "sent", "queued"] {
        let params = [
            ("MessageSid", "SMstatus0000000000000000000000001"),
            ("MessageStatus", status),
            ("AccountSid", "AC123"),
        ];
        let signature = twilio_sign(path, &params);
        assert_eq!(
            post_twilio(&app, path, &params, Some(&signature)).await,
            204
        );
    }
    assert_eq!(
        delivery_status(&app, "sms").await.as_deref(),
        Some("delivered")
    );
    // A lasting failure after it does count.
    let params = [
        ("MessageSid", "SMstatus0000000000000000000000001"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30005"),
    ];
    let signature = twilio_sign(path, &params);
    assert_eq!(
        post_twilio(&app, path, &params, Some(&signature)).await,
        204
    );
    assert_eq!(
        delivery_status(&app, "sms").await.as_deref(),
        Some("undelivered")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_postmark_resubscribe_lifts_only_postmarks_own_unsubscribe() {
    let (_twilio, app) = twilio_app(&[]).await;
    let now = chrono::Utc::now();
    // ana: a SendGrid spam complaint and a Postmark unsubscribe; bob: a person's decision.
    let complaint = json!([{ "email": "ana@example.com", "event": "spamreport",
                             "sg_event_id": "sg-spam-1", "timestamp": now.timestamp() }])
    .to_string();
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &now_unix(), &complaint).await,
        204
    );
    let change = |recipient: &str, suppress: bool, minutes: i64| {
        json!({
            "RecordType": "SubscriptionChange", "MessageID": null, "ServerID": 23,
            "MessageStream": "outbound", "Recipient": recipient, "Origin": "Recipient",
            "SuppressSending": suppress,
            "SuppressionReason": if suppress { json!("ManualSuppression") } else { Value::Null },
            "ChangedAt": (now + chrono::Duration::minutes(minutes)).to_rfc3339(),
            "Metadata": {}
        })
    };
    assert_eq!(
        post_postmark(&app, "pm-hook-secret", &change("ana@example.com", true, 1)).await,
        204
    );
    let store = other_store(&app).await;
    store
        .suppress(
            amends::policy::Channel::Email,
            "bob@example.com",
            amends::store::SuppressionReason::Manual,
            "coordinator",
            Some("asked by phone"),
        )
        .await
        .expect("suppressed");
    assert_eq!(in_force(&app, "ana@example.com").await.len(), 2);

    // Postmark reactivates both addresses.
    for who in ["ana@example.com", "bob@example.com"] {
        assert_eq!(
            post_postmark(&app, "pm-hook-secret", &change(who, false, 2)).await,
            204
        );
    }
    // Its own unsubscribe is lifted; SendGrid's complaint stands, so ana stays suppressed.
    assert_eq!(
        in_force(&app, "ana@example.com").await,
        [("sendgrid".to_owned(), "spam_complaint".to_owned())]
    );
    assert_eq!(
        in_force(&app, "bob@example.com").await,
        [("coordinator".to_owned(), "manual".to_owned())]
    );
    // ...and the next message to ana is still not sent by email.
    app.publish(&event("order.delayed", not_vip)).await;
    app.wait_for_count(
        "select count(*) from decision where skipped->>'email' like 'the address is suppressed%'",
        1,
    )
    .await;

    // A provider can never lift a person's suppression, whatever it claims; a person may lift
    // any suppression.
    assert!(
        !store
            .lift_suppression(
                amends::policy::Channel::Email,
                "bob@example.com",
                amends::store::Lift::Provider {
                    provider: "coordinator",
                    reason: amends::store::SuppressionReason::Manual,
                },
            )
            .await
            .expect("no error")
    );
    assert!(
        store
            .lift_suppression(
                amends::policy::Channel::Email,
                "ana@example.com",
                amends::store::Lift::Person { who: "coordinator" },
            )
            .await
            .expect("lifted")
    );
    assert!(in_force(&app, "ana@example.com").await.is_empty());
    assert_eq!(in_force(&app, "bob@example.com").await.len(), 1);
    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn previous_webhook_credentials_work_while_they_are_rotated() {
    let previous_key = SigningKey::from_bytes(&[43u8; 32].into()).expect("a valid scalar");
    let previous_public = STANDARD.encode(
        previous_key
            .verifying_key()
            .to_public_key_der()
            .expect("DER")
            .as_bytes(),
    );
    let (_twilio, app) = twilio_app(&[
        ("AMENDS_TWILIO_AUTH_TOKEN_PREVIOUS", "old-twilio-token"),
        ("AMENDS_POSTMARK_WEBHOOK_PASSWORD_PREVIOUS", "old-pm-secret"),
        ("AMENDS_VONAGE_SIGNATURE_SECRET", "vonage-sig"),
        ("AMENDS_VONAGE_SIGNATURE_SECRET_PREVIOUS", "old-vonage-sig"),
        (
            "AMENDS_SENDGRID_WEBHOOK_PUBLIC_KEY_PREVIOUS",
            previous_public.as_str(),
        ),
    ])
    .await;

    // Twilio: the old token and the new one; a third is refused.
    let path = "/webhooks/twilio/status";
    let twilio = |token: &'static str, sid: &'static str| {
        let params = [("MessageSid", sid), ("MessageStatus", "sent")];
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let signature =
            amends::signature::twilio_signature(token, &format!("{PUBLIC_URL}{path}"), &owned);
        let app = &app;
        async move { post_twilio(app, path, &params, Some(&signature)).await }
    };
    assert_eq!(twilio("old-twilio-token", "SMrot1").await, 204);
    assert_eq!(twilio(TOKEN, "SMrot2").await, 204);
    assert_eq!(twilio("wrong-token", "SMrot3").await, 403);

    // Postmark: either password of the same user.
    let delivery = |id: &str| {
        json!({ "RecordType": "Delivery", "MessageID": id, "Recipient": "ana@example.com",
                "DeliveredAt": chrono::Utc::now().to_rfc3339(), "Metadata": {} })
    };
    assert_eq!(
        post_postmark(&app, "old-pm-secret", &delivery("pm-rot-1")).await,
        204
    );
    assert_eq!(
        post_postmark(&app, "pm-hook-secret", &delivery("pm-rot-2")).await,
        204
    );
    assert_eq!(
        post_postmark(&app, "not-it", &delivery("pm-rot-3")).await,
        403
    );

    // Vonage.
    let receipt = |secret: &str, id: &str| {
        vonage_signed(
            secret,
            &[
                ("messageId", id),
                ("status", "delivered"),
                ("timestamp", &now_unix()),
            ],
        )
    };
    assert_eq!(
        post_vonage(&app, &receipt("old-vonage-sig", "v-rot-1")).await,
        204
    );
    assert_eq!(
        post_vonage(&app, &receipt("vonage-sig", "v-rot-2")).await,
        204
    );
    assert_eq!(post_vonage(&app, &receipt("wrong", "v-rot-3")).await, 403);

    // SendGrid: the previous key and the current one; any other key is refused.
    let batch = |id: &str| {
        json!([{ "email": "ana@example.com", "event": "delivered", "sg_event_id": id,
                 "timestamp": chrono::Utc::now().timestamp() }])
        .to_string()
    };
    assert_eq!(
        post_sendgrid(&app, &previous_key, &now_unix(), &batch("sg-rot-1")).await,
        204
    );
    assert_eq!(
        post_sendgrid(&app, &sending_key(), &now_unix(), &batch("sg-rot-2")).await,
        204
    );
    let stranger = SigningKey::from_bytes(&[44u8; 32].into()).expect("a valid scalar");
    assert_eq!(
        post_sendgrid(&app, &stranger, &now_unix(), &batch("sg-rot-3")).await,
        403
    );

    assert_eq!(
        app.count("select count(*) from delivery_event").await,
        8,
        "two accepted per provider, the refused ones not recorded"
    );
    let metrics = app.scrape_metrics().await.expect("metrics");
    for provider in ["twilio", "postmark", "vonage", "sendgrid"] {
        let line = format!(
            r#"amends_webhook_rejections_total{{provider="{provider}",reason="bad_signature"}} 1"#
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    app.stop().await;
}
