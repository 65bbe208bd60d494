//! Outcome events: claimed with a lease for publishing, marked published after the confirm.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError};

/// An outcome event waiting to be published.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeEvent {
    /// CloudEvents `id`.
    pub id: Uuid,
    /// CloudEvents `source`: the instance that recorded the outcome.
    pub source: String,
    /// CloudEvents `type`, e.g. `notification.sent`.
    pub event_type: String,
    /// CloudEvents `subject` (the notification id).
    pub subject: Option<String>,
    /// CloudEvents `data`.
    pub data: serde_json::Value,
    /// The W3C trace context of the incident it is about (CloudEvents `traceparent`).
    pub traceparent: Option<String>,
    /// When the outcome was recorded (CloudEvents `time`).
    pub time: DateTime<Utc>,
}

impl Store {
    /// Claims up to `limit` unpublished outcome events for `instance` for `lease`.
    pub async fn claim_outcome_events(
        &self,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutcomeEvent>, StoreError> {
        let rows = sqlx::query_file!(
            "src/store/queries/claim_outcome_events.sql",
            instance,
            lease.as_secs_f64(),
            i64::from(limit),
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| OutcomeEvent {
                id: r.event_id,
                source: r.source,
                event_type: r.event_type,
                subject: r.subject,
                data: r.data,
                time: r.created_at,
                traceparent: r.traceparent,
            })
            .collect())
    }

    /// Marks events as published; returns how many were still claimed by `instance`.
    pub async fn mark_outcome_events_published(
        &self,
        ids: &[Uuid],
        instance: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query_file!(
            "src/store/queries/mark_outcome_events_published.sql",
            ids,
            instance,
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
