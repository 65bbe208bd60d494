//! What a rule's condition can see: the incident, the order, the customer and the customer's
//! history, flattened into plain values with every key always present.
//!
//! Absent values are neutral (`""`, `0`, `false`) rather than null, so a condition such as
//! `incident.delay_days >= 5` is well-typed for every incident and a business user never has to
//! guard against nulls. Amounts are doubles here: good for thresholds in conditions, never used for
//! arithmetic (offers and budgets compute with exact decimals).

use super::{Channel, OfferKind, RuleKind};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::incident::{Eta, Incident, IncidentDetails, IncidentType};

/// What amends' database knows about a customer and an order before this incident.
///
/// Read by the store in the same transaction that records the incident; given by hand to
/// `amends policy explain --customer-history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct History {
    /// The customer's other incidents in the policy's history window.
    pub incidents: i64,
    /// Messages queued for the customer in the history window.
    pub messages: i64,
    /// Compensation already issued to the customer in the per-customer budget window, in the
    /// order's currency (what counted against budgets).
    #[serde(with = "rust_decimal::serde::str")]
    pub compensation: Decimal,
    /// Earlier incidents on the same order, oldest first.
    pub order_incidents: Vec<PriorIncident>,
    /// Spent today from the global budget in the order's currency (explain only; at record time
    /// the database checks it atomically).
    #[serde(with = "rust_decimal::serde::str")]
    pub budget_spent_today: Decimal,
    /// Channels on which the customer's address or number is suppressed (a hard bounce, a spam
    /// complaint, an SMS STOP): never used, whatever the consent says.
    pub suppressed: Vec<Channel>,
}

/// An earlier incident on the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorIncident {
    /// Its type.
    #[serde(rename = "type")]
    pub event_type: IncidentType,
    /// When amends recorded it.
    pub at: DateTime<Utc>,
    /// Whether a message was queued for it (coalesced incidents queue none).
    #[serde(default = "yes")]
    pub messaged: bool,
    /// Compensation issued for it, in the order's currency.
    #[serde(default, with = "rust_decimal::serde::str")]
    pub given: Decimal,
    /// The kind of the rule that decided it (an apology unless said otherwise).
    #[serde(default)]
    pub kind: RuleKind,
    /// For a delay, the new date it gave (`None`: unknown, or not a delay): what the customer
    /// was told, when it was `messaged`.
    #[serde(default)]
    pub eta: Option<Eta>,
    /// The codes issued for it.
    #[serde(default)]
    pub codes: Vec<PriorCode>,
    /// The store's id for it (absent in a history written by hand).
    #[serde(default)]
    pub id: Option<String>,
    /// Whether a message of it still waits to go out, never attempted (held by quiet hours or a
    /// rule's delay): a newer incident may replace it.
    #[serde(default)]
    pub waiting: bool,
    /// When the order system says it happened (its CloudEvents `time`).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A code issued for an earlier incident, as the ledger holds it (in the order's currency).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorCode {
    /// The code.
    pub code: String,
    /// What it is.
    pub kind: OfferKind,
    /// Its face value, or the cap of a percentage.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub amount: Option<Decimal>,
    /// The percentage of a `percent_off`.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub percent: Option<Decimal>,
    /// When it stops being valid.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

fn yes() -> bool {
    true
}

impl History {
    /// Whether the order had an incident to make amends for before this one (a delay, a
    /// stockout or a cancellation, whatever was sent for it): what a follow-up needs.
    pub fn order_had_incident(&self) -> bool {
        self.order_incidents
            .iter()
            .any(|p| !p.event_type.closes_loop())
    }

    /// Earlier incidents on this order the customer heard an apology for (updates and
    /// follow-ups are not incidents of their own).
    pub fn order_incidents_told(&self) -> u32 {
        let told = self
            .order_incidents
            .iter()
            .filter(|p| p.messaged && p.kind == RuleKind::Apology && !p.event_type.closes_loop())
            .count();
        u32::try_from(told).unwrap_or(u32::MAX)
    }

    /// The last delay on this order the customer was told of (an apology or an update), if any.
    /// An overdue order counts: the customer was told we have no date yet.
    pub fn last_told_delay(&self) -> Option<&PriorIncident> {
        self.order_incidents
            .iter()
            .filter(|p| {
                p.messaged && matches!(p.event_type, IncidentType::Delayed | IncidentType::Overdue)
            })
            .max_by_key(|p| p.at)
    }
}

