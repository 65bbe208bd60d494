//! The consumer: receive → parse → record (decide, budget, render; see [`crate::recovery`]) → ack.
//!
//! A message is acknowledged only after its record committed, or after it was published to the
//! dead-letter queue with a confirm. Anything else (database down, broker trouble) leaves it
//! unacknowledged so the broker delivers it again: nothing is lost, and the unique (source, id)
//! makes the second delivery a no-op if the first had in fact committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel as AmqpChannel};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use uuid::Uuid;

use crate::broker::{self, BrokerError};
use crate::config::Config;
use crate::incident;
use crate::recovery::{Recorded, Recorder, RecoveryError};
use crate::reload::PolicyCell;
use crate::store::{Store, StoreError};
use crate::telemetry::Metrics;

/// Header that carries, on a dead-lettered message, why it could not be processed.
pub const ERROR_HEADER: &str = "x-amends-error";

/// Everything the consumer needs, shared by its handler tasks.
pub struct Ingest {
    config: Arc<Config>,
    recorder: Recorder,
    metrics: Arc<Metrics>,
    /// Wakes the dispatcher when new messages were queued.
    wake: Arc<Notify>,
    /// Wakes the announcer when outcome events were recorded.
    announce: Arc<Notify>,
}

/// Why one message could not be handled.
enum Failure {
    /// The message itself is bad: dead-letter it with this one-line reason.
    Reject(String),
    /// Something outside the message failed: hand it back to the broker.
    Transient(StoreError),
}

impl Failure {
    /// A database error caused by the event's own content is the event's fault: retrying it
    /// would only loop. Everything else (connection, timeout, lock) is worth another delivery.
    fn from_store(e: StoreError) -> Failure {
        match e.rejected_data() {
            Some(reason) => Failure::Reject(format!("the database refused the event: {reason}")),
            None => Failure::Transient(e),
        }
    }

    fn from_recovery(e: RecoveryError) -> Failure {
        match e {
            RecoveryError::Store(e) => Failure::from_store(e),
            other => Failure::Reject(other.to_string()),
        }
    }
}

