//! RabbitMQ plumbing shared by the consumer and the publishers: connecting with a timeout,
//! declaring the topology of CONTRACT §1 idempotently, and publishing with confirms.
//!
//! The consumed queue is declared with a broker-side delivery limit and a dead-letter route to
//! the dead-letter queue. amends bounds redelivery itself (`max_redeliveries`, counted from the
//! quorum queue's `x-delivery-count` and its own header), and dead-letters with the reason long
//! before the broker's limit; the broker's limit only catches a message that kills the process
//! before amends can count it. With both set the same way on every version, RabbitMQ 3.x (no
//! limit by default) and 4.x (20 by default, dropping what exceeds it unless a dead-letter route
//! is set) behave alike, and nothing is ever dropped silently.

use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ErrorKind, ExchangeKind};
use secrecy::{ExposeSecret, SecretString};

use crate::config::AmqpNames;
use crate::incident::SUPPORTED_TYPES;

/// How long connecting, declaring or waiting for a confirm may take.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// Deliveries after which the broker itself dead-letters a message of the consumed queue: the
/// default of RabbitMQ 4.x, set explicitly so 3.x behaves the same. Far above amends' own limit,
/// so it only acts on a message that keeps killing the process before amends can count it.
pub const BROKER_DELIVERY_LIMIT: i64 = 20;

/// The quorum queue's own count of earlier deliveries of a message, on each delivery.
pub const DELIVERY_COUNT_HEADER: &str = "x-delivery-count";

/// Header that carries, on a dead-lettered message, why it could not be processed.
pub const ERROR_HEADER: &str = "x-amends-error";

/// Header with the exchange a message first arrived from (kept when amends moves it).
pub const ORIGINAL_EXCHANGE_HEADER: &str = "x-amends-original-exchange";

/// Header with the routing key a message first arrived with (kept when amends moves it).
pub const ORIGINAL_ROUTING_KEY_HEADER: &str = "x-amends-original-routing-key";

/// Header with how many times amends handed a message back to the queue itself.
pub const REDELIVERIES_HEADER: &str = "x-amends-redeliveries";

