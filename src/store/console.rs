//! What the coordinator's console reads and does: incidents with their decisions, messages,
//! attempts and provider reports; the compensation ledger and budget use; escalations.
//!
//! These are read models for people, rows as the queries give them; contacts come as stored.
//! They are not the admin API's answers: the API builds its own from them, and masks contacts
//! where it shows them.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Store, StoreError};

/// One incident in a list.
#[derive(Debug, Clone)]
pub struct IncidentSummary {
    /// amends' id for it.
    pub incident_id: Uuid,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// The event's CloudEvents `source`.
    pub source: String,
    /// The event's CloudEvents `id`.
    pub event_id: String,
    /// The event type, e.g. `order.delayed`.
    pub event_type: String,
    /// The order.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// The customer's first and last name, as the event gave them.
    pub customer_name: Option<String>,
    /// The customer's email address, as the event gave it.
    pub email: Option<String>,
    /// The customer's phone number, as the event gave it.
    pub phone: Option<String>,
    /// The rule that matched.
    pub rule: Option<String>,
    /// Whether a person was asked to follow up.
    pub escalated: Option<bool>,
    /// Why nothing new was sent (the order had already heard from us), when so.
    pub coalesced: Option<String>,
    /// Why no channel could reach the customer, when none could.
    pub unreachable: Option<String>,
    /// Each message: `channel`, `status`, `delivery_status`, and `scheduled_until` while it
    /// waits for its due time (quiet hours, a rule's delay).
    pub messages: Value,
}

/// One incident's event as received and its decision (its summary is an [`IncidentSummary`]).
#[derive(Debug, Clone)]
pub struct IncidentRecord {
    /// The CloudEvent as received.
    pub payload: Value,
    /// The decision, when one was recorded.
    pub decision: Option<DecisionRecord>,
}

/// What the policy decided for an incident, and why.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// The rule that matched.
    pub rule: String,
    /// The template it named.
    pub template: String,
    /// The channels used.
    pub channels: Vec<String>,
    /// Channels considered and skipped, with why.
    pub skipped: Value,
    /// Why no channel could be used, when none could.
    pub unreachable: Option<String>,
    /// When the messages were due.
    pub send_at: DateTime<Utc>,
    /// Content hash of the policy that decided.
    pub policy_version: String,
    /// Each rule tried, offers, budget lines, channels, escalation.
    pub explanation: Value,
    /// The offers given.
    pub offers: Value,
    /// Why nothing new was sent, when so.
    pub coalesced: Option<String>,
    /// Whether a person was asked to follow up.
    pub escalated: bool,
}

/// One message as rendered and sent, with what happened to it.
#[derive(Debug, Clone)]
pub struct MessageRecord {
    /// The outbox row.
    pub outbox_id: Uuid,
    /// `email` or `sms`.
    pub channel: String,
    /// Address or number.
    pub recipient: String,
    /// The template locale used.
    pub locale: String,
    /// Email subject.
    pub subject: Option<String>,
    /// Text part or SMS.
    pub body_text: String,
    /// HTML part.
    pub body_html: Option<String>,
    /// `pending`, `sending`, `sent`, `failed`, `unknown`, `standby`, `cancelled`.
    pub status: String,
    /// What the provider last reported.
    pub delivery_status: Option<String>,
    /// The provider that took it.
    pub provider: Option<String>,
    /// The provider's id for it.
    pub provider_message_id: Option<String>,
    /// The last error.
    pub last_error: Option<String>,
    /// How many attempts were made.
    pub attempts: i32,
    /// When it was handed over.
    pub sent_at: Option<DateTime<Utc>>,
    /// SHA-256 of the template texts it was rendered with.
    pub template_version: Option<String>,
    /// The message this one stands in reserve for.
    pub standby_for: Option<Uuid>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it is (or was) due to go out.
    pub due_at: DateTime<Utc>,
    /// Why it waits past the decision (quiet hours, a rule's delay), when it does.
    pub scheduled_reason: Option<String>,
    /// Why it was cancelled before going out, when it was replaced.
    pub cancelled_reason: Option<String>,
    /// The incident that replaced it.
    pub superseded_by: Option<Uuid>,
    /// That incident's type.
    pub superseded_by_type: Option<String>,
    /// Every attempt to send it.
    pub attempt_log: Vec<AttemptRecord>,
    /// Every status a provider reported for it.
    pub delivery_events: Vec<DeliveryEventRecord>,
}

