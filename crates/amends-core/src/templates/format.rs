//! Locale-aware formatting for templates, on ICU4X's CLDR data: money, numbers, dates, relative
//! days and plural categories (pure, no I/O).
//!
//! Building a formatter loads its locale's data, so [`Formats`] keeps one [`LocaleFormats`] per
//! locale (and one currency formatter per currency inside it), built on first use and shared by
//! every render on every thread.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use fixed_decimal::Decimal as FixedDecimal;
use icu_calendar::{Date, Gregorian};
use icu_datetime::FixedCalendarDateTimeFormatter;
use icu_datetime::fieldsets::{self, enums::TimeFieldSet};
use icu_decimal::DecimalFormatter;
use icu_experimental::dimension::currency::CurrencyType;
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::relativetime::options::Numeric;
use icu_experimental::relativetime::{RelativeTimeFormatter, RelativeTimeFormatterOptions};
use icu_plurals::{PluralCategory, PluralRules};
use rust_decimal::Decimal;

use crate::incident::Money;

/// Locale data that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("no formatting data for locale {locale}: {message}")]
pub struct FormatError {
    /// The locale asked for.
    pub locale: String,
    /// What ICU4X reported.
    pub message: String,
}

/// How a date is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// Weekday, day and month; the year too when it is not the year of `today`.
    Auto,
    /// Weekday, day, month and year.
    Year,
    /// Digits only, in the locale's order (`29/11/2026`, `11/29/26`).
    Numeric,
    /// Day and month without the weekday (`29 November`, `29 de noviembre`); the year too when
    /// it is not the year of `today`. For SMS, where a weekday such as `sábado` would cost the
    /// text its GSM-7 encoding.
    Short,
}

impl DateStyle {
    /// Parses a style name as templates write it: `year`, `numeric`, `short` (none =
    /// [`DateStyle::Auto`]).
    pub fn parse(name: &str) -> Option<DateStyle> {
        match name {
            "auto" => Some(DateStyle::Auto),
            "year" => Some(DateStyle::Year),
            "numeric" => Some(DateStyle::Numeric),
            "short" => Some(DateStyle::Short),
            _ => None,
        }
    }
}

/// The formatters of one locale.
pub struct LocaleFormats {
    locale: icu_locale_core::Locale,
    decimal: DecimalFormatter,
    day_month: FixedCalendarDateTimeFormatter<Gregorian, fieldsets::MDE>,
    with_year: FixedCalendarDateTimeFormatter<Gregorian, fieldsets::YMDE>,
    numeric: FixedCalendarDateTimeFormatter<Gregorian, fieldsets::YMD>,
    short: FixedCalendarDateTimeFormatter<Gregorian, fieldsets::MD>,
    short_year: FixedCalendarDateTimeFormatter<Gregorian, fieldsets::YMD>,
    time: FixedCalendarDateTimeFormatter<Gregorian, TimeFieldSet>,
    relative: RelativeTimeFormatter,
    plurals: PluralRules,
    currencies: RwLock<HashMap<&'static str, Arc<CurrencyFormatter<DecimalFormatter>>>>,
}

impl std::fmt::Debug for LocaleFormats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocaleFormats")
            .field("locale", &self.locale.to_string())
            .finish_non_exhaustive()
    }
}

