//! The HTTP providers against local servers that speak their documented wire formats: the
//! request each sends (path, auth, encoding, fields) and how each answer is classified; then
//! the daemon sending through them, failing over from one to the next.

use std::time::Duration;

use amends::config::{PostmarkConfig, SendGridConfig, TwilioConfig, VonageConfig};
use amends::deliver::Outgoing;
use amends::deliver::{
    EmailProvider, EmailSender, Postmark, SendError, SendGrid, SmsProvider, Twilio, Vonage,
};
use amends::policy::Channel;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{basic_auth, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{event, not_vip, spawn_app};

const TIMEOUT: Duration = Duration::from_secs(2);

fn email() -> Outgoing {
    Outgoing {
        id: Uuid::now_v7(),
        channel: Channel::Email,
        recipient: "ana@example.com".to_owned(),
        recipient_name: Some("Ana García".to_owned()),
        locale: "es".to_owned(),
        subject: Some("Lo sentimos".to_owned()),
        body_text: "Hola, Ana".to_owned(),
        body_html: Some("<p>Hola, Ana</p>".to_owned()),
    }
}

fn sms(body: &str) -> Outgoing {
    Outgoing {
        channel: Channel::Sms,
        recipient: "+34600111222".to_owned(),
        subject: None,
        body_text: body.to_owned(),
        body_html: None,
        ..email()
    }
}

fn from() -> EmailSender {
    EmailSender {
        from: "Northwind Outfitters <care@shop.example>".parse().unwrap(),
        list_unsubscribe: url::Url::parse("https://shop.example/account/preferences").ok(),
    }
}

fn url(server: &MockServer) -> url::Url {
    url::Url::parse(&server.uri()).unwrap()
}

fn sendgrid(server: &MockServer) -> SendGrid {
    let config = SendGridConfig {
        api_key: SecretString::from("SG.test-key"),
        base_url: url(server),
    };
    SendGrid::new(&config, TIMEOUT).unwrap()
}

fn postmark(server: &MockServer) -> Postmark {
    let config = PostmarkConfig {
        server_token: SecretString::from("pm-token"),
        base_url: url(server),
    };
    Postmark::new(&config, TIMEOUT).unwrap()
}

fn twilio(server: &MockServer) -> Twilio {
    let config = TwilioConfig {
        account_sid: "AC123".to_owned(),
        auth_token: SecretString::from("twilio-token"),
        from: "+15550001111".to_owned(),
        base_url: url(server),
    };
    let callback = url::Url::parse("https://amends.example/webhooks/twilio/status").unwrap();
    Twilio::new(&config, TIMEOUT, callback).unwrap()
}

fn vonage(server: &MockServer) -> Vonage {
    let config = VonageConfig {
        api_key: "vkey".to_owned(),
        api_secret: SecretString::from("vsecret"),
        from: "Northwind".to_owned(),
        base_url: url(server),
    };
    let callback = url::Url::parse("https://amends.example/webhooks/vonage/status").unwrap();
    Vonage::new(&config, TIMEOUT, callback).unwrap()
}

fn form(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A daemon sending SMS through the Twilio server and, after it, the Vonage one if given.
async fn sms_app(
    twilio: &MockServer,
    vonage: Option<&MockServer>,
    extra: &[(&str, &str)],
) -> crate::helpers::TestApp {
    let twilio_url = twilio.uri();
    let vonage_url = vonage.map(|v| v.uri()).unwrap_or_default();
    let mut env = vec![
        (
            "AMENDS_SMS_TRANSPORT",
            if vonage.is_some() {
                "twilio,vonage"
            } else {
                "twilio"
            },
        ),
        ("AMENDS_TWILIO_ACCOUNT_SID", "AC123"),
        ("AMENDS_TWILIO_AUTH_TOKEN", "twilio-token"),
        ("AMENDS_TWILIO_FROM", "+15550001111"),
        ("AMENDS_TWILIO_BASE_URL", twilio_url.as_str()),
    ];
    if vonage.is_some() {
        env.extend([
            ("AMENDS_VONAGE_API_KEY", "vkey"),
            ("AMENDS_VONAGE_API_SECRET", "vsecret"),
            ("AMENDS_VONAGE_FROM", "Northwind"),
            ("AMENDS_VONAGE_BASE_URL", vonage_url.as_str()),
        ]);
    }
    env.extend_from_slice(extra);
    spawn_app(&env).await
}

/// An event whose customer can be reached only by SMS.
fn sms_only_event() -> Value {
    event("order.delayed", |e| {
        e["data"]["customer"]
            .as_object_mut()
            .expect("customer")
            .remove("email");
    })
}

#[tokio::test]
async fn sendgrid_sends_the_documented_request_and_reads_the_message_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer SG.test-key"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202).insert_header("X-Message-Id", "sg-msg-1"))
        .expect(1)
        .mount(&server)
        .await;
    let message = email();
    let id = sendgrid(&server).send(&message, &from()).await.unwrap();
    assert_eq!(id, "sg-msg-1");
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body["personalizations"][0]["to"][0],
        json!({ "email": "ana@example.com", "name": "Ana García" })
    );
    assert_eq!(
        body["from"],
        json!({ "email": "care@shop.example", "name": "Northwind Outfitters" })
    );
    assert_eq!(body["subject"], "Lo sentimos");
    assert_eq!(
        body["content"][0],
        json!({ "type": "text/plain", "value": "Hola, Ana" })
    );
    assert_eq!(body["content"][1]["type"], "text/html");
    let outbox_id = message.id.to_string();
    assert_eq!(body["custom_args"]["amends_outbox_id"], outbox_id.as_str());
    assert_eq!(body["headers"]["X-Amends-Outbox-Id"], outbox_id.as_str());
    assert_eq!(
        body["headers"]["List-Unsubscribe"],
        "<https://shop.example/account/preferences>"
    );
}

