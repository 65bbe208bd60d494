//! Offers: what a rule gives beside the apology, as written in the policy ([`OfferSpec`]) and as
//! resolved for one incident ([`Offer`]), with what each counts against budgets.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::AmountError;
use crate::incident::{Currency, Incident, IncidentDetails, Money, Refund, Substitute};

/// The kinds of offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// A percentage off the next order, usually capped.
    PercentOff,
    /// A fixed amount off the next order.
    AmountOff,
    /// Free shipping on the next order.
    FreeShipping,
    /// A gift certificate of an amount.
    GiftCertificate,
    /// Suggested replacements for what is out of stock (from the event).
    Substitute,
    /// The refund restated: amount and method (from the event).
    RefundConfirmation,
}

impl OfferKind {
    /// The name used in the policy, the ledger and events.
    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::PercentOff => "percent_off",
            OfferKind::AmountOff => "amount_off",
            OfferKind::FreeShipping => "free_shipping",
            OfferKind::GiftCertificate => "gift_certificate",
            OfferKind::Substitute => "substitute",
            OfferKind::RefundConfirmation => "refund_confirmation",
        }
    }

    /// Whether the offer is a code amends issues (and the commerce platform redeems).
    pub fn issues_code(self) -> bool {
        matches!(
            self,
            OfferKind::PercentOff
                | OfferKind::AmountOff
                | OfferKind::FreeShipping
                | OfferKind::GiftCertificate
        )
    }
}

/// An amount as the policy writes it: one amount for every currency (`"10.00"`), or one per
/// currency (`{ EUR = "10.00", GBP = "8.00" }`; a currency not listed gets no offer).
#[derive(Debug, Clone, PartialEq)]
pub struct Amounts {
    any: Option<Decimal>,
    per_currency: BTreeMap<Currency, Decimal>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum AmountsFile {
    Any(String),
    PerCurrency(BTreeMap<String, String>),
}

impl Amounts {
    pub(super) fn parse(file: &AmountsFile) -> Result<Amounts, String> {
        let decimal = |s: &str| -> Result<Decimal, String> {
            let value = Decimal::from_str_exact(s.trim())
                .map_err(|_| format!("{s:?} is not a decimal amount like \"10.00\""))?;
            if value.is_sign_negative() {
                return Err(format!("{s:?} must not be negative"));
            }
            // The bound of every amount of an event: what a policy gives fits the same
            // arithmetic and the same ledger columns.
            if value > Money::max_amount() {
                return Err(format!(
                    "{s:?} is too large (at most {})",
                    Money::max_amount()
                ));
            }
            Ok(value)
        };
        match file {
            AmountsFile::Any(s) => Ok(Amounts {
                any: Some(decimal(s)?),
                per_currency: BTreeMap::new(),
            }),
            AmountsFile::PerCurrency(map) => Ok(Amounts {
                any: None,
                per_currency: per_currency(map).map_err(|(code, e)| match code {
                    Some(code) => format!("{code}: {e}"),
                    None => e,
                })?,
            }),
        }
    }

    /// The amount in `currency`, if the policy gives one.
    pub fn get(&self, currency: Currency) -> Option<Result<Money, String>> {
        let value = self.per_currency.get(&currency).copied().or(self.any)?;
        Some(Money::new(value, currency).map_err(|e| e.to_string()))
    }
}

/// Parses `{ EUR = "10.00", GBP = "8.00" }`: ISO 4217 codes, each with an amount in the form
/// and precision of that currency. An error comes with the code whose amount it is about.
pub(super) fn per_currency(
    map: &BTreeMap<String, String>,
) -> Result<BTreeMap<Currency, Decimal>, (Option<String>, String)> {
    let mut out = BTreeMap::new();
    for (code, amount) in map {
        let currency = Currency::parse(code).map_err(|e| (None, e.to_string()))?;
        let money =
            Money::parse(amount, currency).map_err(|e| (Some(code.clone()), e.to_string()))?;
        out.insert(currency, money.amount());
    }
    Ok(out)
}

/// An offer as written in a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum OfferSpec {
    /// `percent_off`: `percent`, optional `max` (the cap).
    PercentOff {
        /// 1 to 100.
        percent: Decimal,
        /// The most it may take off.
        max: Option<Amounts>,
        /// Validity of the code.
        expires_in: Option<Duration>,
    },
    /// `amount_off`: `amount`.
    AmountOff {
        /// Face value.
        amount: Amounts,
        /// Validity of the code.
        expires_in: Option<Duration>,
    },
    /// `free_shipping`: optional `value`, what one shipping costs the business (for budgets).
    FreeShipping {
        /// Budget cost.
        value: Option<Amounts>,
        /// Validity of the code.
        expires_in: Option<Duration>,
    },
    /// `gift_certificate`: `amount`.
    GiftCertificate {
        /// Face value.
        amount: Amounts,
        /// Validity of the code.
        expires_in: Option<Duration>,
    },
    /// `substitute`: up to `max` suggestions from the event.
    Substitute {
        /// How many to show.
        max: usize,
    },
    /// `refund_confirmation`.
    RefundConfirmation,
}