impl LocaleFormats {
    /// Loads the formatters for `tag` (a BCP 47 tag); a locale without its own data uses its
    /// parent's (es-MX → es → root), as CLDR defines.
    pub fn new(tag: &str) -> Result<LocaleFormats, FormatError> {
        let error = |e: &dyn std::fmt::Display| FormatError {
            locale: tag.to_owned(),
            message: e.to_string(),
        };
        let locale: icu_locale_core::Locale = tag.parse().map_err(|e| error(&e))?;
        let prefs = (&locale).into();
        let mut relative_options = RelativeTimeFormatterOptions::default();
        // "tomorrow" rather than "in 1 day", where the locale has a word for it.
        relative_options.numeric = Some(Numeric::Auto);
        Ok(LocaleFormats {
            decimal: DecimalFormatter::try_new((&locale).into(), Default::default())
                .map_err(|e| error(&e))?,
            day_month: FixedCalendarDateTimeFormatter::try_new(prefs, fieldsets::MDE::long())
                .map_err(|e| error(&e))?,
            with_year: FixedCalendarDateTimeFormatter::try_new(prefs, fieldsets::YMDE::long())
                .map_err(|e| error(&e))?,
            numeric: FixedCalendarDateTimeFormatter::try_new(prefs, fieldsets::YMD::short())
                .map_err(|e| error(&e))?,
            short: FixedCalendarDateTimeFormatter::try_new(prefs, fieldsets::MD::long())
                .map_err(|e| error(&e))?,
            short_year: FixedCalendarDateTimeFormatter::try_new(prefs, fieldsets::YMD::long())
                .map_err(|e| error(&e))?,
            time: FixedCalendarDateTimeFormatter::try_new(
                prefs,
                TimeFieldSet::T(fieldsets::T::hm()),
            )
            .map_err(|e| error(&e))?,
            relative: RelativeTimeFormatter::try_new_long_day((&locale).into(), relative_options)
                .map_err(|e| error(&e))?,
            plurals: PluralRules::try_new_cardinal((&locale).into()).map_err(|e| error(&e))?,
            currencies: RwLock::default(),
            locale,
        })
    }

    /// `1234,50 €` (es-ES), `€1,234.50` (en-IE), `$1,234.50` (en-US): the locale's pattern and
    /// symbol, with every minor unit of the currency.
    pub fn money(&self, money: &Money) -> Result<String, FormatError> {
        let code = money.currency().code();
        let formatter = self.currency(code)?;
        let value = fixed(money.amount());
        Ok(formatter.format_fixed_decimal(&value).to_string())
    }

    fn currency(
        &self,
        code: &'static str,
    ) -> Result<Arc<CurrencyFormatter<DecimalFormatter>>, FormatError> {
        if let Some(found) = self
            .currencies
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(code)
        {
            return Ok(Arc::clone(found));
        }
        let error = |message: String| FormatError {
            locale: self.locale.to_string(),
            message,
        };
        let currency =
            CurrencyType::try_from_str(code).map_err(|e| error(format!("currency {code}: {e}")))?;
        let formatter = Arc::new(
            CurrencyFormatter::try_new_symbol((&self.locale).into(), currency, Default::default())
                .map_err(|e| error(format!("currency {code}: {e}")))?,
        );
        self.currencies
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(code, Arc::clone(&formatter));
        Ok(formatter)
    }

    /// A number with the locale's separators: `1.234,5` (es), `1,234.5` (en).
    pub fn number(&self, value: Decimal) -> String {
        self.decimal.format(&fixed(value)).to_string()
    }

    /// A date as `style` says; `today` decides whether [`DateStyle::Auto`] shows the year.
    pub fn date(&self, date: NaiveDate, style: DateStyle, today: NaiveDate) -> String {
        let Some(icu) = gregorian(date) else {
            return date.to_string();
        };
        match style {
            DateStyle::Auto if date.year() == today.year() => {
                self.day_month.format(&icu).to_string()
            }
            DateStyle::Auto | DateStyle::Year => self.with_year.format(&icu).to_string(),
            DateStyle::Numeric => self.numeric.format(&icu).to_string(),
            DateStyle::Short if date.year() == today.year() => self.short.format(&icu).to_string(),
            DateStyle::Short => self.short_year.format(&icu).to_string(),
        }
    }

    /// A time of day: `14:30` (es), `2:30 PM` (en-US).
    pub fn time(&self, time: NaiveTime) -> String {
        match icu_time::Time::try_new(time.hour() as u8, time.minute() as u8, 0, 0) {
            Ok(t) => self.time.format(&t).to_string(),
            Err(_) => time.format("%H:%M").to_string(),
        }
    }