/// One attempt to send a message.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The message.
    pub outbox_id: Uuid,
    /// 1 for the first.
    pub number: i32,
    /// The provider tried.
    pub provider: String,
    /// `sent`, `retry`, `failed`, `unknown` or `lease_expired`.
    pub outcome: String,
    /// What went wrong.
    pub error: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

/// One status a provider reported by webhook.
#[derive(Debug, Clone)]
pub struct DeliveryEventRecord {
    /// The message.
    pub outbox_id: Uuid,
    /// The provider.
    pub provider: String,
    /// Its status word (delivered, bounced, …).
    pub status: String,
    /// Its detail.
    pub detail: Option<String>,
    /// When the provider says it happened.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When amends heard of it.
    pub created_at: DateTime<Utc>,
}

/// One entry of the compensation ledger.
#[derive(Debug, Clone)]
pub struct CompensationRecord {
    /// The entry.
    pub compensation_id: Uuid,
    /// When it was issued or declined.
    pub created_at: DateTime<Utc>,
    /// The incident.
    pub incident_id: Uuid,
    /// The order.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// The rule that offered it.
    pub rule: String,
    /// `percent_off`, `amount_off`, `free_shipping` or `gift_certificate`.
    pub kind: String,
    /// `issued` or `declined`.
    pub status: String,
    /// The code, when issued.
    pub code: Option<String>,
    /// Face value or cap, a decimal string.
    pub amount: Option<String>,
    /// The percentage, a decimal string.
    pub percent: Option<String>,
    /// ISO 4217 currency.
    pub currency: String,
    /// What it counts against budgets, a decimal string.
    pub cost: String,
    /// When the code expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why it was declined, or that it is a fallback.
    pub reason: Option<String>,
}

/// What was spent on one budget day in one currency.
#[derive(Debug, Clone)]
pub struct BudgetDayRecord {
    /// The day, in the policy's budget time zone.
    pub day: NaiveDate,
    /// ISO 4217 currency.
    pub currency: String,
    /// Spent, a decimal string.
    pub spent: String,
}

/// What one customer was given within the per-customer window.
#[derive(Debug, Clone)]
pub struct CustomerGivenRecord {
    /// The customer.
    pub customer_id: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Given, a decimal string.
    pub given: String,
}

/// An incident marked for a person, with the customer and what they already received.
#[derive(Debug, Clone)]
pub struct EscalationRecord {
    /// The escalation.
    pub escalation_id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
    /// The rule that raised it.
    pub rule: String,
    /// Why a person should follow up.
    pub reason: String,
    /// `open` or `handled`.
    pub status: String,
    /// The handler's note.
    pub note: Option<String>,
    /// When it was handled.
    pub handled_at: Option<DateTime<Utc>>,
    /// Who handled it.
    pub handled_by: Option<String>,
    /// The order.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// The incident's event type.
    pub event_type: String,
    /// The customer's name.
    pub customer_name: Option<String>,
    /// The customer's email address.
    pub email: Option<String>,
    /// The customer's phone number.
    pub phone: Option<String>,
    /// The customer's locale.
    pub locale: Option<String>,
    /// The customer's tier.
    pub tier: Option<String>,
    /// The customer's time zone, as the event gave it.
    pub timezone: Option<String>,
    /// What the customer received: `channel`, `status`, `subject`.
    pub messages: Value,
    /// Every incident recorded on the order, oldest first: type, when, rule, kind, messages.
    pub order_history: Value,
    /// The order's promise as amends watches it, when it does.
    pub promise: Option<Value>,
}

