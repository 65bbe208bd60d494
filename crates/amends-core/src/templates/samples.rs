//! Sample data for checks, previews, golden tests and benchmarks: the shipped sample events,
//! one offer of every kind, and the data model they add up to (pure, no I/O).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use rand::Rng;

use super::context::{self, Extras, Reading};
use super::{Rendered, StoreInfo, TemplateError, Templates};
use crate::incident::{self, Incident, IncidentDetails, Locale, Money, Refund, Substitute};
use crate::policy::{Channel, History, Offer, OfferKind, Policy};

/// The template key the shipped templates use for an event type: `order.delayed` → `order-delayed`.
pub fn key_of(event_type: &str) -> String {
    event_type.replace('.', "-")
}

/// The shipped template keys not named after an event type, with the event type whose sample
/// they are checked and previewed with.
const OTHER_KEYS: [(&str, &str); 3] = [
    ("order-update", "order.delayed"),
    ("order-followup", "order.delivered"),
    ("order-overdue-update", "order.overdue"),
];

/// Every event type with a sample: those the order system sends, then those amends raises
/// itself (`order.overdue`), which templates are written for all the same.
pub fn types() -> impl Iterator<Item = &'static str> {
    incident::SUPPORTED_TYPES
        .into_iter()
        .chain(incident::OWN_TYPES)
}

/// The event type of a template key, when it is one of the shipped ones.
pub fn type_of(key: &str) -> Option<&'static str> {
    types()
        .find(|t| key_of(t) == key)
        .or_else(|| OTHER_KEYS.iter().find(|(k, _)| *k == key).map(|(_, t)| *t))
}

/// The shipped sample incident of `event_type`, read by a customer of `locale`.
pub fn incident(event_type: &str, locale: &Locale) -> Option<Incident> {
    edited(event_type, |e| {
        e["data"]["customer"]["locale"] = locale.as_str().into();
    })
}

/// The shipped sample incident of `event_type`, read by a customer of `locale` when given, else
/// of `default_locale`.
pub fn incident_in(
    event_type: &str,
    default_locale: &Locale,
    locale: Option<&Locale>,
) -> Option<Incident> {
    incident(event_type, locale.unwrap_or(default_locale))
}

/// What the policy gives a sample incident, for previews: the rule, its offers with fresh
/// codes, and whether a person follows up.
#[derive(Debug, Clone)]
pub struct SampleDecision {
    /// The rule that matched (empty when none did).
    pub rule: String,
    /// Its offers, with codes.
    pub offers: Vec<Offer>,
    /// Whether a person follows up.
    pub escalated: bool,
    /// When the message is as if sent.
    pub now: DateTime<Utc>,
    /// Earlier incidents on the order the customer heard of.
    pub earlier_incidents: u32,
    /// Whether the message may promise an update.
    pub updates_promised: bool,
    /// For an update, the date last told.
    pub previous_eta: Option<chrono::NaiveDate>,
    /// For a follow-up, the codes restated.
    pub earlier_codes: Vec<Offer>,
    /// The feedback link, where the store collects feedback (set by the caller).
    pub feedback_url: Option<String>,
}

impl SampleDecision {
    /// What `policy` gives `incident` as if first seen at `now`, settled against an empty
    /// history the way the daemon settles (a preview spends no budget). A closing event is
    /// decided as on an order that had a delay, with a code, the day before: else there would be
    /// nothing to follow up.
    pub fn of(
        policy: &Policy,
        incident: &Incident,
        now: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> SampleDecision {
        let history = if incident.event_type.closes_loop() {
            closed_history(now)
        } else {
            History::default()
        };
        let decision = policy.decide(incident, &history, now);
        let currency = incident.order.total.currency();
        let settled = policy.settle_offline(&decision, &history, currency);
        SampleDecision {
            rule: decision.rule.clone(),
            offers: settled.grant(&policy.settings().codes, rng),
            escalated: settled.escalation().is_some(),
            now,
            earlier_incidents: decision.earlier_incidents,
            updates_promised: decision.updates_promised,
            previous_eta: decision.previous_eta,
            earlier_codes: decision.reminders.clone(),
            feedback_url: None,
        }
    }

    /// No offers, no escalation.
    pub fn apology(now: DateTime<Utc>) -> SampleDecision {
        SampleDecision {
            rule: String::new(),
            offers: Vec::new(),
            escalated: false,
            now,
            earlier_incidents: 0,
            updates_promised: false,
            previous_eta: None,
            earlier_codes: Vec::new(),
            feedback_url: None,
        }
    }

    /// What it adds to a message.
    pub fn extras(&self) -> Extras<'_> {
        Extras {
            offers: &self.offers,
            escalated: self.escalated,
            sent_at: self.now,
            earlier: self.earlier_incidents,
            updates_promised: self.updates_promised,
            feedback_url: self.feedback_url.as_deref(),
            previous_eta: self.previous_eta,
            earlier_codes: &self.earlier_codes,
        }
    }

