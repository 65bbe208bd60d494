//! What the admin API answers about incidents, messages, compensation and escalations: one
//! type per shape, each built from the store's row it shows. The rows stay the store's own;
//! the names, nesting and nulls people and the console read are decided here.
//!
//! A contact (an email address, a phone number, a message's recipient) is a [`Contact`], and
//! the only public ways to make one mask it. `From` a row builds the view as a list shows it,
//! contacts masked; `opened` builds it for the one incident or escalation a person opened,
//! contacts in full. A list's items are built `From` rows, so no list can show a contact.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::incident::{EmailAddress, PhoneNumber, TimeZone};
use crate::store;
use crate::timing::CallingHours;

/// A contact as the API shows it: masked (`a***@example.com`, `+34******222`), or in full in
/// the one incident or escalation a person opened. Serialized as a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Contact(String);

impl Contact {
    /// An email address, masked: `a***@example.com`; what does not parse as one is hidden but
    /// for its first character.
    pub fn email(text: &str) -> Contact {
        Contact(
            EmailAddress::parse(text)
                .map(|e| e.masked())
                .unwrap_or_else(|_| hide(text)),
        )
    }

    /// A phone number, masked: `+34******222`; what does not parse as one is hidden but for its
    /// first character.
    pub fn phone(text: &str) -> Contact {
        Contact(
            PhoneNumber::parse(text)
                .map(|p| p.masked())
                .unwrap_or_else(|_| hide(text)),
        )
    }

    /// A message's recipient, masked as its channel's kind of contact (a number for `sms`, an
    /// address otherwise).
    pub fn recipient(channel: &str, text: &str) -> Contact {
        match channel {
            "sms" => Contact::phone(text),
            _ => Contact::email(text),
        }
    }

    /// The contact as shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The contact as given. Private: only [`Shown::InFull`], for what a person opened, uses it.
    fn in_full(text: String) -> Contact {
        Contact(text)
    }
}

fn hide(text: &str) -> String {
    let first: String = text.chars().take(1).collect();
    format!("{first}***")
}

/// How a view shows its contacts: masked, as in every list, or in full, for what a person
/// opened.
#[derive(Debug, Clone, Copy)]
enum Shown {
    Masked,
    InFull,
}

impl Shown {
    /// `text` as this shows it, masked by `mask`.
    fn contact(self, text: String, mask: impl FnOnce(&str) -> Contact) -> Contact {
        match self {
            Shown::Masked => mask(&text),
            Shown::InFull => Contact::in_full(text),
        }
    }
}

/// One incident in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    #[schema(value_type = Option<String>)]
    pub email: Option<Contact>,
    /// The customer's phone number, as the event gave it.
    #[schema(value_type = Option<String>)]
    pub phone: Option<Contact>,
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
    #[schema(value_type = Vec<Object>)]
    pub messages: Value,
}

impl From<store::IncidentSummary> for IncidentSummary {
    /// The incident as a list shows it, contacts masked.
    fn from(row: store::IncidentSummary) -> Self {
        IncidentSummary::build(row, Shown::Masked)
    }
}

impl IncidentSummary {
    /// The incident a person opened, contacts in full.
    pub fn opened(row: store::IncidentSummary) -> Self {
        IncidentSummary::build(row, Shown::InFull)
    }

    fn build(row: store::IncidentSummary, shown: Shown) -> Self {
        IncidentSummary {
            incident_id: row.incident_id,
            created_at: row.created_at,
            source: row.source,
            event_id: row.event_id,
            event_type: row.event_type,
            order_id: row.order_id,
            customer_id: row.customer_id,
            customer_name: row.customer_name,
            email: row.email.map(|e| shown.contact(e, Contact::email)),
            phone: row.phone.map(|p| shown.contact(p, Contact::phone)),
            rule: row.rule,
            escalated: row.escalated,
            coalesced: row.coalesced,
            unreachable: row.unreachable,
            messages: row.messages,
        }
    }
}

