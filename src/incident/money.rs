//! [`Currency`] (ISO 4217) and [`Money`] (an exact decimal amount in a currency; never a float).

use std::fmt;

use rust_decimal::Decimal;

use crate::incident::InvalidValue;
use crate::incident::error::quote;

/// An ISO 4217 currency with minor units (`EUR`, `USD`, `JPY`, …), from the `iso_currency` table.
/// Codes are upper-case, exactly as ISO writes them. Codes without minor units (`XAU`, `XXX`, …)
/// are refused: nobody pays an order in them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Parses an ISO 4217 alphabetic code.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let currency = iso_currency::Currency::from_code(s).ok_or_else(|| {
            InvalidValue::new(format!("{} is not an ISO 4217 currency code", quote(s)))
        })?;
        if currency.exponent().is_none() {
            return Err(InvalidValue::new(format!(
                "{} is an ISO 4217 code without minor units, not a payment currency",
                quote(s)
            )));
        }
        Ok(Currency(currency))
    }

    /// The alphabetic code, e.g. `EUR`.
    pub fn as_str(&self) -> &'static str {
        self.0.code()
    }

    /// The alphabetic code, e.g. `EUR` (same as [`as_str`](Self::as_str)).
    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// Number of decimal places of the minor unit: 2 for EUR, 0 for JPY, 3 for BHD.
    pub fn minor_units(&self) -> u32 {
        // `parse` refused currencies without an exponent.
        self.0.exponent().map_or(0, u32::from)
    }

    /// The `iso_currency` value, for names and symbols.
    pub fn iso(&self) -> iso_currency::Currency {
        self.0
    }
}

string_newtype!(Currency);

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-negative amount in a [`Currency`], with at most the currency's minor-unit decimals and
/// always scaled to exactly that many (`"129.9"` EUR is `129.90`), so `Display` is ready to show.
///
/// Serializes as `{"amount": "129.90", "currency": "EUR"}` (the amount a string, as in the contract).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Parses a decimal string (`129.90`: digits, optionally `.` and digits; no sign, exponent,
    /// grouping or spaces) as an amount in `currency`.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, InvalidValue> {
        if amount.starts_with('-') && is_decimal_literal(&amount[1..]) {
            return Err(InvalidValue::new(format!(
                "{} must not be negative",
                quote(amount)
            )));
        }
        if !is_decimal_literal(amount) {
            return Err(InvalidValue::new(format!(
                "{} is not a decimal amount",
                quote(amount)
            )));
        }
        let value = Decimal::from_str_exact(amount).map_err(|_| {
            InvalidValue::new(format!(
                "{} is not a decimal amount (out of range)",
                quote(amount)
            ))
        })?;
        Money::new(value, currency).map_err(|_| {
            InvalidValue::new(format!(
                "{} has more decimal places than {} allows ({})",
                quote(amount),
                currency,
                currency.minor_units()
            ))
        })
    }

    /// An amount computed elsewhere (e.g. a compensation); same rules as [`parse`](Self::parse).
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, InvalidValue> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(InvalidValue::new(format!("{amount} must not be negative")));
        }
        let minor = currency.minor_units();
        if amount.scale() > minor {
            return Err(InvalidValue::new(format!(
                "{amount} has more decimal places than {currency} allows ({minor})"
            )));
        }
        let mut amount = amount.abs();
        amount.rescale(minor);
        Ok(Money { amount, currency })
    }

    /// Nothing, in `currency` (`0.00 EUR`).
    pub fn zero(currency: Currency) -> Self {
        Money {
            amount: Decimal::new(0, currency.minor_units()),
            currency,
        }
    }

    /// The amount, scaled to the currency's minor units.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in minor units (cents for EUR), `None` if it does not fit an `i64`.
    pub fn minor_amount(&self) -> Option<i64> {
        // The amount is scaled to exactly the minor units, so the mantissa is the count of them.
        i64::try_from(self.amount.mantissa()).ok()
    }
}

/// `129.90 EUR`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Money", 2)?;
        s.serialize_field("amount", &self.amount.to_string())?;
        s.serialize_field("currency", self.currency.as_str())?;
        s.end()
    }
}

/// `digits[.digits]`, nothing else: `rust_decimal` alone would also take `1_000`, `1e3`, `.5`.
fn is_decimal_literal(s: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn currency_codes() {
        assert_eq!(eur().as_str(), "EUR");
        assert_eq!(eur().code(), "EUR");
        assert_eq!(eur().minor_units(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().minor_units(), 0);
        assert_eq!(Currency::parse("BHD").unwrap().minor_units(), 3);
        assert_eq!(
            Currency::parse("EURO").unwrap_err().to_string(),
            r#""EURO" is not an ISO 4217 currency code"#
        );
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XXX").is_err());
        assert!(Currency::parse("").is_err());
    }

    #[test]
    fn parses_and_scales() {
        let m = Money::parse("129.9", eur()).unwrap();
        assert_eq!(m.to_string(), "129.90 EUR");
        assert_eq!(m.amount().to_string(), "129.90");
        assert_eq!(m.minor_amount(), Some(12990));
        assert_eq!(m, Money::parse("129.90", eur()).unwrap());
        assert_eq!(format!("{m:?}"), "Money(129.90 EUR)");
        assert_eq!(
            serde_json::to_value(m).unwrap(),
            serde_json::json!({"amount": "129.90", "currency": "EUR"})
        );
        assert_eq!(Money::parse("0", eur()).unwrap().to_string(), "0.00 EUR");
        let yen = Currency::parse("JPY").unwrap();
        assert_eq!(Money::parse("1500", yen).unwrap().to_string(), "1500 JPY");
    }

    #[test]
    fn rejects_bad_amounts() {
        let msg = |s: &str| Money::parse(s, eur()).unwrap_err().to_string();
        assert_eq!(msg("12,5"), r#""12,5" is not a decimal amount"#);
        assert_eq!(msg("-5.00"), r#""-5.00" must not be negative"#);
        assert_eq!(
            msg("12.345"),
            r#""12.345" has more decimal places than EUR allows (2)"#
        );
        for bad in [
            "", ".5", "5.", "1e3", "1_000", " 1.00", "+1.00", "NaN", "1.0.0", "--1",
        ] {
            assert!(msg(bad).contains("is not a decimal amount"), "{bad}");
        }
        assert!(msg("99999999999999999999999999999999").contains("out of range"));
        let yen = Currency::parse("JPY").unwrap();
        assert!(Money::parse("100.5", yen).is_err());
        assert!(Money::new(Decimal::new(-1, 0), eur()).is_err());
    }

    proptest! {
        #[test]
        fn round_trips_valid_decimals(units in 0u64..1_000_000_000_000, cents in 0u32..100) {
            let text = format!("{units}.{cents:02}");
            let money = Money::parse(&text, eur()).unwrap();
            prop_assert_eq!(money.amount().to_string(), text.clone());
            prop_assert_eq!(money.to_string(), format!("{text} EUR"));
            prop_assert_eq!(
                money.minor_amount(),
                Some(i64::try_from(units).unwrap() * 100 + i64::from(cents))
            );
        }

        #[test]
        fn fewer_decimals_are_scaled(units in 0u64..1_000_000_000, tenth in 0u32..10) {
            let money = Money::parse(&format!("{units}.{tenth}"), eur()).unwrap();
            prop_assert_eq!(money.amount().to_string(), format!("{units}.{tenth}0"));
        }
    }
}