/// A message a person should look at: failed for good, or with an unknown outcome.
#[derive(Debug, Clone)]
pub struct AttentionRecord {
    /// The message.
    pub outbox_id: Uuid,
    /// Its incident.
    pub incident_id: Uuid,
    /// `email` or `sms`.
    pub channel: String,
    /// Address or number.
    pub recipient: String,
    /// `failed` or `unknown`.
    pub status: String,
    /// The provider last tried.
    pub provider: Option<String>,
    /// What went wrong.
    pub last_error: Option<String>,
    /// Attempts made.
    pub attempts: i32,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
    /// The order.
    pub order_id: String,
    /// The customer.
    pub customer_id: String,
    /// The incident's event type.
    pub event_type: String,
}

/// Counts for the console's front page.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Incidents recorded since midnight UTC.
    pub incidents_today: i64,
    /// Messages handed to a provider since midnight UTC.
    pub messages_sent_today: i64,
    /// Messages that failed for good.
    pub messages_failed: i64,
    /// Messages whose outcome is unknown (a person should look).
    pub messages_unknown: i64,
    /// Escalations waiting for a person.
    pub open_escalations: i64,
}

/// What a search looks for: an order or customer id, an email address, a phone number.
#[derive(Debug, Clone, Default)]
pub struct IncidentSearch {
    /// Matched against order and customer ids.
    pub id: Option<String>,
    /// An email address, in lower case.
    pub email: Option<String>,
    /// A phone number in E.164.
    pub phone: Option<String>,
    /// Only incidents older than this one (the next page).
    pub before: Option<Uuid>,
    /// Only this incident.
    pub only: Option<Uuid>,
}