/// A header's text value, if it is a string.
pub fn header_text(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// A header's value as a count, if it is a non-negative integer.
pub fn header_count(properties: &BasicProperties, name: &str) -> Option<u64> {
    let value = properties.headers().as_ref()?.inner().get(name)?;
    let n: i128 = match *value {
        AMQPValue::ShortShortInt(n) => n.into(),
        AMQPValue::ShortShortUInt(n) => n.into(),
        AMQPValue::ShortInt(n) => n.into(),
        AMQPValue::ShortUInt(n) => n.into(),
        AMQPValue::LongInt(n) => n.into(),
        AMQPValue::LongUInt(n) => n.into(),
        AMQPValue::LongLongInt(n) => n.into(),
        _ => return None,
    };
    u64::try_from(n).ok()
}

/// A message's headers, keeping those whose name `keep` accepts.
pub fn headers_where(properties: &BasicProperties, keep: impl Fn(&str) -> bool) -> FieldTable {
    properties
        .headers()
        .as_ref()
        .map(|h| {
            h.inner()
                .iter()
                .filter(|(k, _)| keep(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::BTreeMap<_, _>>()
                .into()
        })
        .unwrap_or_default()
}

/// A message's headers without the broker's delivery count, which belongs to the copy it was read
/// from: for a copy amends publishes when it moves a message.
pub fn headers_to_move(properties: &BasicProperties) -> FieldTable {
    headers_where(properties, |name| name != DELIVERY_COUNT_HEADER)
}

/// How many times a message was delivered before this delivery: the quorum queue's count (returns
/// to the queue: a nack, a lost channel, a consumer that died) plus amends' own (the times it
/// handed the message back itself, carried in a header as the message moves).
pub fn redeliveries(properties: &BasicProperties) -> u64 {
    let broker = header_count(properties, DELIVERY_COUNT_HEADER).unwrap_or(0);
    let own = header_count(properties, REDELIVERIES_HEADER).unwrap_or(0);
    broker.saturating_add(own)
}

/// Errors talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker refused or failed an operation.
    #[error("{what}: {source}")]
    Amqp {
        /// The operation.
        what: &'static str,
        /// The client error.
        source: lapin::Error,
    },
    /// The broker did not answer in time.
    #[error("{what}: no answer from the broker within {BROKER_TIMEOUT:?}")]
    Timeout {
        /// The operation.
        what: &'static str,
    },
    /// The broker ended the consumer (queue deleted, channel or connection closed).
    #[error("the broker closed the consumer")]
    Closed,
    /// The broker URL cannot be used (the parser's reason; the URL itself holds a password).
    #[error("AMENDS_AMQP_URL: {0}")]
    Url(String),
    /// The broker negatively acknowledged a publish.
    #[error("the broker refused to take the message (nack)")]
    Nacked,
}

/// Runs one broker operation under [`BROKER_TIMEOUT`], naming it in any error.
pub async fn timed<T>(
    what: &'static str,
    operation: impl Future<Output = lapin::Result<T>>,
) -> Result<T, BrokerError> {
    match tokio::time::timeout(BROKER_TIMEOUT, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(BrokerError::Amqp { what, source }),
        Err(_) => Err(BrokerError::Timeout { what }),
    }
}

/// The largest frame amends asks the broker for, unless the URL sets its own `frame_max`.
///
/// lapin keeps a send and a receive buffer of 32 frames per connection, so RabbitMQ's default of
/// 128 KiB costs 8 MiB of memory a connection (16 MiB of the daemon's 49 MiB at rest, measured).
/// Events and outcome events are a few KiB; a larger message is only split into more frames.
pub const FRAME_MAX: u32 = 32 * 1024;

/// Opens a connection named after this instance (shown in the broker's management UI).
pub async fn connect(url: &SecretString, name: &str) -> Result<Connection, BrokerError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let uri = with_frame_max(url.expose_secret())?;
    timed(
        "connecting to the broker",
        Connection::connect_uri(uri, properties),
    )
    .await
}

/// The broker URL, parsed, with [`FRAME_MAX`] where it sets no `frame_max` of its own.
fn with_frame_max(url: &str) -> Result<AMQPUri, BrokerError> {
    let mut uri: AMQPUri = url.parse().map_err(BrokerError::Url)?;
    uri.query.frame_max.get_or_insert(FRAME_MAX);
    Ok(uri)
}

/// Declares exchanges, queues and bindings; safe to repeat on every start of every replica.
///
/// A queue that already exists with other arguments (declared by an older amends without the
/// delivery limit) is used as it is, with a warning that says how to add the limit.
pub async fn declare_topology(
    connection: &Connection,
    names: &AmqpNames,
) -> Result<(), BrokerError> {
    let channel = timed("opening a channel", connection.create_channel()).await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    timed(
        "declaring the orders exchange",
        channel.exchange_declare(
            names.orders_exchange.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        ),
    )
    .await?;
    declare_events_exchange(&channel, &names.events_exchange).await?;
    // Quorum queues are replicated and durable: what the broker accepted survives a node loss.
    // The dead-letter queue first: the consumed queue's dead-letter route points at it.
    let channel = declare_queue(
        connection,
        channel,
        &names.dead_letter_queue,
        quorum_arguments(),
    )
    .await?;
    let channel = declare_queue(
        connection,
        channel,
        &names.queue,
        consumed_queue_arguments(names),
    )
    .await?;
    for event_type in SUPPORTED_TYPES {
        timed(
            "binding the queue",
            channel.queue_bind(
                names.queue.as_str().into(),
                names.orders_exchange.as_str().into(),
                event_type.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
    }
    let _ = timed("closing the channel", channel.close(200, "declared".into())).await;
    Ok(())
}

/// The arguments of a quorum queue, as amends declares the dead-letter queue.
pub fn quorum_arguments() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    arguments
}

/// The consumed queue's arguments: quorum, the broker's delivery limit, and a dead-letter route
/// (at least once) to the dead-letter queue instead of dropping.
pub fn consumed_queue_arguments(names: &AmqpNames) -> FieldTable {
    let mut arguments = quorum_arguments();
    arguments.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(BROKER_DELIVERY_LIMIT),
    );
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(names.dead_letter_queue.as_str().into()),
    );
    // At-least-once dead-lettering needs the queue to refuse publishes when full rather than
    // drop its oldest message; amends sets no length limit, so this only makes it safe.
    arguments.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString("at-least-once".into()),
    );
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    arguments
}

