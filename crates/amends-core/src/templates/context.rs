//! The render context: what a template can say about an incident, already formatted for display.
//!
//! Every key is always present (null when the event did not carry it), so strict mode can tell
//! a typo from a missing value.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};
use url::Url;

use crate::incident::{Incident, IncidentDetails, Money};
use crate::policy::{Offer, OfferKind};

/// The store the messages speak for (shown in every message).
#[derive(Debug, Clone)]
pub struct StoreInfo {
    /// The store's name.
    pub name: String,
    /// The store's home page.
    pub url: Option<Url>,
    /// Where customers can write.
    pub support_email: Option<String>,
    /// Where customers can call.
    pub support_phone: Option<String>,
    /// The postal address shown in the email footer.
    pub address: Option<String>,
    /// A logo shown above every email (never needed to understand it).
    pub logo_url: Option<Url>,
    /// Where customers manage their email preferences, linked from the footer.
    pub preferences_url: Option<Url>,
}

impl StoreInfo {
    /// A store with only a name.
    pub fn named(name: &str) -> StoreInfo {
        StoreInfo {
            name: name.to_owned(),
            url: None,
            support_email: None,
            support_phone: None,
            address: None,
            logo_url: None,
            preferences_url: None,
        }
    }
}

/// What the decision adds to a message beside the incident: the offers (with their codes),
/// whether a person will follow up, and when the message is sent (relative dates count from it).
#[derive(Debug, Clone, Copy)]
pub struct Extras<'a> {
    /// The offers given.
    pub offers: &'a [Offer],
    /// A person from the care team will contact the customer.
    pub escalated: bool,
    /// When the message goes out.
    pub sent_at: DateTime<Utc>,
    /// Earlier incidents on this order the customer already heard about (0: this is the first).
    pub earlier: u32,
    /// The policy sends an update when the date becomes known or moves, so the message may
    /// promise one.
    pub updates_promised: bool,
    /// Where the customer can tell us how we did, when the store collects feedback.
    pub feedback_url: Option<&'a str>,
    /// For an update: the date the customer was last told (`None`: unknown, or no update).
    pub previous_eta: Option<NaiveDate>,
    /// For a follow-up: the codes issued earlier for the order and still valid, restated.
    pub earlier_codes: &'a [Offer],
}

impl Extras<'_> {
    /// No offers, no follow-up, sent at `sent_at`.
    pub fn apology(sent_at: DateTime<Utc>) -> Extras<'static> {
        Extras {
            offers: &[],
            escalated: false,
            sent_at,
            earlier: 0,
            updates_promised: false,
            feedback_url: None,
            previous_eta: None,
            earlier_codes: &[],
        }
    }
}

/// Where and how a message is read: the locale its helpers format in (the customer's, when the
/// template speaks the customer's language), the customer's time zone, and the send time.
#[derive(Debug, Clone)]
pub struct Reading {
    /// BCP 47 tag the helpers format in.
    pub locale: String,
    /// IANA time zone of the customer.
    pub timezone: String,
    /// When the message is sent.
    pub now: DateTime<Utc>,
}

/// One offer for templates: every key present, amounts as `"5.00 EUR"` for the `money` helper,
/// and a flag per kind (`is_percent_off`, …) since templates cannot compare strings without
/// a helper.
fn offer(o: &Offer) -> Value {
    let kind = o.kind;
    json!({
        "kind": kind.as_str(),
        "is_percent_off": kind == OfferKind::PercentOff,
        "is_amount_off": kind == OfferKind::AmountOff,
        "is_free_shipping": kind == OfferKind::FreeShipping,
        "is_gift_certificate": kind == OfferKind::GiftCertificate,
        "is_substitute": kind == OfferKind::Substitute,
        "is_refund_confirmation": kind == OfferKind::RefundConfirmation,
        "code": o.code,
        "amount": o.amount.as_ref().map(money),
        "percent": o.percent.map(|p| p.normalize().to_string()),
        "expires": o.expires_at.map(timestamp),
        "substitutes": o.substitutes.iter().map(substitute).collect::<Vec<_>>(),
        "refund": o.refund.as_ref().map(|r| json!({
            "amount": money(&r.amount),
            "method": r.method,
        })),
    })
}

fn substitute(sub: &crate::incident::Substitute) -> Value {
    json!({
        "sku": sub.sku, "name": sub.name,
        "price": sub.price.as_ref().map(money), "url": sub.url,
    })
}