/// A template file's edits in brief.
#[derive(Debug, Clone)]
pub struct TemplateEditSummary {
    /// The file.
    pub name: String,
    /// Its published version, if any.
    pub published_version: Option<i32>,
    /// Its draft, if any.
    pub draft_version: Option<i32>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// The newest `limit` incidents, or those matching `search` when it has anything.
    pub async fn incidents(
        &self,
        search: &IncidentSearch,
        limit: i64,
    ) -> Result<Vec<IncidentSummary>, StoreError> {
        Ok(sqlx::query_file_as!(
            IncidentSummary,
            "src/store/queries/console_incidents.sql",
            limit,
            search.id,
            search.email,
            search.phone,
            search.before,
            search.only
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// One incident's event and decision.
    pub async fn incident(&self, id: Uuid) -> Result<Option<IncidentRecord>, StoreError> {
        let Some(row) = sqlx::query_file!("src/store/queries/console_incident.sql", id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let decision = match (row.rule, row.template, row.send_at) {
            (Some(rule), Some(template), Some(send_at)) => Some(DecisionRecord {
                rule,
                template,
                channels: row.channels.unwrap_or_default(),
                skipped: row.skipped.unwrap_or(Value::Null),
                unreachable: row.unreachable,
                send_at,
                policy_version: row.policy_version.unwrap_or_default(),
                explanation: row.explanation.unwrap_or(Value::Null),
                offers: row.offers.unwrap_or(Value::Null),
                coalesced: row.coalesced,
                escalated: row.escalated.unwrap_or(false),
            }),
            _ => None,
        };
        Ok(Some(IncidentRecord {
            payload: row.payload,
            decision,
        }))
    }

    /// The messages of an incident, each with its attempts and provider reports.
    pub async fn incident_messages(
        &self,
        incident_id: Uuid,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        let rows = sqlx::query_file!("src/store/queries/console_messages.sql", incident_id)
            .fetch_all(&self.pool)
            .await?;
        let attempts = sqlx::query_file_as!(
            AttemptRecord,
            "src/store/queries/console_attempts.sql",
            incident_id
        )
        .fetch_all(&self.pool)
        .await?;
        let events = sqlx::query_file_as!(
            DeliveryEventRecord,
            "src/store/queries/console_delivery_events.sql",
            incident_id
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| MessageRecord {
                attempt_log: attempts
                    .iter()
                    .filter(|a| a.outbox_id == r.outbox_id)
                    .cloned()
                    .collect(),
                delivery_events: events
                    .iter()
                    .filter(|e| e.outbox_id == r.outbox_id)
                    .cloned()
                    .collect(),
                outbox_id: r.outbox_id,
                channel: r.channel,
                recipient: r.recipient,
                locale: r.locale,
                subject: r.subject,
                body_text: r.body_text,
                body_html: r.body_html,
                status: r.status,
                delivery_status: r.delivery_status,
                provider: r.provider,
                provider_message_id: r.provider_message_id,
                last_error: r.last_error,
                attempts: r.attempts,
                sent_at: r.sent_at,
                template_version: r.template_version,
                standby_for: r.standby_for,
                created_at: r.created_at,
                due_at: r.due_at,
                scheduled_reason: r.scheduled_reason,
                cancelled_reason: r.cancelled_reason,
                superseded_by: r.superseded_by,
                superseded_by_type: r.superseded_by_type,
            })
            .collect())
    }

    /// The newest `limit` ledger entries, or only those of `incident`.
    pub async fn compensation(
        &self,
        incident: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<CompensationRecord>, StoreError> {
        Ok(sqlx::query_file_as!(
            CompensationRecord,
            "src/store/queries/console_compensation.sql",
            limit,
            incident
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// What was spent on each of the last `days` budget days.
    pub async fn budget_days(&self, days: i32) -> Result<Vec<BudgetDayRecord>, StoreError> {
        Ok(sqlx::query_file_as!(
            BudgetDayRecord,
            "src/store/queries/console_budget_days.sql",
            days
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The `limit` customers given the most since `since`.
    pub async fn customers_given(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<CustomerGivenRecord>, StoreError> {
        Ok(sqlx::query_file_as!(
            CustomerGivenRecord,
            "src/store/queries/console_customer_given.sql",
            since,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Escalations with `status` (all when `None`), open ones oldest first, at most `limit`.
    pub async fn escalations(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EscalationRecord>, StoreError> {
        Ok(sqlx::query_file_as!(
            EscalationRecord,
            "src/store/queries/console_escalations.sql",
            None::<Uuid>,
            status,
            limit,
            None::<Uuid>
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// One escalation.
    pub async fn escalation(&self, id: Uuid) -> Result<Option<EscalationRecord>, StoreError> {
        Ok(sqlx::query_file_as!(
            EscalationRecord,
            "src/store/queries/console_escalations.sql",
            Some(id),
            None::<String>,
            1_i64,
            None::<Uuid>
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The escalation of an incident, if it has one.
    pub async fn escalation_of_incident(
        &self,
        incident_id: Uuid,
    ) -> Result<Option<EscalationRecord>, StoreError> {
        Ok(sqlx::query_file_as!(
            EscalationRecord,
            "src/store/queries/console_escalations.sql",
            None::<Uuid>,
            None::<String>,
            1_i64,
            Some(incident_id)
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Marks an open escalation handled; false when it is not open (or does not exist).
    pub async fn handle_escalation(
        &self,
        id: Uuid,
        by: &str,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query_file!("src/store/queries/handle_escalation.sql", id, by, note)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Counts for the console's front page.
    pub async fn overview(&self) -> Result<Overview, StoreError> {
        Ok(
            sqlx::query_file_as!(Overview, "src/store/queries/console_overview.sql")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The newest `limit` messages with `status` (`failed` or `unknown`).
    pub async fn messages_needing_attention(
        &self,
        status: &str,
        limit: i64,
    ) -> Result<Vec<AttentionRecord>, StoreError> {
        Ok(sqlx::query_file_as!(
            AttentionRecord,
            "src/store/queries/console_attention.sql",
            status,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every edited template file, in brief.
    pub async fn template_edits(&self) -> Result<Vec<TemplateEditSummary>, StoreError> {
        Ok(
            sqlx::query_file_as!(TemplateEditSummary, "src/store/queries/template_edits.sql")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
