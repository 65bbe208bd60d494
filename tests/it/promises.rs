//! What the policy promises and the pipeline keeps: an update when the date becomes known, a
//! follow-up when an order that went wrong arrives (and nothing, not even a record, when it
//! did not), both channels for the worst harm, and no gift for a failed payment.

use serde_json::Value;

use crate::helpers::{TestApp, event, files, spawn_app, wait_until};

/// The decision of the event `id` (waiting for it): rule, coalesced, kind, incident id.
async fn decision_of(app: &TestApp, id: &Value) -> Value {
    let id = id.as_str().expect("event id").to_owned();
    wait_until(&format!("the decision of {id}"), || async {
        sqlx::query_scalar::<_, Value>(
            "select jsonb_build_object('rule', d.rule, 'coalesced', d.coalesced,
                    'kind', d.explanation->>'kind', 'incident_id', d.incident_id,
                    'template', d.template)
             from decision d join incident i using (incident_id) where i.event_id = $1",
        )
        .bind(&id)
        .fetch_optional(&app.pool)
        .await
        .expect("decision query")
    })
    .await
}

/// The text part and subject of the email queued for the event `id`.
async fn email_of(app: &TestApp, id: &Value) -> (String, String) {
    sqlx::query_as(
        "select o.subject, o.body_text from outbox o join incident i using (incident_id)
         where i.event_id = $1 and o.channel = 'email'",
    )
    .bind(id.as_str().expect("event id"))
    .fetch_one(&app.pool)
    .await
    .expect("the email of the event")
}

/// The value of the counter `name` on /metrics, once it is at least `n`.
async fn counter_reaches(app: &TestApp, name: &str, n: u64) -> u64 {
    wait_until(&format!("{name} >= {n}"), || async {
        let text = app.scrape_metrics().await?;
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))?
            .trim()
            .parse::<u64>()
            .ok()?;
        (value >= n).then_some(value)
    })
    .await
}

/// A customer of ours (no tier, English, email only) on order `order`.
fn ours(order: &'static str) -> impl Fn(&mut Value) {
    move |e: &mut Value| {
        e["data"]["order"]["id"] = order.into();
        e["data"]["customer"]["id"] = format!("C-{order}").into();
        e["data"]["customer"]["tier"] = Value::Null;
        e["data"]["customer"]["locale"] = "en-GB".into();
        e["data"]["customer"]["consent"]["sms"] = false.into();
    }
}

