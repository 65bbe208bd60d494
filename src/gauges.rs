//! The database-wide gauges (CONTRACT §5): the outbox's backlog by status and channel, the age of
//! the oldest message due and not yet sent, messages waiting for later, the dead-letter queue's
//! length, open escalations, and the day's budget against its limit.
//!
//! They describe the whole system, not this replica, so they are refreshed by a periodic task
//! (`metrics_refresh_interval`) rather than per scrape: a scrape reads memory, and the cost is a
//! few aggregate queries per interval per replica, whoever scrapes how often. The backlog (the
//! messages not yet settled) is read through a partial index every refresh; the settled ones,
//! most of the table, are counted every [`SETTLED_EVERY`] refreshes. Every replica reports the
//! same values; dashboards take the max across replicas, never the sum.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::prelude::ToPrimitive;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::broker;
use crate::clock::Clock;
use crate::reload::PolicyCell;
use crate::store::{OPEN_STATES, OutboxCount, Store};
use crate::telemetry::{ChannelOnlyLabels, CurrencyLabels, Metrics, OutboxLabels, WatchLabels};

/// Every status an outbox message can have: each is reported, at 0 when none is in it, so a
/// rule or a graph over one never sees the series vanish.
const STATUSES: [&str; 7] = [
    "pending",
    "sending",
    "sent",
    "failed",
    "unknown",
    "standby",
    "cancelled",
];

/// Both channels.
const CHANNELS: [&str; 2] = ["email", "sms"];

/// The settled messages are counted on every this many refreshes (the first included): every
/// 5 minutes at the default interval.
pub const SETTLED_EVERY: u64 = 20;

/// What the gauge task reads from.
pub struct Gauges {
    /// The database.
    pub store: Store,
    /// The broker, for the dead-letter queue's length.
    pub amqp_url: SecretString,
    /// The dead-letter queue.
    pub dead_letter_queue: String,
    /// The policy in force, for the budget's limits and its day.
    pub policy: PolicyCell,
    /// Where the gauges go.
    pub metrics: Arc<Metrics>,
    /// How often to refresh them.
    pub interval: Duration,
    /// The daemon's "now".
    pub clock: Clock,
    /// Names this replica's broker connection.
    pub instance: String,
}

impl Gauges {
    /// Refreshes the gauges at once, then every interval, until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        let mut settled = Vec::new();
        for round in 0_u64.. {
            if round % SETTLED_EVERY == 0 {
                match self.store.outbox_settled().await {
                    Ok(counts) => settled = counts,
                    Err(e) => tracing::warn!(error = %e, "counting settled messages failed"),
                }
            }
            self.refresh(&settled).await;
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One refresh, with the last count of `settled` messages; a source that fails keeps its
    /// last values and is logged.
    pub async fn refresh(&self, settled: &[OutboxCount]) {
        let now = self.clock.now();
        match self.store.outbox_backlog(now).await {
            Ok(mut counts) => {
                counts.extend_from_slice(settled);
                self.set_outbox(&counts, now);
            }
            Err(e) => tracing::warn!(error = %e, "reading the outbox backlog failed"),
        }
        match self.store.open_escalations().await {
            Ok(open) => {
                self.metrics.escalations_open.set(open);
            }
            Err(e) => tracing::warn!(error = %e, "counting open escalations failed"),
        }
        self.refresh_budget(now).await;
        match self.store.watch_counts().await {
            Ok(counts) => {
                for state in OPEN_STATES {
                    let orders = counts
                        .iter()
                        .find(|(s, _)| s == state)
                        .map_or(0, |(_, n)| *n);
                    self.metrics
                        .orders_watched
                        .get_or_create(&WatchLabels {
                            state: (*state).to_owned(),
                        })
                        .set(orders);
                }
            }
            Err(e) => tracing::warn!(error = %e, "counting watched orders failed"),
        }
        match self.dead_letters().await {
            Ok(depth) => {
                self.metrics.dead_letters.set(i64::from(depth));
            }
            Err(e) => tracing::warn!(error = %e, "reading the dead-letter queue's length failed"),
        }
    }

    fn set_outbox(&self, counts: &[OutboxCount], now: DateTime<Utc>) {
        let backlog = Backlog::of(counts, now);
        let metrics = &self.metrics;
        for channel in CHANNELS {
            for status in STATUSES {
                metrics
                    .outbox_messages
                    .get_or_create(&OutboxLabels {
                        status: status.to_owned(),
                        channel: channel.to_owned(),
                    })
                    .set(backlog.messages(channel, status));
            }
            let labels = ChannelOnlyLabels {
                channel: channel.to_owned(),
            };
            metrics
                .outbox_due
                .get_or_create(&labels)
                .set(backlog.due(channel));
            metrics
                .outbox_scheduled
                .get_or_create(&labels)
                .set(backlog.scheduled(channel));
        }
        metrics.outbox_oldest_due.set(backlog.oldest_due_seconds);
    }

    async fn refresh_budget(&self, now: DateTime<Utc>) {
        let policy = self.policy.load();
        let budget = &policy.settings().budget;
        let day = budget.day(now);
        // The budget day's first instant in its time zone (on a day that starts in a
        // daylight-saving gap, the first that exists).
        let start = day
            .and_hms_opt(0, 0, 0)
            .and_then(|midnight| budget.timezone.from_local_datetime(&midnight).earliest())
            .map_or(now, |start| start.with_timezone(&Utc));
        let given = match self.store.given_since(start).await {
            Ok(given) => given,
            Err(e) => {
                tracing::warn!(error = %e, "reading today's compensation failed");
                return;
            }
        };
        for (currency, limit) in &budget.daily {
            let code = currency.code().to_owned();
            let spent = given
                .iter()
                .find(|(c, _)| *c == code)
                .map_or(0.0, |(_, g)| *g);
            let labels = CurrencyLabels { currency: code };
            self.metrics
                .budget_limit
                .get_or_create(&labels)
                .set(limit.to_f64().unwrap_or(0.0));
            self.metrics.budget_spent.get_or_create(&labels).set(spent);
        }
    }

    async fn dead_letters(&self) -> Result<u32, broker::BrokerError> {
        let connection =
            broker::connect(&self.amqp_url, &format!("{}-gauges", self.instance)).await?;
        let depth = broker::queue_depth(&connection, &self.dead_letter_queue).await;
        let _ = broker::timed(
            "closing the connection",
            connection.close(200, "done".into()),
        )
        .await;
        depth
    }
}

/// The outbox's counts, summed the ways the gauges need (pure).
#[derive(Debug, Default, PartialEq)]
struct Backlog<'a> {
    counts: &'a [OutboxCount],
    oldest_due_seconds: f64,
}

