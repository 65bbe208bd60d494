//! What providers report after a send (delivery events and each message's latest status), and
//! the suppression list.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::policy::Channel;

/// One event a provider reported about a message.
#[derive(Debug, Clone)]
pub struct DeliveryReport<'a> {
    /// Our outbox id, when the provider echoes it.
    pub outbox_id: Option<Uuid>,
    /// Which provider reported it.
    pub provider: &'a str,
    /// The provider's id for the message.
    pub provider_message_id: Option<&'a str>,
    /// Our word for the status: `delivered`, `bounced`, `failed`, `opened`, `complained`, …
    pub status: &'a str,
    /// The provider's reason, when it gave one.
    pub detail: Option<&'a str>,
    /// The event as received.
    pub payload: &'a serde_json::Value,
    /// When the provider says it happened.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Why a contact is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionReason {
    /// The address does not exist.
    HardBounce,
    /// The customer marked a message as spam.
    SpamComplaint,
    /// The customer unsubscribed through the provider.
    Unsubscribed,
    /// The customer replied STOP.
    Stop,
    /// A person decided so.
    Manual,
}

impl SuppressionReason {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionReason::HardBounce => "hard_bounce",
            SuppressionReason::SpamComplaint => "spam_complaint",
            SuppressionReason::Unsubscribed => "unsubscribed",
            SuppressionReason::Stop => "stop",
            SuppressionReason::Manual => "manual",
        }
    }
}

/// A suppression in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// `email` or `sms`.
    pub channel: String,
    /// The address or number.
    pub contact: String,
    /// Why (`hard_bounce`, `spam_complaint`, `unsubscribed`, `stop`, `manual`).
    pub reason: String,
    /// Who put it there (a provider, or `cli`).
    pub source: String,
    /// The provider's or person's words.
    pub detail: Option<String>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// A contact as the suppression list keys it: email addresses in lower case.
pub fn contact_key(channel: Channel, contact: &str) -> String {
    match channel {
        Channel::Email => contact.trim().to_lowercase(),
        Channel::Sms => contact.trim().to_owned(),
    }
}

impl Store {
    /// Records a provider's event as instance `instance` (the source of the outcome event a
    /// lasting failure is announced with); the message it is about, when we know it, and
    /// whether an outcome event was queued.
    pub async fn record_delivery(
        &self,
        instance: &str,
        report: &DeliveryReport<'_>,
    ) -> Result<(Option<Uuid>, bool), StoreError> {
        let row = sqlx::query_file!(
            "src/store/queries/record_delivery.sql",
            report.outbox_id,
            report.provider,
            report.provider_message_id,
            report.status,
            report.detail,
            report.payload.to_string(),
            report.occurred_at,
            instance,
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.outbox_id, row.announced > 0))
    }

    /// Suppresses `contact` on `channel` (again, if it had been lifted).
    pub async fn suppress(
        &self,
        channel: Channel,
        contact: &str,
        reason: SuppressionReason,
        source: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query_file!(
            "src/store/queries/suppress.sql",
            channel.as_str(),
            contact_key(channel, contact),
            reason.as_str(),
            source,
            detail,
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lifts `contact`'s suppression on `channel`; true when one was in force.
    pub async fn lift_suppression(
        &self,
        channel: Channel,
        contact: &str,
        source: &str,
    ) -> Result<bool, StoreError> {
        let lifted = sqlx::query_file!(
            "src/store/queries/lift_suppression.sql",
            channel.as_str(),
            contact_key(channel, contact),
            source,
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(lifted.is_some())
    }

    /// The suppressions in force, newest first, at most `limit`.
    pub async fn suppressions(&self, limit: i64) -> Result<Vec<Suppression>, StoreError> {
        let rows = sqlx::query_file_as!(
            Suppression,
            "src/store/queries/list_suppressions.sql",
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
