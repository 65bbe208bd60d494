//! What `/metrics` tells an operator (CONTRACT §5): the outbox's backlog and the age of its
//! oldest due message, the dead-letter queue, the budget, sends and webhooks by provider, the
//! build and the process.

use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, event, http_client, spawn_app, wait_until};

/// The value of the sample whose line starts with `series` (name and labels exactly), if any.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

/// Scrapes until `series` has a value that `want` accepts; that value.
async fn wait_for_sample(app: &TestApp, series: &str, want: impl Fn(f64) -> bool) -> f64 {
    wait_until(&format!("{series} as wanted"), || async {
        let metrics = app.scrape_metrics().await?;
        sample(&metrics, series).filter(|v| want(*v))
    })
    .await
}

#[tokio::test]
async fn the_backlog_gauges_show_a_message_waiting_for_its_provider_and_how_long() {
    // SendGrid takes 3 s to answer: meanwhile the email is due and not yet sent.
    let sendgrid = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("X-Message-Id", "sg-metrics-1")
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&sendgrid)
        .await;
    let base = sendgrid.uri();
    let app = spawn_app(&[
        ("AMENDS_EMAIL_TRANSPORT", "sendgrid"),
        ("AMENDS_SENDGRID_API_KEY", "SG.metrics"),
        ("AMENDS_SENDGRID_BASE_URL", &base),
        (
            "AMENDS_EMAIL_FROM",
            "Northwind Outfitters <care@shop.example>",
        ),
        ("AMENDS_METRICS_REFRESH_INTERVAL", "100ms"),
    ])
    .await;

    // Nothing yet: every status is reported, at 0, and nothing is due.
    wait_for_sample(
        &app,
        r#"amends_outbox_messages{status="pending",channel="email"}"#,
        |v| v == 0.0,
    )
    .await;
    let metrics = app.scrape_metrics().await.unwrap_or_default();
    assert_eq!(
        sample(&metrics, "amends_outbox_oldest_due_seconds"),
        Some(0.0)
    );

    // A VIP's delay: an email (through the slow SendGrid) and a code against the EUR budget.
    app.publish(&event("order.delayed", |_| {})).await;
    wait_for_sample(
        &app,
        r#"amends_outbox_messages{status="sending",channel="email"}"#,
        |v| v == 1.0,
    )
    .await;
    let age = wait_for_sample(&app, "amends_outbox_oldest_due_seconds", |v| v > 0.5).await;
    assert!(age < 60.0, "the email became due seconds ago, not {age} s");

    // Sent: nothing is waiting any more.
    wait_for_sample(
        &app,
        r#"amends_outbox_messages{status="sent",channel="email"}"#,
        |v| v == 1.0,
    )
    .await;
    wait_for_sample(&app, "amends_outbox_oldest_due_seconds", |v| v == 0.0).await;
    let metrics = app.scrape_metrics().await.unwrap_or_default();
    assert_eq!(
        sample(&metrics, r#"amends_outbox_due_messages{channel="email"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &metrics,
            r#"amends_send_attempts_total{outcome="sent",provider="sendgrid"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"amends_send_seconds_count{provider="sendgrid",result="ok"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, r#"amends_breaker_open{provider="sendgrid"}"#),
        Some(0.0),
        "{metrics}"
    );

    // The day's budget: its limit from the policy, and the code just issued against it.
    assert_eq!(
        sample(&metrics, r#"amends_budget_limit{currency="EUR"}"#),
        Some(1500.0)
    );
    let spent = sample(&metrics, r#"amends_budget_spent{currency="EUR"}"#).unwrap_or(0.0);
    assert!(
        spent > 0.0,
        "the VIP's code counts against today's budget: {metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_dead_letter_queue_webhooks_build_and_process_are_exported() {
    let app = spawn_app(&[("AMENDS_METRICS_REFRESH_INTERVAL", "100ms")]).await;
    wait_for_sample(&app, "amends_dead_letter_messages", |v| v == 0.0).await;
    app.publish_raw("order.delayed", b"{ not json", Some("application/json"))
        .await;
    wait_for_sample(&app, "amends_dead_letter_messages", |v| v == 1.0).await;

    // An unsigned SendGrid callback is refused, and counted by provider and result.
    let status = http_client()
        .post(app.url("/webhooks/sendgrid/events"))
        .body("[]")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(status, 403);
    let metrics = app.scrape_metrics().await.unwrap_or_default();
    assert_eq!(
        sample(
            &metrics,
            r#"amends_webhook_requests_total{provider="sendgrid",result="rejected"}"#
        ),
        Some(1.0),
        "{metrics}"
    );

    let version = env!("CARGO_PKG_VERSION");
    let build = metrics
        .lines()
        .find(|l| l.starts_with("amends_build_info{"))
        .unwrap_or_default();
    assert!(
        build.contains(&format!("version=\"{version}\"")) && build.ends_with(" 1"),
        "{build}"
    );
    assert_eq!(sample(&metrics, "amends_ready"), Some(1.0), "{metrics}");
    let rss = sample(&metrics, "process_resident_memory_bytes").unwrap_or(0.0);
    assert!(
        rss > 1_000_000.0,
        "a running daemon holds more than 1 MB: {rss}"
    );
    assert!(
        sample(&metrics, "process_cpu_seconds_total").is_some(),
        "{metrics}"
    );
    assert!(sample(&metrics, "process_open_fds").is_some_and(|n| n > 0.0));
    app.stop().await;
}