/// What the policy decided for an incident, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionRecord {
    /// The rule that matched.
    pub rule: String,
    /// The template it named.
    pub template: String,
    /// The channels used.
    pub channels: Vec<String>,
    /// Channels considered and skipped, with why.
    #[schema(value_type = Object)]
    pub skipped: Value,
    /// Why no channel could be used, when none could.
    pub unreachable: Option<String>,
    /// When the messages were due.
    pub send_at: DateTime<Utc>,
    /// Content hash of the policy that decided.
    pub policy_version: String,
    /// Each rule tried, offers, budget lines, channels, escalation.
    #[schema(value_type = Object)]
    pub explanation: Value,
    /// The offers given.
    #[schema(value_type = Vec<Object>)]
    pub offers: Value,
    /// Why nothing new was sent, when so.
    pub coalesced: Option<String>,
    /// Whether a person was asked to follow up.
    pub escalated: bool,
}

impl From<store::DecisionRecord> for DecisionRecord {
    fn from(row: store::DecisionRecord) -> Self {
        DecisionRecord {
            rule: row.rule,
            template: row.template,
            channels: row.channels,
            skipped: row.skipped,
            unreachable: row.unreachable,
            send_at: row.send_at,
            policy_version: row.policy_version,
            explanation: row.explanation,
            offers: row.offers,
            coalesced: row.coalesced,
            escalated: row.escalated,
        }
    }
}

/// One message as rendered and sent, with what happened to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageRecord {
    /// The outbox row.
    pub outbox_id: Uuid,
    /// `email` or `sms`.
    pub channel: String,
    /// Address or number.
    #[schema(value_type = String)]
    pub recipient: Contact,
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
    /// Set while it waits, never attempted, for a time later than the decision (quiet hours, a
    /// rule's delay): "scheduled until …".
    pub scheduled: Option<Scheduled>,
    /// Set when it was cancelled before it went out: a newer incident on the order replaced it,
    /// or its recipient was suppressed while it waited.
    pub cancelled: Option<Cancelled>,
    /// Every attempt to send it.
    pub attempt_log: Vec<AttemptRecord>,
    /// Every status a provider reported for it.
    pub delivery_events: Vec<DeliveryEventRecord>,
}

impl From<store::MessageRecord> for MessageRecord {
    /// The message with its recipient masked.
    fn from(row: store::MessageRecord) -> Self {
        MessageRecord::build(row, Shown::Masked)
    }
}

impl MessageRecord {
    /// A message of the incident a person opened, its recipient in full.
    pub fn opened(row: store::MessageRecord) -> Self {
        MessageRecord::build(row, Shown::InFull)
    }

    fn build(row: store::MessageRecord, shown: Shown) -> Self {
        let recipient = shown.contact(row.recipient, |r| Contact::recipient(&row.channel, r));
        let scheduled = match (row.status.as_str(), row.scheduled_reason) {
            ("pending", Some(reason)) => Some(Scheduled {
                until: row.due_at,
                reason,
            }),
            _ => None,
        };
        let cancelled = match (row.status.as_str(), row.cancelled_reason) {
            ("cancelled", Some(reason)) => Some(Cancelled {
                reason,
                superseded_by: row.superseded_by,
                superseded_by_type: row.superseded_by_type,
            }),
            _ => None,
        };
        MessageRecord {
            outbox_id: row.outbox_id,
            channel: row.channel,
            recipient,
            locale: row.locale,
            subject: row.subject,
            body_text: row.body_text,
            body_html: row.body_html,
            status: row.status,
            delivery_status: row.delivery_status,
            provider: row.provider,
            provider_message_id: row.provider_message_id,
            last_error: row.last_error,
            attempts: row.attempts,
            sent_at: row.sent_at,
            template_version: row.template_version,
            standby_for: row.standby_for,
            created_at: row.created_at,
            due_at: row.due_at,
            scheduled,
            cancelled,
            attempt_log: row.attempt_log.into_iter().map(Into::into).collect(),
            delivery_events: row.delivery_events.into_iter().map(Into::into).collect(),
        }
    }
}

