//! Orders overdue in silence, against the real daemon, broker and database with the daemon's
//! clock set by the test: a promise that passes with no word brings one apology and one
//! escalation; a delivery in time, or a later ETA, keeps it quiet; an order.delayed after the
//! apology is an update; the promised update goes out once; replicas and restarts raise each
//! order once; a feed outage sends no more than the day's cap and escalates one summary.
//!
//! A check of the watcher leaves no trace when it finds nothing, so a test that expects nothing
//! for an order watches a control order that falls due at the same time: once the control is
//! raised, the same check saw the order under test.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Value, json};

use amends::clock::{Clock, ManualTime};

use crate::helpers::{
    TestApp, event, files, http_client, not_vip, spawn_app_with_clock, wait_until,
};

const TOKEN: &str = "overdue-test-token-0123456789abcdef";

/// Checks often, so that a test waits milliseconds, not minutes.
const FAST: (&str, &str) = ("AMENDS_OVERDUE_CHECK_INTERVAL", "100ms");

/// The customer's zone in the sample events.
fn madrid() -> impl TimeZone {
    amends::incident::TimeZone::parse("Europe/Madrid")
        .expect("a zone")
        .tz()
}

/// Today in Madrid (the real today: the test clock starts at the real now and only moves on).
fn today() -> NaiveDate {
    Utc::now().with_timezone(&madrid()).date_naive()
}

/// `hour`:00 in Madrid, `days` after today.
fn madrid_at(days: u64, hour: u32) -> DateTime<Utc> {
    let date = today().checked_add_days(Days::new(days)).expect("a date");
    madrid()
        .from_local_datetime(&date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("hour")))
        .earliest()
        .expect("the hour exists")
        .with_timezone(&Utc)
}

/// Today plus `days` (negative: before today), as events write it.
fn day(days: i64) -> String {
    let today = today();
    let date = if days >= 0 {
        today.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        today.checked_sub_days(Days::new(days.unsigned_abs()))
    };
    date.expect("a date").format("%Y-%m-%d").to_string()
}

/// An `order.placed` of a fresh order and customer (no VIP: one email, SMS in reserve),
/// promising delivery `days` after today.
fn placed(days: i64) -> Value {
    event("order.placed", |e| {
        not_vip(e);
        e["data"]["promise"] = json!({ "deliver_by": day(days) });
    })
}

/// Another event of `event_type` about the same order and customer as `placed`.
fn about(placed: &Value, event_type: &str, edit: impl FnOnce(&mut Value)) -> Value {
    event(event_type, |e| {
        e["data"]["order"] = placed["data"]["order"].clone();
        e["data"]["customer"] = placed["data"]["customer"].clone();
        edit(e);
    })
}

fn order_id(event: &Value) -> String {
    event["data"]["order"]["id"]
        .as_str()
        .expect("order id")
        .to_owned()
}

async fn spawn(time: &ManualTime, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![FAST];
    env.extend_from_slice(extra);
    spawn_app_with_clock(&env, Clock::new(time.clone())).await
}

/// The watch of `order`: state and promised day.
async fn watch(app: &TestApp, order: &str) -> Option<(String, Option<NaiveDate>)> {
    sqlx::query_as("select state, deliver_by from order_watch where order_id = $1")
        .bind(order)
        .fetch_optional(&app.pool)
        .await
        .expect("watch query")
}

/// Waits until the watch of `order` is in `state`; its promised day then.
async fn wait_for_watch(app: &TestApp, order: &str, state: &str) -> Option<NaiveDate> {
    wait_until(&format!("order {order} in state {state}"), || async {
        watch(app, order)
            .await
            .filter(|(s, _)| s == state)
            .map(|(_, day)| day)
    })
    .await
}

/// Moves the clock to `at` and waits for a check there: a control order promised `days` after
/// today, due by then, is raised, so the check that raised it saw every other order too.
async fn check_at(app: &TestApp, time: &ManualTime, days: i64, at: DateTime<Utc>) {
    let control = placed(days);
    let control_order = order_id(&control);
    app.publish(&control).await;
    wait_for_watch(app, &control_order, "watching").await;
    time.set(at);
    wait_for_watch(app, &control_order, "overdue").await;
}