/// An offer as written in the TOML file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OfferFile {
    kind: OfferKind,
    #[serde(default)]
    percent: Option<u32>,
    #[serde(default)]
    max: Option<toml::Value>,
    #[serde(default)]
    amount: Option<toml::Value>,
    #[serde(default)]
    value: Option<toml::Value>,
    #[serde(default)]
    expires_in: Option<String>,
}

fn amounts(field: &str, value: &toml::Value) -> Result<Amounts, String> {
    let file: AmountsFile = value
        .clone()
        .try_into()
        .map_err(|_| format!("`{field}` must be an amount like \"10.00\" or a table of currencies like {{ EUR = \"10.00\" }}"))?;
    Amounts::parse(&file).map_err(|e| format!("`{field}`: {e}"))
}

impl OfferSpec {
    /// Validates an offer table; the error names the field.
    pub(super) fn parse(file: OfferFile) -> Result<OfferSpec, String> {
        let kind = file.kind;
        let expires_in = match &file.expires_in {
            Some(text) if kind.issues_code() => Some(
                humantime::parse_duration(text)
                    .map_err(|e| format!("`expires_in` {text:?} is not a duration: {e}"))?,
            ),
            Some(_) => {
                return Err(format!(
                    "`expires_in` does not apply to {}: it issues no code",
                    kind.as_str()
                ));
            }
            None => None,
        };
        let allowed: &[&str] = match kind {
            OfferKind::PercentOff => &["percent", "max"],
            OfferKind::AmountOff | OfferKind::GiftCertificate => &["amount"],
            OfferKind::FreeShipping => &["value"],
            OfferKind::Substitute => &["max"],
            OfferKind::RefundConfirmation => &[],
        };
        for (name, present) in [
            ("percent", file.percent.is_some()),
            ("max", file.max.is_some()),
            ("amount", file.amount.is_some()),
            ("value", file.value.is_some()),
        ] {
            if present && !allowed.contains(&name) {
                return Err(format!("`{name}` does not apply to {}", kind.as_str()));
            }
        }
        let required = |field: &str, value: &Option<toml::Value>| {
            value
                .as_ref()
                .ok_or_else(|| format!("{} needs `{field}`", kind.as_str()))
                .and_then(|v| amounts(field, v))
        };
        Ok(match kind {
            OfferKind::PercentOff => {
                let percent = file
                    .percent
                    .ok_or_else(|| "percent_off needs `percent`".to_owned())?;
                if !(1..=100).contains(&percent) {
                    return Err(format!("`percent` must be 1 to 100, not {percent}"));
                }
                OfferSpec::PercentOff {
                    percent: Decimal::from(percent),
                    max: file.max.as_ref().map(|v| amounts("max", v)).transpose()?,
                    expires_in,
                }
            }
            OfferKind::AmountOff => OfferSpec::AmountOff {
                amount: required("amount", &file.amount)?,
                expires_in,
            },
            OfferKind::GiftCertificate => OfferSpec::GiftCertificate {
                amount: required("amount", &file.amount)?,
                expires_in,
            },
            OfferKind::FreeShipping => OfferSpec::FreeShipping {
                value: file
                    .value
                    .as_ref()
                    .map(|v| amounts("value", v))
                    .transpose()?,
                expires_in,
            },
            OfferKind::Substitute => {
                let max = match &file.max {
                    None => 3,
                    Some(toml::Value::Integer(n)) if (1..=10).contains(n) => *n as usize,
                    Some(_) => return Err("substitute `max` must be a number from 1 to 10".into()),
                };
                OfferSpec::Substitute { max }
            }
            OfferKind::RefundConfirmation => OfferSpec::RefundConfirmation,
        })
    }

    /// The kind.
    pub fn kind(&self) -> OfferKind {
        match self {
            OfferSpec::PercentOff { .. } => OfferKind::PercentOff,
            OfferSpec::AmountOff { .. } => OfferKind::AmountOff,
            OfferSpec::FreeShipping { .. } => OfferKind::FreeShipping,
            OfferSpec::GiftCertificate { .. } => OfferKind::GiftCertificate,
            OfferSpec::Substitute { .. } => OfferKind::Substitute,
            OfferSpec::RefundConfirmation => OfferKind::RefundConfirmation,
        }
    }