    /// `tomorrow`, `in 3 days`, `yesterday`; `mañana`, `dentro de 3 días`.
    pub fn relative_days(&self, days: i64) -> String {
        self.relative.format(FixedDecimal::from(days)).to_string()
    }

    /// The CLDR plural category of `value`: `one` for 1 in English and Spanish, `few` for 2–4
    /// in Polish, and so on.
    pub fn plural(&self, value: Decimal) -> &'static str {
        match self.plurals.category_for(&fixed(value)) {
            PluralCategory::Zero => "zero",
            PluralCategory::One => "one",
            PluralCategory::Two => "two",
            PluralCategory::Few => "few",
            PluralCategory::Many => "many",
            PluralCategory::Other => "other",
        }
    }
}

/// The formatters of every locale used so far, built on first use.
#[derive(Debug, Default)]
pub struct Formats {
    locales: RwLock<HashMap<String, Arc<LocaleFormats>>>,
}

impl Formats {
    /// An empty cache.
    pub fn new() -> Formats {
        Formats::default()
    }

    /// The formatters of `tag`, built and kept on first use.
    pub fn get(&self, tag: &str) -> Result<Arc<LocaleFormats>, FormatError> {
        if let Some(found) = self
            .locales
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tag)
        {
            return Ok(Arc::clone(found));
        }
        // A tag ICU4X cannot use as a whole (an extension it rejects) still has a language.
        let built = match LocaleFormats::new(tag) {
            Ok(formats) => formats,
            Err(e) => match tag.split_once('-') {
                Some((language, _)) => LocaleFormats::new(language).map_err(|_| e)?,
                None => return Err(e),
            },
        };
        let built = Arc::new(built);
        self.locales
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tag.to_owned(), Arc::clone(&built));
        Ok(built)
    }
}

/// A `rust_decimal` value as ICU4X's decimal, keeping its scale (trailing zeros included).
fn fixed(value: Decimal) -> FixedDecimal {
    let mantissa = value.mantissa();
    let mut fixed = FixedDecimal::from(mantissa);
    fixed.multiply_pow10(-(value.scale() as i16));
    fixed
}

