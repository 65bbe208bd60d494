//! RabbitMQ plumbing shared by the consumer and the publishers: connecting with a timeout,
//! declaring the topology of CONTRACT §1 idempotently, and publishing with confirms.

use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use secrecy::{ExposeSecret, SecretString};

use crate::config::AmqpNames;
use crate::incident::SUPPORTED_TYPES;

/// How long connecting, declaring or waiting for a confirm may take.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Opens a connection named after this instance (shown in the broker's management UI).
pub async fn connect(url: &SecretString, name: &str) -> Result<Connection, BrokerError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    timed(
        "connecting to the broker",
        Connection::connect(url.expose_secret(), properties),
    )
    .await
}

/// Declares exchanges, queues and bindings; safe to repeat on every start of every replica.
pub async fn declare_topology(channel: &Channel, names: &AmqpNames) -> Result<(), BrokerError> {
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
    declare_events_exchange(channel, &names.events_exchange).await?;
    // Quorum queues are replicated and durable: what the broker accepted survives a node loss.
    for queue in [&names.queue, &names.dead_letter_queue] {
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        timed(
            "declaring a queue",
            channel.queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                arguments,
            ),
        )
        .await?;
    }
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
    Ok(())
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