    /// The offer for `incident`: `Ok(Ok(offer))`, or `Ok(Err(why))` when it does not apply to
    /// this incident (a note in the explanation). `Err` when an amount cannot be computed: the
    /// incident cannot be decided as it is.
    pub fn resolve(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
        default_expiry: Duration,
    ) -> Result<Result<Offer, String>, AmountError> {
        match self.offer_for(incident, now, default_expiry) {
            Ok(offer) => Ok(Ok(offer)),
            Err(Unresolved::NotOffered(why)) => Ok(Err(why)),
            Err(Unresolved::Amount(e)) => Err(e),
        }
    }

    fn offer_for(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
        default_expiry: Duration,
    ) -> Result<Offer, Unresolved> {
        let currency = incident.order.total.currency();
        let zero = Money::zero(currency);
        let expiry = |own: &Option<Duration>| {
            let validity = own.unwrap_or(default_expiry);
            chrono::Duration::from_std(validity)
                .ok()
                .and_then(|d| now.checked_add_signed(d))
        };
        let in_currency = |amounts: &Amounts, field: &str| -> Result<Money, String> {
            amounts
                .get(currency)
                .ok_or_else(|| format!("the policy gives no {field} in {currency}"))?
        };
        let mut offer = Offer {
            kind: self.kind(),
            amount: None,
            percent: None,
            cost: zero,
            expires_at: None,
            substitutes: Vec::new(),
            refund: None,
            code: None,
        };
        match self {
            OfferSpec::PercentOff {
                percent,
                max,
                expires_in,
            } => {
                let share = incident
                    .order
                    .total
                    .amount()
                    .checked_mul(*percent)
                    .and_then(|product| product.checked_div(Decimal::ONE_HUNDRED))
                    .ok_or_else(|| {
                        AmountError::new("data.order.total", "too large to compute an offer")
                    })?;
                let mut cost = share.round_dp_with_strategy(
                    currency.minor_units(),
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                );
                if let Some(max) = max {
                    let cap = in_currency(max, "`max`")?;
                    cost = cost.min(cap.amount());
                    offer.amount = Some(cap);
                }
                offer.percent = Some(*percent);
                offer.cost = Money::new(cost, currency).map_err(|e| e.to_string())?;
                offer.expires_at = expiry(expires_in);
            }
            OfferSpec::AmountOff { amount, expires_in }
            | OfferSpec::GiftCertificate { amount, expires_in } => {
                let amount = in_currency(amount, "`amount`")?;
                offer.amount = Some(amount);
                offer.cost = amount;
                offer.expires_at = expiry(expires_in);
            }
            OfferSpec::FreeShipping { value, expires_in } => {
                if let Some(value) = value {
                    offer.cost = in_currency(value, "`value`")?;
                }
                offer.expires_at = expiry(expires_in);
            }
            OfferSpec::Substitute { max } => {
                let IncidentDetails::Stockout(stockout) = &incident.details else {
                    return Err("substitutes are offered for stockouts only".into());
                };
                if stockout.substitutes.is_empty() {
                    return Err("the event suggests no substitutes".into());
                }
                offer.substitutes = stockout.substitutes.iter().take(*max).cloned().collect();
            }
            OfferSpec::RefundConfirmation => {
                let IncidentDetails::Cancelled(cancellation) = &incident.details else {
                    return Err("a refund is confirmed for cancellations only".into());
                };
                let Some(refund) = &cancellation.refund else {
                    return Err("the cancellation carries no refund".into());
                };
                offer.refund = Some(refund.clone());
            }
        }
        Ok(offer)
    }
}

/// Why [`OfferSpec::offer_for`] gave no offer.
enum Unresolved {
    /// It does not apply to this incident.
    NotOffered(String),
    /// An amount could not be computed.
    Amount(AmountError),
}

impl From<String> for Unresolved {
    fn from(why: String) -> Self {
        Unresolved::NotOffered(why)
    }
}

impl From<&str> for Unresolved {
    fn from(why: &str) -> Self {
        Unresolved::NotOffered(why.to_owned())
    }
}

impl From<AmountError> for Unresolved {
    fn from(e: AmountError) -> Self {
        Unresolved::Amount(e)
    }
}

/// An offer resolved for one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offer {
    /// What it is.
    pub kind: OfferKind,
    /// Face value (amount off, gift certificate) or the cap of a percentage.
    pub amount: Option<Money>,
    /// The percentage of a `percent_off`.
    pub percent: Option<Decimal>,
    /// What it counts against budgets (zero for what costs nothing).
    pub cost: Money,
    /// When the code stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// Suggested replacements.
    pub substitutes: Vec<Substitute>,
    /// The refund restated.
    pub refund: Option<Refund>,
    /// The code, once issued (at record time).
    pub code: Option<String>,
}