    /// Renders `key` for `channel` with these offers.
    pub fn render(
        &self,
        templates: &Templates,
        key: &str,
        channel: Channel,
        incident: &Incident,
        store: &StoreInfo,
    ) -> Result<Rendered, TemplateError> {
        templates.render(key, channel, incident, store, &self.extras())
    }
}

/// The history of a sample order that had a delay the day before `now`, told to the customer
/// with a free-shipping code valid 90 days: what a closing event is previewed against.
pub fn closed_history(now: DateTime<Utc>) -> History {
    use crate::policy::{PriorCode, PriorIncident, RuleKind};
    History {
        order_incidents: vec![PriorIncident {
            event_type: incident::IncidentType::Delayed,
            at: now - Duration::days(1),
            messaged: true,
            given: rust_decimal::Decimal::new(495, 2),
            kind: RuleKind::Apology,
            eta: incident::Eta::parse("2026-11-29").ok(),
            codes: vec![PriorCode {
                code: "SORRY-K7QW3MZP".to_owned(),
                kind: OfferKind::FreeShipping,
                amount: None,
                percent: None,
                expires_at: Some(now + Duration::days(89)),
            }],
            id: None,
            waiting: false,
            occurred_at: None,
        }],
        ..History::default()
    }
}

/// The shipped sample event of `event_type` with `edit` applied to its JSON, parsed; `None` when
/// there is no such sample or the edit made it invalid.
pub fn edited(event_type: &str, edit: impl FnOnce(&mut Value)) -> Option<Incident> {
    let mut event: Value = serde_json::from_str(incident::sample(event_type)?).ok()?;
    edit(&mut event);
    let body = serde_json::to_vec(&event).ok()?;
    incident::parse(&body, None, &Locale::parse("en").ok()?).ok()
}

/// A store with every field set, as a configured store would look.
pub fn store() -> StoreInfo {
    StoreInfo {
        name: "Northwind Outfitters".to_owned(),
        url: url::Url::parse("https://shop.example/").ok(),
        support_email: Some("care@shop.example".to_owned()),
        support_phone: Some("+34 910 000 000".to_owned()),
        address: Some("Calle de Alcalá 1, 28014 Madrid, Spain".to_owned()),
        logo_url: url::Url::parse("https://shop.example/logo.png").ok(),
        preferences_url: url::Url::parse("https://shop.example/account/preferences").ok(),
    }
}

/// The kinds of offer that carry a code.
pub const CODE_KINDS: [OfferKind; 4] = [
    OfferKind::PercentOff,
    OfferKind::AmountOff,
    OfferKind::FreeShipping,
    OfferKind::GiftCertificate,
];

/// One offer of `kind` for `incident`, issued with a code where the kind has one, valid 90 days
/// from `now`.
pub fn offer(kind: OfferKind, incident: &Incident, now: DateTime<Utc>) -> Offer {
    let currency = incident.order.total.currency();
    let money = |amount: &str| Money::parse(amount, currency).unwrap_or(Money::zero(currency));
    let coded = CODE_KINDS.contains(&kind);
    let (amount, percent) = match kind {
        OfferKind::PercentOff => (Some(money("30.00")), Some(rust_decimal::Decimal::from(15))),
        OfferKind::AmountOff => (Some(money("10.00")), None),
        OfferKind::GiftCertificate => (Some(money("25.00")), None),
        _ => (None, None),
    };
    let substitutes = match (&incident.details, kind) {
        (IncidentDetails::Stockout(s), OfferKind::Substitute) if !s.substitutes.is_empty() => {
            s.substitutes.clone()
        }
        (_, OfferKind::Substitute) => vec![Substitute {
            sku: "SKU-9".to_owned(),
            name: "Trail shoe II".to_owned(),
            price: Some(money("119.90")),
            url: Some("https://shop.example/p/SKU-9".to_owned()),
        }],
        _ => Vec::new(),
    };
    let refund = match (&incident.details, kind) {
        (IncidentDetails::Cancelled(c), OfferKind::RefundConfirmation) if c.refund.is_some() => {
            c.refund.clone()
        }
        (_, OfferKind::RefundConfirmation) => Some(Refund {
            amount: incident.order.total,
            method: "original_payment".to_owned(),
        }),
        _ => None,
    };
    Offer {
        kind,
        cost: amount.unwrap_or(Money::zero(currency)),
        amount,
        percent,
        expires_at: coded.then(|| now + Duration::days(90)),
        substitutes,
        refund,
        code: coded.then(|| format!("SORRY-{}", &kind.as_str()[..4].to_ascii_uppercase())),
    }
}

