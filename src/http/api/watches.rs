//! The watch in the admin API: orders whose promised delivery date amends watches, how many are
//! in each open state, and which ones, the most urgent first (held ones need a person's
//! decision). When a promise passes in silence, amends apologises first, a person checks, and
//! an update follows; this is where a person sees where each order stands.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, ErrorBody};
use crate::store::WatchRecord;

/// The states a watch can be in, as the filter takes them: the open ones, then the closed ones.
pub const STATES: [&str; 7] = [
    "watching",
    "overdue",
    "updated",
    "held",
    "unknown",
    "delivered",
    "cancelled",
];

/// Which watched orders to list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Filter {
    /// `open` (default: watching, overdue, updated, held and unknown), or one state:
    /// `watching`, `overdue`, `updated`, `held`, `unknown`, `delivered` or `cancelled`.
    pub state: Option<String>,
    /// At most this many (default 100, at most 500).
    pub limit: Option<i64>,
}

/// How many orders are in each open state.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct WatchCounts {
    /// The promise stands.
    pub watching: i64,
    /// Found overdue and apologised for; an update is promised.
    pub overdue: i64,
    /// The promised update went out.
    pub updated: i64,
    /// Found overdue over the day's cap: nothing was sent, a person decides.
    pub held: i64,
    /// No delivery date is known.
    pub unknown: i64,
}

impl WatchCounts {
    fn of(rows: Vec<(String, i64)>) -> WatchCounts {
        let mut counts = WatchCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "watching" => counts.watching += n,
                "overdue" => counts.overdue += n,
                "updated" => counts.updated += n,
                "held" => counts.held += n,
                "unknown" => counts.unknown += n,
                _ => {}
            }
        }
        counts
    }
}

/// A watched order.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatchView {
    /// The order.
    pub order_id: String,
    /// The number the customer knows, if given.
    pub order_number: Option<String>,
    /// Its customer.
    pub customer_id: String,
    /// `watching`, `overdue`, `updated`, `held`, `unknown`, `delivered` or `cancelled`.
    pub state: String,
    /// The promised delivery day.
    pub deliver_by: Option<NaiveDate>,
    /// When the order counts (or counted) as overdue: the promised day and the grace period.
    pub overdue_at: Option<DateTime<Utc>>,
    /// When amends found it overdue.
    pub detected_at: Option<DateTime<Utc>>,
    /// When the update promised to the customer is due.
    pub update_due_at: Option<DateTime<Utc>>,
    /// The carrier, if known.
    pub carrier: Option<String>,
    /// The carrier's tracking page (only an `http`/`https` address), if known.
    pub tracking_url: Option<String>,
    /// The overdue incident amends raised last, as `source/id`.
    pub overdue_event: Option<String>,
    /// That incident in the console (`/api/incidents/{id}`), once recorded.
    pub incident_id: Option<Uuid>,
    /// The last change to the watch.
    pub updated_at: DateTime<Utc>,
}

impl From<WatchRecord> for WatchView {
    fn from(w: WatchRecord) -> WatchView {
        WatchView {
            order_id: w.order_id,
            order_number: w.order_number,
            customer_id: w.customer_id,
            state: w.state,
            deliver_by: w.deliver_by,
            overdue_at: w.overdue_at,
            detected_at: w.detected_at,
            update_due_at: w.update_due_at,
            carrier: w.carrier,
            tracking_url: w.tracking_url.filter(|u| web_address(u)),
            overdue_event: w.overdue_event,
            incident_id: w.incident_id,
            updated_at: w.updated_at,
        }
    }
}

/// Whether `url` is a web address a page may link to (no `javascript:` or `data:`).
fn web_address(url: &str) -> bool {
    let url = url.trim_start().to_ascii_lowercase();
    url.starts_with("https://") || url.starts_with("http://")
}

/// The watch: counts by open state, and the orders asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatchList {
    /// Open watches by state (every open state, zero included).
    pub counts: WatchCounts,
    /// The orders, the most urgent first: held, overdue, updated, watching, unknown.
    pub watches: Vec<WatchView>,
}

/// The state asked for: `None` for the open ones.
fn state_of(asked: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    match asked.map(str::trim).unwrap_or("open") {
        "open" => Ok(None),
        asked => STATES
            .iter()
            .find(|s| **s == asked)
            .map(|s| Some(*s))
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "state {asked:?}: expected open, {}",
                    STATES.join(", ")
                ))
            }),
    }
}

/// Orders watched for their promised delivery date: how many in each open state, and the
/// orders in one state (the open ones by default), the most urgent first.
#[utoipa::path(get, path = "/api/watches", tag = "watch", params(Filter),
    responses((status = 200, body = WatchList), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(filter): Query<Filter>,
) -> Result<Json<WatchList>, ApiError> {
    let only = state_of(filter.state.as_deref())?;
    let limit = super::activity::Limit {
        limit: filter.limit,
    }
    .get(100);
    let counts = WatchCounts::of(state.store.watch_counts().await?);
    let watches = state
        .store
        .watches(only, limit)
        .await?
        .into_iter()
        .map(WatchView::from)
        .collect();
    Ok(Json(WatchList { counts, watches }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_takes_open_and_each_state_only() {
        assert_eq!(state_of(None).unwrap(), None);
        assert_eq!(state_of(Some("open")).unwrap(), None);
        for s in STATES {
            assert_eq!(state_of(Some(s)).unwrap(), Some(s));
        }
        let Err(ApiError::Invalid(why)) = state_of(Some("late")) else {
            panic!("late is no state");
        };
        assert!(why.contains("held") && why.contains("open"), "{why}");
    }

    #[test]
    fn counts_name_every_open_state() {
        let counts = WatchCounts::of(vec![("held".to_owned(), 2), ("watching".to_owned(), 5)]);
        let json = serde_json::to_value(&counts).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"watching": 5, "overdue": 0, "updated": 0, "held": 2, "unknown": 0})
        );
    }

    #[test]
    fn only_web_addresses_are_linked() {
        assert!(web_address("https://track.example/1"));
        assert!(web_address("HTTP://track.example/1"));
        assert!(!web_address("javascript:alert(1)"));
        assert!(!web_address("data:text/html,x"));
    }
}
