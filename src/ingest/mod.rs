//! The consumer: receive → parse → record (decide, budget, render; see [`crate::record`]) → ack.
//!
//! A message is acknowledged only after its record committed, or after it (or a copy of it) was
//! published to a queue with a confirm: nothing is lost, and the unique (source, id) makes a
//! second delivery a no-op if the first had in fact committed. Acknowledgements are gathered
//! into one `multiple` ack where they can be ([`acks`]).
//!
//! What happens to a message that cannot be recorded:
//! - the event itself is bad (invalid, an amount that cannot be computed, data the database
//!   refuses): dead-lettered at once with the reason;
//! - processing it panicked: that event's failure, dead-lettered with the panic's message and
//!   counted; the consumer goes on;
//! - the database cannot be reached at all: the message waits in place and is tried again until
//!   the database is back (up to [`HOLD_LIMIT`]); no delivery is counted against it, and with
//!   every prefetch slot waiting, the consumer takes nothing new;
//! - any other passing failure (a deadlock, a statement timeout): handed back to the queue with
//!   its count of deliveries, and dead-lettered with the last error once that count reaches
//!   `max_redeliveries`.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod acks;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel as AmqpChannel};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use uuid::Uuid;

use acks::Acks;

use crate::broker::{self, BrokerError};
use crate::clock::Clock;
use crate::config::Config;
use crate::deliver::Wakeups;
use crate::health::Health;
use crate::incident;
use crate::record::{RecordError, Recorded, Recorder};
use crate::reload::PolicyCell;
use crate::store::{Received, Store, StoreError};
use crate::telemetry::{Metrics, TraceContext};

/// How long a message waits in place for an unreachable database before it is handed back to the
/// queue (counted as a redelivery); well under the broker's consumer timeout (30 minutes).
pub const HOLD_LIMIT: Duration = Duration::from_secs(300);

/// Longest pause between two tries of a message waiting for the database.
const HOLD_BACKOFF: Duration = Duration::from_secs(5);

/// Everything the consumer needs, shared by its handler tasks.
pub struct Ingest {
    config: Arc<Config>,
    recorder: Recorder,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    /// Wakes the dispatcher when new messages were queued.
    wakeups: Wakeups,
}

/// Why one message could not be handled.
enum Failure {
    /// The message itself is bad: dead-letter it with this one-line reason.
    Reject(String),
    /// Something outside the message failed: hand it back to the broker.
    Transient(StoreError),
    /// The daemon is stopping while the message waited: hand it back untouched.
    Stopping,
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

    fn from_record(e: RecordError) -> Failure {
        match e {
            RecordError::Store(e) => Failure::from_store(e),
            other => Failure::Reject(other.to_string()),
        }
    }
}

/// Longest wait between two attempts to reach the broker again.
const RECONNECT_BACKOFF: Duration = Duration::from_secs(5);