/// A message waiting for its time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Scheduled {
    /// When it goes out.
    pub until: DateTime<Utc>,
    /// Why it waits, e.g. `03:10 there is in the sms quiet hours 21:00-08:00 (configured)`.
    pub reason: String,
}

/// A message cancelled before it went out: replaced by a newer incident, or withheld because its
/// recipient was suppressed while it waited.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cancelled {
    /// Why.
    pub reason: String,
    /// The incident that replaced it, when one did.
    pub superseded_by: Option<Uuid>,
    /// That incident's type, e.g. `order.cancelled`.
    pub superseded_by_type: Option<String>,
}

/// One attempt to send a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptRecord {
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

impl From<store::AttemptRecord> for AttemptRecord {
    fn from(row: store::AttemptRecord) -> Self {
        AttemptRecord {
            number: row.number,
            provider: row.provider,
            outcome: row.outcome,
            error: row.error,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}

/// One status a provider reported by webhook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryEventRecord {
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

impl From<store::DeliveryEventRecord> for DeliveryEventRecord {
    fn from(row: store::DeliveryEventRecord) -> Self {
        DeliveryEventRecord {
            provider: row.provider,
            status: row.status,
            detail: row.detail,
            occurred_at: row.occurred_at,
            created_at: row.created_at,
        }
    }
}

/// One entry of the compensation ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<store::CompensationRecord> for CompensationRecord {
    fn from(row: store::CompensationRecord) -> Self {
        CompensationRecord {
            compensation_id: row.compensation_id,
            created_at: row.created_at,
            incident_id: row.incident_id,
            order_id: row.order_id,
            customer_id: row.customer_id,
            rule: row.rule,
            kind: row.kind,
            status: row.status,
            code: row.code,
            amount: row.amount,
            percent: row.percent,
            currency: row.currency,
            cost: row.cost,
            expires_at: row.expires_at,
            reason: row.reason,
        }
    }
}

/// An incident marked for a person, with the customer and what they already received.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    #[schema(value_type = Option<String>)]
    pub email: Option<Contact>,
    /// The customer's phone number.
    #[schema(value_type = Option<String>)]
    pub phone: Option<Contact>,
    /// The customer's locale.
    pub locale: Option<String>,
    /// The customer's tier.
    pub tier: Option<String>,
    /// The customer's time zone, as the event gave it (UTC when it gave none).
    pub timezone: Option<String>,
    /// When to call, in the customer's daytime: set on an open escalation.
    pub call: Option<CallSuggestion>,
    /// What the customer received: `channel`, `status`, `subject`.
    #[schema(value_type = Vec<Object>)]
    pub messages: Value,
    /// Every incident recorded on the order, oldest first: `incident_id`, `event_type`,
    /// `recorded_at`, `rule`, `kind`, `messages` (how many were queued).
    #[schema(value_type = Vec<Object>)]
    pub order_history: Value,
    /// The order's promise as amends watches it (`state`, `deliver_by`, `overdue_at`,
    /// `detected_at`, `update_due_at`, `carrier`, `tracking_url`), when it does.
    #[schema(value_type = Option<Object>)]
    pub promise: Option<Value>,
}

/// When to call a customer: their next calling hours (`AMENDS_CALL_HOURS`), on their clock.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CallSuggestion {
    /// The calling hours of the customer's day, e.g. `09:00-18:00`.
    pub hours: String,
    /// The customer's time zone.
    pub timezone: String,
    /// Whether their calling hours are under way now.
    pub now: bool,
    /// From when to call, on the customer's clock (`2026-11-25T09:00:00+01:00`).
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<FixedOffset>,
    /// Until when, on the customer's clock.
    #[schema(value_type = String, format = DateTime)]
    pub until: DateTime<FixedOffset>,
}

