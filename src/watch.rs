//! The watch for silence (CONTRACT §1 `order.placed`, §3 `AMENDS_OVERDUE_*`): each order's
//! promised delivery date, kept from the events about it, and the watcher that raises the delay
//! itself when the promise passes with no word of the order.
//!
//! - [`news_of`]: what an event says of its order's promise (pure);
//! - [`Watcher`]: every `overdue_check_interval`, on one replica at a time (a lease in the
//!   database), finds the orders whose promise passed by the grace period and records an
//!   `order.overdue` incident for each through the same [`Recorder`] as the consumer: the policy
//!   decides, the templates render, the outbox sends. The incident's (source, id) comes from the
//!   order and the promise, so no replica, restart or lost lease can raise it twice. Its apology
//!   promises an update; when nothing about the order arrives by then, the watcher raises that
//!   update. Beyond the day's cap of automatic messages, an overdue order is recorded and held,
//!   and the first one held that day carries one summary for a person.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::deliver::Wakeups;
use crate::incident::{self, Incident, IncidentDetails, StockoutAction};
use crate::policy::RuleKind;
use crate::record::{Recorded, Recorder};
use crate::reload::PolicyCell;
use crate::store::{DueWatch, PromiseNews, Received, Store, StoreError, WatchMark, WatchNews};
use crate::telemetry::{KindLabels, Metrics};
use crate::timing::Grace;

/// The `source` of the incidents amends raises itself: the same on every replica, so that the
/// (source, id) of an overdue order is one key whichever replica finds it.
pub const OVERDUE_SOURCE: &str = "urn:amends:watch";

/// The lease the watcher runs under.
const LEASE: &str = "overdue-watcher";

/// Due watches handled per round trip; the watcher goes on until none is left.
const BATCH: i64 = 500;

/// What an incident says of its order's promise.
pub fn news_of(incident: &Incident, grace: &Grace) -> PromiseNews {
    let tz = &incident.customer.timezone;
    let promise = |eta: &incident::Eta| {
        let day = eta.date_in(tz);
        (day, grace.overdue_at(day, tz.tz()))
    };
    match &incident.details {
        IncidentDetails::Placed(p) => PromiseNews::Placed(p.deliver_by.as_ref().map(promise)),
        IncidentDetails::Shipped(s) => s.eta.as_ref().map_or(PromiseNews::Touch, |eta| {
            let (day, at) = promise(eta);
            PromiseNews::Promise(day, at)
        }),
        IncidentDetails::Delayed(d) => d.new_eta.as_ref().map_or(PromiseNews::Unknown, |eta| {
            let (day, at) = promise(eta);
            PromiseNews::Promise(day, at)
        }),
        IncidentDetails::Stockout(s) => match (&s.action, &s.backorder_eta) {
            (StockoutAction::Backorder, Some(eta)) => {
                let (day, at) = promise(eta);
                PromiseNews::Promise(day, at)
            }
            (StockoutAction::Backorder, None) => PromiseNews::Unknown,
            _ => PromiseNews::Touch,
        },
        IncidentDetails::Delivered(_) => PromiseNews::Delivered,
        IncidentDetails::Cancelled(_) => PromiseNews::Cancelled,
        IncidentDetails::Overdue(_) => PromiseNews::Touch,
    }
}

/// The store's news of `incident`, as received (`payload`), for its order's watch.
pub fn watch_news<'a>(incident: &'a Incident, payload: &'a str, grace: &Grace) -> WatchNews<'a> {
    let (carrier, tracking_url) = match &incident.details {
        IncidentDetails::Shipped(s) | IncidentDetails::Delivered(s) => {
            (s.carrier.as_deref(), s.tracking_url.as_deref())
        }
        IncidentDetails::Delayed(d) => (d.carrier.as_deref(), d.tracking_url.as_deref()),
        _ => (None, None),
    };
    WatchNews {
        order_id: &incident.order.id,
        customer_id: &incident.customer.id,
        payload,
        news: news_of(incident, grace),
        carrier,
        tracking_url,
    }
}

/// What a check found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Overdue orders recorded with their messages.
    pub apologised: usize,
    /// Promised updates recorded.
    pub updated: usize,
    /// Overdue orders held by the daily cap.
    pub held: usize,
    /// Due watches another event changed meanwhile, or that failed (tried again next check).
    pub skipped: usize,
}

