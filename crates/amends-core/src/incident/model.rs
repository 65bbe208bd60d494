//! The typed `data` of an incident: order, customer and the type-specific parts (CONTRACT §1).
//! Values here are already validated; see `data.rs` for the rules.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use crate::incident::error::quote;
use crate::incident::{EmailAddress, InvalidValue, Locale, Money, PhoneNumber, TimeZone, check};

string_enum! {
    /// The CloudEvents `type`s `amends` handles (also the AMQP routing keys).
    pub enum IncidentType {
        /// `order.delayed`
        Delayed => "order.delayed",
        /// `order.stockout`
        Stockout => "order.stockout",
        /// `order.cancelled`
        Cancelled => "order.cancelled",
        /// `order.shipped`: closes the loop, never an apology.
        Shipped => "order.shipped",
        /// `order.delivered`: closes the loop, never an apology.
        Delivered => "order.delivered",
        /// `order.placed`: only the promise (`data.promise`), watched for silence.
        Placed => "order.placed",
        /// `order.overdue`: raised by amends itself when a promise passed in silence.
        Overdue => "order.overdue",
    }
}

impl IncidentType {
    /// Whether the type closes the loop on an order (`order.shipped`, `order.delivered`) rather
    /// than being something to apologise for.
    pub fn closes_loop(self) -> bool {
        matches!(self, IncidentType::Shipped | IncidentType::Delivered)
    }

    /// Whether only amends itself raises the type (`order.overdue`): the order system never
    /// publishes it.
    pub fn is_own(self) -> bool {
        self == IncidentType::Overdue
    }
}

/// `data.promise` of `order.placed`: the delivery date the customer was promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Promise {
    /// The last day it should arrive (`None`: the shop promised no date).
    pub deliver_by: Option<Eta>,
}

/// `data.overdue` of `order.overdue`: a promise that passed with no word of the order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Overdue {
    /// The promised date that passed.
    pub deliver_by: Eta,
    /// When the watch counted it overdue (the promise plus the grace period).
    pub overdue_since: DateTime<Utc>,
    /// Whether this is the promised update after an overdue apology, not the apology.
    pub update: bool,
    /// When the next update is promised, if one is.
    pub next_update_by: Option<DateTime<Utc>>,
    /// The carrier, when the order shipped and said so.
    pub carrier: Option<String>,
    /// The carrier's tracking page, when known.
    pub tracking_url: Option<String>,
    /// Set when the daily cap of automatic overdue messages was reached: nothing is sent, with
    /// this reason.
    pub held: Option<String>,
    /// On the first order held in a day: what a person is asked to look at, for all of them.
    pub summary: Option<String>,
}

/// The order the incident is about.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Order {
    /// The order system's id (required).
    pub id: String,
    /// The number the customer knows, e.g. `#10042`.
    pub number: Option<String>,
    /// When the order was placed.
    pub placed_at: Option<DateTime<Utc>>,
    /// Order total, in the order currency (`order.currency`).
    pub total: Money,
    /// The customer's order page (http or https).
    pub url: Option<String>,
    /// Line items; empty when the event lists none.
    pub items: Vec<OrderItem>,
}

/// One order line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OrderItem {
    /// Stock keeping unit.
    pub sku: String,
    /// Product name (one line: control characters folded to spaces).
    pub name: String,
    /// At least 1.
    pub quantity: u32,
    /// Price of one unit, in the order currency.
    pub unit_price: Option<Money>,
}

/// The customer, with contact data and preferences. `Debug` masks email, phone and names.
#[derive(Clone, serde::Serialize)]
pub struct Customer {
    /// The order system's customer id (required).
    pub id: String,
    /// Email address, if known.
    pub email: Option<EmailAddress>,
    /// Mobile number in E.164, if known.
    pub phone: Option<PhoneNumber>,
    /// Given name (one line: control characters folded to spaces).
    pub first_name: Option<String>,
    /// Family name (one line: control characters folded to spaces).
    pub last_name: Option<String>,
    /// Preferred language; the configured default when the event has none.
    pub locale: Locale,
    /// Customer's time zone; UTC when the event has none.
    pub timezone: TimeZone,
    /// Loyalty tier as the shop names it, e.g. `vip`.
    pub tier: Option<String>,
    /// What the customer agreed to receive.
    pub consent: Consent,
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("phone", &self.phone)
            .field("first_name", &self.first_name.as_deref().map(MaskedName))
            .field("last_name", &self.last_name.as_deref().map(MaskedName))
            .field("locale", &self.locale)
            .field("timezone", &self.timezone)
            .field("tier", &self.tier)
            .field("consent", &self.consent)
            .finish()
    }
}