#[tokio::test]
async fn sendgrid_answers_are_classified() {
    let server = MockServer::start().await;
    let cases = [
        (ResponseTemplate::new(500), "transient"),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "2"),
            "transient",
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({ "errors": [
                { "message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email", "help": null }
            ]})),
            "permanent",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({ "errors": [
                { "message": "The provided authorization grant is invalid, expired, or revoked", "field": null, "help": null }
            ]})),
            "provider",
        ),
    ];
    for (response, expected) in cases {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = sendgrid(&server).send(&email(), &from()).await.unwrap_err();
        match (&err, expected) {
            (SendError::Retryable { retry_after, .. }, "transient") => {
                if err.to_string().contains("429") {
                    assert_eq!(*retry_after, Some(Duration::from_secs(2)));
                }
            }
            (SendError::Permanent { message }, "permanent") => {
                assert!(
                    message.contains("personalizations.0.to.0.email"),
                    "{message}"
                )
            }
            (SendError::ProviderRejected { message }, "provider") => {
                assert!(!message.contains("SG.test-key"), "{message}")
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn postmark_sends_json_with_its_token_and_maps_error_codes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/email"))
        .and(header("x-postmark-server-token", "pm-token"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "To": "ana@example.com", "SubmittedAt": "2026-11-23T09:00:00Z",
            "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817", "ErrorCode": 0, "Message": "OK"
        })))
        .mount(&server)
        .await;
    let message = email();
    let id = postmark(&server).send(&message, &from()).await.unwrap();
    assert_eq!(id, "b7bc2f4a-e38e-4336-af7d-e6c392c2f817");
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["From"], "Northwind Outfitters <care@shop.example>");
    assert_eq!(body["To"], "Ana García <ana@example.com>");
    assert_eq!(body["HtmlBody"], "<p>Hola, Ana</p>");
    assert_eq!(body["TextBody"], "Hola, Ana");
    assert_eq!(body["MessageStream"], "outbound");
    assert_eq!(
        body["Headers"],
        json!([
            { "Name": "X-Amends-Outbox-Id", "Value": message.id.to_string() },
            { "Name": "List-Unsubscribe", "Value": "<https://shop.example/account/preferences>" }
        ])
    );
    assert_eq!(body["Metadata"]["amends_outbox_id"], message.id.to_string());

    for (status, code, expected) in [
        (422, 406, "permanent"),
        (401, 10, "provider"),
        (422, 300, "permanent"),
    ] {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "ErrorCode": code, "Message": "You tried to send to recipient(s) that have been marked as inactive."
            })))
            .mount(&server)
            .await;
        let err = postmark(&server).send(&email(), &from()).await.unwrap_err();
        match (&err, expected) {
            (SendError::Permanent { message }, "permanent")
            | (SendError::ProviderRejected { message }, "provider") => {
                assert!(message.contains(&format!("ErrorCode {code}")), "{message}")
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn twilio_posts_the_form_with_basic_auth_and_a_status_callback() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .and(basic_auth("AC123", "twilio-token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued",
            "to": "+34600111222", "from": "+15550001111", "num_segments": "1"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let sid = twilio(&server)
        .send(&sms("Lo sentimos, Ana"))
        .await
        .unwrap();
    assert_eq!(sid, "SM0123456789abcdef0123456789abcdef");
    let requests = server.received_requests().await.unwrap();
    let form = form(&requests[0]);
    assert_eq!(field(&form, "To"), Some("+34600111222"));
    assert_eq!(field(&form, "From"), Some("+15550001111"));
    assert_eq!(field(&form, "Body"), Some("Lo sentimos, Ana"));
    assert_eq!(
        field(&form, "StatusCallback"),
        Some("https://amends.example/webhooks/twilio/status")
    );
}

#[tokio::test]
async fn twilio_error_codes_decide_the_class() {
    let server = MockServer::start().await;
    let error = |status: u16, code: i64, message: &str| {
        ResponseTemplate::new(status).set_body_json(json!({
            "code": code, "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status
        }))
    };
    let cases = [
        (
            error(400, 21610, "Attempt to send to unsubscribed recipient"),
            "permanent",
        ),
        (
            error(400, 21211, "The 'To' number is not a valid phone number."),
            "permanent",
        ),
        (error(401, 20003, "Authenticate"), "provider"),
        (
            error(429, 20429, "Too Many Requests").insert_header("Retry-After", "1"),
            "transient",
        ),
        (ResponseTemplate::new(503), "transient"),
    ];
    for (response, expected) in cases {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(response)
            .mount(&server)
            .await;
        let err = twilio(&server).send(&sms("hi")).await.unwrap_err();
        let ok = matches!(
            (&err, expected),
            (SendError::Permanent { .. }, "permanent")
                | (SendError::ProviderRejected { .. }, "provider")
                | (SendError::Retryable { .. }, "transient")
        );
        assert!(ok, "{expected}: {err:?}");
        assert!(!err.to_string().contains("twilio-token"), "{err}");
    }
}

#[tokio::test]
async fn a_timeout_after_the_request_is_unknown_and_a_refused_connection_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({ "sid": "SMlate" }))
                .set_delay(TIMEOUT * 2),
        )
        .mount(&server)
        .await;
    // The request reached Twilio, which may have sent the SMS: never resend it blindly.
    let err = twilio(&server).send(&sms("hi")).await.unwrap_err();
    assert!(matches!(err, SendError::Unknown { .. }), "{err:?}");

    // Nothing listens here: nothing can have been sent.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let config = TwilioConfig {
        account_sid: "AC123".to_owned(),
        auth_token: SecretString::from("twilio-token"),
        from: "+15550001111".to_owned(),
        base_url: url::Url::parse(&format!("http://{closed}")).unwrap(),
    };
    let callback = url::Url::parse("https://amends.example/webhooks/twilio/status").unwrap();
    let err = Twilio::new(&config, TIMEOUT, callback)
        .unwrap()
        .send(&sms("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
}

#[tokio::test]
async fn vonage_posts_its_form_and_reads_each_part() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .and(body_string_contains("api_key=vkey"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message-count": "1",
            "messages": [{ "to": "34600111222", "message-id": "0A0000000123ABCD1", "status": "0",
                           "remaining-balance": "3.14", "message-price": "0.03", "network": "21401" }]
        })))
        .mount(&server)
        .await;
    let message = sms("Envío gratis: código ÑANDÚ");
    let id = vonage(&server).send(&message).await.unwrap();
    assert_eq!(id, "0A0000000123ABCD1");
    let requests = server.received_requests().await.unwrap();
    let form = form(&requests[0]);
    assert_eq!(field(&form, "api_secret"), Some("vsecret"));
    assert_eq!(field(&form, "to"), Some("34600111222"), "digits only");
    assert_eq!(field(&form, "from"), Some("Northwind"));
    assert_eq!(field(&form, "text"), Some("Envío gratis: código ÑANDÚ"));
    assert_eq!(field(&form, "type"), Some("unicode"), "the text is UCS-2");
    assert_eq!(
        field(&form, "client-ref"),
        Some(message.id.to_string().as_str())
    );
    assert_eq!(
        field(&form, "callback"),
        Some("https://amends.example/webhooks/vonage/status")
    );

    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message-count": "1",
            "messages": [{ "status": "4", "error-text": "Bad Credentials" }]
        })))
        .mount(&server)
        .await;
    let err = vonage(&server).send(&sms("hi")).await.unwrap_err();
    assert!(matches!(err, SendError::ProviderRejected { .. }), "{err:?}");
    assert!(!err.to_string().contains("vsecret"), "{err}");
}