/// Waits until the count query `sql` gives exactly `n`.
async fn wait_for_exactly(app: &TestApp, sql: &'static str, n: usize) {
    let n = i64::try_from(n).expect("a count");
    wait_until(&format!("{sql} = {n}"), || async {
        (app.count(sql).await == n).then_some(())
    })
    .await;
}

/// `order.overdue` incidents recorded for `order`, with their decision's rule, oldest first.
async fn overdue_incidents(app: &TestApp, order: &str) -> Vec<(String, String, Value)> {
    sqlx::query_as(
        "select i.event_id, d.rule, i.payload -> 'data' -> 'overdue'
         from incident i join decision d using (incident_id)
         where i.order_id = $1 and i.event_type = 'order.overdue'
         order by i.created_at",
    )
    .bind(order)
    .fetch_all(&app.pool)
    .await
    .expect("incidents query")
}

/// Messages queued for `order` (any incident), as (event type, channel, status, body).
async fn messages(app: &TestApp, order: &str) -> Vec<(String, String, String, String)> {
    sqlx::query_as(
        "select i.event_type, o.channel, o.status, o.body_text
         from outbox o join incident i using (incident_id)
         where i.order_id = $1 order by o.created_at",
    )
    .bind(order)
    .fetch_all(&app.pool)
    .await
    .expect("messages query")
}

async fn escalations(app: &TestApp, order: &str) -> Vec<String> {
    sqlx::query_scalar(
        "select e.reason from escalation e join incident i using (incident_id)
         where i.order_id = $1 order by e.created_at",
    )
    .bind(order)
    .fetch_all(&app.pool)
    .await
    .expect("escalations query")
}

/// Takes the outcome events queued so far from `queue` until one of `event_type` about `order`
/// arrived; returns it.
async fn outcome_about(app: &TestApp, queue: &str, event_type: &str, order: &str) -> Value {
    loop {
        let (body, _) = app.take(queue, 1).await.remove(0);
        let event: Value = serde_json::from_slice(&body).expect("outcome event JSON");
        if event["type"] == event_type && event["data"]["order_id"] == order {
            return event;
        }
    }
}

