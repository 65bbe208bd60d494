//! The render context: what a template can say about an incident, already formatted for display.
//!
//! Every key is always present (null when the event did not carry it), so strict mode can tell
//! a typo from a missing value. What a message may claim is worked out here, from the event and
//! the send time, so no template has to: when a person will call ([`call_window`]), what is
//! left of an order after items were removed and what they come to ([`Removal`]), and whether
//! a date the event carries has already passed.

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc, Weekday,
};
use serde_json::{Value, json};
use url::Url;

use crate::incident::{Incident, IncidentDetails, Money, OrderItem, StockoutAction, StockoutItem};
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

/// The hours, in the customer's own time zone, in which the care team calls: 9:00 to 18:00.
pub const CALL_HOURS: (u32, u32) = (9, 18);

/// A call promised for today needs this many hours of the window still ahead when the message
/// is sent; later than that, it is promised for the next business day.
pub const CALL_LEAD_HOURS: u32 = 2;

/// Which day a personal call is promised for, as the customer reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDay {
    /// The day the message is sent.
    Today,
    /// The day after.
    Tomorrow,
    /// A later day (a weekend lies between): the message names it.
    Later,
}

/// When a person from the care team will call: a business day and the hours of it, in the
/// customer's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallWindow {
    /// The day, in the customer's time zone.
    pub date: NaiveDate,
    /// How the customer reads that day: today, tomorrow or a later day.
    pub day: CallDay,
    /// When the window opens.
    pub from: DateTime<Utc>,
    /// When it closes.
    pub until: DateTime<Utc>,
}

/// The call a message sent at `sent_at` can promise to a customer in `tz`: today's window
/// ([`CALL_HOURS`]) while at least [`CALL_LEAD_HOURS`] of it are ahead, else the next day's,
/// and never on a Saturday or Sunday (a message sent at the weekend promises Monday).
pub fn call_window(sent_at: DateTime<Utc>, tz: chrono_tz::Tz) -> CallWindow {
    let local = sent_at.with_timezone(&tz);
    let today = local.date_naive();
    let (opens, closes) = CALL_HOURS;
    let last_promise = NaiveTime::from_hms_opt(closes.saturating_sub(CALL_LEAD_HOURS), 0, 0)
        .unwrap_or(NaiveTime::MIN);
    let next = |d: NaiveDate| d.checked_add_days(Days::new(1)).unwrap_or(d);
    let mut date = if local.time() < last_promise {
        today
    } else {
        next(today)
    };
    while matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        date = next(date);
    }
    let day = if date == today {
        CallDay::Today
    } else if date == next(today) {
        CallDay::Tomorrow
    } else {
        CallDay::Later
    };
    CallWindow {
        date,
        day,
        from: at(tz, date, opens),
        until: at(tz, date, closes),
    }
}

/// `hour`:00 on `date` in `tz`, as an instant. A clock change at that hour takes the earlier
/// instant, or the hour after a gap.
fn at(tz: chrono_tz::Tz, date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let local = |h: u32| {
        NaiveTime::from_hms_opt(h, 0, 0)
            .and_then(|t| tz.from_local_datetime(&date.and_time(t)).earliest())
    };
    local(hour)
        .or_else(|| local(hour + 1))
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc())
}

/// Items removed from an order (a stockout with `cancel_items`): what remains of it, and what
/// the removed items come to.
#[derive(Debug, Clone)]
pub struct Removal {
    /// The order's items less the removed quantities; items removed entirely are left out.
    pub remaining: Vec<OrderItem>,
    /// The removed items' unit prices × quantities, in the order's currency; `None` when a
    /// removed item has no unit price in the order (then nothing can be stated exactly).
    pub refund: Option<Money>,
    /// The order's total less the refund; `None` when the refund is unknown.
    pub total: Option<Money>,
}