/// The settings of a daemon sending email through SendGrid at `sendgrid`, then through `smtp`
/// when given.
fn email_settings(
    sendgrid: &MockServer,
    smtp: Option<&crate::smtp::SmtpSink>,
) -> Vec<(&'static str, String)> {
    let transport = if smtp.is_some() {
        "sendgrid,smtp"
    } else {
        "sendgrid"
    };
    let mut settings = vec![
        ("AMENDS_EMAIL_TRANSPORT", transport.to_owned()),
        ("AMENDS_SENDGRID_API_KEY", "SG.daemon".to_owned()),
        ("AMENDS_SENDGRID_BASE_URL", sendgrid.uri()),
        (
            "AMENDS_EMAIL_FROM",
            "Northwind Outfitters <care@shop.example>".to_owned(),
        ),
    ];
    if let Some(smtp) = smtp {
        settings.push(("AMENDS_SMTP_URL", smtp.url()));
    }
    settings
}

/// A daemon sending email as [`email_settings`] says, with `extra` settings.
async fn email_app(
    sendgrid: &MockServer,
    smtp: Option<&crate::smtp::SmtpSink>,
    extra: &[(&str, &str)],
) -> crate::helpers::TestApp {
    let settings = email_settings(sendgrid, smtp);
    let mut env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra);
    spawn_app(&env).await
}

