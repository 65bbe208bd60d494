//! The dead-letter queue, for a person: see what is in it and why, and replay messages after a
//! fix (`amends dead-letters list|replay`).
//!
//! Listing takes each message and hands it straight back (nack with requeue), so nothing is lost
//! and the queue's order is kept. Replaying publishes a message, with confirms, to the exchange
//! and routing key it first arrived with (kept in its headers when it was dead-lettered), without
//! the headers amends added, and only then acknowledges it in the dead-letter queue: a crash in
//! between at worst replays it twice, which the event's (source, id) makes harmless.

use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};

use crate::broker::{self, BrokerError};
use crate::config::AmqpNames;
use crate::ingest::ERROR_HEADER;

const ORIGINAL_EXCHANGE: &str = "x-amends-original-exchange";
const ORIGINAL_ROUTING_KEY: &str = "x-amends-original-routing-key";

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

fn header(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

fn describe(body: &[u8], properties: &BasicProperties) -> DeadLetter {
    let event_id = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
    DeadLetter {
        id: event_id.or_else(|| properties.message_id().as_ref().map(|m| m.to_string())),
        routing_key: header(properties, ORIGINAL_ROUTING_KEY).unwrap_or_default(),
        error: header(properties, ERROR_HEADER).unwrap_or_default(),
        size: body.len(),
    }
}

/// Up to `limit` messages of the dead-letter queue, oldest first, all left in it.
pub async fn list(
    channel: &Channel,
    names: &AmqpNames,
    limit: usize,
) -> Result<Vec<DeadLetter>, BrokerError> {
    let mut taken = Vec::new();
    let mut found = Vec::new();
    while found.len() < limit {
        let Some(message) = get(channel, names).await? else {
            break;
        };
        found.push(describe(
            &message.delivery.data,
            &message.delivery.properties,
        ));
        taken.push(message.delivery.delivery_tag);
    }
    // Handed back only once all were seen, or the same one would be taken again.
    for tag in taken {
        nack(channel, tag).await?;
    }
    Ok(found)
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
            kept.push(delivery.delivery_tag);
            continue;
        }
        let exchange = header(&delivery.properties, ORIGINAL_EXCHANGE)
            .unwrap_or_else(|| names.orders_exchange.clone());
        let mut headers: FieldTable = delivery.properties.headers().clone().unwrap_or_default();
        let cleaned: FieldTable = headers
            .inner()
            .iter()
            .filter(|(k, _)| !k.as_str().starts_with("x-amends-"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into();
        headers = cleaned;
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
    for tag in kept {
        nack(channel, tag).await?;
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

async fn nack(channel: &Channel, tag: u64) -> Result<(), BrokerError> {
    broker::timed(
        "handing a message back to the dead-letter queue",
        channel.basic_nack(
            tag,
            BasicNackOptions {
                requeue: true,
                multiple: false,
            },
        ),
    )
    .await
}