/// Shows a name as its first character and `***`.
struct MaskedName<'a>(&'a str);

impl fmt::Debug for MaskedName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first: String = self.0.chars().take(1).collect();
        write!(f, "{first}***")
    }
}

/// Channel consent. Transactional email is allowed unless refused; SMS only when granted;
/// promotion only when granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Consent {
    /// Default `true`.
    pub email: bool,
    /// Default `false`: no SMS without explicit consent.
    pub sms: bool,
    /// Default `false`: nothing promotional (beyond making amends) without explicit consent.
    pub marketing: bool,
}

impl Default for Consent {
    fn default() -> Self {
        Consent {
            email: true,
            sms: false,
            marketing: false,
        }
    }
}

/// An estimated arrival: a bare date (`2026-11-24`) or an RFC 3339 date-time.
/// Serializes back to the same string form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eta {
    /// A calendar day (in the customer's time zone, by convention).
    Date(NaiveDate),
    /// An instant.
    DateTime(DateTime<Utc>),
}

impl Eta {
    /// Parses `YYYY-MM-DD` or an RFC 3339 date-time, in the years 2000 to 2199 (outside them a
    /// date is a placeholder such as `9999-12-31`, not an estimate).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let eta = Eta::parse_any(s)?;
        let date = match eta {
            Eta::Date(date) => date,
            Eta::DateTime(at) => at.date_naive(),
        };
        check::plausible(s, date)?;
        Ok(eta)
    }

    fn parse_any(s: &str) -> Result<Self, InvalidValue> {
        let invalid =
            || InvalidValue::new(format!("{} is not an RFC 3339 date or date-time", quote(s)));
        if s.len() == 10 {
            // `%Y-%m-%d` alone would also take `2026-1-5`: insist on the fixed shape.
            let shape = s.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
            if !shape {
                return Err(invalid());
            }
            return NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Eta::Date)
                .map_err(|_| invalid());
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| Eta::DateTime(t.with_timezone(&Utc)))
            .map_err(|_| invalid())
    }

    /// The calendar day in `tz`: a date as is, a date-time converted.
    pub fn date_in(&self, tz: &TimeZone) -> NaiveDate {
        match self {
            Eta::Date(date) => *date,
            Eta::DateTime(at) => at.with_timezone(&tz.tz()).date_naive(),
        }
    }
}

/// `2026-11-24` or `2026-11-24T10:00:00Z`.
impl fmt::Display for Eta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Eta::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            Eta::DateTime(at) => write!(
                f,
                "{}",
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
        }
    }
}

impl serde::Serialize for Eta {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Read back as [`Eta::parse`] reads it, e.g. from a stored event or a history file.
impl<'de> serde::Deserialize<'de> for Eta {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(deserializer)?;
        Eta::parse(&s).map_err(serde::de::Error::custom)
    }
}

string_enum! {
    /// Why an order is late.
    pub enum DelayReason {
        /// `carrier`
        Carrier => "carrier",
        /// `weather`
        Weather => "weather",
        /// `supplier`
        Supplier => "supplier",
        /// `warehouse`
        Warehouse => "warehouse",
        /// `other`
        Other => "other",
    }
}

/// `order.delayed`: the order will arrive later than promised.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delay {
    /// What was promised.
    pub original_eta: Eta,
    /// The new estimate; `None` means unknown.
    pub new_eta: Option<Eta>,
    /// Why.
    pub reason: DelayReason,
    /// Carrier name, e.g. `DHL`.
    pub carrier: Option<String>,
    /// Carrier tracking page (http or https).
    pub tracking_url: Option<String>,
}

string_enum! {
    /// What the shop does about missing stock.
    pub enum StockoutAction {
        /// `backorder`: ship everything when stock arrives.
        Backorder => "backorder",
        /// `partial_ship`: ship what is there now.
        PartialShip => "partial_ship",
        /// `cancel_items`: the missing items are cancelled.
        CancelItems => "cancel_items",
    }
}

/// `order.stockout`: items of the order are out of stock.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stockout {
    /// The missing items (never empty).
    pub items: Vec<StockoutItem>,
    /// What happens to them.
    pub action: StockoutAction,
    /// When backordered items are expected.
    pub backorder_eta: Option<Eta>,
    /// Suggested replacements; may be empty.
    pub substitutes: Vec<Substitute>,
}

