//! The render context: what a template can say about an incident, already formatted for display.
//!
//! Every key is always present (null when the event did not carry it), so strict mode can tell
//! a typo from a missing value.

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::config::StoreInfo;
use crate::incident::{Eta, Incident, IncidentDetails, Money};
use crate::policy::{Offer, OfferKind};

/// What the decision adds to a message beside the incident: the offers (with their codes) and
/// whether a person will follow up.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recovery<'a> {
    /// The offers given.
    pub offers: &'a [Offer],
    /// A person from the care team will contact the customer.
    pub escalated: bool,
}

/// One offer for templates: every key present, amounts and dates formatted, and a flag per
/// kind (`is_percent_off`, …) since templates cannot compare strings without a helper.
fn offer(o: &Offer, tz: &crate::incident::TimeZone) -> Value {
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
        "expires": o.expires_at.map(|t| date(Eta::DateTime(t).date_in(tz))),
        "substitutes": o.substitutes.iter().map(|sub| json!({
            "sku": sub.sku, "name": sub.name,
            "price": sub.price.as_ref().map(money), "url": sub.url,
        })).collect::<Vec<_>>(),
        "refund": o.refund.as_ref().map(|r| json!({
            "amount": money(&r.amount),
            "method": r.method,
        })),
    })
}

/// Builds the context for one incident.
pub fn build(incident: &Incident, store: &StoreInfo, recovery: &Recovery<'_>) -> Value {
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
    let offers: Vec<Value> = recovery.offers.iter().map(|o| offer(o, tz)).collect();
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
                "substitutes": s.substitutes.iter().map(|sub| json!({
                    "sku": sub.sku, "name": sub.name,
                    "price": sub.price.as_ref().map(money), "url": sub.url,
                })).collect::<Vec<_>>(),
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
    };
    json!({
        "store": {
            "name": store.name,
            "url": store.url.as_ref().map(|u| u.as_str()),
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
            "placed_at": order.placed_at.map(|t| date(Eta::DateTime(t).date_in(tz))),
            "total": money(&order.total),
            "url": order.url,
            "items": items,
            "item_count": order.items.iter().map(|i| u64::from(i.quantity)).sum::<u64>(),
        },
        "incident": { "type": incident.event_type.as_str() },
        "codes": offers.iter().filter(|o| !o["code"].is_null()).cloned().collect::<Vec<_>>(),
        "offers": offers,
        "escalated": recovery.escalated,
        "delay": delay,
        "stockout": stockout,
        "cancellation": cancellation,
    })
}

/// `Tuesday, 24 November 2026` (English; localised formatting comes with locale support).
fn date(d: NaiveDate) -> String {
    d.format("%A, %-d %B %Y").to_string()
}

/// `€129.90`, `$5.00`, or `129.90 SEK` where no common symbol exists.
fn money(m: &Money) -> String {
    let code = m.currency().code();
    // Money keeps its amount scaled to the currency's minor units, so `12.5 EUR` prints `12.50`.
    let amount = m.amount().to_string();
    match code {
        "EUR" => format!("€{amount}"),
        "USD" => format!("${amount}"),
        "GBP" => format!("£{amount}"),
        "JPY" => format!("¥{amount}"),
        _ => format!("{amount} {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Currency;

    fn m(amount: &str, currency: &str) -> String {
        money(&Money::parse(amount, Currency::parse(currency).unwrap()).unwrap())
    }

    #[test]
    fn money_shows_every_minor_unit_and_a_symbol_where_common() {
        assert_eq!(m("12.5", "EUR"), "€12.50");
        assert_eq!(m("7", "USD"), "$7.00");
        assert_eq!(m("1500", "JPY"), "¥1500");
        assert_eq!(m("99.9", "SEK"), "99.90 SEK");
    }
}