impl CallSuggestion {
    /// The next calling hours of a customer in `tz` (UTC when unknown or unreadable), from `now`.
    pub fn at(now: DateTime<Utc>, hours: &CallingHours, tz: Option<&str>) -> CallSuggestion {
        let tz = tz.and_then(|t| TimeZone::parse(t).ok()).unwrap_or_default();
        let window = hours.next_call(now, tz.tz());
        let local = |t: DateTime<Utc>| t.with_timezone(&tz.tz()).fixed_offset();
        CallSuggestion {
            hours: hours.to_string(),
            timezone: tz.as_str().to_owned(),
            now: window.now,
            from: local(window.from),
            until: local(window.until),
        }
    }
}

impl From<store::EscalationRecord> for EscalationRecord {
    /// The escalation as the queue shows it, contacts masked.
    fn from(row: store::EscalationRecord) -> Self {
        EscalationRecord::build(row, Shown::Masked)
    }
}

impl EscalationRecord {
    /// The escalation a person opened (or handled), or that of the incident they opened,
    /// contacts in full: they are the ones to call.
    pub fn opened(row: store::EscalationRecord) -> Self {
        EscalationRecord::build(row, Shown::InFull)
    }

    fn build(row: store::EscalationRecord, shown: Shown) -> Self {
        EscalationRecord {
            escalation_id: row.escalation_id,
            incident_id: row.incident_id,
            created_at: row.created_at,
            rule: row.rule,
            reason: row.reason,
            status: row.status,
            note: row.note,
            handled_at: row.handled_at,
            handled_by: row.handled_by,
            order_id: row.order_id,
            customer_id: row.customer_id,
            event_type: row.event_type,
            customer_name: row.customer_name,
            email: row.email.map(|e| shown.contact(e, Contact::email)),
            phone: row.phone.map(|p| shown.contact(p, Contact::phone)),
            locale: row.locale,
            tier: row.tier,
            timezone: row.timezone,
            call: None,
            messages: row.messages,
            order_history: row.order_history,
            promise: row.promise,
        }
    }

    /// The escalation with when to call, as of `now`, while it is open.
    pub fn calling(mut self, now: DateTime<Utc>, hours: &CallingHours) -> Self {
        if self.status == "open" {
            self.call = Some(CallSuggestion::at(now, hours, self.timezone.as_deref()));
        }
        self
    }
}

/// A message a person should look at: failed for good, or with an unknown outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttentionRecord {
    /// The message.
    pub outbox_id: Uuid,
    /// Its incident.
    pub incident_id: Uuid,
    /// `email` or `sms`.
    pub channel: String,
    /// Address or number.
    #[schema(value_type = String)]
    pub recipient: Contact,
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

impl From<store::AttentionRecord> for AttentionRecord {
    /// The message as the list shows it, its recipient masked.
    fn from(row: store::AttentionRecord) -> Self {
        AttentionRecord {
            recipient: Contact::recipient(&row.channel, &row.recipient),
            outbox_id: row.outbox_id,
            incident_id: row.incident_id,
            channel: row.channel,
            status: row.status,
            provider: row.provider,
            last_error: row.last_error,
            attempts: row.attempts,
            updated_at: row.updated_at,
            order_id: row.order_id,
            customer_id: row.customer_id,
            event_type: row.event_type,
        }
    }
}