/// Declares `queue` with `arguments`; when it exists with others, the broker closes the channel
/// (406), so this checks on a new channel that the queue exists, warns, and goes on with it.
async fn declare_queue(
    connection: &Connection,
    channel: Channel,
    queue: &str,
    arguments: FieldTable,
) -> Result<Channel, BrokerError> {
    let declared = timed(
        "declaring a queue",
        channel.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        ),
    )
    .await;
    match declared {
        Ok(_) => Ok(channel),
        Err(BrokerError::Amqp { source, .. }) if is_precondition_failed(&source) => {
            let channel = timed("opening a channel", connection.create_channel()).await?;
            passive_queue(&channel, queue, "checking an existing queue").await?;
            tracing::warn!(
                queue,
                broker = %source,
                "the queue exists with other arguments than amends declares (x-delivery-limit {BROKER_DELIVERY_LIMIT} and a dead-letter route to the dead-letter queue); amends still dead-letters what keeps failing, but unless a policy sets them, RabbitMQ 4.x drops a message delivered {BROKER_DELIVERY_LIMIT} times without a trace; see docs/reliability.md"
            );
            Ok(channel)
        }
        Err(e) => Err(e),
    }
}

/// How many messages `queue` holds, without declaring it (a missing queue is an error).
pub async fn queue_depth(connection: &Connection, queue: &str) -> Result<u32, BrokerError> {
    let channel = timed("opening a channel", connection.create_channel()).await?;
    let declared = passive_queue(&channel, queue, "reading a queue's length").await?;
    // Closing is a courtesy: the connection's close ends it anyway.
    let _ = timed("closing a channel", channel.close(200, "done".into())).await;
    Ok(declared.message_count())
}

/// Looks `queue` up without declaring it (`what` names the step in a timeout): its counts, or
/// the broker's refusal (404 when it does not exist, which also closes `channel`).
pub async fn passive_queue(
    channel: &Channel,
    queue: &str,
    what: &'static str,
) -> Result<lapin::Queue, BrokerError> {
    timed(
        what,
        channel.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        ),
    )
    .await
}

/// The broker refused a declaration because the object exists with other properties.
fn is_precondition_failed(error: &lapin::Error) -> bool {
    matches!(error.kind(), ErrorKind::ProtocolError(e) if e.get_id() == 406)
}

/// Declares the durable topic exchange outcome events are published to.
pub async fn declare_events_exchange(channel: &Channel, exchange: &str) -> Result<(), BrokerError> {
    timed(
        "declaring the events exchange",
        channel.exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        ),
    )
    .await
}

/// Opens a channel in confirm mode, for publishes that must not be lost.
pub async fn confirm_channel(connection: &Connection) -> Result<Channel, BrokerError> {
    let channel = timed("opening a channel", connection.create_channel()).await?;
    timed(
        "enabling publisher confirms",
        channel.confirm_select(ConfirmSelectOptions::default()),
    )
    .await?;
    Ok(channel)
}

/// Publishes one persistent message and waits for the broker's confirm.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), BrokerError> {
    let confirm = timed(
        "publishing",
        channel.basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            properties.with_delivery_mode(2),
        ),
    )
    .await?;
    let confirmation = timed("waiting for the publish confirm", confirm).await?;
    if confirmation.is_nack() {
        return Err(BrokerError::Nacked);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_size_is_amends_unless_the_url_sets_one() {
        let uri = with_frame_max("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(uri.query.frame_max, Some(FRAME_MAX));
        let own = with_frame_max("amqp://guest:guest@127.0.0.1:5672/%2f?frame_max=131072").unwrap();
        assert_eq!(own.query.frame_max, Some(131_072));
        // Nothing else of the URL changes.
        assert_eq!(uri.authority.port, 5672);
        assert_eq!(uri.vhost, "/");
    }

    #[test]
    fn a_bad_url_is_named_without_its_password() {
        for bad in [
            "http://guest:s3cret@127.0.0.1/%2f",
            "amqp://guest:s3cret@127.0.0.1:notaport/%2f",
        ] {
            let e = with_frame_max(bad).unwrap_err().to_string();
            assert!(e.starts_with("AMENDS_AMQP_URL: "), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }
}