#[tokio::test]
async fn a_promise_passed_in_silence_brings_one_apology_and_one_escalation() {
    let time = ManualTime::new(Utc::now());
    let app = spawn(&time, &[("AMENDS_ADMIN_TOKEN", TOKEN)]).await;
    let listener = app.listen_to_outcome_events().await;
    let order = placed(0);
    let id = order_id(&order);
    app.publish(&order).await;
    assert_eq!(wait_for_watch(&app, &id, "watching").await, Some(today()));

    // The promised day is over, but the grace (a day) is not: nothing yet for it, while a
    // control order promised a day earlier is raised.
    check_at(&app, &time, -1, madrid_at(1, 22)).await;
    assert_eq!(
        watch(&app, &id).await.map(|w| w.0),
        Some("watching".to_owned())
    );
    assert!(overdue_incidents(&app, &id).await.is_empty());

    // Past the grace: the order is raised.
    time.set(madrid_at(2, 9));
    wait_for_watch(&app, &id, "overdue").await;
    let raised = overdue_incidents(&app, &id).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let (event_id, rule, details) = &raised[0];
    assert_eq!(event_id, &format!("{id}@{}", day(0)));
    assert_eq!(rule, "overdue");
    assert_eq!(details["deliver_by"], day(0));
    assert_eq!(details["update"], false);
    assert!(details["next_update_by"].is_string(), "{details}");

    let sent = wait_until("the apology to go out", || async {
        let m = messages(&app, &id).await;
        m.iter()
            .any(|(_, _, status, _)| status == "sent")
            .then_some(m)
    })
    .await;
    let emails: Vec<_> = sent.iter().filter(|m| m.1 == "email").collect();
    assert_eq!(emails.len(), 1, "{sent:?}");
    let body = &emails[0].3;
    assert!(body.contains("#10042") || body.contains(&id), "{body}");
    let reasons = escalations(&app, &id).await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("carrier"), "{reasons:?}");

    // A person sees it in the escalation queue with the order's history and its promise.
    let queue: Value = http_client()
        .get(app.url("/api/escalations"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("escalations")
        .json()
        .await
        .expect("JSON");
    let escalation = queue["escalations"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|e| e["order_id"] == id.as_str())
        .expect("the order's escalation")
        .clone();
    assert_eq!(escalation["event_type"], "order.overdue");
    assert_eq!(
        escalation["order_history"][0]["event_type"],
        "order.overdue"
    );
    assert_eq!(escalation["order_history"][0]["rule"], "overdue");
    assert_eq!(escalation["promise"]["state"], "overdue");
    assert_eq!(escalation["promise"]["deliver_by"], day(0));

    let detected = outcome_about(&app, &listener, "order.overdue_detected", &id).await;
    assert_eq!(detected["data"]["promise"]["deliver_by"], day(0));
    assert_eq!(detected["data"]["action"], "notified");
    assert_eq!(detected["data"]["incident"]["id"], event_id.as_str());
    assert_eq!(detected["data"]["escalated"], true);
    assert_eq!(
        detected["data"]["customer_id"],
        order["data"]["customer"]["id"]
    );
    assert!(detected["data"].get("email").is_none());

    // Later checks find nothing new for it.
    time.set(madrid_at(2, 18));
    let later = placed(1);
    let later_order = order_id(&later);
    app.publish(&later).await;
    wait_for_watch(&app, &later_order, "watching").await;
    time.set(madrid_at(3, 9));
    wait_for_watch(&app, &later_order, "overdue").await;
    assert_eq!(overdue_incidents(&app, &id).await.len(), 1);
    assert_eq!(escalations(&app, &id).await.len(), 1);

    let metrics = app.scrape_metrics().await.expect("metrics");
    assert!(
        metrics.contains("amends_overdue_found_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("amends_overdue_messages_total{kind=\"apology\"}"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_order_delivered_in_time_hears_nothing() {
    let time = ManualTime::new(Utc::now());
    let app = spawn(&time, &[]).await;
    let order = placed(0);
    let id = order_id(&order);
    app.publish(&order).await;
    wait_for_watch(&app, &id, "watching").await;
    app.publish(&about(&order, "order.delivered", |_| {})).await;
    wait_for_watch(&app, &id, "delivered").await;

    // An order the order system never said was placed is not watched, whatever its ETA.
    let unplaced = event("order.shipped", |e| {
        not_vip(e);
        e["data"]["shipment"]["eta"] = day(0).into();
    });
    let unplaced_order = order_id(&unplaced);
    app.publish(&unplaced).await;
    wait_until("the shipment's ETA kept", || async {
        watch(&app, &unplaced_order).await.map(|_| ())
    })
    .await;

    check_at(&app, &time, 0, madrid_at(3, 9)).await;

    assert!(overdue_incidents(&app, &unplaced_order).await.is_empty());
    assert!(overdue_incidents(&app, &id).await.is_empty());
    assert!(messages(&app, &id).await.is_empty());
    assert!(escalations(&app, &id).await.is_empty());
    // A late order.placed (redelivered, or out of order) does not reopen a delivered order.
    app.publish(&about(&order, "order.placed", |e| {
        e["data"]["promise"] = json!({ "deliver_by": day(0) });
    }))
    .await;
    app.publish(&placed(0)).await;
    wait_until("the events to be taken", || async {
        (app.count("select count(*) from order_watch").await >= 4).then_some(())
    })
    .await;
    assert_eq!(
        watch(&app, &id).await.map(|w| w.0),
        Some("delivered".to_owned())
    );
    app.stop().await;
}

#[tokio::test]
async fn a_later_eta_moves_the_watch_with_it() {
    let time = ManualTime::new(Utc::now());
    let app = spawn(&time, &[]).await;
    let order = placed(0);
    let id = order_id(&order);
    app.publish(&order).await;
    wait_for_watch(&app, &id, "watching").await;
    app.publish(&about(&order, "order.shipped", |e| {
        e["data"]["shipment"]["eta"] = day(3).into();
    }))
    .await;
    let moved = wait_until("the promise to move", || async {
        watch(&app, &id)
            .await
            .and_then(|(_, d)| d)
            .filter(|d| d.format("%Y-%m-%d").to_string() == day(3))
    })
    .await;
    assert_eq!(moved.format("%Y-%m-%d").to_string(), day(3));

    // Where the first promise would be overdue, the moved one is not.
    check_at(&app, &time, 0, madrid_at(2, 9)).await;
    assert_eq!(
        watch(&app, &id).await.map(|w| w.0),
        Some("watching".to_owned())
    );
    assert!(overdue_incidents(&app, &id).await.is_empty());

    // Once the moved promise passes too, the order is raised, about that promise.
    time.set(madrid_at(5, 9));
    wait_for_watch(&app, &id, "overdue").await;
    let raised = overdue_incidents(&app, &id).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].0, format!("{id}@{}", day(3)));
    assert_eq!(raised[0].2["deliver_by"], day(3));
    assert_eq!(raised[0].2["carrier"], "DHL");
    app.stop().await;
}

#[tokio::test]
async fn a_delay_after_the_overdue_apology_is_an_update_and_ends_the_watch() {
    let time = ManualTime::new(Utc::now());
    let app = spawn(&time, &[]).await;
    let order = placed(0);
    let id = order_id(&order);
    app.publish(&order).await;
    wait_for_watch(&app, &id, "watching").await;
    time.set(madrid_at(2, 9));
    wait_for_watch(&app, &id, "overdue").await;
    wait_until("the apology to go out", || async {
        messages(&app, &id)
            .await
            .iter()
            .any(|m| m.0 == "order.overdue" && m.2 == "sent")
            .then_some(())
    })
    .await;

    let delayed = about(&order, "order.delayed", |e| {
        e["data"]["delay"]["original_eta"] = day(0).into();
        e["data"]["delay"]["new_eta"] = day(6).into();
    });
    app.publish(&delayed).await;
    let delay_id = delayed["id"].as_str().expect("id").to_owned();
    let (rule, kind): (String, String) = wait_until("the delay's decision", || async {
        sqlx::query_as(
            "select d.rule, d.explanation ->> 'kind' from decision d join incident i
             using (incident_id) where i.event_id = $1",
        )
        .bind(&delay_id)
        .fetch_optional(&app.pool)
        .await
        .expect("decision")
    })
    .await;
    assert_eq!(kind, "update", "rule {rule}");
    assert!(rule.starts_with("delay-update"), "{rule}");
    let (_, _, _, update) = wait_until("the update to be queued", || async {
        messages(&app, &id)
            .await
            .into_iter()
            .find(|m| m.0 == "order.delayed" && m.1 == "email")
    })
    .await;
    assert!(!update.is_empty());
    // The watch now follows the new date; the update promised with the apology is not sent.
    assert_eq!(
        wait_for_watch(&app, &id, "watching").await,
        Some(today().checked_add_days(Days::new(6)).expect("date"))
    );

    check_at(&app, &time, 2, madrid_at(5, 9)).await;
    let raised = overdue_incidents(&app, &id).await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].1, "overdue");
    app.stop().await;
}

#[tokio::test]
async fn the_promised_update_goes_out_once_without_a_second_apology() {
    let time = ManualTime::new(Utc::now());
    let app = spawn(&time, &[("AMENDS_OVERDUE_UPDATE_AFTER", "1d")]).await;
    let order = placed(0);
    let id = order_id(&order);
    app.publish(&order).await;
    wait_for_watch(&app, &id, "watching").await;
    time.set(madrid_at(2, 9));
    wait_for_watch(&app, &id, "overdue").await;

    // A day later nothing arrived: the update.
    time.set(madrid_at(3, 10));
    wait_for_watch(&app, &id, "updated").await;
    let raised = overdue_incidents(&app, &id).await;
    assert_eq!(raised.len(), 2, "{raised:?}");
    assert_eq!(raised[1].0, format!("{id}@{}/update", day(0)));
    assert_eq!(raised[1].1, "overdue-update");
    assert_eq!(raised[1].2["update"], true);
    let kind: String = sqlx::query_scalar(
        "select d.explanation ->> 'kind' from decision d join incident i using (incident_id)
         where i.event_id = $1",
    )
    .bind(&raised[1].0)
    .fetch_one(&app.pool)
    .await
    .expect("kind");
    assert_eq!(kind, "update");
    // One person checks: the update asks nobody again.
    assert_eq!(escalations(&app, &id).await.len(), 1);

    // Days pass: nothing more from silence.
    check_at(&app, &time, 3, madrid_at(6, 9)).await;
    assert_eq!(overdue_incidents(&app, &id).await.len(), 2);
    let emails = messages(&app, &id)
        .await
        .into_iter()
        .filter(|m| m.1 == "email")
        .count();
    assert_eq!(emails, 2);
    app.stop().await;
}

#[tokio::test]
async fn replicas_and_a_restart_raise_each_overdue_order_once() {
    const ORDERS: usize = 20;
    let time = ManualTime::new(Utc::now());
    let first = spawn(&time, &[]).await;
    let second = first
        .spawn_replica_with_clock(&[FAST], Clock::new(time.clone()))
        .await;
    let mut orders = Vec::new();
    for _ in 0..ORDERS {
        let order = placed(0);
        orders.push(order_id(&order));
        first.publish(&order).await;
    }
    wait_for_exactly(
        &first,
        "select count(*) from order_watch where state = 'watching'",
        ORDERS,
    )
    .await;
    time.set(madrid_at(2, 9));
    wait_for_exactly(
        &first,
        "select count(*) from order_watch where state = 'overdue'",
        ORDERS,
    )
    .await;

    // A crash between the record and the watch's mark: the watch reads as not yet raised.
    sqlx::query("update order_watch set state = 'watching' where order_id = any($1)")
        .bind(&orders[..5])
        .execute(&first.pool)
        .await
        .expect("rewind");
    let mut first = first;
    first.halt().await;
    let third = second
        .spawn_replica_with_clock(&[FAST], Clock::new(time.clone()))
        .await;
    wait_for_exactly(
        &second,
        "select count(*) from order_watch where state = 'overdue'",
        ORDERS,
    )
    .await;
    assert_eq!(
        second
            .count("select count(*) from incident where event_type = 'order.overdue'")
            .await,
        ORDERS as i64
    );
    assert_eq!(
        second.count("select count(*) from escalation").await,
        ORDERS as i64
    );
    for order in &orders {
        assert_eq!(overdue_incidents(&second, order).await.len(), 1, "{order}");
    }
    wait_until("every apology sent", || async {
        (files(&second.email_dir()).len() >= ORDERS).then_some(())
    })
    .await;
    assert_eq!(files(&second.email_dir()).len(), ORDERS);
    third.stop().await;
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn a_feed_outage_sends_no_more_than_the_cap_and_escalates_one_summary() {
    const ORDERS: usize = 1000;
    const CAP: i64 = 25;
    let time = ManualTime::new(Utc::now());
    let app = spawn(&time, &[("AMENDS_OVERDUE_DAILY_CAP", "25")]).await;
    for _ in 0..ORDERS {
        app.publish(&placed(0)).await;
    }
    wait_for_exactly(
        &app,
        "select count(*) from order_watch where state = 'watching'",
        ORDERS,
    )
    .await;
    time.set(madrid_at(2, 9));
    wait_for_exactly(
        &app,
        "select count(*) from order_watch where state in ('overdue', 'held')",
        ORDERS,
    )
    .await;
    assert_eq!(
        app.count("select count(*) from order_watch where state = 'overdue'")
            .await,
        CAP
    );
    assert_eq!(
        app.count(
            "select count(distinct o.incident_id) from outbox o join incident i
             using (incident_id) where i.event_type = 'order.overdue'"
        )
        .await,
        CAP
    );
    // Every overdue order is recorded and announced, held or not.
    assert_eq!(
        app.count("select count(*) from incident where event_type = 'order.overdue'")
            .await,
        ORDERS as i64
    );
    assert_eq!(
        app.count("select count(*) from outcome_event where event_type = 'order.overdue_detected'")
            .await,
        ORDERS as i64
    );
    // One escalation per order messaged, and one summary for all those held.
    let summaries: Vec<(String, String)> = sqlx::query_as(
        "select d.rule, e.reason from escalation e join decision d using (incident_id)
         where d.rule <> 'overdue'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("summaries");
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert!(
        summaries[0]
            .1
            .contains(&format!("{} more orders", ORDERS as i64 - CAP)),
        "{summaries:?}"
    );
    assert_eq!(app.count("select count(*) from escalation").await, CAP + 1);
    wait_until("the capped apologies sent", || async {
        (files(&app.email_dir()).len() >= CAP as usize).then_some(())
    })
    .await;
    assert_eq!(files(&app.email_dir()).len(), CAP as usize);
    app.stop().await;
}