/// Counts for the console's front page.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<store::Overview> for Overview {
    fn from(row: store::Overview) -> Self {
        Overview {
            incidents_today: row.incidents_today,
            messages_sent_today: row.messages_sent_today,
            messages_failed: row.messages_failed,
            messages_unknown: row.messages_unknown,
            open_escalations: row.open_escalations,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    const EMAIL: &str = "ana@example.com";
    const PHONE: &str = "+34600111222";

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 14, hour, 30, 0)
            .single()
            .expect("a valid time")
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn json_of(view: impl Serialize) -> Value {
        serde_json::to_value(view).expect("a view serializes")
    }

    fn incident_row() -> store::IncidentSummary {
        store::IncidentSummary {
            incident_id: id(1),
            created_at: at(9),
            source: "shop".to_owned(),
            event_id: "evt-1".to_owned(),
            event_type: "order.delayed".to_owned(),
            order_id: "A-10042".to_owned(),
            customer_id: "C-77".to_owned(),
            customer_name: Some("Ana García".to_owned()),
            email: Some(EMAIL.to_owned()),
            phone: Some(PHONE.to_owned()),
            rule: Some("late-vip".to_owned()),
            escalated: None,
            coalesced: Some("already told".to_owned()),
            unreachable: None,
            messages: json!([{ "channel": "email", "status": "sent", "delivery_status": null }]),
        }
    }

    fn escalation_row() -> store::EscalationRecord {
        store::EscalationRecord {
            escalation_id: id(2),
            incident_id: id(1),
            created_at: at(9),
            rule: "cancelled-vip".to_owned(),
            reason: "call the customer".to_owned(),
            status: "handled".to_owned(),
            note: Some("called".to_owned()),
            handled_at: Some(at(10)),
            handled_by: Some("admin".to_owned()),
            order_id: "A-10042".to_owned(),
            customer_id: "C-77".to_owned(),
            event_type: "order.cancelled".to_owned(),
            customer_name: None,
            email: Some(EMAIL.to_owned()),
            phone: Some(PHONE.to_owned()),
            locale: Some("es-ES".to_owned()),
            tier: Some("vip".to_owned()),
            timezone: Some("Europe/Madrid".to_owned()),
            messages: json!([{ "channel": "sms", "status": "sent", "subject": null }]),
            order_history: json!([{ "event_type": "order.cancelled", "rule": "cancelled-vip" }]),
            promise: None,
        }
    }

    fn message_row(channel: &str, recipient: &str) -> store::MessageRecord {
        store::MessageRecord {
            outbox_id: id(3),
            channel: channel.to_owned(),
            recipient: recipient.to_owned(),
            locale: "es".to_owned(),
            subject: Some("Tu pedido".to_owned()),
            body_text: "Hola Ana".to_owned(),
            body_html: None,
            status: "sent".to_owned(),
            delivery_status: Some("delivered".to_owned()),
            provider: Some("smtp".to_owned()),
            provider_message_id: Some("pm-1".to_owned()),
            last_error: None,
            attempts: 1,
            sent_at: Some(at(11)),
            template_version: Some("abc123".to_owned()),
            standby_for: Some(id(4)),
            created_at: at(9),
            due_at: at(9),
            scheduled_reason: None,
            cancelled_reason: None,
            superseded_by: None,
            superseded_by_type: None,
            attempt_log: vec![store::AttemptRecord {
                outbox_id: id(3),
                number: 1,
                provider: "smtp".to_owned(),
                outcome: "sent".to_owned(),
                error: None,
                started_at: at(10),
                finished_at: at(11),
            }],
            delivery_events: vec![store::DeliveryEventRecord {
                outbox_id: id(3),
                provider: "smtp".to_owned(),
                status: "delivered".to_owned(),
                detail: Some("250 ok".to_owned()),
                occurred_at: None,
                created_at: at(12),
            }],
        }
    }

    fn attention_row(channel: &str, recipient: &str) -> store::AttentionRecord {
        store::AttentionRecord {
            outbox_id: id(3),
            incident_id: id(1),
            channel: channel.to_owned(),
            recipient: recipient.to_owned(),
            status: "unknown".to_owned(),
            provider: Some("twilio".to_owned()),
            last_error: Some("timed out".to_owned()),
            attempts: 2,
            updated_at: at(12),
            order_id: "A-10042".to_owned(),
            customer_id: "C-77".to_owned(),
            event_type: "order.delayed".to_owned(),
        }
    }

    #[test]
    fn contacts_are_masked_unless_opened() {
        assert_eq!(json_of(Contact::email(EMAIL)), "a***@example.com");
        assert_eq!(json_of(Contact::phone(PHONE)), "+34******222");
        assert_eq!(json_of(Contact::email("not an address")), "n***");
        assert_eq!(json_of(Contact::phone("call me")), "c***");
        assert_eq!(json_of(Contact::recipient("sms", PHONE)), "+34******222");
        assert_eq!(
            json_of(Contact::recipient("email", EMAIL)),
            "a***@example.com"
        );
        assert_eq!(
            json_of(Shown::InFull.contact(EMAIL.to_owned(), Contact::email)),
            EMAIL
        );
    }

    #[test]
    fn an_incident_in_a_list_masks_its_contacts() {
        let listed = json_of(IncidentSummary::from(incident_row()));
        assert_eq!(listed["email"], "a***@example.com");
        assert_eq!(listed["phone"], "+34******222");
        let text = listed.to_string();
        assert!(!text.contains(EMAIL) && !text.contains(PHONE), "{text}");
    }

    #[test]
    fn an_opened_incident_keeps_every_field_and_shows_its_contacts() {
        assert_eq!(
            json_of(IncidentSummary::opened(incident_row())),
            json!({
                "incident_id": id(1),
                "created_at": "2025-03-14T09:30:00Z",
                "source": "shop",
                "event_id": "evt-1",
                "event_type": "order.delayed",
                "order_id": "A-10042",
                "customer_id": "C-77",
                "customer_name": "Ana García",
                "email": EMAIL,
                "phone": PHONE,
                "rule": "late-vip",
                "escalated": null,
                "coalesced": "already told",
                "unreachable": null,
                "messages": [{ "channel": "email", "status": "sent", "delivery_status": null }],
            })
        );
    }

    #[test]
    fn escalations_in_the_queue_mask_contacts_and_an_opened_one_keeps_every_field() {
        let listed = json_of(EscalationRecord::from(escalation_row()));
        assert_eq!(listed["email"], "a***@example.com");
        assert_eq!(listed["phone"], "+34******222");
        assert_eq!(
            json_of(EscalationRecord::opened(escalation_row())),
            json!({
                "escalation_id": id(2),
                "incident_id": id(1),
                "created_at": "2025-03-14T09:30:00Z",
                "rule": "cancelled-vip",
                "reason": "call the customer",
                "status": "handled",
                "note": "called",
                "handled_at": "2025-03-14T10:30:00Z",
                "handled_by": "admin",
                "order_id": "A-10042",
                "customer_id": "C-77",
                "event_type": "order.cancelled",
                "customer_name": null,
                "email": EMAIL,
                "phone": PHONE,
                "locale": "es-ES",
                "tier": "vip",
                "timezone": "Europe/Madrid",
                "call": null,
                "messages": [{ "channel": "sms", "status": "sent", "subject": null }],
                "order_history": [{ "event_type": "order.cancelled", "rule": "cancelled-vip" }],
                "promise": null,
            })
        );
    }

    #[test]
    fn an_open_escalation_says_when_to_call_in_the_customer_daytime() {
        let hours = CallingHours::parse("09:00-18:00").unwrap();
        let mut row = escalation_row();
        row.status = "open".to_owned();
        // 03:10 in Madrid (02:10 UTC): from 09:00 to 18:00 there, that day.
        let night = Utc.with_ymd_and_hms(2026, 11, 24, 2, 10, 0).unwrap();
        let view = json_of(EscalationRecord::opened(row.clone()).calling(night, &hours));
        assert_eq!(
            view["call"],
            json!({
                "hours": "09:00-18:00",
                "timezone": "Europe/Madrid",
                "now": false,
                "from": "2026-11-24T09:00:00+01:00",
                "until": "2026-11-24T18:00:00+01:00",
            })
        );
        // 11:00 there: now, until 18:00.
        let day = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let view = json_of(EscalationRecord::opened(row.clone()).calling(day, &hours));
        assert_eq!(view["call"]["now"], true);
        assert_eq!(view["call"]["from"], "2026-11-24T11:00:00+01:00");
        // A customer without a zone is called in UTC hours; a handled escalation needs no call.
        row.timezone = None;
        let view = json_of(EscalationRecord::from(row).calling(night, &hours));
        assert_eq!(view["call"]["from"], "2026-11-24T09:00:00Z");
        let handled = json_of(EscalationRecord::from(escalation_row()).calling(night, &hours));
        assert_eq!(handled["call"], Value::Null);
    }

    #[test]
    fn the_openapi_document_describes_scheduled_and_cancelled_messages_and_calls() {
        use utoipa::OpenApi;
        let doc = json_of(super::super::ApiDoc::openapi());
        for name in ["Scheduled", "Cancelled", "CallSuggestion"] {
            assert!(doc["components"]["schemas"][name].is_object(), "{name}");
        }
        let message = &doc["components"]["schemas"]["MessageRecord"]["properties"];
        assert!(message["scheduled"].is_object() && message["due_at"].is_object());
    }

    #[test]
    fn a_waiting_message_is_scheduled_and_a_replaced_one_says_why_it_was_cancelled() {
        let mut row = message_row("sms", PHONE);
        row.status = "pending".to_owned();
        row.attempts = 0;
        row.due_at = at(7);
        row.scheduled_reason =
            Some("03:10 there is in the sms quiet hours 21:00-08:00 (configured)".to_owned());
        let view = json_of(MessageRecord::from(row.clone()));
        assert_eq!(view["due_at"], "2025-03-14T07:30:00Z");
        assert_eq!(
            view["scheduled"],
            json!({
                "until": "2025-03-14T07:30:00Z",
                "reason": "03:10 there is in the sms quiet hours 21:00-08:00 (configured)",
            })
        );
        assert_eq!(view["cancelled"], Value::Null);
        row.status = "cancelled".to_owned();
        row.cancelled_reason = Some("replaced before it went out".to_owned());
        row.superseded_by = Some(id(9));
        row.superseded_by_type = Some("order.cancelled".to_owned());
        let view = json_of(MessageRecord::from(row));
        assert_eq!(view["scheduled"], Value::Null);
        assert_eq!(
            view["cancelled"],
            json!({
                "reason": "replaced before it went out",
                "superseded_by": id(9),
                "superseded_by_type": "order.cancelled",
            })
        );
    }

    #[test]
    fn a_message_keeps_every_field_its_attempts_and_reports() {
        assert_eq!(
            json_of(MessageRecord::opened(message_row("email", EMAIL))),
            json!({
                "outbox_id": id(3),
                "channel": "email",
                "recipient": EMAIL,
                "locale": "es",
                "subject": "Tu pedido",
                "body_text": "Hola Ana",
                "body_html": null,
                "status": "sent",
                "delivery_status": "delivered",
                "provider": "smtp",
                "provider_message_id": "pm-1",
                "last_error": null,
                "attempts": 1,
                "sent_at": "2025-03-14T11:30:00Z",
                "template_version": "abc123",
                "standby_for": id(4),
                "created_at": "2025-03-14T09:30:00Z",
                "due_at": "2025-03-14T09:30:00Z",
                "scheduled": null,
                "cancelled": null,
                "attempt_log": [{
                    "number": 1,
                    "provider": "smtp",
                    "outcome": "sent",
                    "error": null,
                    "started_at": "2025-03-14T10:30:00Z",
                    "finished_at": "2025-03-14T11:30:00Z",
                }],
                "delivery_events": [{
                    "provider": "smtp",
                    "status": "delivered",
                    "detail": "250 ok",
                    "occurred_at": null,
                    "created_at": "2025-03-14T12:30:00Z",
                }],
            })
        );
        let masked = json_of(MessageRecord::from(message_row("sms", PHONE)));
        assert_eq!(masked["recipient"], "+34******222");
    }

    #[test]
    fn messages_needing_attention_mask_the_recipient_by_channel() {
        assert_eq!(
            json_of(AttentionRecord::from(attention_row("sms", PHONE))),
            json!({
                "outbox_id": id(3),
                "incident_id": id(1),
                "channel": "sms",
                "recipient": "+34******222",
                "status": "unknown",
                "provider": "twilio",
                "last_error": "timed out",
                "attempts": 2,
                "updated_at": "2025-03-14T12:30:00Z",
                "order_id": "A-10042",
                "customer_id": "C-77",
                "event_type": "order.delayed",
            })
        );
        let email = json_of(AttentionRecord::from(attention_row("email", EMAIL)));
        assert_eq!(email["recipient"], "a***@example.com");
    }

    #[test]
    fn a_decision_keeps_every_field() {
        let row = store::DecisionRecord {
            rule: "late-vip".to_owned(),
            template: "order-delayed".to_owned(),
            channels: vec!["email".to_owned(), "sms".to_owned()],
            skipped: json!({ "push": "no such channel" }),
            unreachable: None,
            send_at: at(9),
            policy_version: "p1".to_owned(),
            explanation: json!({ "rules": [{ "name": "late-vip", "matched": true }] }),
            offers: json!([{ "kind": "free_shipping" }]),
            coalesced: Some("already told".to_owned()),
            escalated: true,
        };
        assert_eq!(
            json_of(DecisionRecord::from(row)),
            json!({
                "rule": "late-vip",
                "template": "order-delayed",
                "channels": ["email", "sms"],
                "skipped": { "push": "no such channel" },
                "unreachable": null,
                "send_at": "2025-03-14T09:30:00Z",
                "policy_version": "p1",
                "explanation": { "rules": [{ "name": "late-vip", "matched": true }] },
                "offers": [{ "kind": "free_shipping" }],
                "coalesced": "already told",
                "escalated": true,
            })
        );
    }

    #[test]
    fn a_ledger_entry_keeps_every_field() {
        let row = store::CompensationRecord {
            compensation_id: id(5),
            created_at: at(9),
            incident_id: id(1),
            order_id: "A-10042".to_owned(),
            customer_id: "C-77".to_owned(),
            rule: "late-vip".to_owned(),
            kind: "percent_off".to_owned(),
            status: "issued".to_owned(),
            code: Some("SORRY-10".to_owned()),
            amount: None,
            percent: Some("10".to_owned()),
            currency: "EUR".to_owned(),
            cost: "12.99".to_owned(),
            expires_at: Some(at(13)),
            reason: None,
        };
        assert_eq!(
            json_of(CompensationRecord::from(row)),
            json!({
                "compensation_id": id(5),
                "created_at": "2025-03-14T09:30:00Z",
                "incident_id": id(1),
                "order_id": "A-10042",
                "customer_id": "C-77",
                "rule": "late-vip",
                "kind": "percent_off",
                "status": "issued",
                "code": "SORRY-10",
                "amount": null,
                "percent": "10",
                "currency": "EUR",
                "cost": "12.99",
                "expires_at": "2025-03-14T13:30:00Z",
                "reason": null,
            })
        );
    }

    #[test]
    fn the_overview_keeps_every_count() {
        let row = store::Overview {
            incidents_today: 1,
            messages_sent_today: 2,
            messages_failed: 3,
            messages_unknown: 4,
            open_escalations: 5,
        };
        assert_eq!(
            json_of(Overview::from(row)),
            json!({
                "incidents_today": 1,
                "messages_sent_today": 2,
                "messages_failed": 3,
                "messages_unknown": 4,
                "open_escalations": 5,
            })
        );
    }
}
