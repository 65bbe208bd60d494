//! The watch on each order's promised delivery date: what events say of it, what the watcher
//! finds overdue, the day's cap of automatic messages, and the lease that keeps the watcher on
//! one replica at a time.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Store, StoreError};

/// The states of a watch still open, each counted (at 0 when none) by the gauges and the console.
pub const OPEN_STATES: [&str; 5] = ["watching", "overdue", "updated", "held", "unknown"];

/// What an event says of its order's promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseNews {
    /// The promise is now this day, overdue at this instant (a shipment's ETA, a delay's new
    /// date): it replaces the one before, unless the order is closed.
    Promise(NaiveDate, DateTime<Utc>),
    /// The promise made when the order was placed: taken only when no day is known yet.
    Placed(Option<(NaiveDate, DateTime<Utc>)>),
    /// No date is known any more (a delay with no new date).
    Unknown,
    /// Delivered: the watch ends.
    Delivered,
    /// Cancelled: the watch ends.
    Cancelled,
    /// Nothing about the date; the order's and customer's data are refreshed.
    Touch,
}

impl PromiseNews {
    fn parts(self) -> (&'static str, Option<NaiveDate>, Option<DateTime<Utc>>) {
        match self {
            PromiseNews::Promise(day, at) => ("promise", Some(day), Some(at)),
            PromiseNews::Placed(promise) => ("fill", promise.map(|p| p.0), promise.map(|p| p.1)),
            PromiseNews::Unknown => ("unknown", None, None),
            PromiseNews::Delivered => ("delivered", None, None),
            PromiseNews::Cancelled => ("cancelled", None, None),
            PromiseNews::Touch => ("touch", None, None),
        }
    }
}

/// One event's news for its order's watch.
#[derive(Debug, Clone)]
pub struct WatchNews<'a> {
    /// The order.
    pub order_id: &'a str,
    /// Its customer.
    pub customer_id: &'a str,
    /// The CloudEvent as received: its `data.order` and `data.customer` are kept.
    pub payload: &'a str,
    /// What it says of the promise.
    pub news: PromiseNews,
    /// The carrier, when the event names one.
    pub carrier: Option<&'a str>,
    /// The carrier's tracking page, when the event gives one.
    pub tracking_url: Option<&'a str>,
}

/// An order whose promise passed, or whose promised update is due.
#[derive(Debug, Clone)]
pub struct DueWatch {
    /// The order.
    pub order_id: String,
    /// Its customer.
    pub customer_id: String,
    /// `data.order` of the latest event.
    pub order: serde_json::Value,
    /// `data.customer` of the latest event.
    pub customer: serde_json::Value,
    /// The promised day that passed.
    pub deliver_by: NaiveDate,
    /// When it counted as overdue.
    pub overdue_at: DateTime<Utc>,
    /// The carrier, if known.
    pub carrier: Option<String>,
    /// The tracking page, if known.
    pub tracking_url: Option<String>,
    /// `watching` (the apology is due) or `overdue` (the update is due).
    pub state: String,
    /// When it was first found overdue.
    pub detected_at: Option<DateTime<Utc>>,
}

/// What the watcher did for a due watch.
#[derive(Debug, Clone)]
pub struct WatchMark<'a> {
    /// The watch as it was read: only marked if it is still so.
    pub due: &'a DueWatch,
    /// The state it moves to.
    pub state: &'a str,
    /// When it was found overdue.
    pub detected_at: DateTime<Utc>,
    /// The update promised, if one is.
    pub update_due_at: Option<DateTime<Utc>>,
    /// The incident raised (`source/id`).
    pub event: &'a str,
    /// `order.overdue_detected`'s data, when it is to be published.
    pub announce: Option<serde_json::Value>,
    /// The outcome event's source (this instance).
    pub source: &'a str,
}