impl Removal {
    /// What removing `removed` (matched to the order's items by SKU) leaves of an order of
    /// `items` totalling `total`. A removed quantity larger than the ordered one counts as the
    /// ordered one.
    pub fn of(items: &[OrderItem], total: &Money, removed: &[StockoutItem]) -> Removal {
        let removed_of = |sku: &str| -> u32 {
            removed
                .iter()
                .filter(|r| r.sku == sku)
                .fold(0u32, |n, r| n.saturating_add(r.quantity))
        };
        let remaining = items
            .iter()
            .filter_map(|item| {
                let left = item.quantity.saturating_sub(removed_of(&item.sku));
                (left > 0).then(|| OrderItem {
                    quantity: left,
                    ..item.clone()
                })
            })
            .collect();
        let currency = total.currency();
        let mut refund = Some(rust_decimal::Decimal::ZERO);
        // Each SKU once: its removed quantity is already the sum over the event's lines.
        let mut seen: Vec<&str> = Vec::new();
        for r in removed {
            if seen.contains(&r.sku.as_str()) {
                continue;
            }
            seen.push(&r.sku);
            let ordered = items.iter().find(|i| i.sku == r.sku);
            let line = ordered.and_then(|item| {
                let quantity = removed_of(&r.sku).min(item.quantity);
                item.unit_price?
                    .amount()
                    .checked_mul(rust_decimal::Decimal::from(quantity))
            });
            refund = match (refund, line) {
                (Some(sum), Some(line)) => sum.checked_add(line),
                _ => None,
            };
        }
        let refund = refund.and_then(|r| Money::new(r, currency).ok());
        let total = refund.and_then(|r| {
            total
                .amount()
                .checked_sub(r.amount())
                .and_then(|left| Money::new(left, currency).ok())
        });
        Removal {
            remaining,
            refund,
            total,
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
    let items: Vec<Value> = order.items.iter().map(item).collect();
    // "Today" for the customer: dates before it have passed.
    let today = extras.sent_at.with_timezone(&tz.tz()).date_naive();
    let offers: Vec<Value> = extras.offers.iter().map(offer).collect();
    let (delay, stockout, cancellation) = match &incident.details {
        IncidentDetails::Delayed(d) => {
            let original = d.original_eta.date_in(tz);
            let given = d.new_eta.as_ref().map(|e| e.date_in(tz));
            // A new date already behind us is no estimate: the text treats it as unknown.
            let new = given.filter(|n| *n >= today);
            let delay = json!({
                "original_eta": date(original),
                "original_eta_passed": original < today,
                "new_eta": new.map(date),
                "new_eta_passed": given.is_some_and(|n| n < today),
                "days_late": new.map(|n| (n - original).num_days()),
                "reason": d.reason,
                "carrier": d.carrier,
                "tracking_url": d.tracking_url,
            });
            (delay, Value::Null, Value::Null)
        }
        IncidentDetails::Stockout(s) => {
            let removal = (s.action == StockoutAction::CancelItems)
                .then(|| Removal::of(&order.items, &order.total, &s.items));
            let backorder = s.backorder_eta.as_ref().map(|e| e.date_in(tz));
            let stockout = json!({
                "items": s.items.iter().map(|i| json!({
                    "sku": i.sku, "name": i.name, "quantity": i.quantity,
                })).collect::<Vec<_>>(),
                "action": s.action,
                "backorder_eta": backorder.filter(|b| *b >= today).map(date),
                "backorder_eta_passed": backorder.is_some_and(|b| b < today),
                "remaining": removal.as_ref().map(|r| json!({
                    "items": r.remaining.iter().map(item).collect::<Vec<_>>(),
                    "item_count": r.remaining.iter().map(|i| u64::from(i.quantity)).sum::<u64>(),
                    "total": r.total.as_ref().map(money),
                })),
                "refund": removal.as_ref().and_then(|r| r.refund.as_ref().map(money)),
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
        IncidentDetails::Shipped(_)
        | IncidentDetails::Delivered(_)
        | IncidentDetails::Placed(_)
        | IncidentDetails::Overdue(_) => (Value::Null, Value::Null, Value::Null),
    };
    let overdue = match &incident.details {
        IncidentDetails::Overdue(o) => {
            let promised = o.deliver_by.date_in(tz);
            json!({
                "deliver_by": date(promised),
                "days_late": (today - promised).num_days().max(0),
                "update": o.update,
                "next_update_by": o.next_update_by.map(timestamp),
                "carrier": o.carrier,
                "tracking_url": o.tracking_url,
            })
        }
        _ => Value::Null,
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
            "country": customer.phone.as_ref().and_then(|p| p.country()),
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
        "call": extras.escalated.then(|| {
            let window = call_window(extras.sent_at, tz.tz());
            json!({
                "today": window.day == CallDay::Today,
                "tomorrow": window.day == CallDay::Tomorrow,
                "date": date(window.date),
                "from": timestamp(window.from),
                "until": timestamp(window.until),
                "by_phone": customer.phone.is_some(),
            })
        }),
        "earlier_incidents": extras.earlier,
        "updates_promised": extras.updates_promised,
        "feedback_url": extras.feedback_url,
        "previous_eta": extras.previous_eta.map(date),
        "earlier_codes": extras.earlier_codes.iter().map(offer).collect::<Vec<_>>(),
        "shipment": shipment,
        "delay": delay,
        "stockout": stockout,
        "cancellation": cancellation,
        "overdue": overdue,
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

/// An order line for templates, its unit price as the `money` helper reads it.
fn item(item: &OrderItem) -> Value {
    json!({
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "unit_price": item.unit_price.as_ref().map(money),
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
    use crate::templates::samples;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn madrid() -> chrono_tz::Tz {
        chrono_tz::Europe::Madrid
    }

    #[test]
    fn a_call_is_promised_for_today_while_the_window_has_room() {
        // Monday 23 November 2026, 10:00 in Madrid (UTC+1).
        let w = call_window(utc("2026-11-23T09:00:00Z"), madrid());
        assert_eq!(w.day, CallDay::Today);
        assert_eq!(w.date, "2026-11-23".parse::<NaiveDate>().unwrap());
        assert_eq!(w.from, utc("2026-11-23T08:00:00Z"));
        assert_eq!(w.until, utc("2026-11-23T17:00:00Z"));
        // 03:10 at night is before the window: still today, from 9:00.
        let night = call_window(utc("2026-11-23T02:10:00Z"), madrid());
        assert_eq!(night.day, CallDay::Today);
        // 15:59 leaves two hours: today; 16:00 does not: tomorrow.
        assert_eq!(
            call_window(utc("2026-11-23T14:59:00Z"), madrid()).day,
            CallDay::Today
        );
        let late = call_window(utc("2026-11-23T15:00:00Z"), madrid());
        assert_eq!(late.day, CallDay::Tomorrow);
        assert_eq!(late.from, utc("2026-11-24T08:00:00Z"));
    }

    #[test]
    fn a_call_never_falls_on_a_weekend() {
        // Friday 27 November, 19:00 in Madrid: Monday 30.
        let friday = call_window(utc("2026-11-27T18:00:00Z"), madrid());
        assert_eq!(friday.day, CallDay::Later);
        assert_eq!(friday.date, "2026-11-30".parse::<NaiveDate>().unwrap());
        // Saturday morning: Monday, a later day too.
        let saturday = call_window(utc("2026-11-28T09:00:00Z"), madrid());
        assert_eq!(saturday.day, CallDay::Later);
        assert_eq!(saturday.date, friday.date);
        // Sunday: Monday is tomorrow.
        let sunday = call_window(utc("2026-11-29T09:00:00Z"), madrid());
        assert_eq!(sunday.day, CallDay::Tomorrow);
        assert_eq!(sunday.date, friday.date);
    }

    #[test]
    fn the_call_is_in_the_customers_own_day_and_hours() {
        // 23:30 UTC on Monday is already Tuesday 00:30 in Madrid: today is Tuesday.
        let w = call_window(utc("2026-11-23T23:30:00Z"), madrid());
        assert_eq!(w.day, CallDay::Today);
        assert_eq!(w.date, "2026-11-24".parse::<NaiveDate>().unwrap());
        // The same instant is Monday 18:30 in New York (UTC-5): past the window, so Tuesday.
        let ny = call_window(utc("2026-11-23T23:30:00Z"), chrono_tz::America::New_York);
        assert_eq!(ny.day, CallDay::Tomorrow);
        assert_eq!(ny.from, utc("2026-11-24T14:00:00Z"));
        assert_eq!(ny.until, utc("2026-11-24T23:00:00Z"));
        // Summer time: 9:00 in Madrid is 07:00 UTC.
        let summer = call_window(utc("2026-06-15T06:00:00Z"), madrid());
        assert_eq!(summer.from, utc("2026-06-15T07:00:00Z"));
    }

    fn eur(a: &str) -> Money {
        Money::parse(a, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn line(sku: &str, quantity: u32, price: Option<&str>) -> OrderItem {
        OrderItem {
            sku: sku.to_owned(),
            name: format!("Item {sku}"),
            quantity,
            unit_price: price.map(eur),
        }
    }

    fn gone(sku: &str, quantity: u32) -> StockoutItem {
        StockoutItem {
            sku: sku.to_owned(),
            name: format!("Item {sku}"),
            quantity,
        }
    }

    /// What remains, as (SKU, quantity).
    fn left(removal: &Removal) -> Vec<(&str, u32)> {
        removal
            .remaining
            .iter()
            .map(|i| (i.sku.as_str(), i.quantity))
            .collect()
    }

    #[test]
    fn removed_items_leave_the_rest_and_an_exact_refund() {
        let items = [line("A", 1, Some("129.90")), line("B", 3, Some("9.95"))];
        let removal = Removal::of(&items, &eur("164.75"), &[gone("B", 2)]);
        assert_eq!(left(&removal), [("A", 1), ("B", 1)]);
        assert_eq!(removal.refund, Some(eur("19.90")));
        assert_eq!(removal.total, Some(eur("144.85")));
        // Removed entirely: the line is gone; two lines of the same SKU count once.
        let removal = Removal::of(
            &items,
            &eur("164.75"),
            &[gone("A", 1), gone("B", 2), gone("B", 1)],
        );
        assert!(removal.remaining.is_empty());
        assert_eq!(removal.refund, Some(eur("159.75")));
        assert_eq!(removal.total, Some(eur("5.00")));
        // More removed than ordered counts what was ordered.
        let removal = Removal::of(&items, &eur("164.75"), &[gone("A", 5)]);
        assert_eq!(removal.refund, Some(eur("129.90")));
    }

    #[test]
    fn a_refund_without_prices_is_not_guessed() {
        let items = [line("A", 1, None), line("B", 1, Some("9.95"))];
        let removal = Removal::of(&items, &eur("139.85"), &[gone("A", 1)]);
        assert_eq!(left(&removal), [("B", 1)]);
        assert_eq!(removal.refund, None);
        assert_eq!(removal.total, None);
        // A SKU the order does not list has no price either.
        let removal = Removal::of(&items, &eur("139.85"), &[gone("Z", 1)]);
        assert_eq!(removal.refund, None);
        // A refund above the stated total leaves no total rather than a negative one.
        let removal = Removal::of(
            &[line("B", 2, Some("9.95"))],
            &eur("10.00"),
            &[gone("B", 2)],
        );
        assert_eq!(removal.refund, Some(eur("19.90")));
        assert_eq!(removal.total, None);
    }

    fn context(event_type: &str, edit: impl FnOnce(&mut Value), extras: &Extras<'_>) -> Value {
        let incident = samples::edited(event_type, edit).unwrap();
        let reading = Reading {
            locale: "en".to_owned(),
            timezone: incident.customer.timezone.as_str().to_owned(),
            now: extras.sent_at,
        };
        build(&incident, &samples::store(), extras, &reading)
    }

    #[test]
    fn stockout_with_removed_items_states_what_remains_and_the_refund() {
        let extras = Extras::apology(samples::now());
        let c = context(
            "order.stockout",
            |e| e["data"]["stockout"]["action"] = "cancel_items".into(),
            &extras,
        );
        let stockout = &c["stockout"];
        assert_eq!(stockout["refund"], "129.90 EUR");
        assert_eq!(stockout["remaining"]["total"], "19.90 EUR");
        assert_eq!(stockout["remaining"]["item_count"], 2);
        let names: Vec<&str> = stockout["remaining"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Merino hiking socks"]);
        // The order itself is as the event says.
        assert_eq!(c["order"]["total"], "149.80 EUR");
        // Other actions keep the items: nothing remains to state, nothing is refunded.
        let backorder = context("order.stockout", |_| {}, &extras);
        assert!(backorder["stockout"]["remaining"].is_null());
        assert!(backorder["stockout"]["refund"].is_null());
    }

    #[test]
    fn dates_already_past_at_send_time_are_flagged_and_never_shown() {
        // The sample promised 24 November and now expects 29 November.
        let on_time = context("order.delayed", |_| {}, &Extras::apology(samples::now()));
        assert_eq!(on_time["delay"]["original_eta_passed"], false);
        assert_eq!(on_time["delay"]["new_eta"], "2026-11-29");
        assert_eq!(on_time["delay"]["new_eta_passed"], false);
        // Read on 26 November: the promise has passed, the new date has not.
        let late = context(
            "order.delayed",
            |_| {},
            &Extras::apology(utc("2026-11-26T10:00:00Z")),
        );
        assert_eq!(late["delay"]["original_eta_passed"], true);
        assert_eq!(late["delay"]["new_eta"], "2026-11-29");
        // Read on 30 November: the new date is behind us too, so it is not known.
        let stale = context(
            "order.delayed",
            |_| {},
            &Extras::apology(utc("2026-11-30T10:00:00Z")),
        );
        assert_eq!(stale["delay"]["new_eta_passed"], true);
        assert!(stale["delay"]["new_eta"].is_null());
        assert!(stale["delay"]["days_late"].is_null());
        // The day itself has not passed: "today" is still a date.
        let today = context(
            "order.delayed",
            |_| {},
            &Extras::apology(utc("2026-11-29T10:00:00Z")),
        );
        assert_eq!(today["delay"]["new_eta"], "2026-11-29");
        // A backorder date in the past is no date either.
        let backorder = context(
            "order.stockout",
            |_| {},
            &Extras::apology(utc("2026-12-11T10:00:00Z")),
        );
        assert!(backorder["stockout"]["backorder_eta"].is_null());
        assert_eq!(backorder["stockout"]["backorder_eta_passed"], true);
    }

    #[test]
    fn the_call_is_in_the_context_only_when_a_person_follows_up() {
        let quiet = context("order.delayed", |_| {}, &Extras::apology(samples::now()));
        assert!(quiet["call"].is_null());
        let extras = Extras {
            escalated: true,
            ..Extras::apology(samples::now())
        };
        let c = context("order.delayed", |_| {}, &extras);
        assert_eq!(c["call"]["today"], true);
        assert_eq!(c["call"]["from"], "2026-11-23T08:00:00Z");
        assert_eq!(c["call"]["until"], "2026-11-23T17:00:00Z");
        assert_eq!(c["call"]["by_phone"], true);
        assert_eq!(c["customer"]["country"], "ES");
        let no_phone = context(
            "order.delayed",
            |e| {
                e["data"]["customer"]
                    .as_object_mut()
                    .unwrap()
                    .remove("phone");
            },
            &extras,
        );
        assert_eq!(no_phone["call"]["by_phone"], false);
        assert!(no_phone["customer"]["country"].is_null());
    }

    #[test]
    fn money_keeps_every_minor_unit_for_the_helper() {
        let m = |a: &str, c: &str| money(&Money::parse(a, Currency::parse(c).unwrap()).unwrap());
        assert_eq!(m("12.5", "EUR"), "12.50 EUR");
        assert_eq!(m("1500", "JPY"), "1500 JPY");
    }
}