/// The watcher: looks for orders overdue in silence, on one replica at a time.
pub struct Watcher {
    config: Arc<Config>,
    store: Store,
    recorder: Recorder,
    policy: PolicyCell,
    metrics: Arc<Metrics>,
    wakeups: Wakeups,
    clock: Clock,
}

impl Watcher {
    /// A watcher recording through its own recorder over these parts, in real time.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        policy: PolicyCell,
        templates: crate::reload::TemplatesCell,
        metrics: Arc<Metrics>,
        wakeups: Wakeups,
    ) -> Watcher {
        Watcher {
            recorder: Recorder::new(config.clone(), store.clone(), policy.clone(), templates),
            config,
            store,
            policy,
            metrics,
            wakeups,
            clock: Clock::system(),
        }
    }

    /// The same watcher, reading the time `clock` gives.
    pub fn with_clock(mut self, clock: Clock) -> Watcher {
        self.recorder = self.recorder.with_clock(clock.clone());
        self.clock = clock;
        self
    }

    /// Checks at once, then every interval, until `token` is cancelled; gives the lease up then.
    pub async fn run(self, token: CancellationToken) {
        let interval = self.config.overdue.check_interval;
        loop {
            match self.check(&token).await {
                Ok(Some(done)) if done != Checked::default() => {
                    tracing::info!(
                        apologised = done.apologised,
                        updated = done.updated,
                        held = done.held,
                        skipped = done.skipped,
                        "overdue orders checked"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "checking for overdue orders failed; trying again later")
                }
            }
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
        if let Err(e) = self
            .store
            .release_lease(LEASE, &self.config.instance_name)
            .await
        {
            tracing::debug!(error = %e, "could not give the watcher's lease up; it runs out");
        }
        self.recorder.close().await;
    }

    /// How long the lease lasts: past the next check, so the holder keeps it while it lives,
    /// and short enough that another replica takes over soon after it dies.
    fn lease_ttl(&self) -> Duration {
        (self.config.overdue.check_interval * 2).max(Duration::from_secs(30))
    }

    /// One check: `None` when another replica holds the lease.
    pub async fn check(&self, token: &CancellationToken) -> Result<Option<Checked>, StoreError> {
        let me = &self.config.instance_name;
        if !self.store.take_lease(LEASE, me, self.lease_ttl()).await? {
            tracing::debug!("another replica watches for overdue orders");
            return Ok(None);
        }
        let mut done = Checked::default();
        while !token.is_cancelled() {
            let now = self.clock.now();
            let due = self.store.due_watches(now, BATCH).await?;
            if due.is_empty() {
                break;
            }
            let before = done.clone();
            for (at, watch) in due.iter().enumerate() {
                if token.is_cancelled() {
                    break;
                }
                // Renewed as it goes, so a long backlog does not outlast the lease.
                if at % 100 == 99 && !self.store.take_lease(LEASE, me, self.lease_ttl()).await? {
                    tracing::warn!("the watcher's lease was taken over; stopping this check");
                    return Ok(Some(done));
                }
                match self.handle(watch, now).await {
                    Ok(Some(Handled::Apologised)) => done.apologised += 1,
                    Ok(Some(Handled::Updated)) => done.updated += 1,
                    Ok(Some(Handled::Held)) => done.held += 1,
                    Ok(None) => done.skipped += 1,
                    Err(e) => {
                        done.skipped += 1;
                        tracing::warn!(order = %watch.order_id, error = %e, "could not raise an overdue order; trying again next check");
                    }
                }
            }
            // Nothing moved (every one skipped): leave the rest for the next check.
            let moved = done.apologised + done.updated + done.held
                > before.apologised + before.updated + before.held;
            if !moved || due.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        Ok(Some(done))
    }

    /// Raises what `watch` is due for: the apology (or, over the cap, a held record) or the
    /// promised update. `None` when the watch changed meanwhile.
    async fn handle(
        &self,
        watch: &DueWatch,
        now: DateTime<Utc>,
    ) -> Result<Option<Handled>, WatchError> {
        let update = watch.state == "overdue";
        let policy = self.policy.load_full();
        let day = policy.settings().budget.day(now);
        let cap = self.config.overdue.daily_cap;
        let (held, summary) = if update || self.store.take_overdue_slot(day, cap).await? {
            (None, None)
        } else {
            let held_today = self.store.hold_overdue(day).await?;
            let reason = format!(
                "held: today's cap of {cap} automatic overdue messages is reached (AMENDS_OVERDUE_DAILY_CAP)"
            );
            let summary = if held_today == 1 {
                // This one included: it is not raised yet either.
                let left = self.store.overdue_waiting(now).await?;
                Some(format!(
                    "{left} more orders were found overdue today after the daily cap of {cap} automatic messages was reached; they are held without a message. So many at once usually means the order or carrier feed stopped, not that every parcel is late: check the feeds, then decide what to tell these customers (the console's Watch page lists them, state held)."
                ))
            } else {
                None
            };
            (Some(reason), summary)
        };
        let update_due = (!update && held.is_none()).then(|| {
            chrono::Duration::from_std(self.config.overdue.update_after)
                .ok()
                .and_then(|after| now.checked_add_signed(after))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        });
        let key_id = format!(
            "{}@{}{}",
            watch.order_id,
            watch.deliver_by.format("%Y-%m-%d"),
            if update { "/update" } else { "" }
        );
        let overdue = OverdueData {
            deliver_by: watch.deliver_by.format("%Y-%m-%d").to_string(),
            overdue_since: watch.overdue_at,
            update,
            next_update_by: update_due,
            carrier: watch.carrier.as_deref(),
            tracking_url: watch.tracking_url.as_deref(),
            held: held.as_deref(),
            summary: summary.as_deref(),
        };
        let event = self.event(watch, &key_id, now, &overdue);
        let payload = event.to_string();
        let incident = incident::parse(
            payload.as_bytes(),
            Some("application/cloudevents+json"),
            &self.config.default_locale,
        )?;
        let recorded = self
            .recorder
            .record(
                &incident,
                Received {
                    payload: &payload,
                    traceparent: None,
                },
            )
            .await?;
        let (queued, escalated) = match &recorded {
            Recorded::New {
                queued, escalated, ..
            } => (*queued, *escalated),
            Recorded::Duplicate | Recorded::Ignored { .. } => (0, false),
        };
        let state = match (update, held.is_some()) {
            (true, _) => "updated",
            (false, true) => "held",
            (false, false) => "overdue",
        };
        let announce = (!update).then(|| {
            json!({
                "incident": { "source": OVERDUE_SOURCE, "id": key_id, "type": "order.overdue" },
                "order_id": watch.order_id,
                "order_number": watch.order.get("number"),
                "customer_id": watch.customer_id,
                "promise": { "deliver_by": watch.deliver_by.format("%Y-%m-%d").to_string() },
                "overdue_since": watch.overdue_at,
                "detected_at": now,
                "action": if held.is_some() { "held" } else { "notified" },
                "reason": held,
                "next_update_by": update_due,
                "escalated": escalated,
            })
        });
        let marked = self
            .store
            .mark_watch(
                &WatchMark {
                    due: watch,
                    state,
                    detected_at: now,
                    update_due_at: update_due,
                    event: &format!("{OVERDUE_SOURCE}/{key_id}"),
                    announce,
                    source: &self.config.instance_name,
                },
                None,
            )
            .await?;
        if !marked {
            tracing::info!(order = %watch.order_id, "the order's watch changed while it was raised");
            return Ok(None);
        }
        if queued > 0 {
            self.wakeups.dispatcher.notify_one();
        }
        self.wakeups.announcer.notify_one();
        let kind = if update {
            RuleKind::Update
        } else {
            RuleKind::Apology
        };
        if queued > 0 {
            self.metrics
                .overdue_messages
                .get_or_create(&KindLabels {
                    kind: kind.as_str().to_owned(),
                })
                .inc_by(u64::try_from(queued).unwrap_or(0));
        }
        if update {
            return Ok(Some(Handled::Updated));
        }
        self.metrics.overdue_found.inc();
        if escalated {
            self.metrics.escalations.inc();
        }
        if held.is_some() {
            self.metrics.overdue_held.inc();
            return Ok(Some(Handled::Held));
        }
        Ok(Some(Handled::Apologised))
    }

    /// The `order.overdue` CloudEvent for `watch`, as amends raises it, with `overdue` as its
    /// `data.overdue`.
    fn event(
        &self,
        watch: &DueWatch,
        id: &str,
        now: DateTime<Utc>,
        overdue: &OverdueData<'_>,
    ) -> serde_json::Value {
        json!({
            "specversion": "1.0",
            "id": id,
            "source": OVERDUE_SOURCE,
            "type": "order.overdue",
            "time": now,
            "subject": watch.order_id,
            "datacontenttype": "application/json",
            "data": {
                "order": watch.order,
                "customer": watch.customer,
                "overdue": overdue,
            },
        })
    }
}

/// `data.overdue` of an overdue order as amends raises it (what is unknown is left out).
#[derive(serde::Serialize)]
struct OverdueData<'a> {
    deliver_by: String,
    overdue_since: DateTime<Utc>,
    update: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_update_by: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    carrier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    held: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
}

