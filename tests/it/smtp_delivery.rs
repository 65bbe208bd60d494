//! Delivery through a real SMTP conversation with a local server.

use crate::helpers::{TestApp, event, not_vip, spawn_app};
use crate::smtp::{SmtpBehaviour, SmtpSink};

/// A local SMTP server behaving as told, and a daemon sending email through it.
async fn app_with_smtp(behaviour: SmtpBehaviour) -> (SmtpSink, TestApp) {
    app_with_smtp_url(behaviour, "").await
}

/// The same, with `query` after the server's URL (e.g. `?tls=required`).
async fn app_with_smtp_url(behaviour: SmtpBehaviour, query: &str) -> (SmtpSink, TestApp) {
    let sink = SmtpSink::start(behaviour).await;
    let url = format!("{}{query}", sink.url());
    let app = spawn_app(&[
        ("AMENDS_EMAIL_TRANSPORT", "smtp"),
        ("AMENDS_SMTP_URL", url.as_str()),
        (
            "AMENDS_EMAIL_FROM",
            "Northwind Outfitters <care@shop.example>",
        ),
    ])
    .await;
    (sink, app)
}

/// The last error of the (one) email.
async fn email_error(app: &TestApp) -> String {
    sqlx::query_scalar("select last_error from outbox where channel = 'email'")
        .fetch_one(&app.pool)
        .await
        .expect("the email's last error")
}

/// Waits until the email failed for good, and returns why.
async fn failed_email_error(app: &TestApp) -> String {
    app.wait_for_count(
        "select count(*) from outbox where channel = 'email' and status = 'failed'",
        1,
    )
    .await;
    email_error(app).await
}

#[tokio::test]
async fn a_transient_smtp_failure_is_retried_and_delivered_once() {
    let (sink, app) = app_with_smtp(SmtpBehaviour {
        fail_first_n: 1,
        ..SmtpBehaviour::default()
    })
    .await;
    app.publish(&event("order.delayed", not_vip)).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;

    let mails = sink.messages().await;
    assert_eq!(mails.len(), 1, "delivered exactly once");
    assert_eq!(
        sink.data_attempts(),
        2,
        "one refused attempt, then one accepted"
    );
    assert_eq!(mails[0].rcpt_to, vec!["ana@example.com".to_owned()]);
    assert_eq!(mails[0].mail_from, "care@shop.example");
    assert!(mails[0].data.contains("multipart/alternative"));

    let (attempts, outcomes): (i32, Vec<String>) = sqlx::query_as(
        "select o.attempts, array_agg(a.outcome order by a.number)
         from outbox o join attempt a using (outbox_id) group by o.attempts",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(attempts, 2);
    assert_eq!(outcomes, vec!["retry".to_owned(), "sent".to_owned()]);
    app.stop().await;
}

#[tokio::test]
async fn a_permanent_smtp_failure_fails_at_once() {
    let (sink, app) = app_with_smtp(SmtpBehaviour {
        reject_rcpt_with: Some(550),
        ..SmtpBehaviour::default()
    })
    .await;
    let listener = app.listen_to_outcome_events().await;
    // A one-day delay for a regular customer: an apology with no offer, so the only outcome
    // event is the notification's.
    app.publish(&event("order.delayed", |e| {
        e["data"]["customer"]["tier"] = serde_json::Value::Null;
        e["data"]["delay"]["new_eta"] = "2026-11-25".into();
    }))
    .await;
    app.wait_for_count("select count(*) from outbox where status = 'failed'", 1)
        .await;
    // The email's failure, and the reserve SMS's success, in either order.
    let announced = app.take(&listener, 2).await;
    let outcomes: Vec<serde_json::Value> = announced
        .iter()
        .map(|(body, _)| serde_json::from_slice(body).unwrap())
        .collect();
    let failed = outcomes
        .iter()
        .find(|o| o["type"] == "notification.failed")
        .expect("the email's failure is announced");
    assert_eq!(failed["data"]["channel"], "email");
    assert!(failed["data"]["error"].as_str().unwrap().contains("550"));
    assert!(
        outcomes
            .iter()
            .any(|o| o["type"] == "notification.sent" && o["data"]["channel"] == "sms")
    );
    // One attempt at the email, refused for good; then the SMS held in reserve goes out.
    assert_eq!(
        app.count("select count(*) from attempt a join outbox o using (outbox_id) where o.channel = 'email'")
            .await,
        1
    );
    let error = email_error(&app).await;
    assert!(
        error.contains("550") || error.contains("permanent"),
        "{error}"
    );
    assert!(sink.messages().await.is_empty());
    app.wait_for_count(
        "select count(*) from outbox where channel = 'sms' and status = 'sent'",
        1,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_relay_that_requires_tls_refuses_a_plain_session_and_we_say_so() {
    let (sink, app) = app_with_smtp(SmtpBehaviour {
        require_tls: true,
        ..SmtpBehaviour::default()
    })
    .await;
    app.publish(&event("order.delayed", not_vip)).await;
    let error = failed_email_error(&app).await;
    // 530 is about us, not the message: this relay refuses to work for us.
    assert!(error.starts_with("provider refused"), "{error}");
    assert!(error.contains("530"), "{error}");
    assert!(sink.messages().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_url_that_requires_starttls_never_sends_in_the_clear() {
    let (sink, app) = app_with_smtp_url(SmtpBehaviour::default(), "?tls=required").await;
    app.publish(&event("order.delayed", not_vip)).await;
    let error = failed_email_error(&app).await;
    assert!(error.contains("does not offer STARTTLS"), "{error}");
    assert!(
        sink.messages().await.is_empty(),
        "nothing went out unencrypted"
    );
    app.stop().await;
}