/// A watched order, for the console.
#[derive(Debug, Clone)]
pub struct WatchRecord {
    /// The order.
    pub order_id: String,
    /// The number the customer knows, if given.
    pub order_number: Option<String>,
    /// Its customer.
    pub customer_id: String,
    /// `watching`, `overdue`, `updated`, `held`, `unknown`, `delivered` or `cancelled`.
    pub state: String,
    /// The promised day.
    pub deliver_by: Option<NaiveDate>,
    /// When it counts (or counted) as overdue.
    pub overdue_at: Option<DateTime<Utc>>,
    /// When amends found it overdue.
    pub detected_at: Option<DateTime<Utc>>,
    /// When the promised update is due.
    pub update_due_at: Option<DateTime<Utc>>,
    /// The carrier, if known.
    pub carrier: Option<String>,
    /// The tracking page, if known.
    pub tracking_url: Option<String>,
    /// The overdue incident raised last (`source/id`).
    pub overdue_event: Option<String>,
    /// Its id in the console, when recorded.
    pub incident_id: Option<Uuid>,
    /// The last change.
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// Applies one event's news to its order's watch.
    pub async fn watch_order(&self, news: &WatchNews<'_>) -> Result<(), StoreError> {
        let (how, day, at) = news.news.parts();
        sqlx::query_file!(
            "src/store/queries/watch_order.sql",
            news.order_id,
            news.customer_id,
            news.payload,
            how,
            day,
            at,
            news.carrier,
            news.tracking_url,
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes lease `name` for `holder` for `ttl`, or renews it; false while another holds it.
    pub async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query_file!(
            "src/store/queries/take_lease.sql",
            name,
            holder,
            ttl.as_secs_f64()
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Gives lease `name` up, if `holder` has it.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query_file!("src/store/queries/release_lease.sql", name, holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Orders overdue at `now`, then those whose promised update is due; at most `limit` of each.
    pub async fn due_watches(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueWatch>, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/due_watches.sql", now, limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(DueWatch {
                    order_id: r.order_id?,
                    customer_id: r.customer_id?,
                    order: r.order_data?,
                    customer: r.customer_data?,
                    deliver_by: r.deliver_by,
                    overdue_at: r.overdue_at,
                    carrier: r.carrier,
                    tracking_url: r.tracking_url,
                    state: r.state?,
                    detected_at: r.detected_at,
                })
            })
            .collect())
    }

    /// Orders whose promise passed by `now` and that are not raised yet.
    pub async fn overdue_waiting(&self, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let row = sqlx::query_file!("src/store/queries/overdue_waiting.sql", now)
            .fetch_one(self.pool())
            .await?;
        Ok(row.orders)
    }

    /// Takes one of day `day`'s `cap` automatic overdue messages; false once they are all taken.
    pub async fn take_overdue_slot(&self, day: NaiveDate, cap: u32) -> Result<bool, StoreError> {
        let cap = i32::try_from(cap).unwrap_or(i32::MAX);
        let row = sqlx::query_file!("src/store/queries/overdue_slot.sql", day, cap)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }

    /// Counts one more order held on day `day`; how many are held that day, this one included.
    pub async fn hold_overdue(&self, day: NaiveDate) -> Result<i32, StoreError> {
        let row = sqlx::query_file!("src/store/queries/overdue_hold.sql", day)
            .fetch_one(self.pool())
            .await?;
        Ok(row.held)
    }

    /// Records what the watcher did, if the watch is still as it was read; and queues
    /// `order.overdue_detected` when asked. False when the watch changed meanwhile.
    pub async fn mark_watch(
        &self,
        mark: &WatchMark<'_>,
        traceparent: Option<&str>,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query_file!(
            "src/store/queries/mark_watch.sql",
            mark.due.order_id,
            mark.due.state,
            mark.due.deliver_by,
            mark.state,
            mark.detected_at,
            mark.update_due_at,
            mark.event,
            mark.announce,
            mark.source,
            traceparent,
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.marked > 0)
    }

    /// Open watches by state.
    pub async fn watch_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/watch_counts.sql")
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(|r| (r.state, r.orders)).collect())
    }

    /// Watched orders in `state` (the open ones when `None`), most urgent first.
    pub async fn watches(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<WatchRecord>, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/console_watches.sql", state, limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| WatchRecord {
                order_id: r.order_id,
                order_number: r.order_number,
                customer_id: r.customer_id,
                state: r.state,
                deliver_by: r.deliver_by,
                overdue_at: r.overdue_at,
                detected_at: r.detected_at,
                update_due_at: r.update_due_at,
                carrier: r.carrier,
                tracking_url: r.tracking_url,
                overdue_event: r.overdue_event,
                incident_id: r.incident_id,
                updated_at: r.updated_at,
            })
            .collect())
    }
}