#[tokio::test]
async fn the_daemon_fails_over_from_a_refusing_twilio_to_vonage() {
    let twilio_server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": 20003, "message": "Authenticate", "status": 401
        })))
        .mount(&twilio_server)
        .await;
    let vonage_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message-count": "1",
            "messages": [{ "to": "34600111222", "message-id": "VONAGE-1", "status": "0" }]
        })))
        .expect(1)
        .mount(&vonage_server)
        .await;
    let app = sms_app(&twilio_server, Some(&vonage_server), &[]).await;
    // A customer reachable only by SMS.
    app.publish(&sms_only_event()).await;
    app.wait_for_count(
        "select count(*) from outbox where status = 'sent' and channel = 'sms'",
        1,
    )
    .await;
    let (provider, id): (String, Option<String>) = sqlx::query_as(
        "select a.provider, o.provider_message_id from attempt a join outbox o using (outbox_id)
         where a.outcome = 'sent'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(provider, "vonage");
    assert_eq!(id.as_deref(), Some("VONAGE-1"));
    assert_eq!(twilio_server.received_requests().await.unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_daemon_sends_email_through_sendgrid() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer SG.daemon"))
        .respond_with(ResponseTemplate::new(202).insert_header("X-Message-Id", "sg-daemon-1"))
        .expect(1)
        .mount(&server)
        .await;
    let app = email_app(&server, None, &[]).await;
    app.publish(&event("order.delayed", |_| {})).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;
    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert!(
        body["subject"]
            .as_str()
            .unwrap()
            .contains("llega con retraso"),
        "{body}"
    );
    let html = body["content"][1]["value"].as_str().unwrap();
    assert!(html.contains("lang=\"es-ES\""), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn twilio_down_hands_each_sms_to_vonage_at_once_and_its_breaker_opens() {
    let twilio_server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&twilio_server)
        .await;
    let vonage_server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sms/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message-count": "1",
            "messages": [{ "to": "34600111222", "message-id": "VONAGE-2", "status": "0" }]
        })))
        .mount(&vonage_server)
        .await;
    let app = sms_app(
        &twilio_server,
        Some(&vonage_server),
        &[
            ("AMENDS_PROVIDER_FAILURE_THRESHOLD", "2"),
            ("AMENDS_PROVIDER_COOL_OFF", "10m"),
            // A backoff would show as a second attempt; there must be none.
            ("AMENDS_RETRY_SCHEDULE", "1h"),
        ],
    )
    .await;
    let published = std::time::Instant::now();
    app.publish(&sms_only_event()).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;
    println!(
        "twilio down: the SMS went out through vonage {:?} after it was published",
        published.elapsed()
    );
    // Twilio's 503 hands the message to Vonage in the same, first attempt: no backoff.
    let outcomes: Vec<(i32, String, String, Option<String>)> =
        sqlx::query_as("select number, provider, outcome, error from attempt order by attempt_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(
        (
            outcomes[0].0,
            outcomes[0].1.as_str(),
            outcomes[0].2.as_str()
        ),
        (1, "vonage", "sent")
    );
    let note = outcomes[0].3.as_deref().unwrap_or_default();
    assert!(
        note.contains("failed over from twilio") && note.contains("HTTP 503"),
        "{note}"
    );
    assert_eq!(twilio_server.received_requests().await.unwrap().len(), 1);

    // The second message: Twilio's second 503 opens its breaker, Vonage sends it.
    app.publish(&sms_only_event()).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 2)
        .await;
    assert_eq!(twilio_server.received_requests().await.unwrap().len(), 2);
    // While the breaker is open, the next message goes straight to Vonage.
    app.publish(&sms_only_event()).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 3)
        .await;
    assert_eq!(twilio_server.received_requests().await.unwrap().len(), 2);
    assert_eq!(vonage_server.received_requests().await.unwrap().len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn an_email_no_provider_can_send_falls_back_to_the_sms_held_in_reserve() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "errors": [
            { "message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email" }
        ]})))
        .mount(&server)
        .await;
    let app = email_app(&server, None, &[]).await;
    // The default policy's delay rules list email, then SMS: the SMS is held in reserve.
    app.publish(&event("order.delayed", not_vip)).await;
    app.wait_for_count(
        "select count(*) from outbox where channel = 'sms' and status = 'sent'",
        1,
    )
    .await;
    let (email_status, error): (String, Option<String>) =
        sqlx::query_as("select status, last_error from outbox where channel = 'email'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(email_status, "failed");
    assert!(
        error
            .as_deref()
            .unwrap_or_default()
            .contains("Does not contain a valid address"),
        "{error:?}"
    );
    app.wait_for_count(
        "select count(*) from outcome_event where event_type = 'notification.failed'",
        1,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn after_an_unknown_outcome_the_reserve_is_not_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let app = email_app(
        &server,
        None,
        &[
            ("AMENDS_SEND_TIMEOUT", "500ms"),
            // Email in doubt is resent by default; a person decides instead here.
            ("AMENDS_IN_DOUBT_EMAIL", "unknown"),
        ],
    )
    .await;
    app.publish(&event("order.delayed", not_vip)).await;
    app.wait_for_count("select count(*) from outbox where status = 'unknown'", 1)
        .await;
    // The email may have arrived: an SMS now could be a second message. A person decides.
    assert_eq!(
        app.count("select count(*) from outbox where channel = 'sms' and status = 'standby'")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_500_or_a_429_is_retried_and_the_sms_goes_out_once() {
    let first_answers = [
        ResponseTemplate::new(500).set_body_json(json!({
            "code": 20500, "message": "Internal Server Error", "status": 500
        })),
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .set_body_json(json!({ "code": 20429, "message": "Too Many Requests", "status": 429 })),
    ];
    for (first, code) in first_answers.into_iter().zip(["500", "429"]) {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(first)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "sid": "SMretried000000000000000000000001", "status": "queued"
            })))
            .with_priority(2)
            .mount(&server)
            .await;
        let app = sms_app(&server, None, &[]).await;
        app.publish(&sms_only_event()).await;
        app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
            .await;
        let attempts: Vec<(String, Option<String>)> =
            sqlx::query_as("select outcome, error from attempt order by attempt_id")
                .fetch_all(&app.pool)
                .await
                .unwrap();
        assert_eq!(attempts.len(), 2, "{code}: {attempts:?}");
        assert_eq!(attempts[0].0, "retry", "{code}");
        assert!(
            attempts[0]
                .1
                .as_deref()
                .unwrap_or_default()
                .contains(&format!("HTTP {code}")),
            "{attempts:?}"
        );
        assert_eq!(attempts[1].0, "sent", "{code}");
        let sid: Option<String> = sqlx::query_scalar("select provider_message_id from outbox")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(sid.as_deref(), Some("SMretried000000000000000000000001"));
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
        app.stop().await;
    }
}