/// Every kind of offer at once, for exercising every branch of the offer partials.
pub fn every_offer(incident: &Incident, now: DateTime<Utc>) -> Vec<Offer> {
    [
        OfferKind::RefundConfirmation,
        OfferKind::Substitute,
        OfferKind::PercentOff,
        OfferKind::AmountOff,
        OfferKind::FreeShipping,
        OfferKind::GiftCertificate,
    ]
    .into_iter()
    .map(|kind| offer(kind, incident, now))
    .collect()
}

/// A fixed send time for samples: a Monday morning before the sample dates.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The data model templates are checked against: the union of the contexts of every sample
/// incident with every offer and every store field set. Objects list their keys, arrays hold
/// one element that merges every element's keys, and leaves are any value.
pub fn model() -> Value {
    let mut model = Value::Null;
    let store = store();
    let Ok(locale) = Locale::parse("en") else {
        return model;
    };
    // Every sample, and the stockout again with its items removed: only then does it say
    // what remains of the order.
    let removed = edited("order.stockout", |e| {
        e["data"]["stockout"]["action"] = "cancel_items".into();
    });
    let incidents = types().filter_map(|t| incident(t, &locale)).chain(removed);
    for incident in incidents {
        let offers = every_offer(&incident, now());
        let extras = Extras {
            offers: &offers,
            escalated: true,
            sent_at: now(),
            earlier: 1,
            updates_promised: true,
            feedback_url: Some("https://shop.example/feedback"),
            previous_eta: chrono::NaiveDate::from_ymd_opt(2026, 11, 29),
            earlier_codes: &offers,
        };
        let reading = Reading {
            locale: "en".to_owned(),
            timezone: "UTC".to_owned(),
            now: now(),
        };
        merge(
            &mut model,
            context::build(&incident, &store, &extras, &reading),
        );
    }
    model
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (into @ Value::Null, from) => *into = shape(from),
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.is_empty() {
                a.push(Value::Null);
            }
            for v in b {
                merge(&mut a[0], v);
            }
        }
        _ => {}
    }
}

/// A value reduced to its shape: arrays to one merged element.
fn shape(value: Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut element = Value::Null;
            for item in items {
                merge(&mut element, item);
            }
            Value::Array(vec![element])
        }
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, shape(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_has_every_field_of_every_incident() {
        let model = model();
        for path in [
            "/delay/new_eta",
            "/stockout/substitutes/0/url",
            "/cancellation/refund/method",
            "/codes/0/expires",
            "/offers/0/substitutes/0/price",
            "/store/preferences_url",
            "/message/now",
            "/order/items/0/unit_price",
            "/stockout/remaining/items/0/name",
            "/stockout/remaining/total",
            "/stockout/refund",
            "/delay/original_eta_passed",
            "/delay/new_eta_passed",
            "/call/until",
            "/call/by_phone",
            "/customer/country",
            "/earlier_incidents",
            "/updates_promised",
            "/shipment/delivered_at",
            "/earlier_codes/0/code",
            "/previous_eta",
            "/feedback_url",
            "/overdue/deliver_by",
            "/overdue/next_update_by",
            "/overdue/tracking_url",
        ] {
            assert!(
                model.pointer(path).is_some(),
                "{path} missing from the model"
            );
        }
    }

    #[test]
    fn keys_and_types_map_both_ways() {
        assert_eq!(key_of("order.stockout"), "order-stockout");
        assert_eq!(type_of("order-stockout"), Some("order.stockout"));
        assert_eq!(type_of("vip-apology"), None);
        assert_eq!(type_of("order-followup"), Some("order.delivered"));
        assert_eq!(type_of("order-update"), Some("order.delayed"));
        assert_eq!(type_of("order-overdue"), Some("order.overdue"));
        assert_eq!(type_of("order-overdue-update"), Some("order.overdue"));
    }
}