/// What the customer was last told about the date of a delayed order, and what a new delay
/// changes in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtaNews {
    /// The date last told, in the customer's time zone (`None`: they were told it is unknown).
    pub told: Option<NaiveDate>,
    /// The new date (`None`: unknown).
    pub new: Option<NaiveDate>,
}

impl EtaNews {
    /// What `incident` (a delay) changes in what the customer was last told, when they were
    /// told of a delay on this order before; `None` otherwise.
    pub fn of(incident: &Incident, history: &History) -> Option<EtaNews> {
        let IncidentDetails::Delayed(delay) = &incident.details else {
            return None;
        };
        let tz = &incident.customer.timezone;
        let told = history.last_told_delay()?;
        Some(EtaNews {
            told: told.eta.map(|eta| eta.date_in(tz)),
            new: delay.new_eta.map(|eta| eta.date_in(tz)),
        })
    }

    /// A date where there was none, or a different date: news worth an update. (A date that
    /// becomes unknown again is not: the policy apologises for it.)
    pub fn changed(&self) -> bool {
        self.new.is_some() && self.new != self.told
    }

    /// Days the date moved since it was last told; 0 unless both dates are known.
    pub fn moved_days(&self) -> i64 {
        match (self.told, self.new) {
            (Some(told), Some(new)) => (new - told).num_days(),
            _ => 0,
        }
    }
}

/// `date` as conditions see it: `2026-11-29`.
fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The variables of a condition: `incident`, `order`, `customer`, `history`.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// `incident.*`
    pub incident: IncidentFacts,
    /// `order.*`
    pub order: OrderFacts,
    /// `customer.*`
    pub customer: CustomerFacts,
    /// `history.*`
    pub history: HistoryFacts,
}

/// `incident.*`: the type and its type-specific details.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentFacts {
    /// `order.delayed`, `order.stockout` or `order.cancelled`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// New ETA minus original ETA, in days; 0 when the new ETA is unknown or not a delay.
    pub delay_days: i64,
    /// A delay whose new ETA is not known.
    pub eta_unknown: bool,
    /// The delay or cancellation reason; `""` for a stockout.
    pub reason: String,
    /// The carrier of a delayed order, or `""`.
    pub carrier: String,
    /// Who cancelled (`merchant`, `customer`), or `""`.
    pub initiated_by: String,
    /// `backorder`, `partial_ship`, `cancel_items`, or `""`.
    pub stockout_action: String,
    /// Units out of stock.
    pub stockout_units: i64,
    /// Substitutes the event suggests.
    pub substitutes: i64,
    /// A cancellation that comes with a refund.
    pub refund: bool,
    /// A delay whose date differs from what the customer was last told about this order: a
    /// date where they were told "unknown", or a different date.
    pub eta_changed: bool,
    /// Days the new date moved since the date last told (0 unless both are known).
    pub eta_moved_days: i64,
    /// An overdue order: whole days since the promised date, in the customer's time zone.
    pub overdue_days: i64,
    /// An overdue order: this is the update promised with the overdue apology.
    pub overdue_update: bool,
}

/// `order.*`.
#[derive(Debug, Clone, Serialize)]
pub struct OrderFacts {
    /// The order id.
    pub id: String,
    /// The total, for comparisons (`order.total >= 100.0`).
    pub total: f64,
    /// ISO 4217 code.
    pub currency: String,
    /// Units ordered.
    pub item_count: i64,
}

/// `customer.*`.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerFacts {
    /// The customer id.
    pub id: String,
    /// Loyalty tier, or `""`.
    pub tier: String,
    /// Locale tag, e.g. `es-ES`.
    pub locale: String,
    /// Language subtag, e.g. `es`.
    pub language: String,
    /// ISO 3166 country of the phone number, or `""`.
    pub country: String,
    /// An email address is known.
    pub has_email: bool,
    /// A phone number is known.
    pub has_phone: bool,
    /// Consent per channel.
    pub consent: ConsentFacts,
}

/// `customer.consent.*`.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentFacts {
    /// Transactional email allowed.
    pub email: bool,
    /// SMS allowed.
    pub sms: bool,
    /// Promotion (beyond making amends) allowed.
    pub marketing: bool,
}

/// `history.*`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryFacts {
    /// The window the counts cover, in days.
    pub days: i64,
    /// The customer's other incidents in the window.
    pub incidents: i64,
    /// Messages queued for the customer in the window.
    pub messages: i64,
    /// Compensation issued to the customer in the per-customer budget window.
    pub compensation: f64,
    /// Earlier incidents on this order (any time).
    pub order_incidents: i64,
    /// This order had an incident before.
    pub order_had_incident: bool,
    /// Earlier incidents on this order the customer heard an apology for.
    pub order_incidents_told: i64,
    /// The date the customer was last told for this order's delay (`""`: none, or unknown).
    pub last_eta: String,
    /// The customer was last told the date of this order's delay is unknown.
    pub last_eta_unknown: bool,
}

