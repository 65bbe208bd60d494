//! The figures behind the database-wide gauges: the outbox's backlog, open escalations and what
//! the day's budget has given. A few aggregate queries, run periodically, never per scrape.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// The outbox's messages of one channel in one status.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxCount {
    /// `email` or `sms`.
    pub channel: String,
    /// The status.
    pub status: String,
    /// How many.
    pub messages: i64,
    /// Of those pending, how many are due.
    pub due: i64,
    /// Of those pending, how many wait for a later time.
    pub scheduled: i64,
    /// The oldest due time among those due and not yet sent.
    pub oldest_due: Option<DateTime<Utc>>,
}

impl Store {
    /// The outbox's settled messages (sent, failed, cancelled) by channel and status; `due`,
    /// `scheduled` and `oldest_due` are 0 and none.
    pub async fn outbox_settled(&self) -> Result<Vec<OutboxCount>, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/outbox_settled.sql")
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| OutboxCount {
                channel: r.channel,
                status: r.status,
                messages: r.messages,
                due: 0,
                scheduled: 0,
                oldest_due: None,
            })
            .collect())
    }

    /// The outbox's messages not yet settled (pending, sending, unknown, standby) by channel and
    /// status, as of `now`.
    pub async fn outbox_backlog(&self, now: DateTime<Utc>) -> Result<Vec<OutboxCount>, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/outbox_backlog.sql", now)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| OutboxCount {
                channel: r.channel,
                status: r.status,
                messages: r.messages,
                due: r.due,
                scheduled: r.scheduled,
                oldest_due: r.oldest_due,
            })
            .collect())
    }

    /// Escalations waiting for a person.
    pub async fn open_escalations(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"select count(*) as "open!" from escalation where status = 'open'"#
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// Compensation issued since `since`, by currency code.
    pub async fn given_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/given_since.sql", since)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(|r| (r.currency, r.given)).collect())
    }
}