fn gregorian(date: NaiveDate) -> Option<Date<Gregorian>> {
    Date::try_new_gregorian(date.year(), date.month() as u8, date.day() as u8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Currency;

    fn money(locale: &str, amount: &str, currency: &str) -> String {
        let m = Money::parse(amount, Currency::parse(currency).unwrap()).unwrap();
        LocaleFormats::new(locale).unwrap().money(&m).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn money_follows_the_locale_and_the_currency() {
        // The examples; CLDR puts a no-break space before the euro sign in Spanish.
        assert_eq!(money("es-ES", "1234.50", "EUR"), "1234,50\u{a0}€");
        assert_eq!(money("en-IE", "1234.50", "EUR"), "€1,234.50");
        // Spanish groups thousands only from five digits on.
        assert_eq!(money("es-ES", "12345.5", "EUR"), "12.345,50\u{a0}€");
        assert_eq!(money("en-US", "7", "USD"), "$7.00");
        assert_eq!(money("es-MX", "129.9", "MXN"), "$129.90");
        assert_eq!(money("es-ES", "5", "USD"), "5,00\u{a0}US$");
        assert_eq!(money("en-GB", "20", "GBP"), "£20.00");
        assert_eq!(money("en", "1500", "JPY"), "¥1,500");
    }

    #[test]
    fn dates_show_the_year_only_when_it_differs() {
        let es = LocaleFormats::new("es-ES").unwrap();
        let today = day("2026-11-24");
        assert_eq!(
            es.date(day("2026-12-02"), DateStyle::Auto, today),
            "miércoles, 2 de diciembre"
        );
        assert_eq!(
            es.date(day("2027-02-21"), DateStyle::Auto, today),
            "domingo, 21 de febrero de 2027"
        );
        assert_eq!(
            es.date(day("2026-12-02"), DateStyle::Numeric, today),
            "2/12/26"
        );
        let en_us = LocaleFormats::new("en-US").unwrap();
        assert_eq!(
            en_us.date(day("2026-12-02"), DateStyle::Auto, today),
            "Wednesday, December 2"
        );
        assert_eq!(
            en_us.date(day("2026-12-02"), DateStyle::Year, today),
            "Wednesday, December 2, 2026"
        );
        let en_gb = LocaleFormats::new("en-GB").unwrap();
        assert_eq!(
            en_gb.date(day("2026-12-02"), DateStyle::Year, today),
            "Wednesday, 2 December 2026"
        );
        // Short: no weekday (a Spanish Saturday, "sábado", is not GSM-7).
        assert_eq!(
            es.date(day("2026-11-28"), DateStyle::Short, today),
            "28 de noviembre"
        );
        assert_eq!(
            es.date(day("2027-01-02"), DateStyle::Short, today),
            "2 de enero de 2027"
        );
        assert_eq!(
            en_gb.date(day("2026-11-28"), DateStyle::Short, today),
            "28 November"
        );
        assert_eq!(
            en_us.date(day("2026-11-28"), DateStyle::Short, today),
            "November 28"
        );
    }

    #[test]
    fn relative_days_use_words_where_the_locale_has_them() {
        let es = LocaleFormats::new("es").unwrap();
        let en = LocaleFormats::new("en").unwrap();
        assert_eq!(es.relative_days(0), "hoy");
        assert_eq!(es.relative_days(1), "mañana");
        assert_eq!(es.relative_days(2), "pasado mañana");
        assert_eq!(es.relative_days(3), "dentro de 3 días");
        assert_eq!(en.relative_days(1), "tomorrow");
        assert_eq!(en.relative_days(3), "in 3 days");
        assert_eq!(en.relative_days(-1), "yesterday");
    }

    #[test]
    fn plurals_follow_cldr_rules() {
        let en = LocaleFormats::new("en").unwrap();
        let pl = LocaleFormats::new("pl").unwrap();
        let fr = LocaleFormats::new("fr").unwrap();
        assert_eq!(en.plural(Decimal::from(1)), "one");
        assert_eq!(en.plural(Decimal::from(0)), "other");
        assert_eq!(en.plural(Decimal::from(2)), "other");
        // "1.0" is not "1" in English: the visible fraction digit makes it plural.
        assert_eq!(en.plural(Decimal::new(10, 1)), "other");
        assert_eq!(pl.plural(Decimal::from(3)), "few");
        assert_eq!(pl.plural(Decimal::from(5)), "many");
        // French counts 0 and 1 as singular.
        assert_eq!(fr.plural(Decimal::from(0)), "one");
    }

    #[test]
    fn numbers_and_times_use_the_locale_conventions() {
        let es = LocaleFormats::new("es").unwrap();
        let en = LocaleFormats::new("en-US").unwrap();
        assert_eq!(es.number(Decimal::new(123_456, 1)), "12.345,6");
        assert_eq!(en.number(Decimal::new(123_456, 1)), "12,345.6");
        let t = NaiveTime::from_hms_opt(14, 30, 0).unwrap();
        assert_eq!(es.time(t), "14:30");
        assert_eq!(en.time(t), "2:30\u{202f}PM");
    }

    #[test]
    fn formats_are_built_once_per_locale() {
        let formats = Formats::new();
        let a = formats.get("es-MX").unwrap();
        let b = formats.get("es-MX").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(formats.get("not a locale!").is_err());
        // An extension ICU4X refuses still formats in its language.
        assert!(LocaleFormats::new("es-ES-u-ca-!!").is_err());
        let odd = formats.get("es-ES-u-ca-!!").unwrap();
        let m = Money::parse("5", crate::incident::Currency::parse("EUR").unwrap()).unwrap();
        assert_eq!(odd.money(&m).unwrap(), "5,00\u{a0}€");
    }
}
