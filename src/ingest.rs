//! The consumer: receive → parse → decide → render → record → ack.
//!
//! A message is acknowledged only after its record committed, or after it was published to the
//! dead-letter queue with a confirm. Anything else (database down, broker trouble) leaves it
//! unacknowledged so the broker delivers it again: nothing is lost, and the unique (source, id)
//! makes the second delivery a no-op if the first had in fact committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
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
use crate::incident::{self, Incident};
use crate::policy::{Decision, Policy};
use crate::store::{NewMessage, RecordOutcome, Recording, Store, StoreError};
use crate::telemetry::Metrics;
use crate::templates::Templates;

/// Header that carries, on a dead-lettered message, why it could not be processed.
pub const ERROR_HEADER: &str = "x-amends-error";

/// Everything the consumer needs, shared by its handler tasks.
pub struct Ingest {
    config: Arc<Config>,
    store: Store,
    policy: Arc<Policy>,
    templates: Arc<Templates>,
    metrics: Arc<Metrics>,
    /// Wakes the dispatcher when new messages were queued.
    wake: Arc<Notify>,
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
}

impl Ingest {
    /// A consumer over the given parts.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        policy: Arc<Policy>,
        templates: Arc<Templates>,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Ingest {
        Ingest {
            config,
            store,
            policy,
            templates,
            metrics,
            wake,
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

    /// Parse, decide, render, record.
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

        let decision = self.policy.decide(&incident, Utc::now());
        let messages = self.render(&incident, &decision)?;
        // parse() accepted the body as JSON, so it is UTF-8.
        let payload = std::str::from_utf8(&delivery.data)
            .map_err(|e| Failure::Reject(format!("body is not UTF-8: {e}")))?;
        let outcome = self
            .store
            .record(Recording {
                incident_id: Uuid::now_v7(),
                incident: &incident,
                payload,
                decision: &decision,
                messages,
            })
            .await
            .map_err(Failure::from_store)?;
        match outcome {
            RecordOutcome::Duplicate => {
                self.metrics.events_duplicate.inc();
                tracing::info!("duplicate event; already recorded");
            }
            RecordOutcome::Recorded { queued } => {
                self.metrics.events_recorded.inc();
                if let Some(why) = decision.unreachable() {
                    self.metrics.events_unreachable.inc();
                    tracing::warn!(rule = %decision.rule, customer = %incident.customer.id, reason = %why, "customer cannot be reached");
                } else {
                    tracing::info!(rule = %decision.rule, channels = ?decision.channels, queued, "event recorded");
                }
                if queued > 0 {
                    self.wake.notify_one();
                }
            }
        }
        Ok(())
    }

    /// Renders one message per chosen channel.
    fn render(&self, incident: &Incident, decision: &Decision) -> Result<Vec<NewMessage>, Failure> {
        decision
            .channels
            .iter()
            .map(|&channel| {
                let rendered = self
                    .templates
                    .render(&decision.template, channel, incident, &self.config.store)
                    .map_err(|e| Failure::Reject(format!("template: {e}")))?;
                let customer = &incident.customer;
                let recipient = match channel {
                    crate::policy::Channel::Email => {
                        customer.email.as_ref().map(|e| e.as_str().to_owned())
                    }
                    crate::policy::Channel::Sms => {
                        customer.phone.as_ref().map(|p| p.as_str().to_owned())
                    }
                }
                .ok_or_else(|| Failure::Reject(format!("no {channel} contact")))?;
                let name = [
                    customer.first_name.as_deref(),
                    customer.last_name.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                Ok(NewMessage {
                    outbox_id: Uuid::now_v7(),
                    channel,
                    recipient,
                    recipient_name: (!name.is_empty()).then_some(name),
                    subject: rendered.subject,
                    body_text: rendered.text,
                    body_html: rendered.html,
                })
            })
            .collect()
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