impl Offer {
    /// One line for explanations and the ledger, e.g. `percent_off 15% up to 30.00 EUR`.
    pub fn describe(&self) -> String {
        let mut text = self.kind.as_str().to_owned();
        match self.kind {
            OfferKind::PercentOff => {
                if let Some(p) = self.percent {
                    text.push_str(&format!(" {p}%"));
                }
                if let Some(cap) = &self.amount {
                    text.push_str(&format!(" up to {cap}"));
                }
            }
            OfferKind::AmountOff | OfferKind::GiftCertificate => {
                if let Some(amount) = &self.amount {
                    text.push_str(&format!(" {amount}"));
                }
            }
            OfferKind::Substitute => text.push_str(&format!(" ({})", self.substitutes.len())),
            OfferKind::RefundConfirmation => {
                if let Some(refund) = &self.refund {
                    text.push_str(&format!(" {} by {}", refund.amount, refund.method));
                }
            }
            OfferKind::FreeShipping => {}
        }
        if !self.cost.amount().is_zero() {
            text.push_str(&format!(" (counts {} against budgets)", self.cost));
        }
        text
    }
}

/// Total budget cost of `offers` in `currency`; an error when it cannot be computed (a sum
/// too large, or costs in another currency's precision), never a wrong total.
pub fn total_cost(offers: &[Offer], currency: Currency) -> Result<Money, AmountError> {
    let sum = offers
        .iter()
        .try_fold(Decimal::ZERO, |sum, offer| {
            sum.checked_add(offer.cost.amount())
        })
        .ok_or_else(|| AmountError::new("offers", "their total cost is too large to compute"))?;
    Money::new(sum, currency)
        .map_err(|e| AmountError::new("offers", format!("their total cost {e}")))
}

/// Takes `given` (already issued on this order) off the costing offers, so a second incident
/// on the same order tops up rather than repeats. Amounts shrink; a percentage or free shipping
/// that is worth no more than what remains of `given` is dropped. Returns the offers kept and a
/// note per change. An error when the amounts cannot be computed.
pub fn account_for_given(
    offers: Vec<Offer>,
    given: Decimal,
) -> Result<(Vec<Offer>, Vec<String>), AmountError> {
    let too_large = || {
        AmountError::new(
            "history.order_incidents.given",
            "what this order already received is too large to compute with",
        )
    };
    let mut remaining = given;
    let mut kept = Vec::new();
    let mut notes = Vec::new();
    for mut offer in offers {
        if remaining <= Decimal::ZERO || offer.cost.amount().is_zero() {
            kept.push(offer);
            continue;
        }
        let currency = offer.cost.currency();
        // What was given may come from the database at another scale (19.4900): keep to cents.
        remaining = remaining.round_dp_with_strategy(
            currency.minor_units(),
            rust_decimal::RoundingStrategy::ToZero,
        );
        match offer.kind {
            OfferKind::AmountOff | OfferKind::GiftCertificate => {
                let face = offer.cost.amount();
                let left = face
                    .checked_sub(remaining)
                    .ok_or_else(too_large)?
                    .max(Decimal::ZERO);
                let taken = face.checked_sub(left).ok_or_else(too_large)?;
                remaining = remaining.checked_sub(taken).ok_or_else(too_large)?;
                if left.is_zero() {
                    notes.push(format!(
                        "{} dropped: already given as much on this order",
                        offer.describe()
                    ));
                    continue;
                }
                notes.push(format!(
                    "{} reduced to {left} {currency}: {taken} {currency} already given on this order",
                    offer.kind.as_str(),
                ));
                // `left` has the currency's scale, so this cannot fail; if it did, the offer
                // would be dropped rather than given in full.
                let Ok(money) = Money::new(left, currency) else {
                    continue;
                };
                offer.amount = Some(money);
                offer.cost = money;
                kept.push(offer);
            }
            _ => {
                if offer.cost.amount() <= remaining {
                    remaining = remaining
                        .checked_sub(offer.cost.amount())
                        .ok_or_else(too_large)?;
                    notes.push(format!(
                        "{} dropped: already given as much on this order",
                        offer.describe()
                    ));
                } else {
                    notes.push(format!(
                        "{} kept: worth more than the {remaining} {currency} already given",
                        offer.kind.as_str()
                    ));
                    remaining = Decimal::ZERO;
                    kept.push(offer);
                }
            }
        }
    }
    Ok((kept, notes))
}
