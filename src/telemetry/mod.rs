//! Logs (tracing) and metrics (Prometheus text format), with the standard process metrics
//! (`process`).
//!
//! Metrics live in a [`Metrics`] value owned by the application rather than in a global
//! registry, so several applications (tests, benchmarks) can run in one process.

mod process;
mod trace;

pub use trace::{TraceContext, TraceExport, traceparent_of};

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// What [`init`] set up; dropping it flushes the spans not yet exported and stops the exporter.
#[must_use = "dropping it stops exporting spans"]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "flushing the last spans failed");
        }
    }
}

/// Installs the global tracing subscriber (logs in `format`; `RUST_LOG` overrides the default
/// level, info) and, with `traces`, exports spans over OTLP.
pub fn init(format: LogFormat, traces: Option<&TraceExport>) -> Telemetry {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (provider, failed) = match traces.map(trace::provider) {
        Some(Ok(provider)) => (Some(provider), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    let spans = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("amends")));
    let registry = tracing_subscriber::registry().with(spans).with(filter);
    // A second call (tests) keeps the first subscriber; that is fine.
    let _ = match format {
        LogFormat::Text => registry.with(tracing_subscriber::fmt::layer()).try_init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true))
            .try_init(),
    };
    if let Some(e) = failed {
        tracing::error!(error = %e, "cannot export spans; running without");
    }
    Telemetry { provider }
}

/// Labels of per-channel counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    /// `email` or `sms`.
    pub channel: String,
    /// Transport that handled it.
    pub provider: String,
}

/// Labels of per-task metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// The worker task (`consumer`, `dispatcher`, …) or the work that panicked (`event`, `sender`).
    pub task: String,
}

/// Labels of send attempts.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// What became of the attempt.
    pub outcome: String,
    /// The provider last tried (`none` when no request left).
    pub provider: String,
}

/// Labels of one provider's requests.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderResultLabels {
    /// The provider.
    pub provider: String,
    /// `ok` or `error`.
    pub result: String,
}

/// Labels of per-provider gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    /// The provider.
    pub provider: String,
}

/// Labels of the outbox's counts.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutboxLabels {
    /// The message's status (`pending`, `sending`, `sent`, …).
    pub status: String,
    /// `email` or `sms`.
    pub channel: String,
}

/// Labels of per-channel gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelOnlyLabels {
    /// `email` or `sms`.
    pub channel: String,
}

/// Labels of the watch's gauges: the state of a watched order.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchLabels {
    /// `watching`, `overdue`, `updated`, `held` or `unknown`.
    pub state: String,
}

/// Labels of the messages raised from silence: `apology` or `update`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `apology` or `update`.
    pub kind: String,
}

/// Labels of budget gauges.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CurrencyLabels {
    /// ISO 4217 code.
    pub currency: String,
}

/// Labels of `amends_build_info`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The crate's version.
    pub version: String,
    /// The commit it was built from, `unknown` when the build could not tell.
    pub commit: String,
}

/// Labels of webhook requests.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookRequestLabels {
    /// `twilio`, `sendgrid`, `postmark` or `vonage`.
    pub provider: String,
    /// `accepted`, `rejected` (403), `invalid` (400) or `error` (ours; the provider retries).
    pub result: String,
}

/// A gauge holding seconds or money, as a float.
pub type FloatGauge = Gauge<f64, AtomicU64>;

/// A histogram per label set.
pub type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Buckets of provider send times: 1 ms to ~33 s.
fn send_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The commit this binary was built from (`AMENDS_COMMIT` at build time, else git's).
pub const BUILD_COMMIT: &str = env!("AMENDS_COMMIT");

/// Labels of per-outcome counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// What happened.
    pub outcome: String,
}

/// Labels of refused webhook requests.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookRejectionLabels {
    /// `twilio`, `sendgrid`, `postmark` or `vonage`.
    pub provider: String,
    /// Why: `not_configured`, `no_signature`, `bad_signature`, `bad_timestamp` or `stale`.
    pub reason: String,
}