impl Facts {
    /// The facts about `incident` given its `history`; `history_days` is the window of the counts.
    pub fn gather(incident: &Incident, history: &History, history_days: i64) -> Facts {
        let tz = &incident.customer.timezone;
        let mut facts = IncidentFacts {
            event_type: incident.event_type.as_str().to_owned(),
            delay_days: 0,
            eta_unknown: false,
            reason: String::new(),
            carrier: String::new(),
            initiated_by: String::new(),
            stockout_action: String::new(),
            stockout_units: 0,
            substitutes: 0,
            refund: false,
            eta_changed: false,
            eta_moved_days: 0,
            overdue_days: 0,
            overdue_update: false,
        };
        if let Some(news) = EtaNews::of(incident, history) {
            facts.eta_changed = news.changed();
            facts.eta_moved_days = news.moved_days();
        }
        match &incident.details {
            IncidentDetails::Delayed(d) => {
                match &d.new_eta {
                    Some(new) => {
                        facts.delay_days = (new.date_in(tz) - d.original_eta.date_in(tz)).num_days()
                    }
                    None => facts.eta_unknown = true,
                }
                facts.reason = d.reason.as_str().to_owned();
                facts.carrier = d.carrier.clone().unwrap_or_default();
            }
            IncidentDetails::Stockout(s) => {
                facts.stockout_action = s.action.as_str().to_owned();
                facts.stockout_units = units(s.items.iter().map(|i| i.quantity));
                facts.substitutes = count(s.substitutes.len());
            }
            IncidentDetails::Cancelled(c) => {
                facts.reason = c.reason.as_str().to_owned();
                facts.initiated_by = c.initiated_by.as_str().to_owned();
                facts.refund = c.refund.is_some();
            }
            IncidentDetails::Shipped(s) | IncidentDetails::Delivered(s) => {
                facts.carrier = s.carrier.clone().unwrap_or_default();
            }
            IncidentDetails::Placed(_) => {}
            IncidentDetails::Overdue(o) => {
                let since = o.overdue_since.with_timezone(&tz.tz()).date_naive();
                facts.overdue_days = (since - o.deliver_by.date_in(tz)).num_days().max(0);
                facts.overdue_update = o.update;
            }
        }
        let order = &incident.order;
        let customer = &incident.customer;
        let last_told = history
            .last_told_delay()
            .map(|p| (p.eta.map(|eta| eta.date_in(tz)), p.at));
        Facts {
            incident: facts,
            order: OrderFacts {
                id: order.id.clone(),
                total: order.total.amount().to_f64().unwrap_or(f64::MAX),
                currency: order.total.currency().code().to_owned(),
                item_count: units(order.items.iter().map(|i| i.quantity)),
            },
            customer: CustomerFacts {
                id: customer.id.clone(),
                tier: customer.tier.clone().unwrap_or_default(),
                locale: customer.locale.to_string(),
                language: customer.locale.language().to_owned(),
                country: customer
                    .phone
                    .as_ref()
                    .and_then(|p| p.country())
                    .unwrap_or_default()
                    .to_owned(),
                has_email: customer.email.is_some(),
                has_phone: customer.phone.is_some(),
                consent: ConsentFacts {
                    email: customer.consent.email,
                    sms: customer.consent.sms,
                    marketing: customer.consent.marketing,
                },
            },
            history: HistoryFacts {
                days: history_days,
                incidents: history.incidents,
                messages: history.messages,
                compensation: history.compensation.to_f64().unwrap_or(0.0),
                order_incidents: count(history.order_incidents.len()),
                order_had_incident: !history.order_incidents.is_empty(),
                order_incidents_told: i64::from(history.order_incidents_told()),
                last_eta: last_told
                    .and_then(|(eta, _)| eta)
                    .map(day)
                    .unwrap_or_default(),
                last_eta_unknown: last_told.is_some_and(|(eta, _)| eta.is_none()),
            },
        }
    }

    /// The facts as one JSON object (`{"incident": {…}, …}`), for explanations.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The sum of `quantities`; saturates rather than overflows (the parser bounds them anyway).
fn units(quantities: impl Iterator<Item = u32>) -> i64 {
    quantities.fold(0, |sum, n| sum.saturating_add(i64::from(n)))
}

/// A length as a condition's integer.
fn count(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}
