//! The dead-letter queue, for a person: see what is in it and why, and replay messages after a
//! fix (`amends dead-letters list|replay`).
//!
//! Nothing here counts as a delivery of anything. A quorum queue counts every message handed back
//! to it (and RabbitMQ 4.0–4.2 drops one handed back 20 times unless a route says otherwise), so
//! listing never hands a message back: it moves the whole queue round once, publishing a copy of
//! each message behind the others (confirmed) before acknowledging the original. The queue ends in
//! its own order, each copy with a fresh count. Replaying publishes a message, with confirms, to
//! the exchange and routing key it first arrived with, without the headers amends added, and only
//! then acknowledges it. A crash in between at worst leaves a message twice, which its (source,
//! id) makes harmless.

use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;
use lapin::{BasicProperties, Channel};

use crate::broker::{self, BrokerError};
use crate::config::AmqpNames;

/// One message in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The CloudEvent id when the body has one, else the AMQP message id.
    pub id: Option<String>,
    /// The routing key it first arrived with.
    pub routing_key: String,
    /// Why it was dead-lettered.
    pub error: String,
    /// Its size in bytes.
    pub size: usize,
}

/// The first entry of the broker's `x-death` header, when the broker dead-lettered the message
/// itself (its delivery limit): the reason, the queue, the exchange and routing key.
fn broker_death(properties: &BasicProperties) -> Option<(String, String, String, String)> {
    let AMQPValue::FieldArray(deaths) = properties.headers().as_ref()?.inner().get("x-death")?
    else {
        return None;
    };
    let AMQPValue::FieldTable(first) = deaths.as_slice().first()? else {
        return None;
    };
    let text = |name: &str| match first.inner().get(name) {
        Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Some(AMQPValue::ShortString(s)) => s.as_str().to_owned(),
        _ => String::new(),
    };
    let routing_key = match first.inner().get("routing-keys") {
        Some(AMQPValue::FieldArray(keys)) => match keys.as_slice().first() {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    Some((text("reason"), text("queue"), text("exchange"), routing_key))
}

fn describe(body: &[u8], properties: &BasicProperties) -> DeadLetter {
    let event_id = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
    let death = broker_death(properties);
    let error = broker::header_text(properties, broker::ERROR_HEADER)
        .or_else(|| {
            death.as_ref().map(|(reason, queue, _, _)| match reason.as_str() {
                "delivery_limit" => format!(
                    "dead-lettered by the broker: delivered more than {} times from {queue} (the process kept stopping before it could finish)",
                    broker::BROKER_DELIVERY_LIMIT
                ),
                other => format!("dead-lettered by the broker ({other}) from {queue}"),
            })
        })
        .unwrap_or_default();
    let routing_key = broker::header_text(properties, broker::ORIGINAL_ROUTING_KEY_HEADER)
        .or_else(|| death.as_ref().map(|d| d.3.clone()))
        .unwrap_or_default();
    DeadLetter {
        id: event_id.or_else(|| properties.message_id().as_ref().map(|m| m.to_string())),
        routing_key,
        error,
        size: body.len(),
    }
}

/// Up to `limit` messages of the dead-letter queue, oldest first, all left in it, in its order.
pub async fn list(
    channel: &Channel,
    names: &AmqpNames,
    limit: usize,
) -> Result<Vec<DeadLetter>, BrokerError> {
    let mut found = Vec::new();
    // Only the messages there when the listing began: a copy moved behind them is not read again.
    let mut left: Option<u32> = None;
    while left != Some(0) {
        let Some(message) = get(channel, names).await? else {
            break;
        };
        left = Some(left.unwrap_or(message.message_count + 1) - 1);
        let delivery = message.delivery;
        if found.len() < limit {
            found.push(describe(&delivery.data, &delivery.properties));
        }
        move_behind(channel, names, &delivery).await?;
    }
    Ok(found)
}

/// Puts a copy of `delivery` at the back of the dead-letter queue (confirmed), then acknowledges
/// the original: the message stays, and nothing was handed back to be counted.
async fn move_behind(
    channel: &Channel,
    names: &AmqpNames,
    delivery: &lapin::message::Delivery,
) -> Result<(), BrokerError> {
    let properties = delivery
        .properties
        .clone()
        .with_headers(broker::headers_to_move(&delivery.properties));
    broker::publish_confirmed(
        channel,
        "",
        &names.dead_letter_queue,
        &delivery.data,
        properties,
    )
    .await?;
    broker::timed(
        "acknowledging a message moved behind the others",
        channel.basic_ack(delivery.delivery_tag, BasicAckOptions::default()),
    )
    .await
}

/// Replays the messages whose id is `only` (every message when `None`); how many were replayed.
pub async fn replay(
    channel: &Channel,
    names: &AmqpNames,
    only: Option<&str>,
) -> Result<usize, BrokerError> {
    let mut kept = Vec::new();
    let mut replayed = 0;
    // Only the messages there when the replay began: one replayed that fails again is
    // dead-lettered anew behind them, and must wait for the next replay, not loop in this one.
    let mut left: Option<u32> = None;
    while left != Some(0) {
        let Some(message) = get(channel, names).await? else {
            break;
        };
        left = Some(left.unwrap_or(message.message_count + 1) - 1);
        let delivery = message.delivery;
        let letter = describe(&delivery.data, &delivery.properties);
        if only.is_some_and(|id| letter.id.as_deref() != Some(id)) {
            kept.push(delivery);
            continue;
        }
        let death = broker_death(&delivery.properties);
        let exchange = broker::header_text(&delivery.properties, broker::ORIGINAL_EXCHANGE_HEADER)
            .or_else(|| death.map(|d| d.2))
            .unwrap_or_else(|| names.orders_exchange.clone());
        // A fresh start: none of amends' headers (the reason, the count of deliveries) nor the
        // broker's.
        let headers = broker::headers_where(&delivery.properties, |name| {
            !name.starts_with("x-amends-")
                && name != broker::DELIVERY_COUNT_HEADER
                && !name.starts_with("x-death")
                && !name.starts_with("x-first-death")
                && !name.starts_with("x-last-death")
        });
        let properties = delivery.properties.clone().with_headers(headers);
        broker::publish_confirmed(
            channel,
            &exchange,
            &letter.routing_key,
            &delivery.data,
            properties,
        )
        .await?;
        broker::timed(
            "acknowledging the replayed message",
            channel.basic_ack(delivery.delivery_tag, BasicAckOptions::default()),
        )
        .await?;
        replayed += 1;
    }
    // The others go back behind what is there, in their order, as listing does: copies first,
    // then the originals acknowledged, so none is handed back (and counted).
    for delivery in &kept {
        move_behind(channel, names, delivery).await?;
    }
    Ok(replayed)
}

async fn get(
    channel: &Channel,
    names: &AmqpNames,
) -> Result<Option<lapin::message::BasicGetMessage>, BrokerError> {
    broker::timed(
        "reading the dead-letter queue",
        channel.basic_get(
            names.dead_letter_queue.as_str().into(),
            BasicGetOptions { no_ack: false },
        ),
    )
    .await
}