/// A missing item.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StockoutItem {
    /// Stock keeping unit.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// How many are missing (at least 1).
    pub quantity: u32,
}

/// A suggested replacement product.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Substitute {
    /// Stock keeping unit.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// Price, in the order currency.
    pub price: Option<Money>,
    /// Product page (http or https).
    pub url: Option<String>,
}

string_enum! {
    /// Why an order was cancelled.
    pub enum CancellationReason {
        /// `stockout`
        Stockout => "stockout",
        /// `payment`
        Payment => "payment",
        /// `fraud_check`
        FraudCheck => "fraud_check",
        /// `customer_request`
        CustomerRequest => "customer_request",
        /// `pricing_error`
        PricingError => "pricing_error",
        /// `other`
        Other => "other",
    }
}

string_enum! {
    /// Who cancelled.
    pub enum Initiator {
        /// `merchant`
        Merchant => "merchant",
        /// `customer`
        Customer => "customer",
    }
}

/// `order.cancelled`: the order will not be fulfilled.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Cancellation {
    /// Why.
    pub reason: CancellationReason,
    /// Who cancelled.
    pub initiated_by: Initiator,
    /// The refund, if one is issued.
    pub refund: Option<Refund>,
}

/// A refund for a cancelled order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Refund {
    /// Amount, in the order currency, at most the order total.
    pub amount: Money,
    /// How it is paid back, e.g. `original_payment`.
    pub method: String,
}

/// `order.shipped` and `order.delivered`: where the order is now. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Shipment {
    /// Carrier name, e.g. `DHL`.
    pub carrier: Option<String>,
    /// Carrier tracking page (http or https).
    pub tracking_url: Option<String>,
    /// When it left the warehouse.
    pub shipped_at: Option<DateTime<Utc>>,
    /// When it was delivered (`order.delivered` only), never before `shipped_at`.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it is expected (`order.shipped`).
    pub eta: Option<Eta>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etas() {
        let date = Eta::parse("2026-11-24").unwrap();
        assert_eq!(date.to_string(), "2026-11-24");
        let at = Eta::parse("2026-11-24T23:30:00Z").unwrap();
        assert_eq!(at.to_string(), "2026-11-24T23:30:00Z");
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            "\"2026-11-24T23:30:00Z\""
        );
        let madrid = TimeZone::parse("Europe/Madrid").unwrap();
        assert_eq!(at.date_in(&madrid).to_string(), "2026-11-25");
        assert_eq!(at.date_in(&TimeZone::UTC).to_string(), "2026-11-24");
        assert_eq!(date.date_in(&madrid).to_string(), "2026-11-24");
        assert_eq!(
            Eta::parse("2026-13-01").unwrap_err().to_string(),
            r#""2026-13-01" is not an RFC 3339 date or date-time"#
        );
        for bad in [
            "",
            "2026-1-05",
            "2026-02-30",
            "26-11-24xx",
            "tomorrow",
            "2026-11-24 ",
        ] {
            assert!(Eta::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Eta::parse("9999-12-31").unwrap_err().to_string(),
            r#""9999-12-31" is not in the years 2000 to 2199"#
        );
        for placeholder in [
            "0001-01-01",
            "1970-01-01",
            "0001-01-01T00:00:00Z",
            "2200-01-01",
        ] {
            assert!(Eta::parse(placeholder).is_err(), "{placeholder}");
        }
    }

    #[test]
    fn enums() {
        assert_eq!(
            IncidentType::parse("order.delayed").unwrap(),
            IncidentType::Delayed
        );
        assert_eq!(IncidentType::Cancelled.as_str(), "order.cancelled");
        assert_eq!(
            "partial_ship".parse::<StockoutAction>().unwrap(),
            StockoutAction::PartialShip
        );
        assert_eq!(
            serde_json::to_string(&CancellationReason::FraudCheck).unwrap(),
            "\"fraud_check\""
        );
        assert_eq!(
            DelayReason::parse("meteor").unwrap_err().to_string(),
            r#""meteor" is not one of carrier, weather, supplier, warehouse, other"#
        );
        assert_eq!(Initiator::ALL.len(), 2);
    }

    #[test]
    fn consent_default() {
        assert_eq!(
            Consent::default(),
            Consent {
                email: true,
                sms: false,
                marketing: false,
            }
        );
    }
}