impl Ingest {
    /// A consumer over the given parts.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        policy: PolicyCell,
        templates: crate::reload::TemplatesCell,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
        announce: Arc<Notify>,
    ) -> Ingest {
        Ingest {
            recorder: Recorder::new(config.clone(), store, policy, templates),
            config,
            metrics,
            wake,
            announce,
        }
    }

    /// Consumes until `token` is cancelled, reconnecting with backoff when the broker goes away.
    pub async fn run(self, token: CancellationToken) {
        let this = Arc::new(self);
        let mut backoff = Duration::from_millis(500);
        while !token.is_cancelled() {
            match this.clone().consume(&token).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, retry_in = ?backoff, "consumer lost the broker");
                    tokio::select! {
                        _ = token.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::info!("consumer stopped");
    }

    /// One connection's life: declare, consume, and on cancellation drain in-flight work.
    async fn consume(self: Arc<Self>, token: &CancellationToken) -> Result<(), BrokerError> {
        let connection = broker::connect(&self.config.amqp_url, &self.config.instance_name).await?;
        let channel = broker::timed("opening a channel", connection.create_channel()).await?;
        broker::declare_topology(&channel, &self.config.amqp).await?;
        broker::timed(
            "setting the prefetch",
            channel.basic_qos(self.config.prefetch, BasicQosOptions::default()),
        )
        .await?;
        let dead = broker::confirm_channel(&connection).await?;
        let tag = format!("{}-{}", self.config.instance_name, Uuid::new_v4().simple());
        let mut consumer = broker::timed(
            "starting the consumer",
            channel.basic_consume(
                self.config.amqp.queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ),
        )
        .await?;
        tracing::info!(queue = %self.config.amqp.queue, prefetch = self.config.prefetch, "consuming");

        let tracker = TaskTracker::new();
        let result = loop {
            tokio::select! {
                _ = token.cancelled() => break Ok(()),
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let this = self.clone();
                        let dead = dead.clone();
                        tracker.spawn(async move { this.handle(delivery, &dead).await });
                    }
                    Some(Err(e)) => break Err(BrokerError::Amqp { what: "receiving", source: e }),
                    None => break Err(BrokerError::Closed),
                }
            }
        };
        // Stop deliveries first, then let in-flight handlers commit and ack; whatever the broker
        // sent after the cancel is returned to the queue when the channel closes.
        if result.is_ok()
            && let Err(e) = broker::timed(
                "cancelling the consumer",
                channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()),
            )
            .await
        {
            tracing::warn!(error = %e, "cancelling the consumer failed");
        }
        tracker.close();
        tracker.wait().await;
        let _ = broker::timed("closing the channel", channel.close(200, "shutdown".into())).await;
        let _ = broker::timed(
            "closing the connection",
            connection.close(200, "shutdown".into()),
        )
        .await;
        result
    }

    /// Handles one delivery to the end: acked, dead-lettered then acked, or handed back.
    async fn handle(&self, delivery: Delivery, dead: &AmqpChannel) {
        let started = Instant::now();
        self.metrics.events_received.inc();
        let span = tracing::info_span!(
            "event",
            delivery_tag = delivery.delivery_tag,
            source = tracing::field::Empty,
            id = tracing::field::Empty,
            r#type = tracing::field::Empty,
        );
        async {
            match self.process(&delivery).await {
                Ok(()) => ack(&delivery).await,
                Err(Failure::Reject(reason)) => {
                    tracing::warn!(reason = %reason, "dead-lettering event");
                    match self.dead_letter(&delivery, &reason, dead).await {
                        Ok(()) => {
                            self.metrics.events_dead_lettered.inc();
                            ack(&delivery).await;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "dead-lettering failed; returning the event to the queue");
                            requeue(&delivery).await;
                        }
                    }
                }
                Err(Failure::Transient(e)) => {
                    tracing::error!(error = %e, "recording failed; returning the event to the queue");
                    // A short pause so a database outage is not a hot redelivery loop.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    requeue(&delivery).await;
                }
            }
            self.metrics
                .event_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        .instrument(span)
        .await
    }

    /// Parse, then decide and record.
    async fn process(&self, delivery: &Delivery) -> Result<(), Failure> {
        let content_type = delivery
            .properties
            .content_type()
            .as_ref()
            .map(|c| c.as_str().to_owned());
        let incident = incident::parse(
            &delivery.data,
            content_type.as_deref(),
            &self.config.default_locale,
        )
        .map_err(|e| Failure::Reject(e.to_string()))?;
        let span = tracing::Span::current();
        span.record("source", incident.key.source());
        span.record("id", incident.key.id());
        span.record("type", incident.event_type.as_str());

        // parse() accepted the body as JSON, so it is UTF-8.
        let payload = std::str::from_utf8(&delivery.data)
            .map_err(|e| Failure::Reject(format!("body is not UTF-8: {e}")))?;
        let recorded = self
            .recorder
            .record(&incident, payload)
            .await
            .map_err(Failure::from_recovery)?;
        match recorded {
            Recorded::Duplicate => {
                self.metrics.events_duplicate.inc();
                tracing::info!("duplicate event; already recorded");
            }
            Recorded::New {
                rule,
                queued,
                codes,
                escalated,
                coalesced,
                unreachable,
            } => {
                self.metrics.events_recorded.inc();
                self.metrics.codes_issued.inc_by(codes as u64);
                if escalated {
                    self.metrics.escalations.inc();
                }
                if let Some(why) = coalesced {
                    self.metrics.events_coalesced.inc();
                    tracing::info!(rule = %rule, reason = %why, "nothing new to send");
                } else if let Some(why) = unreachable {
                    self.metrics.events_unreachable.inc();
                    tracing::warn!(rule = %rule, customer = %incident.customer.id, reason = %why, "customer cannot be reached");
                } else {
                    tracing::info!(rule = %rule, queued, codes, escalated, "event recorded");
                }
                if queued > 0 {
                    self.wake.notify_one();
                }
                if codes > 0 || escalated {
                    self.announce.notify_one();
                }
            }
        }
        Ok(())
    }

    /// Publishes the original message, with the reason, to the dead-letter queue (confirmed).
    async fn dead_letter(
        &self,
        delivery: &Delivery,
        reason: &str,
        dead: &AmqpChannel,
    ) -> Result<(), BrokerError> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        // One line: a header is no place for a paragraph.
        let reason: String = reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        headers.insert(
            ERROR_HEADER.into(),
            AMQPValue::LongString(reason.as_str().into()),
        );
        headers.insert(
            "x-amends-original-exchange".into(),
            AMQPValue::LongString(delivery.exchange.as_str().into()),
        );
        headers.insert(
            "x-amends-original-routing-key".into(),
            AMQPValue::LongString(delivery.routing_key.as_str().into()),
        );
        let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
        broker::publish_confirmed(
            dead,
            "",
            &self.config.amqp.dead_letter_queue,
            &delivery.data,
            properties,
        )
        .await
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
        // The broker will redeliver; the record is idempotent, so that is safe.
        tracing::warn!(error = %e, "ack failed");
    }
}

async fn requeue(delivery: &Delivery) {
    let options = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    if let Err(e) = delivery.nack(options).await {
        tracing::warn!(error = %e, "nack failed; the broker will redeliver when the channel closes");
    }
}