/// Every metric amends exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Deliveries taken from the queue.
    pub events_received: Counter,
    /// Events recorded for the first time.
    pub events_recorded: Counter,
    /// Events already recorded (redelivered or republished).
    pub events_duplicate: Counter,
    /// Events sent to the dead-letter queue.
    pub events_dead_lettered: Counter,
    /// Events whose customer could not be reached on any channel.
    pub events_unreachable: Counter,
    /// Events coalesced into an earlier message about the same order.
    pub events_coalesced: Counter,
    /// Events that are no incident and were not recorded (a delivery of an order that had none).
    pub events_ignored: Counter,
    /// Coupon and gift-certificate codes issued.
    pub codes_issued: Counter,
    /// Incidents escalated to a person.
    pub escalations: Counter,
    /// Seconds from delivery to ack, per event.
    pub event_seconds: Histogram,
    /// Messages delivered to a provider.
    pub messages_sent: Family<ChannelLabels, Counter>,
    /// Messages failed for good.
    pub messages_failed: Family<ChannelLabels, Counter>,
    /// Send attempts by outcome (sent, retry, failed, unknown, released, held) and provider.
    pub attempts: Family<AttemptLabels, Counter>,
    /// Seconds one provider request took, by provider and result.
    pub send_seconds: HistogramFamily<ProviderResultLabels>,
    /// Claims taken back by the reaper, by what became of the message (`released`: its request
    /// never left; `resent` and `unknown`: in doubt).
    pub leases_reaped: Family<OutcomeLabels, Counter>,
    /// Seconds from a send's outcome to its record's commit: the window in which a crash can
    /// make a message in doubt.
    pub record_lag: Histogram,
    /// Events handed back to the queue after a passing failure (each counted against
    /// `max_redeliveries`).
    pub events_requeued: Counter,
    /// Panics caught, by where (`event`: processing one event, `sender`: sending one message, or
    /// a worker task).
    pub panics: Family<TaskLabels, Counter>,
    /// 1 while the worker task runs, 0 once it stopped or died.
    pub task_up: Family<TaskLabels, Gauge>,
    /// Sends in flight now.
    pub sends_in_flight: Gauge,
    /// New policies put in force while running.
    pub policy_reloads: Counter,
    /// New sets of template texts put in force while running.
    pub template_reloads: Counter,
    /// Provider webhook requests refused (403), by provider and reason.
    pub webhook_rejections: Family<WebhookRejectionLabels, Counter>,
    /// Provider webhook requests, by provider and result.
    pub webhook_requests: Family<WebhookRequestLabels, Counter>,
    /// 1 while the provider's circuit breaker is open in this replica.
    pub breaker_open: Family<ProviderLabels, Gauge>,
    /// 1 when the broker and the database answer (what `/readyz` says).
    pub ready: Gauge,
    /// Always 1, labelled with the version and commit.
    pub build_info: Family<BuildLabels, Gauge>,
    /// Outbox messages by status and channel (database-wide).
    pub outbox_messages: Family<OutboxLabels, Gauge>,
    /// Pending messages due now, by channel (database-wide).
    pub outbox_due: Family<ChannelOnlyLabels, Gauge>,
    /// Pending messages waiting for a later time (quiet hours, a later send time), by channel.
    pub outbox_scheduled: Family<ChannelOnlyLabels, Gauge>,
    /// Age of the oldest message due and not yet sent, 0 when none (database-wide).
    pub outbox_oldest_due: FloatGauge,
    /// Messages in the dead-letter queue.
    pub dead_letters: Gauge,
    /// Escalations waiting for a person (database-wide).
    pub escalations_open: Gauge,
    /// Compensation issued today, by currency (database-wide).
    pub budget_spent: Family<CurrencyLabels, FloatGauge>,
    /// The policy's daily budget, by currency.
    pub budget_limit: Family<CurrencyLabels, FloatGauge>,
    /// Orders whose promise is watched, by state (database-wide, open ones only).
    pub orders_watched: Family<WatchLabels, Gauge>,
    /// Orders found overdue in silence by this replica's watcher.
    pub overdue_found: Counter,
    /// Of those, held without a message by the daily cap.
    pub overdue_held: Counter,
    /// Messages queued from silence (an overdue apology or its promised update), by kind.
    pub overdue_messages: Family<KindLabels, Counter>,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Arc<Metrics> {
        let metrics = Metrics {
            events_received: Counter::default(),
            events_recorded: Counter::default(),
            events_duplicate: Counter::default(),
            events_dead_lettered: Counter::default(),
            events_unreachable: Counter::default(),
            events_coalesced: Counter::default(),
            events_ignored: Counter::default(),
            codes_issued: Counter::default(),
            escalations: Counter::default(),
            // 1 ms to ~16 s.
            event_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            messages_sent: Family::default(),
            messages_failed: Family::default(),
            attempts: Family::default(),
            send_seconds: Family::new_with_constructor(send_buckets),
            leases_reaped: Family::default(),
            // 100 µs to ~6.5 s.
            record_lag: Histogram::new(exponential_buckets(0.0001, 2.0, 17)),
            events_requeued: Counter::default(),
            panics: Family::default(),
            task_up: Family::default(),
            sends_in_flight: Gauge::default(),
            policy_reloads: Counter::default(),
            template_reloads: Counter::default(),
            webhook_rejections: Family::default(),
            webhook_requests: Family::default(),
            breaker_open: Family::default(),
            ready: Gauge::default(),
            build_info: Family::default(),
            outbox_messages: Family::default(),
            outbox_due: Family::default(),
            outbox_scheduled: Family::default(),
            outbox_oldest_due: FloatGauge::default(),
            dead_letters: Gauge::default(),
            escalations_open: Gauge::default(),
            budget_spent: Family::default(),
            budget_limit: Family::default(),
            orders_watched: Family::default(),
            overdue_found: Counter::default(),
            overdue_held: Counter::default(),
            overdue_messages: Family::default(),
            registry: Registry::default(),
        };
        metrics
            .build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                commit: BUILD_COMMIT.to_owned(),
            })
            .set(1);
        // The standard process metrics carry no prefix; amends' own sit under `amends_`.
        let mut root = Registry::default();
        process::register(&mut root);
        let registry = root.sub_registry_with_prefix("amends");
        registry.register(
            "events_received",
            "Order events taken from the queue",
            metrics.events_received.clone(),
        );
        registry.register(
            "events_recorded",
            "Order events recorded for the first time",
            metrics.events_recorded.clone(),
        );
        registry.register(
            "events_duplicate",
            "Order events already recorded (redelivered or republished)",
            metrics.events_duplicate.clone(),
        );
        registry.register(
            "events_dead_lettered",
            "Order events that could not be processed and went to the dead-letter queue",
            metrics.events_dead_lettered.clone(),
        );
        registry.register(
            "events_unreachable",
            "Order events whose customer no channel could reach",
            metrics.events_unreachable.clone(),
        );
        registry.register(
            "events_coalesced",
            "Order events the customer had already been told about (one apology per order per window)",
            metrics.events_coalesced.clone(),
        );
        registry.register(
            "events_ignored",
            "Order events that are no incident (order.shipped or order.delivered of an order that had none, or that no follow-up rule answers): acknowledged, not recorded",
            metrics.events_ignored.clone(),
        );
        registry.register(
            "codes_issued",
            "Coupon and gift-certificate codes issued",
            metrics.codes_issued.clone(),
        );
        registry.register(
            "escalations",
            "Incidents escalated to a person",
            metrics.escalations.clone(),
        );
        registry.register(
            "event_processing_seconds",
            "Time from taking an event from the queue to acknowledging it",
            metrics.event_seconds.clone(),
        );
        registry.register(
            "messages_sent",
            "Messages handed to a provider",
            metrics.messages_sent.clone(),
        );
        registry.register(
            "messages_failed",
            "Messages that failed for good",
            metrics.messages_failed.clone(),
        );
        registry.register(
            "send_attempts",
            "Send attempts by outcome and the provider last tried",
            metrics.attempts.clone(),
        );
        registry.register(
            "send_seconds",
            "Time one provider request took, by provider and result (ok or error)",
            metrics.send_seconds.clone(),
        );
        registry.register(
            "leases_reaped",
            "Outbox claims taken back after their dispatcher went silent, by what became of the message",
            metrics.leases_reaped.clone(),
        );
        registry.register(
            "send_record_lag_seconds",
            "Time from a send's outcome to its record in the database",
            metrics.record_lag.clone(),
        );
        registry.register(
            "events_requeued",
            "Order events handed back to the queue after a passing failure",
            metrics.events_requeued.clone(),
        );
        registry.register(
            "panics",
            "Panics caught, by where they happened; each became that work's failure",
            metrics.panics.clone(),
        );
        registry.register(
            "task_up",
            "1 while the worker task runs, 0 once it stopped or died",
            metrics.task_up.clone(),
        );
        registry.register(
            "sends_in_flight",
            "Sends in progress in this replica",
            metrics.sends_in_flight.clone(),
        );
        registry.register(
            "policy_reloads",
            "Changed policy files put in force while running",
            metrics.policy_reloads.clone(),
        );
        registry.register(
            "template_reloads",
            "Sets of published template texts put in force while running",
            metrics.template_reloads.clone(),
        );
        registry.register(
            "webhook_rejections",
            "Provider webhook requests refused with 403, by provider and reason (a stale timestamp is a replay; a bad signature, a misconfiguration or a forgery)",
            metrics.webhook_rejections.clone(),
        );
        registry.register(
            "webhook_requests",
            "Provider webhook requests by provider and result (accepted, rejected: 403, invalid: 400, error: ours, retried by the provider)",
            metrics.webhook_requests.clone(),
        );
        registry.register(
            "breaker_open",
            "1 while the provider's circuit breaker is open in this replica (its messages go to the next provider)",
            metrics.breaker_open.clone(),
        );
        registry.register(
            "ready",
            "1 when the broker and the database answer, as /readyz says",
            metrics.ready.clone(),
        );
        registry.register(
            "build_info",
            "Always 1: the version and commit of this binary",
            metrics.build_info.clone(),
        );
        registry.register(
            "outbox_messages",
            "Messages in the outbox by status and channel (the whole database, refreshed periodically: aggregate replicas with max)",
            metrics.outbox_messages.clone(),
        );
        registry.register(
            "outbox_due_messages",
            "Pending messages due now, by channel (the whole database)",
            metrics.outbox_due.clone(),
        );
        registry.register(
            "outbox_scheduled_messages",
            "Pending messages waiting for a later time such as the end of quiet hours, by channel (the whole database)",
            metrics.outbox_scheduled.clone(),
        );
        registry.register(
            "outbox_oldest_due_seconds",
            "Age of the oldest message due and not yet sent; 0 when none (the whole database)",
            metrics.outbox_oldest_due.clone(),
        );
        registry.register(
            "dead_letter_messages",
            "Messages in the dead-letter queue",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "escalations_open",
            "Escalations waiting for a person (the whole database)",
            metrics.escalations_open.clone(),
        );
        registry.register(
            "budget_spent",
            "Compensation issued today by currency, counted in the policy's budget day (the whole database)",
            metrics.budget_spent.clone(),
        );
        registry.register(
            "budget_limit",
            "The policy's daily compensation budget by currency",
            metrics.budget_limit.clone(),
        );
        registry.register(
            "orders_watched",
            "Orders whose promised delivery date is watched, by state (open ones, database-wide)",
            metrics.orders_watched.clone(),
        );
        registry.register(
            "overdue_found",
            "Orders found overdue in silence (promise passed with no delivery or cancellation)",
            metrics.overdue_found.clone(),
        );
        registry.register(
            "overdue_held",
            "Overdue orders held without a message by the daily cap",
            metrics.overdue_held.clone(),
        );
        registry.register(
            "overdue_messages",
            "Messages queued from silence, by kind (apology, update)",
            metrics.overdue_messages.clone(),
        );
        Arc::new(Metrics {
            registry: root,
            ..metrics
        })
    }

    /// Counts one panic caught in `task`.
    pub fn panic(&self, task: &str) {
        self.panics
            .get_or_create(&TaskLabels {
                task: task.to_owned(),
            })
            .inc();
    }

    /// Sets whether worker `task` is running.
    pub fn task_up(&self, task: &str, up: bool) {
        self.task_up
            .get_or_create(&TaskLabels {
                task: task.to_owned(),
            })
            .set(i64::from(up));
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