/// Builds the context for one incident, as read by `reading`.
pub fn build(
    incident: &Incident,
    store: &StoreInfo,
    extras: &Extras<'_>,
    reading: &Reading,
) -> Value {
    let customer = &incident.customer;
    let order = &incident.order;
    let tz = &customer.timezone;
    let items: Vec<Value> = order
        .items
        .iter()
        .map(|item| {
            json!({
                "sku": item.sku,
                "name": item.name,
                "quantity": item.quantity,
                "unit_price": item.unit_price.as_ref().map(money),
            })
        })
        .collect();
    let offers: Vec<Value> = extras.offers.iter().map(offer).collect();
    let (delay, stockout, cancellation) = match &incident.details {
        IncidentDetails::Delayed(d) => {
            let original = d.original_eta.date_in(tz);
            let new = d.new_eta.as_ref().map(|e| e.date_in(tz));
            let delay = json!({
                "original_eta": date(original),
                "new_eta": new.map(date),
                "days_late": new.map(|n| (n - original).num_days()),
                "reason": d.reason,
                "carrier": d.carrier,
                "tracking_url": d.tracking_url,
            });
            (delay, Value::Null, Value::Null)
        }
        IncidentDetails::Stockout(s) => {
            let stockout = json!({
                "items": s.items.iter().map(|i| json!({
                    "sku": i.sku, "name": i.name, "quantity": i.quantity,
                })).collect::<Vec<_>>(),
                "action": s.action,
                "backorder_eta": s.backorder_eta.as_ref().map(|e| date(e.date_in(tz))),
                "substitutes": s.substitutes.iter().map(substitute).collect::<Vec<_>>(),
            });
            (Value::Null, stockout, Value::Null)
        }
        IncidentDetails::Cancelled(c) => {
            let cancellation = json!({
                "reason": c.reason,
                "initiated_by": c.initiated_by,
                "refund": c.refund.as_ref().map(|r| json!({
                    "amount": money(&r.amount),
                    "method": r.method,
                })),
            });
            (Value::Null, Value::Null, cancellation)
        }
        IncidentDetails::Shipped(_) | IncidentDetails::Delivered(_) => {
            (Value::Null, Value::Null, Value::Null)
        }
    };
    let shipment = incident.details.shipment().map_or(Value::Null, |s| {
        json!({
            "carrier": s.carrier,
            "tracking_url": s.tracking_url,
            "shipped_at": s.shipped_at.map(timestamp),
            "delivered_at": s.delivered_at.map(timestamp),
            "eta": s.eta.as_ref().map(|e| date(e.date_in(tz))),
        })
    });
    json!({
        "store": {
            "name": store.name,
            "url": store.url.as_ref().map(|u| u.as_str()),
            "address": store.address,
            "logo_url": store.logo_url.as_ref().map(|u| u.as_str()),
            "preferences_url": store.preferences_url.as_ref().map(|u| u.as_str()),
            "support_email": store.support_email,
            "support_phone": store.support_phone,
        },
        "customer": {
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "tier": customer.tier,
        },
        "order": {
            "id": order.id,
            "number": order.number.clone().unwrap_or_else(|| order.id.clone()),
            "placed_at": order.placed_at.map(timestamp),
            "total": money(&order.total),
            "currency": order.total.currency().code(),
            "url": order.url,
            "items": items,
            "item_count": order.items.iter().map(|i| u64::from(i.quantity)).sum::<u64>(),
        },
        "incident": { "type": incident.event_type.as_str() },
        "codes": offers.iter().filter(|o| !o["code"].is_null()).cloned().collect::<Vec<_>>(),
        "offers": offers,
        "escalated": extras.escalated,
        "earlier_incidents": extras.earlier,
        "updates_promised": extras.updates_promised,
        "feedback_url": extras.feedback_url,
        "previous_eta": extras.previous_eta.map(date),
        "earlier_codes": extras.earlier_codes.iter().map(offer).collect::<Vec<_>>(),
        "shipment": shipment,
        "delay": delay,
        "stockout": stockout,
        "cancellation": cancellation,
        "message": {
            // Filled in for the email body once the subject and preheader are rendered.
            "subject": Value::Null,
            "preheader": Value::Null,
            "locale": reading.locale,
            "timezone": reading.timezone,
            "now": timestamp(reading.now),
        },
    })
}

/// A date as the `date` helper reads it: `2026-11-24`.
fn date(d: NaiveDate) -> String {
    d.to_string()
}

/// A point in time as the `date` and `time` helpers read it: RFC 3339 in UTC.
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Money as the `money` helper reads it: `"129.90 EUR"`, every minor unit kept.
fn money(m: &Money) -> String {
    m.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Currency;

    #[test]
    fn money_keeps_every_minor_unit_for_the_helper() {
        let m = |a: &str, c: &str| money(&Money::parse(a, Currency::parse(c).unwrap()).unwrap());
        assert_eq!(m("12.5", "EUR"), "12.50 EUR");
        assert_eq!(m("1500", "JPY"), "1500 JPY");
    }
}