impl Ingest {
    /// A consumer over the given parts.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        policy: PolicyCell,
        templates: crate::reload::TemplatesCell,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        wakeups: Wakeups,
    ) -> Ingest {
        Ingest {
            recorder: Recorder::new(config.clone(), store, policy, templates),
            config,
            metrics,
            health,
            wakeups,
        }
    }

    /// The same consumer, deciding at the time `clock` gives (real time unless given).
    pub fn with_clock(mut self, clock: Clock) -> Ingest {
        self.recorder = self.recorder.with_clock(clock);
        self
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
                    // A broker back from a restart is found within seconds.
                    backoff = (backoff * 2).min(RECONNECT_BACKOFF);
                }
            }
        }
        // No incident is being recorded any more: what the wallet holds goes back to the day.
        this.recorder.close().await;
        tracing::info!("consumer stopped");
    }

    /// One connection's life: declare, consume, and on cancellation drain in-flight work.
    async fn consume(self: Arc<Self>, token: &CancellationToken) -> Result<(), BrokerError> {
        let connection = broker::connect(&self.config.amqp_url, &self.config.instance_name).await?;
        broker::declare_topology(&connection, &self.config.amqp).await?;
        let channel = broker::timed("opening a channel", connection.create_channel()).await?;
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
        // Ready only now: the queue is declared and bound, and deliveries can flow.
        self.health.set_consuming(true);

        let tracker = TaskTracker::new();
        let acks = Acks::new();
        let acks_stop = Arc::new(Notify::new());
        let acker = tokio::spawn(acks.clone().run(channel.clone(), acks_stop.clone()));
        // Ends the handlers' waits when this connection is gone (or the daemon stops): their
        // deliveries are back in the queue then, and they must not hold up the reconnection.
        let connection_token = token.child_token();
        let result = loop {
            tokio::select! {
                _ = token.cancelled() => break Ok(()),
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        acks.received(delivery.delivery_tag);
                        let acks = acks.clone();
                        let this = self.clone();
                        let dead = dead.clone();
                        let token = connection_token.clone();
                        tracker.spawn(async move { this.handle(delivery, &dead, &acks, &token).await });
                    }
                    Some(Err(e)) => break Err(BrokerError::Amqp { what: "receiving", source: e }),
                    None => break Err(BrokerError::Closed),
                }
            }
        };
        self.health.set_consuming(false);
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
        if result.is_err() {
            connection_token.cancel();
        }
        tracker.close();
        tracker.wait().await;
        // Every handler is done: the last acks go before the channel closes.
        acks_stop.notify_one();
        if let Err(e) = acker.await {
            tracing::error!(error = %e, "the acknowledger panicked");
        }
        let _ = broker::timed("closing the channel", channel.close(200, "shutdown".into())).await;
        let _ = broker::timed(
            "closing the connection",
            connection.close(200, "shutdown".into()),
        )
        .await;
        result
    }

    /// Handles one delivery to the end: acked, dead-lettered then acked, or handed back.
    async fn handle(
        &self,
        delivery: Delivery,
        dead: &AmqpChannel,
        acks: &Acks,
        token: &CancellationToken,
    ) {
        let started = Instant::now();
        self.metrics.events_received.inc();
        let redelivered = broker::redeliveries(&delivery.properties);
        let span = tracing::info_span!(
            "event",
            delivery_tag = delivery.delivery_tag,
            redelivered,
            source = tracing::field::Empty,
            id = tracing::field::Empty,
            r#type = tracing::field::Empty,
        );
        // The order system's trace, if the event carries one: this span joins it, and the
        // outcome events published for the incident carry it on.
        let trace = TraceContext::of_event(&delivery.data, |name| {
            broker::header_text(&delivery.properties, name)
        });
        trace.adopt(&span);
        let traceparent = trace.passed_on(&span);
        async {
            // A panic anywhere in processing is this event's failure, never a lost task or a
            // delivery left hanging; the transaction it held rolls back as it unwinds.
            let processed =
                crate::health::contain(self.process_waiting(&delivery, traceparent.as_deref(), token))
                .await
                .unwrap_or_else(|why| {
                    self.metrics.panic("event");
                    tracing::error!(panic = %why, "processing the event panicked");
                    Err(Failure::Reject(format!("internal error while processing: {why}")))
                });
            match processed {
                Ok(()) => acks.done(delivery.delivery_tag),
                Err(Failure::Reject(reason)) => self.set_aside(&delivery, &reason, dead, acks).await,
                Err(Failure::Transient(e)) if redelivered >= u64::from(self.config.max_redeliveries) => {
                    let reason = format!("redelivered {redelivered} times; last error: {e}");
                    self.set_aside(&delivery, &reason, dead, acks).await;
                }
                Err(Failure::Transient(e)) => {
                    tracing::warn!(error = %e, redelivered, "recording failed; handing the event back to the queue");
                    // Spaced out, so a passing fault is not a hot loop through the queue.
                    let pause = Duration::from_millis(200)
                        .saturating_mul(1 << redelivered.min(5))
                        .min(HOLD_BACKOFF);
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tokio::time::sleep(pause) => {}
                    }
                    self.hand_back(&delivery, redelivered, dead, acks).await;
                }
                Err(Failure::Stopping) => requeue(&delivery, acks).await,
            }
            self.metrics
                .event_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        .instrument(span)
        .await
    }

    /// [`Self::process`], waiting in place while the database cannot be reached at all: such a
    /// failure is not the event's, and retrying through the queue would only spend its count.
    async fn process_waiting(
        &self,
        delivery: &Delivery,
        traceparent: Option<&str>,
        token: &CancellationToken,
    ) -> Result<(), Failure> {
        let since = Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            match self.process(delivery, traceparent).await {
                Err(Failure::Transient(e))
                    if e.is_unavailable() && since.elapsed() < HOLD_LIMIT =>
                {
                    self.health.database(false);
                    if pause == Duration::from_millis(200) {
                        tracing::warn!(error = %e, "the database cannot be reached; the event waits");
                    }
                    tokio::select! {
                        _ = token.cancelled() => return Err(Failure::Stopping),
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(HOLD_BACKOFF);
                }
                other => return other,
            }
        }
    }

    /// Dead-letters the message with `reason`, then acknowledges it; if the dead-letter queue
    /// cannot take it, hands it back instead.
    async fn set_aside(&self, delivery: &Delivery, reason: &str, dead: &AmqpChannel, acks: &Acks) {
        tracing::warn!(reason = %reason, "dead-lettering event");
        match self.dead_letter(delivery, reason, dead).await {
            Ok(()) => {
                self.metrics.events_dead_lettered.inc();
                acks.done(delivery.delivery_tag);
            }
            Err(e) => {
                tracing::error!(error = %e, "dead-lettering failed; returning the event to the queue");
                requeue(delivery, acks).await;
            }
        }
    }

    /// Puts a copy of the message at the back of the queue carrying its count of deliveries (so
    /// the count survives whatever the broker's version counts), then acknowledges this one. A
    /// crash in between leaves two copies; the second is a harmless duplicate.
    async fn hand_back(
        &self,
        delivery: &Delivery,
        redelivered: u64,
        dead: &AmqpChannel,
        acks: &Acks,
    ) {
        let mut headers = moved_headers(delivery);
        headers.insert(
            broker::REDELIVERIES_HEADER.into(),
            AMQPValue::LongLongInt(
                i64::try_from(redelivered.saturating_add(1)).unwrap_or(i64::MAX),
            ),
        );
        let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
        match broker::publish_confirmed(
            dead,
            "",
            &self.config.amqp.queue,
            &delivery.data,
            properties,
        )
        .await
        {
            Ok(()) => {
                self.metrics.events_requeued.inc();
                acks.done(delivery.delivery_tag);
            }
            Err(e) => {
                tracing::warn!(error = %e, "handing the event back failed; returning it to the broker");
                requeue(delivery, acks).await;
            }
        }
    }

    /// Parse, then decide and record (in the trace `traceparent`, if any).
    async fn process(&self, delivery: &Delivery, traceparent: Option<&str>) -> Result<(), Failure> {
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
        if incident.event_type.is_own() {
            return Err(Failure::Reject(format!(
                "{} is raised by amends itself, never taken from the queue",
                incident.event_type
            )));
        }
        // An order placed only tells its promise: nothing to decide, nothing to record.
        let recorded = if incident.event_type == incident::IncidentType::Placed {
            Recorded::Ignored {
                reason: "order.placed carries the promise only: the order is watched".to_owned(),
            }
        } else {
            self.recorder
                .record(
                    &incident,
                    Received {
                        payload,
                        traceparent,
                    },
                )
                .await
                .map_err(Failure::from_record)?
        };
        // After the record: should this fail, the redelivery finds the event recorded and
        // applies its news to the watch again (the same news twice changes nothing).
        let news = crate::watch::watch_news(&incident, payload, &self.config.overdue.grace);
        self.recorder
            .store()
            .watch_order(&news)
            .await
            .map_err(Failure::from_store)?;
        self.health.database(true);
        match recorded {
            Recorded::Duplicate => {
                self.metrics.events_duplicate.inc();
                tracing::info!("duplicate event; already recorded");
            }
            Recorded::Ignored { reason } => {
                self.metrics.events_ignored.inc();
                tracing::debug!(reason = %reason, "not an incident; nothing recorded");
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
                    self.wakeups.dispatcher.notify_one();
                }
                if codes > 0 || escalated {
                    self.wakeups.announcer.notify_one();
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
        let mut headers = moved_headers(delivery);
        // One line: a header is no place for a paragraph.
        let reason: String = reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        headers.insert(
            broker::ERROR_HEADER.into(),
            AMQPValue::LongString(reason.as_str().into()),
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

/// The headers of a message amends moves to another queue (or the back of its own): where it
/// first came from (kept from an earlier move), and without the broker's delivery count, which
/// belongs to the copy it was read from.
fn moved_headers(delivery: &Delivery) -> FieldTable {
    let mut headers = broker::headers_to_move(&delivery.properties);
    let original = |name: &str| broker::header_text(&delivery.properties, name);
    if original(broker::ORIGINAL_EXCHANGE_HEADER).is_none() {
        headers.insert(
            broker::ORIGINAL_EXCHANGE_HEADER.into(),
            AMQPValue::LongString(delivery.exchange.as_str().into()),
        );
    }
    if original(broker::ORIGINAL_ROUTING_KEY_HEADER).is_none() {
        headers.insert(
            broker::ORIGINAL_ROUTING_KEY_HEADER.into(),
            AMQPValue::LongString(delivery.routing_key.as_str().into()),
        );
    }
    headers
}

/// Hands the delivery back to the broker at once.
async fn requeue(delivery: &Delivery, acks: &Acks) {
    let options = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    match broker::timed("handing back", delivery.nack(options)).await {
        Ok(true) => acks.settled(delivery.delivery_tag),
        // Still unsettled, so no multiple ack may cover it: it stays in hand until the channel
        // closes and the broker redelivers it.
        Ok(false) => {
            tracing::warn!("nack not sent: the channel failed; the broker will redeliver")
        }
        Err(e) => {
            tracing::warn!(error = %e, "nack failed; the broker will redeliver when the channel closes")
        }
    }
}
