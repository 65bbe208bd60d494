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
    /// The most an event or a policy may state, in whole units of any currency: ten trillion.
    ///
    /// One bound for every currency, because the ones with the largest nominal values have
    /// minor units too (IRR, VND, IDR, LBP): even in Iranian rials at the market rate it is an
    /// order of millions of US dollars, and ten million yen or won are small change beside it.
    /// Yet a thousand such amounts still fit the ledger's `numeric(20, 4)` columns (sums of a
    /// day's or a customer's compensation), and exact `Decimal` arithmetic (28 digits) on them
    /// has fifteen digits to spare: a percentage of it, or a sum of a few, cannot overflow.
    pub const MAX_UNITS: i64 = 10_000_000_000_000;

    /// [`MAX_UNITS`](Self::MAX_UNITS) as a decimal.
    pub fn max_amount() -> Decimal {
        Decimal::from(Self::MAX_UNITS)
    }

    /// Parses a decimal string (`129.90`: digits, optionally `.` and digits; no sign, exponent,
    /// grouping or spaces) as an amount in `currency`, at most
    /// [`MAX_UNITS`](Self::MAX_UNITS). A negative zero (`-0.00`, as some formatters print a
    /// rounded-away refund) is zero.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, InvalidValue> {
        let (negative, unsigned) = match amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount),
        };
        if !is_decimal_literal(unsigned) {
            return Err(InvalidValue::new(format!(
                "{} is not a decimal amount",
                quote(amount)
            )));
        }
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        // Without its leading zeros, the integer part's length tells the size before any
        // arithmetic, whatever the string's length.
        let int = int.trim_start_matches('0');
        if negative && !(int.is_empty() && frac.bytes().all(|b| b == b'0')) {
            return Err(InvalidValue::new(format!(
                "{} must not be negative",
                quote(amount)
            )));
        }
        let too_large = || {
            let mut max = Money::max_amount();
            max.rescale(currency.minor_units());
            InvalidValue::new(format!("{} is too large (at most {max})", quote(amount)))
        };
        if int.len() > MAX_DIGITS {
            return Err(too_large());
        }
        let minor = currency.minor_units();
        if frac.len() > minor as usize {
            return Err(InvalidValue::new(format!(
                "{} has more decimal places than {currency} allows ({minor})",
                quote(amount),
            )));
        }
        // At most 14 + 4 digits now: well within what `Decimal` holds exactly.
        let int = if int.is_empty() { "0" } else { int };
        let exact = if frac.is_empty() {
            Decimal::from_str_exact(int)
        } else {
            Decimal::from_str_exact(&format!("{int}.{frac}"))
        };
        let value = exact
            .map_err(|_| InvalidValue::new(format!("{} is not a decimal amount", quote(amount))))?;
        if value > Money::max_amount() {
            return Err(too_large());
        }
        Money::new(value, currency)
    }

    /// An amount computed elsewhere (e.g. a compensation): non-negative, with at most the
    /// currency's decimal places, and small enough to be held to exactly that many. Not bounded
    /// by [`MAX_UNITS`](Self::MAX_UNITS): what is computed from bounded amounts is checked by
    /// the arithmetic that computes it.
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
        let mut scaled = amount.abs();
        // `rescale` keeps as many places as the 96-bit mantissa can hold: fewer means too large.
        scaled.rescale(minor);
        if scaled.scale() != minor {
            return Err(InvalidValue::new(format!(
                "{amount} is too large to hold in {currency} to {minor} decimal places"
            )));
        }
        Ok(Money {
            amount: scaled,
            currency,
        })
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

/// Digits of [`Money::MAX_UNITS`]: an integer part with more is too large whatever it is.
const MAX_DIGITS: usize = 14;

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
        assert_eq!(
            msg("79228162514264337593543950335"),
            r#""79228162514264337593543950335" is too large (at most 10000000000000.00)"#
        );
        assert!(msg(&"9".repeat(400)).contains("is too large"));
        let yen = Currency::parse("JPY").unwrap();
        assert!(Money::parse("100.5", yen).is_err());
        assert!(Money::new(Decimal::new(-1, 0), eur()).is_err());
    }

    #[test]
    fn the_bound_is_inclusive_in_every_currency() {
        assert_eq!(
            Decimal::from(Money::MAX_UNITS).to_string().len(),
            MAX_DIGITS
        );
        let msg = |s: &str, c: &str| {
            Money::parse(s, Currency::parse(c).unwrap())
                .map(|m| m.to_string())
                .unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(msg("10000000000000.00", "EUR"), "10000000000000.00 EUR");
        assert_eq!(
            msg("10000000000000.01", "EUR"),
            r#""10000000000000.01" is too large (at most 10000000000000.00)"#
        );
        assert_eq!(msg("10000000000000", "JPY"), "10000000000000 JPY");
        assert_eq!(
            msg("10000000000001", "JPY"),
            r#""10000000000001" is too large (at most 10000000000000)"#
        );
        assert_eq!(
            msg("99999999999999.999", "BHD"),
            r#""99999999999999.999" is too large (at most 10000000000000.000)"#
        );
        // Large nominal values of real orders are fine: 150 million rupiah, 2 billion rials.
        assert_eq!(msg("150000000.00", "IDR"), "150000000.00 IDR");
        assert_eq!(msg("2000000000", "KRW"), "2000000000 KRW");
        // Leading zeros count for nothing.
        assert_eq!(msg(&format!("{}1.50", "0".repeat(100)), "EUR"), "1.50 EUR");
    }

    #[test]
    fn negative_zero_is_zero_and_other_edges() {
        let msg = |s: &str| {
            Money::parse(s, eur())
                .map(|m| m.to_string())
                .unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(msg("-0.00"), "0.00 EUR");
        assert_eq!(msg("-0"), "0.00 EUR");
        assert_eq!(msg("-0.01"), r#""-0.01" must not be negative"#);
        // 28 fraction digits, or more than `Decimal` holds: still just too many places.
        assert_eq!(
            msg("0.0000000000000000000000000001"),
            r#""0.0000000000000000000000000001" has more decimal places than EUR allows (2)"#
        );
        assert!(msg(&format!("1.{}", "0".repeat(40))).contains("more decimal places"));
        for bad in ["1e3", "1E3", "1.5e-3", "Infinity", "0x10", "١٢", "1 000"] {
            assert!(msg(bad).contains("is not a decimal amount"), "{bad}");
        }
        // Computed amounts that cannot be held to the currency's places are refused.
        assert!(Money::new(Decimal::MAX, eur()).is_err());
        assert!(Money::new(Decimal::MAX, Currency::parse("JPY").unwrap()).is_ok());
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
