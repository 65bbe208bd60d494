//! Builds the typed model from the CloudEvent's `data`.
//!
//! `data` is walked as a `serde_json::Value` with helpers that carry the JSON path, so every
//! error names its field (`data.order.items[0].quantity: expected a positive integer`), which
//! serde's derived errors do not do well. `null` counts as absent; unknown fields are ignored so
//! the order system can add fields before `amends` knows them.

use serde_json::{Map, Value};

use crate::incident::model::{
    Cancellation, CancellationReason, Consent, Customer, Delay, DelayReason, Eta, IncidentType,
    Initiator, Order, OrderItem, Overdue, Promise, Refund, Shipment, StockoutAction, StockoutItem,
    Substitute,
};
use crate::incident::{
    Currency, EmailAddress, IncidentError, InvalidValue, Locale, Money, PhoneNumber, Stockout,
    TimeZone, check,
};

type Result<T> = std::result::Result<T, IncidentError>;

/// Most units of one line (ordered or out of stock): a million is more than any shop sells in
/// one line, and a thousand lines of it still add up to well within an `i64` or a `u32`.
pub(crate) const QUANTITY_MAX: u64 = 1_000_000;
/// Most lines of `data.order.items` or `data.stockout.items`: an order of more is a wholesale
/// manifest, not one a customer reads an apology about (and each line is rendered).
pub(crate) const ITEMS_MAX: usize = 1_000;
/// Most `data.stockout.substitutes`: a policy shows at most ten.
pub(crate) const SUBSTITUTES_MAX: usize = 100;

/// A JSON object and its path from the envelope root (`data.order`).
pub(crate) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// `value` as an object, or an error at `path`.
    pub(crate) fn new(path: impl Into<String>, value: &'a Value) -> Result<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Obj { path, map }),
            _ => Err(IncidentError::at(path, "expected an object")),
        }
    }

    fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn invalid(&self, key: &str, problem: impl Into<String>) -> IncidentError {
        IncidentError::at(self.path(key), problem)
    }

    fn opt(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    fn req(&self, key: &str) -> Result<&'a Value> {
        self.opt(key).ok_or_else(|| self.invalid(key, "missing"))
    }

    fn string(&self, key: &str, value: &'a Value) -> Result<&'a str> {
        value
            .as_str()
            .ok_or_else(|| self.invalid(key, "expected a string"))
    }

    /// A required string field, validated by `parse`.
    pub(crate) fn req_with<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, InvalidValue>,
    ) -> Result<T> {
        let s = self.string(key, self.req(key)?)?;
        parse(s).map_err(|e| self.invalid(key, e.into_problem()))
    }

    /// An optional string field, validated by `parse` when present.
    pub(crate) fn opt_with<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, InvalidValue>,
    ) -> Result<Option<T>> {
        match self.opt(key) {
            None => Ok(None),
            Some(value) => {
                let s = self.string(key, value)?;
                parse(s)
                    .map(Some)
                    .map_err(|e| self.invalid(key, e.into_problem()))
            }
        }
    }

    pub(crate) fn req_obj(&self, key: &str) -> Result<Obj<'a>> {
        Obj::new(self.path(key), self.req(key)?)
    }

    fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>> {
        self.opt(key)
            .map(|value| Obj::new(self.path(key), value))
            .transpose()
    }

    /// The objects of an array field (empty when absent) of at most `max`, each with its
    /// indexed path.
    fn objects(&self, key: &str, required: bool, max: usize) -> Result<Vec<Obj<'a>>> {
        let items = match self.opt(key) {
            None if required => return Err(self.invalid(key, "missing")),
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(self.invalid(key, "expected an array")),
        };
        if items.len() > max {
            return Err(self.invalid(
                key,
                format!("must have at most {max} entries, not {}", items.len()),
            ));
        }
        let path = self.path(key);
        items
            .iter()
            .enumerate()
            .map(|(i, item)| Obj::new(format!("{path}[{i}]"), item))
            .collect()
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        self.opt(key)
            .map(|value| {
                value
                    .as_bool()
                    .ok_or_else(|| self.invalid(key, "expected a boolean"))
            })
            .transpose()
    }

    /// A whole number from 1 to [`QUANTITY_MAX`].
    fn req_quantity(&self, key: &str) -> Result<u32> {
        let value = self.req(key)?;
        let too_large = || {
            self.invalid(
                key,
                format!("{value} is too large (at most {QUANTITY_MAX})"),
            )
        };
        match value.as_u64() {
            Some(n) if n > QUANTITY_MAX => Err(too_large()),
            Some(n) if n >= 1 => u32::try_from(n).map_err(|_| too_large()),
            // Integers past `u64` (`18446744073709551616`, `1e30`) arrive as floats.
            None if value.as_f64().is_some_and(|n| n > QUANTITY_MAX as f64) => Err(too_large()),
            _ => Err(self.invalid(key, "expected a positive integer")),
        }
    }

    fn money(&self, key: &str, value: &Value, currency: Currency) -> Result<Money> {
        if value.is_number() {
            // A float has already lost the cents; say so rather than guess.
            return Err(self.invalid(key, "must be a decimal string, not a number"));
        }
        let s = self.string(key, value)?;
        Money::parse(s, currency).map_err(|e| self.invalid(key, e.into_problem()))
    }

    fn req_money(&self, key: &str, currency: Currency) -> Result<Money> {
        self.money(key, self.req(key)?, currency)
    }

    fn opt_money(&self, key: &str, currency: Currency) -> Result<Option<Money>> {
        self.opt(key)
            .map(|value| self.money(key, value, currency))
            .transpose()
    }
}

