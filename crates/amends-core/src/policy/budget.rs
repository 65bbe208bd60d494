//! Budgets: a global amount per day per currency, and a cap per customer over a rolling window.
//!
//! The daily budget is reserved in the database, in chunks each replica gives from, so replicas
//! can never overspend it together; this module holds the limits and the pure checks.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::incident::{Currency, Money};

/// The budget limits of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Most that may be given per day, per currency; a currency not listed has no budget.
    pub daily: BTreeMap<Currency, Decimal>,
    /// Most one customer may receive within `customer_window`, per currency.
    pub per_customer: BTreeMap<Currency, Decimal>,
    /// The rolling window of the per-customer cap.
    pub customer_window: Duration,
    /// The time zone in which a budget day starts.
    pub timezone: chrono_tz::Tz,
}

impl Default for Budget {
    /// No money at all: a policy that gives something must say how much it may.
    fn default() -> Self {
        Budget {
            daily: BTreeMap::new(),
            per_customer: BTreeMap::new(),
            customer_window: Duration::from_secs(30 * 86_400),
            timezone: chrono_tz::UTC,
        }
    }
}

impl Budget {
    /// The budget day `now` falls on.
    pub fn day(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.timezone).date_naive()
    }

    /// Today's limit in `currency`, if it has a budget.
    pub fn daily_limit(&self, currency: Currency) -> Option<Decimal> {
        self.daily.get(&currency).copied()
    }

    /// Whether `cost` fits the customer's cap given what they already received (`given`) in the
    /// window; exactly reaching the cap is allowed.
    pub fn customer_allows(&self, cost: &Money, given: Decimal) -> Result<(), String> {
        let currency = cost.currency();
        let Some(cap) = self.per_customer.get(&currency) else {
            return Err(format!("no per-customer cap is set for {currency}"));
        };
        if exceeds(given, cost.amount(), *cap) {
            return Err(format!(
                "over the per-customer cap of {cap} {currency} per {}: {given} {currency} already given, this is {}",
                humantime::format_duration(self.customer_window),
                cost.amount()
            ));
        }
        Ok(())
    }

    /// The checks a plan's `cost` passes before today's spending is looked at: `Ok(None)` when
    /// it costs nothing; else the per-customer cap given what the customer received (`given`),
    /// then that the currency has a daily budget, whose limit is returned.
    pub fn precheck(&self, cost: &Money, given: Decimal) -> Result<Option<Decimal>, String> {
        if cost.amount().is_zero() {
            return Ok(None);
        }
        self.customer_allows(cost, given)?;
        let currency = cost.currency();
        match self.daily_limit(currency) {
            Some(limit) => Ok(Some(limit)),
            None => Err(format!("no daily budget is set for {currency}")),
        }
    }

    /// Whether `cost` fits today's budget given what was spent (`spent`); for explanations, the
    /// database makes the binding check.
    pub fn daily_allows(&self, cost: &Money, spent: Decimal) -> Result<(), String> {
        let currency = cost.currency();
        let Some(limit) = self.daily_limit(currency) else {
            return Err(format!("no daily budget is set for {currency}"));
        };
        if exceeds(spent, cost.amount(), limit) {
            return Err(format!(
                "over the daily budget of {limit} {currency}: {spent} {currency} spent today, this is {}",
                cost.amount()
            ));
        }
        Ok(())
    }
}

/// Whether `already + cost` is over `limit`. A sum too large to compute is over any limit: a
/// limit is a `Decimal` too.
fn exceeds(already: Decimal, cost: Decimal, limit: Decimal) -> bool {
    already.checked_add(cost).is_none_or(|total| total > limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    fn budget() -> Budget {
        Budget {
            daily: [(eur(), Decimal::new(10000, 2))].into(),
            per_customer: [(eur(), Decimal::new(3000, 2))].into(),
            customer_window: Duration::from_secs(30 * 86_400),
            timezone: chrono_tz::Europe::Madrid,
        }
    }

    fn money(s: &str) -> Money {
        Money::parse(s, eur()).unwrap()
    }

    #[test]
    fn exactly_reaching_a_limit_is_allowed_one_cent_more_is_not() {
        let b = budget();
        assert!(
            b.customer_allows(&money("10.00"), Decimal::new(2000, 2))
                .is_ok()
        );
        let err = b
            .customer_allows(&money("10.01"), Decimal::new(2000, 2))
            .unwrap_err();
        assert!(err.contains("per-customer cap of 30.00 EUR"), "{err}");
        assert!(
            b.daily_allows(&money("10.00"), Decimal::new(9000, 2))
                .is_ok()
        );
        assert!(
            b.daily_allows(&money("10.01"), Decimal::new(9000, 2))
                .is_err()
        );
    }

    #[test]
    fn a_currency_without_a_budget_gets_nothing() {
        let usd = Money::parse("1.00", Currency::parse("USD").unwrap()).unwrap();
        assert!(budget().daily_allows(&usd, Decimal::ZERO).is_err());
        assert!(budget().customer_allows(&usd, Decimal::ZERO).is_err());
    }

    #[test]
    fn the_budget_day_follows_its_time_zone() {
        let late = "2026-11-23T23:30:00Z".parse().unwrap();
        assert_eq!(budget().day(late).to_string(), "2026-11-24");
    }
}
