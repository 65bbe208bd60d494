//! Bounded redelivery: an event that keeps failing ends in the dead-letter queue with why, the
//! broker's own limit catches what amends cannot count, and reading the dead-letter queue counts
//! as a delivery of nothing.

use std::path::Path;

use amends::config::Config;
use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};

use crate::helpers::{Names, connect, declare, event, spawn_app, wait_until};

/// The broker's count of earlier deliveries on a message read from a queue.
fn delivery_count(properties: &BasicProperties) -> u64 {
    amends::broker::header_count(properties, amends::broker::DELIVERY_COUNT_HEADER).unwrap_or(0)
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_after_the_limit_with_the_last_error() {
    let app = spawn_app(&[("AMENDS_MAX_REDELIVERIES", "3")]).await;
    // A passing fault that never passes for one order: a serialization failure (40001) is what a
    // busy database answers, and amends tries such an event again through the queue.
    sqlx::raw_sql(
        "create function refuse_poison() returns trigger language plpgsql as $$
         begin
             if new.order_id like 'POISON-%' then
                 raise exception 'could not serialize access for order %', new.order_id
                     using errcode = '40001';
             end if;
             return new;
         end $$;
         create trigger refuse_poison before insert on incident
             for each row execute function refuse_poison();",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let poison = event("order.delayed", |e| {
        e["data"]["order"]["id"] = "POISON-1".into();
    });
    app.publish(&poison).await;
    app.publish(&event("order.delayed", |_| {})).await;

    let dead = app.dead_letters(1).await;
    let (body, reason, properties) = &dead[0];
    assert_eq!(body, &serde_json::to_vec(&poison).unwrap(), "unchanged");
    assert!(
        reason.starts_with("redelivered 3 times; last error: database error:")
            && reason.contains("could not serialize access for order POISON-1"),
        "{reason}"
    );
    // It still says where it came from, for a replay after the fix.
    assert_eq!(
        amends::broker::header_text(properties, amends::broker::ORIGINAL_ROUTING_KEY_HEADER)
            .as_deref(),
        Some("order.delayed")
    );
    assert_eq!(
        amends::broker::header_text(properties, amends::broker::ORIGINAL_EXCHANGE_HEADER),
        Some(app.names.exchange.clone())
    );
    // The healthy event was not held up, and the poisoned one left nothing behind.
    app.wait_for_files(&app.email_dir(), 1).await;
    assert_eq!(
        app.count("select count(*) from incident where order_id like 'POISON-%'")
            .await,
        0
    );
    let metrics = app.scrape_metrics().await.unwrap_or_default();
    assert!(
        metrics.contains("amends_events_requeued_total 3"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn listing_the_dead_letters_counts_no_delivery_and_keeps_their_order() {
    let app = spawn_app(&[]).await;
    let ids = ["first", "second", "third"];
    for id in ids {
        let mut headers = FieldTable::default();
        headers.insert(
            amends::broker::ERROR_HEADER.into(),
            AMQPValue::LongString(format!("{id} was broken").as_str().into()),
        );
        let body = serde_json::json!({ "id": id }).to_string();
        app.put_dead_letter(body.as_bytes(), headers).await;
    }
    let config = Config::from_sources(None, app.names.env(Path::new("unused"))).unwrap();
    let connection = connect().await.unwrap();
    let channel = amends::broker::confirm_channel(&connection).await.unwrap();
    // More listings than RabbitMQ 4.0–4.2 allows returns (20) before it drops a message.
    for _ in 0..25 {
        let listed = amends::dead_letters::list(&channel, &config.amqp, 2)
            .await
            .unwrap();
        let listed: Vec<_> = listed.iter().filter_map(|l| l.id.as_deref()).collect();
        assert_eq!(listed, ["first", "second"], "oldest first, up to the limit");
    }
    let left = app.take(&app.names.dead, 3).await;
    let read: Vec<(String, u64)> = left
        .iter()
        .map(|(body, properties)| {
            let value: serde_json::Value = serde_json::from_slice(body).unwrap();
            (
                value["id"].as_str().unwrap().to_owned(),
                delivery_count(properties),
            )
        })
        .collect();
    assert_eq!(
        read,
        ids.iter().map(|id| (id.to_string(), 0)).collect::<Vec<_>>(),
        "every message still there, in order, never counted as delivered"
    );
    let _ = connection.close(200, "done".into()).await;
    app.stop().await;
}

#[tokio::test]
async fn the_broker_dead_letters_what_keeps_dying_unacknowledged_and_says_why() {
    // A message whose consumer dies with it every time (the process killed mid-event, which
    // amends cannot count): the queue's own delivery limit moves it to the dead-letter queue
    // instead of dropping it, on 3.x as on 4.x.
    let names = Names::new();
    let connection = connect().await.unwrap();
    declare(&connection, &names).await;
    let publisher = amends::broker::confirm_channel(&connection).await.unwrap();
    let poison = event("order.delayed", |_| {});
    amends::broker::publish_confirmed(
        &publisher,
        &names.exchange,
        "order.delayed",
        &serde_json::to_vec(&poison).unwrap(),
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let mut deliveries = 0;
    let started = std::time::Instant::now();
    loop {
        assert!(
            started.elapsed() < crate::helpers::DEADLINE,
            "the broker never gave up on it"
        );
        let consumer = connection.create_channel().await.unwrap();
        let got = consumer
            .basic_get(
                names.queue.as_str().into(),
                BasicGetOptions { no_ack: false },
            )
            .await
            .unwrap();
        // Dies holding it (or looking for it): the channel closes without an ack.
        let _ = consumer.close(200, "died".into()).await;
        if got.is_some() {
            deliveries += 1;
            continue;
        }
        // Not there: on its way back to the queue, or moved to the dead-letter queue.
        if ready_in(&connection, &names.dead).await > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        deliveries,
        amends::broker::BROKER_DELIVERY_LIMIT + 1,
        "delivered until the limit, then moved"
    );
    let config = Config::from_sources(None, names.env(Path::new("unused"))).unwrap();
    let letters = wait_until("the broker to dead-letter it", || async {
        let letters = amends::dead_letters::list(&publisher, &config.amqp, 10)
            .await
            .unwrap();
        (!letters.is_empty()).then_some(letters)
    })
    .await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].id.as_deref(), poison["id"].as_str());
    assert_eq!(letters[0].routing_key, "order.delayed");
    assert!(
        letters[0]
            .error
            .starts_with("dead-lettered by the broker: delivered more than 20 times"),
        "{}",
        letters[0].error
    );
    let _ = connection.close(200, "done".into()).await;
    names.clean_up().await;
}

/// Messages ready in `queue`.
async fn ready_in(connection: &lapin::Connection, queue: &str) -> u32 {
    let channel = connection.create_channel().await.unwrap();
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = channel.close(200, "done".into()).await;
    declared.message_count()
}

#[tokio::test]
async fn an_event_still_being_recorded_holds_back_no_other_events_ack() {
    // Acks are gathered into one `multiple` ack below the oldest event still in hand. With a
    // prefetch of 3, an event stuck in recording must not hold back the others' acks: three
    // unacknowledged deliveries would stop the broker sending, and nothing more would be
    // recorded until the stuck one finished.
    let mut app = spawn_app(&[("AMENDS_PREFETCH", "3")]).await;
    let stuck = event("order.delayed", |_| {});
    let customer = stuck["data"]["customer"]["id"]
        .as_str()
        .expect("customer id")
        .to_owned();
    // The lock recording takes on the customer: held here, the stuck event waits for it.
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('amends.customer:' || $1, 0))")
        .bind(&customer)
        .execute(&mut *holder)
        .await
        .unwrap();
    app.publish(&stuck).await;
    for _ in 0..10 {
        app.publish(&event("order.delayed", |_| {})).await;
    }
    app.wait_for_count("select count(*) from incident", 10)
        .await;
    // Waiting behind a stuck event, the others would have been recorded only once its statement
    // timed out and it went back to the queue.
    let metrics = app.scrape_metrics().await.expect("metrics");
    assert!(
        metrics.contains("amends_events_requeued_total 0"),
        "the stuck event was handed back before the others were recorded"
    );
    holder.rollback().await.unwrap();
    app.wait_for_count("select count(*) from incident", 11)
        .await;
    // Once the daemon has stopped, whatever it had not acknowledged would be back in the queue.
    app.halt().await;
    let connection = connect().await.unwrap();
    assert_eq!(ready_in(&connection, &app.names.queue).await, 0);
    let _ = connection.close(200, "done".into()).await;
    app.stop().await;
}
