//! The record step: incident, decision and outbox rows in one statement.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError};
use crate::incident::Incident;
use crate::policy::{Channel, Decision};

/// A rendered message to queue for sending.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Id of the outbox row, also the file name or provider reference of the message.
    pub outbox_id: Uuid,
    /// Channel it goes out on.
    pub channel: Channel,
    /// Email address or E.164 phone number.
    pub recipient: String,
    /// Display name for the email `To` header.
    pub recipient_name: Option<String>,
    /// Email subject.
    pub subject: Option<String>,
    /// Plain text (email text part, or the SMS).
    pub body_text: String,
    /// Email HTML part.
    pub body_html: Option<String>,
}

/// Everything the record step stores for one event.
#[derive(Debug)]
pub struct Recording<'a> {
    /// New id for the incident row.
    pub incident_id: Uuid,
    /// The typed incident.
    pub incident: &'a Incident,
    /// The CloudEvent exactly as received (valid JSON text).
    pub payload: &'a str,
    /// What the policy decided.
    pub decision: &'a Decision,
    /// The rendered messages.
    pub messages: Vec<NewMessage>,
}

/// What the record step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// First time this (source, id) was seen: stored, with this many messages queued.
    Recorded {
        /// Messages queued.
        queued: i64,
    },
    /// The (source, id) was already recorded; nothing new was stored.
    Duplicate,
}

impl Store {
    /// Stores the incident, its decision and its messages atomically, or nothing for a duplicate.
    pub async fn record(&self, recording: Recording<'_>) -> Result<RecordOutcome, StoreError> {
        let incident = recording.incident;
        let decision = recording.decision;
        let channels: Vec<String> = decision
            .channels
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        let skipped =
            serde_json::to_value(decision.skipped_map()).map_err(|e| StoreError::Encode {
                what: "skipped channels",
                message: e.to_string(),
            })?;
        let send_at: DateTime<Utc> = decision.send_at;
        // Columns as arrays for unnest(); the messages are moved, not copied (bodies are large).
        let count = recording.messages.len();
        let mut ids = Vec::with_capacity(count);
        let mut msg_channels = Vec::with_capacity(count);
        let mut recipients = Vec::with_capacity(count);
        let mut names: Vec<Option<String>> = Vec::with_capacity(count);
        let mut subjects: Vec<Option<String>> = Vec::with_capacity(count);
        let mut texts = Vec::with_capacity(count);
        let mut htmls: Vec<Option<String>> = Vec::with_capacity(count);
        for m in recording.messages {
            ids.push(m.outbox_id);
            msg_channels.push(m.channel.as_str().to_owned());
            recipients.push(m.recipient);
            names.push(m.recipient_name);
            subjects.push(m.subject);
            texts.push(m.body_text);
            htmls.push(m.body_html);
        }

        let row = sqlx::query_file!(
            "src/store/queries/record_incident.sql",
            recording.incident_id,
            incident.key.source(),
            incident.key.id(),
            incident.event_type.as_str(),
            incident.order.id,
            incident.customer.id,
            recording.payload,
            incident.time,
            decision.rule,
            decision.template,
            &channels,
            skipped,
            decision.unreachable(),
            send_at,
            incident.customer.locale.to_string(),
            &ids,
            &msg_channels,
            &recipients,
            &names as &[Option<String>],
            &subjects as &[Option<String>],
            &texts,
            &htmls as &[Option<String>],
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(if row.inserted == 0 {
            RecordOutcome::Duplicate
        } else {
            RecordOutcome::Recorded { queued: row.queued }
        })
    }
}