#[tokio::test]
async fn sendgrid_down_the_same_email_goes_out_by_smtp_at_once() {
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&sendgrid)
        .await;
    let sink = crate::smtp::SmtpSink::start(Default::default()).await;
    let app = email_app(
        &sendgrid,
        Some(&sink),
        &[
            // A backoff would show as a second attempt; there must be none.
            ("AMENDS_RETRY_SCHEDULE", "1h"),
        ],
    )
    .await;
    let published = std::time::Instant::now();
    app.publish(&event("order.delayed", not_vip)).await;
    app.wait_for_count(
        "select count(*) from outbox where channel = 'email' and status = 'sent'",
        1,
    )
    .await;
    println!(
        "sendgrid down: the email went out through SMTP {:?} after it was published",
        published.elapsed()
    );
    let attempts: Vec<(i32, String, String)> =
        sqlx::query_as("select number, provider, outcome from attempt order by attempt_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(attempts, vec![(1, "smtp".to_owned(), "sent".to_owned())]);
    assert_eq!(sendgrid.received_requests().await.unwrap().len(), 1);
    let mails = sink.messages().await;
    assert_eq!(mails.len(), 1);
    let outbox_id: uuid::Uuid =
        sqlx::query_scalar("select outbox_id from outbox where channel = 'email'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // The same message SendGrid was given: its Message-ID is the outbox id.
    assert!(
        mails[0].data.contains(&format!("<{outbox_id}@")),
        "{}",
        mails[0].data
    );
    app.stop().await;
}

#[tokio::test]
async fn an_email_in_doubt_goes_to_the_next_provider_with_the_same_message_id() {
    // SendGrid takes the request and never answers in time: it may have sent it. Email in doubt
    // is resent by default, so SMTP sends the same message (same Message-ID) at once.
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(5)))
        .mount(&sendgrid)
        .await;
    let sink = crate::smtp::SmtpSink::start(Default::default()).await;
    let app = email_app(&sendgrid, Some(&sink), &[("AMENDS_SEND_TIMEOUT", "500ms")]).await;
    app.publish(&event("order.delayed", not_vip)).await;
    app.wait_for_count(
        "select count(*) from outbox where channel = 'email' and status = 'sent'",
        1,
    )
    .await;
    let (provider, error): (String, Option<String>) =
        sqlx::query_as("select provider, error from attempt where outcome = 'sent'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(provider, "smtp");
    assert!(
        error
            .as_deref()
            .unwrap_or_default()
            .contains("sendgrid: outcome unknown"),
        "{error:?}"
    );
    assert_eq!(sink.messages().await.len(), 1);
    // The SMS held in reserve is cancelled: the email went out.
    assert_eq!(
        app.count("select count(*) from outbox where channel = 'sms' and status = 'cancelled'")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn a_provider_slower_than_the_lease_is_recorded_sent_not_taken_back() {
    // SendGrid answers after 3 s; the lease is 1 s. The dispatcher keeps its lease alive while
    // the send is in progress, so a second replica's reaper never takes the message back.
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("X-Message-Id", "sg-slow-1")
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&sendgrid)
        .await;
    let settings = email_settings(&sendgrid, None);
    let mut env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([
        ("AMENDS_SEND_TIMEOUT", "10s"),
        ("AMENDS_LEASE_DURATION", "1s"),
    ]);
    let app = spawn_app(&env).await;
    let other = app.spawn_replica(&env).await;
    app.publish(&event("order.delayed", not_vip)).await;
    app.wait_for_count(
        "select count(*) from outbox where channel = 'email' and status = 'sent'",
        1,
    )
    .await;
    let outcomes: Vec<String> = sqlx::query_scalar("select outcome from attempt")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(outcomes, vec!["sent".to_owned()]);
    assert_eq!(sendgrid.received_requests().await.unwrap().len(), 1);
    let id: Option<String> =
        sqlx::query_scalar("select provider_message_id from outbox where channel = 'email'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(id.as_deref(), Some("sg-slow-1"));
    other.stop().await;
    app.stop().await;
}

/// Answers as SendGrid does after `delay`, noting when each request arrived.
struct SlowSendGrid {
    delay: Duration,
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

impl wiremock::Respond for SlowSendGrid {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.arrivals
            .lock()
            .expect("arrivals")
            .push(std::time::Instant::now());
        ResponseTemplate::new(202)
            .insert_header("X-Message-Id", Uuid::new_v4().to_string())
            .set_delay(self.delay)
    }
}

#[tokio::test]
async fn a_provider_never_has_more_sends_in_flight_than_its_bound() {
    // SendGrid takes 300 ms to answer and may have 2 sends in flight; the replica may have 64.
    // A third request can only arrive once one of the first two was answered, so no window as
    // long as the delay ever sees more than 2 arrivals.
    let delay = Duration::from_millis(300);
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(SlowSendGrid {
            delay,
            arrivals: arrivals.clone(),
        })
        .mount(&server)
        .await;
    let app = email_app(&server, None, &[("AMENDS_SENDGRID_MAX_IN_FLIGHT", "2")]).await;
    let events = 8;
    for _ in 0..events {
        app.publish(&event("order.delayed", not_vip)).await;
    }
    app.wait_for_count(
        "select count(*) from outbox where channel = 'email' and status = 'sent'",
        events,
    )
    .await;
    let mut seen = arrivals.lock().expect("arrivals").clone();
    seen.sort();
    assert_eq!(seen.len(), events as usize);
    for (i, first) in seen.iter().enumerate() {
        let within = seen[i..]
            .iter()
            .take_while(|t| t.duration_since(*first) < delay)
            .count();
        assert!(within <= 2, "{within} requests in flight at once: {seen:?}");
    }
    app.stop().await;
}