#[tokio::test]
async fn an_unknown_date_then_a_dated_delay_is_one_apology_and_one_update() {
    let app = spawn_app(&[]).await;
    let customer = ours("A-update");
    let unknown = event("order.delayed", |e| {
        customer(e);
        e["data"]["delay"]
            .as_object_mut()
            .expect("delay")
            .remove("new_eta");
    });
    app.publish(&unknown).await;
    let first = decision_of(&app, &unknown["id"]).await;
    assert_eq!(first["rule"], "delay-unknown-eta", "{first}");
    assert_eq!(first["kind"], "apology");
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;

    // Minutes later, within the frequency window: the date, as an update rather than silence.
    // A date ahead of the clock: one already passed would not be shown as a promise.
    let eta = chrono::Utc::now().date_naive() + chrono::Duration::days(8);
    let dated = event("order.delayed", |e| {
        customer(e);
        // Two days late: an update, not one that makes up for a long wait.
        e["data"]["delay"]["original_eta"] = (eta - chrono::Duration::days(2)).to_string().into();
        e["data"]["delay"]["new_eta"] = eta.to_string().into();
    });
    app.publish(&dated).await;
    let second = decision_of(&app, &dated["id"]).await;
    assert_eq!(second["rule"], "delay-update", "{second}");
    assert_eq!(second["kind"], "update");
    assert_eq!(second["template"], "order-update");
    assert!(second["coalesced"].is_null(), "{second}");
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 2)
        .await;
    let (subject, text) = email_of(&app, &dated["id"]).await;
    assert_eq!(subject, "We now have a date for your order #10042");
    let shown = eta.format("%A %-d %B").to_string();
    assert!(text.contains(&shown), "{shown} in {text}");
    assert!(
        !text.to_lowercase().contains("sorry"),
        "no second apology: {text}"
    );

    // The same date again: nothing new to say, coalesced.
    let same = event("order.delayed", |e| {
        customer(e);
        e["data"]["delay"]["original_eta"] = (eta - chrono::Duration::days(2)).to_string().into();
        e["data"]["delay"]["new_eta"] = eta.to_string().into();
    });
    app.publish(&same).await;
    let third = decision_of(&app, &same["id"]).await;
    assert!(third["coalesced"].is_string(), "{third}");

    assert_eq!(files(&app.email_dir()).len(), 2, "one apology, one update");
    assert_eq!(
        app.count("select count(*) from outbox where status not in ('standby', 'cancelled')")
            .await,
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn an_incident_then_order_delivered_is_one_follow_up_with_the_code_and_the_link() {
    let app = spawn_app(&[(
        "AMENDS_FEEDBACK_URL",
        "https://shop.example/feedback?incident={incident_id}",
    )])
    .await;
    let customer = ours("A-followup");
    // Two days late: free shipping, with a code.
    let delayed = event("order.delayed", |e| {
        customer(e);
        e["data"]["delay"]["new_eta"] = "2026-11-26".into();
    });
    app.publish(&delayed).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;
    let code: String = sqlx::query_scalar("select code from compensation where status = 'issued'")
        .fetch_one(&app.pool)
        .await
        .expect("a code was issued for the delay");

    let delivered = event("order.delivered", |e| customer(e));
    app.publish(&delivered).await;
    let decision = decision_of(&app, &delivered["id"]).await;
    assert_eq!(decision["rule"], "delivered-follow-up", "{decision}");
    assert_eq!(decision["kind"], "follow_up");
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 2)
        .await;
    let (subject, text) = email_of(&app, &delivered["id"]).await;
    assert_eq!(subject, "Your order #10042 has arrived");
    assert!(text.contains("Thank you for your patience"), "{text}");
    assert!(text.contains(&code), "the unused code is restated: {text}");
    let incident_id = decision["incident_id"].as_str().expect("incident id");
    assert!(
        text.contains(&format!(
            "https://shop.example/feedback?incident={incident_id}"
        )),
        "{text}"
    );
    // Restated, not issued again.
    assert_eq!(app.count("select count(*) from compensation").await, 1);

    // The same event again, and another delivery event of the order: no second follow-up.
    app.publish(&delivered).await;
    let again = event("order.delivered", |e| customer(e));
    app.publish(&again).await;
    let decision = decision_of(&app, &again["id"]).await;
    assert!(decision["coalesced"].is_string(), "{decision}");
    app.wait_until_drained().await;
    assert_eq!(app.count("select count(*) from incident").await, 3);
    assert_eq!(
        app.count("select count(*) from outbox where status not in ('standby', 'cancelled')")
            .await,
        2
    );
    assert_eq!(files(&app.email_dir()).len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn order_delivered_without_an_incident_is_acknowledged_and_nothing_else() {
    let app = spawn_app(&[]).await;
    let delivered = event("order.delivered", |_| {});
    let shipped = event("order.shipped", |_| {});
    app.publish(&delivered).await;
    app.publish(&shipped).await;
    counter_reaches(&app, "amends_events_ignored_total", 2).await;
    // A redelivery changes nothing either.
    app.publish(&delivered).await;
    counter_reaches(&app, "amends_events_ignored_total", 3).await;
    app.wait_until_drained().await;
    assert_eq!(app.count("select count(*) from incident").await, 0);
    assert_eq!(app.count("select count(*) from decision").await, 0);
    assert_eq!(app.count("select count(*) from outbox").await, 0);
    // Not dead-lettered: they are valid events, acknowledged.
    let text = app.scrape_metrics().await.unwrap_or_default();
    assert!(
        text.contains("amends_events_dead_lettered_total 0"),
        "{text}"
    );
    assert!(files(&app.email_dir()).is_empty() && files(&app.sms_dir()).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_vip_cancellation_by_us_with_both_consents_is_an_sms_and_an_email_each_once() {
    let app = spawn_app(&[]).await;
    // The sample: a VIP with an email address, a phone and both consents, cancelled by us.
    let cancelled = event("order.cancelled", |e| {
        e["data"]["cancellation"]["reason"] = "pricing_error".into();
    });
    app.publish(&cancelled).await;
    let decision = decision_of(&app, &cancelled["id"]).await;
    assert_eq!(decision["rule"], "vip-merchant-cancellation");
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 2)
        .await;
    // Redelivered: still one of each.
    app.publish(&cancelled).await;
    app.wait_until_drained().await;
    let sms = app.wait_for_files(&app.sms_dir(), 1).await;
    let emails = app.wait_for_files(&app.email_dir(), 1).await;
    assert_eq!((sms.len(), emails.len()), (1, 1));
    let rows: Vec<(String, String, Option<uuid::Uuid>)> =
        sqlx::query_as("select channel, status, standby_for from outbox order by channel")
            .fetch_all(&app.pool)
            .await
            .expect("outbox");
    assert_eq!(
        rows,
        vec![
            ("email".to_owned(), "sent".to_owned(), None),
            ("sms".to_owned(), "sent".to_owned(), None),
        ]
    );
    // The email carries the gift's code and the refund; the SMS is the short heads-up.
    let code: String = sqlx::query_scalar("select code from compensation where status = 'issued'")
        .fetch_one(&app.pool)
        .await
        .expect("the gift's code");
    let (_, text) = email_of(&app, &cancelled["id"]).await;
    assert!(text.contains(&code), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn a_cancellation_for_a_failed_payment_gives_no_code() {
    let app = spawn_app(&[]).await;
    // Even for a VIP: a failed payment is nothing a gift makes up for.
    let cancelled = event("order.cancelled", |e| {
        e["data"]["cancellation"]["reason"] = "payment".into();
    });
    app.publish(&cancelled).await;
    let decision = decision_of(&app, &cancelled["id"]).await;
    assert_eq!(decision["rule"], "payment-cancellation");
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;
    app.wait_until_drained().await;
    assert_eq!(app.count("select count(*) from compensation").await, 0);
    assert_eq!(app.count("select count(*) from escalation").await, 0);
    let (_, text) = email_of(&app, &cancelled["id"]).await;
    assert!(!text.contains("SORRY-"), "{text}");
    app.stop().await;
}