/// `data.order`.
pub(crate) fn order(o: &Obj<'_>) -> Result<Order> {
    let id = o.req_with("id", check::identifier)?;
    let number = o.opt_with("number", check::identifier)?;
    let placed_at = o.opt_with("placed_at", check::datetime)?;
    let currency = o.req_with("currency", Currency::parse)?;
    let total = o.req_money("total", currency)?;
    let url = o.opt_with("url", check::http_url)?;
    let items = o
        .objects("items", false, ITEMS_MAX)?
        .iter()
        .map(|item| {
            Ok(OrderItem {
                sku: item.req_with("sku", check::identifier)?,
                name: item.req_with("name", check::name)?,
                quantity: item.req_quantity("quantity")?,
                unit_price: item.opt_money("unit_price", currency)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Order {
        id,
        number,
        placed_at,
        total,
        url,
        items,
    })
}

/// `data.customer`; `default_locale` when it has no `locale`.
pub(crate) fn customer(c: &Obj<'_>, default_locale: &Locale) -> Result<Customer> {
    Ok(Customer {
        id: c.req_with("id", check::identifier)?,
        email: c.opt_with("email", EmailAddress::parse)?,
        phone: c.opt_with("phone", PhoneNumber::parse)?,
        first_name: c.opt_with("first_name", check::name)?,
        last_name: c.opt_with("last_name", check::name)?,
        locale: c
            .opt_with("locale", Locale::parse)?
            .unwrap_or_else(|| default_locale.clone()),
        timezone: c.opt_with("timezone", TimeZone::parse)?.unwrap_or_default(),
        tier: c.opt_with("tier", check::name)?,
        consent: consent(c)?,
    })
}

/// `data.customer.consent`: each flag defaults on its own (email on, SMS off).
fn consent(c: &Obj<'_>) -> Result<Consent> {
    let default = Consent::default();
    let Some(consent) = c.opt_obj("consent")? else {
        return Ok(default);
    };
    Ok(Consent {
        email: consent.opt_bool("email")?.unwrap_or(default.email),
        sms: consent.opt_bool("sms")?.unwrap_or(default.sms),
        marketing: consent.opt_bool("marketing")?.unwrap_or(default.marketing),
    })
}

/// `data.delay`.
pub(crate) fn delay(d: &Obj<'_>) -> Result<Delay> {
    Ok(Delay {
        original_eta: d.req_with("original_eta", Eta::parse)?,
        new_eta: d.opt_with("new_eta", Eta::parse)?,
        reason: d.req_with("reason", DelayReason::parse)?,
        carrier: d.opt_with("carrier", check::name)?,
        tracking_url: d.opt_with("tracking_url", check::http_url)?,
    })
}

/// `data.stockout`; prices are in the order's `currency`.
pub(crate) fn stockout(s: &Obj<'_>, currency: Currency) -> Result<Stockout> {
    let items = s
        .objects("items", true, ITEMS_MAX)?
        .iter()
        .map(|item| {
            Ok(StockoutItem {
                sku: item.req_with("sku", check::identifier)?,
                name: item.req_with("name", check::name)?,
                quantity: item.req_quantity("quantity")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if items.is_empty() {
        return Err(s.invalid("items", "must not be empty"));
    }
    let action = s.req_with("action", StockoutAction::parse)?;
    let backorder_eta = s.opt_with("backorder_eta", Eta::parse)?;
    let substitutes = s
        .objects("substitutes", false, SUBSTITUTES_MAX)?
        .iter()
        .map(|sub| {
            Ok(Substitute {
                sku: sub.req_with("sku", check::identifier)?,
                name: sub.req_with("name", check::name)?,
                price: sub.opt_money("price", currency)?,
                url: sub.opt_with("url", check::http_url)?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Stockout {
        items,
        action,
        backorder_eta,
        substitutes,
    })
}

/// `data.cancellation`; a refund must be in the order currency and at most the order total.
pub(crate) fn cancellation(c: &Obj<'_>, total: &Money) -> Result<Cancellation> {
    let reason = c.req_with("reason", CancellationReason::parse)?;
    let initiated_by = c.req_with("initiated_by", Initiator::parse)?;
    let refund = match c.opt_obj("refund")? {
        None => None,
        Some(r) => {
            let order_currency = total.currency();
            // `currency` may be omitted (it can only be the order's); if given it must match.
            if let Some(currency) = r.opt_with("currency", Currency::parse)?
                && currency != order_currency
            {
                return Err(r.invalid(
                    "currency",
                    format!(
                        "{} differs from the order currency {}",
                        crate::incident::error::quote(currency.as_str()),
                        crate::incident::error::quote(order_currency.as_str())
                    ),
                ));
            }
            let amount = r.req_money("amount", order_currency)?;
            if amount.amount() > total.amount() {
                return Err(r.invalid(
                    "amount",
                    format!(
                        "{} exceeds the order total {}",
                        amount.amount(),
                        total.amount()
                    ),
                ));
            }
            Some(Refund {
                amount,
                method: r.req_with("method", check::name)?,
            })
        }
    };
    Ok(Cancellation {
        reason,
        initiated_by,
        refund,
    })
}

/// `data.shipment` of `event_type` (`order.shipped` or `order.delivered`): absent means nothing
/// more is known. Only `order.delivered` may say when it was delivered, and not before it shipped.
pub(crate) fn shipment(data: &Obj<'_>, event_type: IncidentType) -> Result<Shipment> {
    let Some(s) = data.opt_obj("shipment")? else {
        return Ok(Shipment::default());
    };
    let shipment = Shipment {
        carrier: s.opt_with("carrier", check::name)?,
        tracking_url: s.opt_with("tracking_url", check::http_url)?,
        shipped_at: s.opt_with("shipped_at", check::datetime)?,
        delivered_at: s.opt_with("delivered_at", check::datetime)?,
        eta: s.opt_with("eta", Eta::parse)?,
    };
    if shipment.delivered_at.is_some() && event_type != IncidentType::Delivered {
        return Err(s.invalid(
            "delivered_at",
            format!(
                "{event_type} cannot say when the order was delivered (that is order.delivered)"
            ),
        ));
    }
    if let (Some(shipped), Some(delivered)) = (shipment.shipped_at, shipment.delivered_at)
        && delivered < shipped
    {
        return Err(s.invalid(
            "delivered_at",
            format!(
                "{} is before shipped_at {}",
                delivered.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                shipped.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
        ));
    }
    Ok(shipment)
}

/// `data.promise` of `order.placed`: absent, or without `deliver_by`, means no date was promised.
pub(crate) fn promise(data: &Obj<'_>) -> Result<Promise> {
    let Some(p) = data.opt_obj("promise")? else {
        return Ok(Promise { deliver_by: None });
    };
    Ok(Promise {
        deliver_by: p.opt_with("deliver_by", Eta::parse)?,
    })
}

/// Longest reason or summary an overdue incident carries for the care team.
const NOTE_MAX_CHARS: usize = 2000;

/// `data.overdue` of `order.overdue` (raised by amends itself, checked all the same).
pub(crate) fn overdue(o: &Obj<'_>) -> Result<Overdue> {
    let update = o.opt_bool("update")?.unwrap_or(false);
    let note = |s: &str| check::text(s, NOTE_MAX_CHARS);
    let held = o.opt_with("held", note)?;
    let summary = o.opt_with("summary", note)?;
    if summary.is_some() && held.is_none() {
        return Err(o.invalid("summary", "only an order held by the daily cap carries one"));
    }
    Ok(Overdue {
        deliver_by: o.req_with("deliver_by", Eta::parse)?,
        overdue_since: o.req_with("overdue_since", check::datetime)?,
        update,
        next_update_by: o.opt_with("next_update_by", check::datetime)?,
        carrier: o.opt_with("carrier", check::name)?,
        tracking_url: o.opt_with("tracking_url", check::http_url)?,
        held,
        summary,
    })
}