impl<'a> Backlog<'a> {
    fn of(counts: &'a [OutboxCount], now: DateTime<Utc>) -> Backlog<'a> {
        let oldest = counts.iter().filter_map(|c| c.oldest_due).min();
        let oldest_due_seconds = oldest.map_or(0.0, |due| {
            (now - due).num_milliseconds().max(0) as f64 / 1000.0
        });
        Backlog {
            counts,
            oldest_due_seconds,
        }
    }

    fn sum(&self, channel: &str, pick: impl Fn(&OutboxCount) -> i64) -> i64 {
        self.counts
            .iter()
            .filter(|c| c.channel == channel)
            .map(pick)
            .sum()
    }

    fn messages(&self, channel: &str, status: &str) -> i64 {
        self.sum(channel, |c| if c.status == status { c.messages } else { 0 })
    }

    fn due(&self, channel: &str) -> i64 {
        self.sum(channel, |c| c.due)
    }

    fn scheduled(&self, channel: &str) -> i64 {
        self.sum(channel, |c| c.scheduled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(
        channel: &str,
        status: &str,
        messages: i64,
        due: i64,
        oldest: Option<i64>,
    ) -> OutboxCount {
        let at = |secs| Utc.timestamp_opt(secs, 0).single();
        OutboxCount {
            channel: channel.to_owned(),
            status: status.to_owned(),
            messages,
            due,
            scheduled: messages - due,
            oldest_due: oldest.and_then(at),
        }
    }

    #[test]
    fn the_oldest_due_message_of_any_channel_gives_the_age() {
        let now = Utc.timestamp_opt(1_000, 0).single().expect("a time");
        let counts = [
            count("email", "pending", 5, 3, Some(900)),
            count("sms", "sending", 2, 0, Some(400)),
            count("sms", "sent", 10, 0, None),
        ];
        let backlog = Backlog::of(&counts, now);
        assert_eq!(backlog.oldest_due_seconds, 600.0);
        assert_eq!(backlog.messages("sms", "sent"), 10);
        assert_eq!(backlog.messages("email", "sent"), 0);
        assert_eq!(backlog.due("email"), 3);
        assert_eq!(backlog.scheduled("email"), 2);
    }

    #[test]
    fn nothing_due_is_age_zero() {
        let now = Utc.timestamp_opt(1_000, 0).single().expect("a time");
        let counts = [count("email", "sent", 4, 0, None)];
        assert_eq!(Backlog::of(&counts, now).oldest_due_seconds, 0.0);
        assert_eq!(Backlog::of(&[], now).oldest_due_seconds, 0.0);
    }
}