/// What became of one due watch.
enum Handled {
    Apologised,
    Updated,
    Held,
}

/// Why one due watch could not be raised.
#[derive(Debug, thiserror::Error)]
enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the order's stored data is no longer valid: {0}")]
    Invalid(#[from] crate::incident::IncidentError),
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Locale;
    use crate::timing::DayCount;
    use chrono::NaiveDate;
    use serde_json::Value;

    fn incident(event_type: &str, edit: impl FnOnce(&mut Value)) -> Incident {
        let text = incident::sample(event_type).expect("sample");
        let mut event: Value = serde_json::from_str(text).expect("JSON");
        edit(&mut event);
        let body = event.to_string();
        incident::parse(body.as_bytes(), None, &Locale::parse("en").expect("locale"))
            .expect("valid")
    }

    fn grace() -> Grace {
        Grace {
            period: Duration::from_secs(24 * 3600),
            days: DayCount::Calendar,
        }
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    #[test]
    fn each_event_says_what_it_knows_of_the_promise() {
        // The sample customer lives in Madrid: 24 November ends there at 23:00 UTC, and a day of
        // grace follows.
        let placed = incident("order.placed", |_| {});
        assert_eq!(
            news_of(&placed, &grace()),
            PromiseNews::Placed(Some((date("2026-11-24"), at("2026-11-25T23:00:00Z"))))
        );
        let no_promise = incident("order.placed", |e| {
            e["data"].as_object_mut().expect("data").remove("promise");
        });
        assert_eq!(news_of(&no_promise, &grace()), PromiseNews::Placed(None));

        let shipped = incident("order.shipped", |_| {});
        assert_eq!(
            news_of(&shipped, &grace()),
            PromiseNews::Promise(date("2026-11-29"), at("2026-11-30T23:00:00Z"))
        );
        let shipped_without_eta = incident("order.shipped", |e| {
            e["data"]["shipment"]
                .as_object_mut()
                .expect("shipment")
                .remove("eta");
        });
        assert_eq!(news_of(&shipped_without_eta, &grace()), PromiseNews::Touch);

        let delayed = incident("order.delayed", |_| {});
        assert!(matches!(
            news_of(&delayed, &grace()),
            PromiseNews::Promise(day, _) if day == date("2026-11-29")
        ));
        let unknown = incident("order.delayed", |e| {
            e["data"]["delay"]
                .as_object_mut()
                .expect("delay")
                .remove("new_eta");
        });
        assert_eq!(news_of(&unknown, &grace()), PromiseNews::Unknown);

        let delivered = incident("order.delivered", |_| {});
        assert_eq!(news_of(&delivered, &grace()), PromiseNews::Delivered);
        let cancelled = incident("order.cancelled", |_| {});
        assert_eq!(news_of(&cancelled, &grace()), PromiseNews::Cancelled);

        let backorder = incident("order.stockout", |e| {
            e["data"]["stockout"]["action"] = "backorder".into();
            e["data"]["stockout"]["backorder_eta"] = "2026-12-10".into();
        });
        assert!(matches!(
            news_of(&backorder, &grace()),
            PromiseNews::Promise(day, _) if day == date("2026-12-10")
        ));
        let partial = incident("order.stockout", |e| {
            e["data"]["stockout"]["action"] = "partial_ship".into();
        });
        assert_eq!(news_of(&partial, &grace()), PromiseNews::Touch);
    }

    #[test]
    fn the_watch_news_names_the_carrier_of_a_shipment_or_a_delay() {
        let shipped = incident("order.shipped", |_| {});
        let news = watch_news(&shipped, "{}", &grace());
        assert_eq!(news.order_id, "A-10042");
        assert_eq!(news.customer_id, "C-77");
        assert_eq!(news.carrier, Some("DHL"));
        assert!(news.tracking_url.is_some());
        let placed = incident("order.placed", |_| {});
        assert_eq!(watch_news(&placed, "{}", &grace()).carrier, None);
    }
}
