//! When a promised delivery date counts as broken: the end of the promised day in the customer's
//! own time zone, plus a grace period counted in calendar days or in business days.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// How the whole days of a grace period are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DayCount {
    /// Every day counts (the default).
    #[default]
    Calendar,
    /// Only Monday to Friday count: a promise due on Friday with one day of grace is overdue
    /// when Monday is over, not on Sunday.
    Business,
}

impl DayCount {
    /// The configuration word: `calendar` or `business`.
    pub fn as_str(self) -> &'static str {
        match self {
            DayCount::Calendar => "calendar",
            DayCount::Business => "business",
        }
    }

    /// Whether `day` counts.
    fn counts(self, day: NaiveDate) -> bool {
        match self {
            DayCount::Calendar => true,
            DayCount::Business => !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }
}

impl fmt::Display for DayCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `calendar` or `business` was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither calendar nor business")]
pub struct DayCountError(String);

impl FromStr for DayCount {
    type Err = DayCountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "calendar" => Ok(DayCount::Calendar),
            "business" => Ok(DayCount::Business),
            other => Err(DayCountError(other.to_owned())),
        }
    }
}

/// How long past its promised date an order may go without word before it counts as overdue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grace {
    /// The period: its whole days are counted as `days` says, the rest is added as time.
    pub period: Duration,
    /// How whole days are counted.
    pub days: DayCount,
}

const DAY_SECONDS: u64 = 24 * 60 * 60;

impl Grace {
    /// When an order promised by `deliver_by` (a day on the customer's calendar in `tz`) counts
    /// as overdue: the promised day is over, then the grace has passed.
    pub fn overdue_at(&self, deliver_by: NaiveDate, tz: Tz) -> DateTime<Utc> {
        let whole = self.period.as_secs() / DAY_SECONDS;
        let rest = self.period - Duration::from_secs(whole * DAY_SECONDS);
        let mut last = deliver_by;
        let mut counted = 0;
        while counted < whole {
            let Some(next) = last.checked_add_days(Days::new(1)) else {
                return DateTime::<Utc>::MAX_UTC;
            };
            last = next;
            if self.days.counts(last) {
                counted += 1;
            }
        }
        let end = last
            .checked_add_days(Days::new(1))
            .map_or(DateTime::<Utc>::MAX_UTC, |day| start_of(day, tz));
        chrono::Duration::from_std(rest)
            .ok()
            .and_then(|rest| end.checked_add_signed(rest))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The first instant of `day` on the wall clock in `tz` (in a zone whose clocks skip midnight,
/// the first instant that exists that day).
fn start_of(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    (0..24)
        .filter_map(|hour| NaiveTime::from_hms_opt(hour, 0, 0))
        .find_map(|time| tz.from_local_datetime(&day.and_time(time)).earliest())
        .map_or_else(
            || day.and_time(NaiveTime::MIN).and_utc(),
            |at| at.with_timezone(&Utc),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn grace(days: u64, count: DayCount) -> Grace {
        Grace {
            period: Duration::from_secs(days * DAY_SECONDS),
            days: count,
        }
    }

    #[test]
    fn a_promise_breaks_when_its_day_and_the_grace_are_over_on_the_customers_clock() {
        let madrid: Tz = "Europe/Madrid".parse().unwrap();
        // Tuesday 24 November, one day of grace: over at midnight starting Thursday, Madrid time.
        let one = grace(1, DayCount::Calendar);
        assert_eq!(
            one.overdue_at(date("2026-11-24"), madrid),
            at("2026-11-25T23:00:00Z")
        );
        assert_eq!(
            one.overdue_at(date("2026-11-24"), Tz::UTC),
            at("2026-11-26T00:00:00Z")
        );
        // No grace: as soon as the promised day is over.
        assert_eq!(
            grace(0, DayCount::Calendar).overdue_at(date("2026-11-24"), Tz::UTC),
            at("2026-11-25T00:00:00Z")
        );
        // Hours beyond whole days are added as time.
        let hours = Grace {
            period: Duration::from_secs(DAY_SECONDS + 6 * 3600),
            days: DayCount::Calendar,
        };
        assert_eq!(
            hours.overdue_at(date("2026-11-24"), Tz::UTC),
            at("2026-11-26T06:00:00Z")
        );
    }

    #[test]
    fn business_days_skip_the_weekend() {
        // Friday 27 November with one business day of grace: Monday must pass first.
        let business = grace(1, DayCount::Business);
        assert_eq!(
            business.overdue_at(date("2026-11-27"), Tz::UTC),
            at("2026-12-01T00:00:00Z")
        );
        // The same promise in calendar days: Saturday passes.
        assert_eq!(
            grace(1, DayCount::Calendar).overdue_at(date("2026-11-27"), Tz::UTC),
            at("2026-11-29T00:00:00Z")
        );
        // Wednesday with two business days: Thursday and Friday.
        assert_eq!(
            grace(2, DayCount::Business).overdue_at(date("2026-11-25"), Tz::UTC),
            at("2026-11-28T00:00:00Z")
        );
        assert_eq!("business".parse(), Ok(DayCount::Business));
        assert_eq!("calendar".parse(), Ok(DayCount::Calendar));
        assert!("weekdays".parse::<DayCount>().is_err());
    }

    #[test]
    fn a_midnight_the_clocks_skip_starts_the_day_at_the_first_hour_that_exists() {
        // Santiago de Chile moved its clocks from 00:00 to 01:00 on 2022-09-11.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let start = start_of(date("2022-09-11"), santiago);
        assert_eq!(start, at("2022-09-11T04:00:00Z"));
    }
}
