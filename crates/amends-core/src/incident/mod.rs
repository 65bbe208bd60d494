//! Inbound order incidents: the CloudEvents 1.0 envelope and the typed, validated [`Incident`]
//! (CONTRACT §1).
//!
//! Pure: bytes in, values out; no I/O, no clock. [`parse`] is the one entry point; every
//! rejection is an [`IncidentError`] whose one-line `Display` names the JSON path and the problem,
//! ready for the dead-letter header.
//!
//! - `envelope`: content type, `specversion`, `id`, `source`, `type`, `time`, `subject`,
//!   `datacontenttype`, `data`.
//! - `data`: `data` walked as JSON with paths, into the model (`model`).
//! - newtypes with private fields and `parse`, whose `Debug` masks personal data:
//!   [`EmailAddress`], [`PhoneNumber`], [`Money`]/[`Currency`], [`Locale`], [`TimeZone`], [`EventKey`].
//! - [`sample`]: one complete example event per [`SUPPORTED_TYPES`] entry.

#[macro_use]
mod macros;

mod check;
mod data;
mod email;
mod envelope;
mod error;
mod locale;
mod model;
mod money;
mod phone;
mod types;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

pub use email::EmailAddress;
pub use error::{IncidentError, InvalidValue};
pub use locale::Locale;
pub use model::{
    Cancellation, CancellationReason, Consent, Customer, Delay, DelayReason, Eta, IncidentType,
    Initiator, Order, OrderItem, Overdue, Promise, Refund, Shipment, Stockout, StockoutAction,
    StockoutItem, Substitute,
};
pub use money::{Currency, Money};
pub use phone::PhoneNumber;
pub use types::{EventKey, TimeZone};

/// An order incident, validated: what policy, templates and the store work from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Incident {
    /// Idempotency key: CloudEvents (`source`, `id`).
    pub key: EventKey,
    /// The CloudEvents `type`.
    pub event_type: IncidentType,
    /// CloudEvents `time`: when it happened, per the order system.
    pub time: Option<DateTime<Utc>>,
    /// CloudEvents `subject`.
    pub subject: Option<String>,
    /// `data.order`.
    pub order: Order,
    /// `data.customer`.
    pub customer: Customer,
    /// The type-specific part (`data.delay`, `data.stockout`, `data.cancellation` or
    /// `data.shipment`).
    pub details: IncidentDetails,
}

/// The part of `data` that depends on the event type. Serializes as in the event:
/// `{"delay": {…}}`, `{"stockout": {…}}`, `{"cancellation": {…}}` or `{"shipment": {…}}`.
#[derive(Debug, Clone, serde::Serialize)]
pub enum IncidentDetails {
    /// `order.delayed`: `data.delay`.
    #[serde(rename = "delay")]
    Delayed(Delay),
    /// `order.stockout`: `data.stockout`.
    #[serde(rename = "stockout")]
    Stockout(Stockout),
    /// `order.cancelled`: `data.cancellation`.
    #[serde(rename = "cancellation")]
    Cancelled(Cancellation),
    /// `order.shipped`: `data.shipment`.
    #[serde(rename = "shipment")]
    Shipped(Shipment),
    /// `order.delivered`: `data.shipment`.
    #[serde(rename = "shipment")]
    Delivered(Shipment),
    /// `order.placed`: `data.promise`.
    #[serde(rename = "promise")]
    Placed(Promise),
    /// `order.overdue`: `data.overdue`.
    #[serde(rename = "overdue")]
    Overdue(Overdue),
}

impl IncidentDetails {
    /// The event type these details belong to.
    pub fn event_type(&self) -> IncidentType {
        match self {
            IncidentDetails::Delayed(_) => IncidentType::Delayed,
            IncidentDetails::Stockout(_) => IncidentType::Stockout,
            IncidentDetails::Cancelled(_) => IncidentType::Cancelled,
            IncidentDetails::Shipped(_) => IncidentType::Shipped,
            IncidentDetails::Delivered(_) => IncidentType::Delivered,
            IncidentDetails::Placed(_) => IncidentType::Placed,
            IncidentDetails::Overdue(_) => IncidentType::Overdue,
        }
    }

    /// The shipment of a closing event (`order.shipped`, `order.delivered`).
    pub fn shipment(&self) -> Option<&Shipment> {
        match self {
            IncidentDetails::Shipped(s) | IncidentDetails::Delivered(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses and validates one inbound message.
///
/// `content_type` is the message's content type (`application/cloudevents+json` or
/// `application/json`, parameters allowed; `None` is taken as JSON). `default_locale` is used when
/// the customer has no `locale`. Unknown fields are ignored.
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    default_locale: &Locale,
) -> Result<Incident, IncidentError> {
    let envelope = envelope::parse(body, content_type)?;
    let data = data::Obj::new("data", &envelope.data)?;
    let order = data::order(&data.req_obj("order")?)?;
    let customer = data::customer(&data.req_obj("customer")?, default_locale)?;
    let details = match envelope.event_type {
        IncidentType::Delayed => IncidentDetails::Delayed(data::delay(&data.req_obj("delay")?)?),
        IncidentType::Stockout => IncidentDetails::Stockout(data::stockout(
            &data.req_obj("stockout")?,
            order.total.currency(),
        )?),
        IncidentType::Cancelled => IncidentDetails::Cancelled(data::cancellation(
            &data.req_obj("cancellation")?,
            &order.total,
        )?),
        IncidentType::Shipped => {
            IncidentDetails::Shipped(data::shipment(&data, IncidentType::Shipped)?)
        }
        IncidentType::Delivered => {
            IncidentDetails::Delivered(data::shipment(&data, IncidentType::Delivered)?)
        }
        IncidentType::Placed => IncidentDetails::Placed(data::promise(&data)?),
        IncidentType::Overdue => {
            IncidentDetails::Overdue(data::overdue(&data.req_obj("overdue")?)?)
        }
    };
    Ok(Incident {
        key: envelope.key,
        event_type: envelope.event_type,
        time: envelope.time,
        subject: envelope.subject,
        order,
        customer,
        details,
    })
}

/// The event types `amends` takes from the order system, in contract order (also the queue's
/// binding keys). `order.overdue` is not one: amends raises it itself ([`OWN_TYPES`]).
pub const SUPPORTED_TYPES: [&str; 6] = [
    "order.delayed",
    "order.stockout",
    "order.cancelled",
    "order.shipped",
    "order.delivered",
    "order.placed",
];

/// The event types amends raises itself, parsed as the others are.
pub const OWN_TYPES: [&str; 1] = ["order.overdue"];

/// A complete example CloudEvent (JSON) of `event_type`, showing every field of the contract;
/// `None` for an unsupported type. Used by `amends publish --sample` and in tests.
pub fn sample(event_type: &str) -> Option<&'static str> {
    match IncidentType::parse(event_type).ok()? {
        IncidentType::Delayed => Some(include_str!("samples/order.delayed.json")),
        IncidentType::Stockout => Some(include_str!("samples/order.stockout.json")),
        IncidentType::Cancelled => Some(include_str!("samples/order.cancelled.json")),
        IncidentType::Shipped => Some(include_str!("samples/order.shipped.json")),
        IncidentType::Delivered => Some(include_str!("samples/order.delivered.json")),
        IncidentType::Placed => Some(include_str!("samples/order.placed.json")),
        IncidentType::Overdue => Some(include_str!("samples/order.overdue.json")),
    }
}
