//! Small validators for plain string fields (ids, names, URLs, times). Each returns the problem
//! as an [`InvalidValue`]; the caller adds the JSON path.

use std::ops::RangeInclusive;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::incident::InvalidValue;
use crate::incident::error::quote;

/// Longest identifier (ids, SKUs, order numbers), in characters.
pub(crate) const ID_MAX_CHARS: usize = 200;
/// Longest name (person, product, carrier, tier, …), in characters.
pub(crate) const NAME_MAX_CHARS: usize = 200;
/// Longest CloudEvents `source` or `subject`, or http(s) URL, in characters.
pub(crate) const URI_MAX_CHARS: usize = 2048;

/// The years an event's dates and times may fall in. Outside them a date is a sender's
/// placeholder (`0001-01-01`, `1970-01-01`, `9999-12-31`), not one to tell a customer or to
/// count days of delay from.
pub(crate) const YEARS: RangeInclusive<i32> = 2000..=2199;

/// Control characters (CR, LF, TAB, NUL, DEL, C1) and the Unicode line/paragraph separators: none
/// may reach a message header or a log line.
fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

fn common(s: &str, max: usize) -> Result<(), InvalidValue> {
    if s.trim().is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    if s.chars().any(is_forbidden) {
        return Err(InvalidValue::new(
            "must not contain control characters (such as CR or LF)",
        ));
    }
    if s.chars().count() > max {
        return Err(InvalidValue::new(format!(
            "must be at most {max} characters"
        )));
    }
    Ok(())
}

/// An identifier: non-empty, no control characters, at most [`ID_MAX_CHARS`]; kept verbatim.
pub(crate) fn identifier(s: &str) -> Result<String, InvalidValue> {
    common(s, ID_MAX_CHARS)?;
    Ok(s.to_owned())
}

/// Human text such as a name: control characters become spaces, runs of white space collapse,
/// then it must be non-empty and at most `max` chars.
///
/// A name typed with a stray line break is still the customer's name: refusing the whole event
/// would cost them their apology. Folding it to one line keeps it out of headers and log lines.
pub(crate) fn text(s: &str, max: usize) -> Result<String, InvalidValue> {
    let folded = s
        .split(|c: char| c.is_whitespace() || is_forbidden(c))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    common(&folded, max)?;
    Ok(folded)
}

/// A name (person, product, carrier, …): [`text`] of at most [`NAME_MAX_CHARS`].
pub(crate) fn name(s: &str) -> Result<String, InvalidValue> {
    text(s, NAME_MAX_CHARS)
}

/// An absolute `http` or `https` URL with a host, in the `url` crate's normalized form, of at
/// most [`URI_MAX_CHARS`] (what browsers and mail clients reliably follow).
pub(crate) fn http_url(s: &str) -> Result<String, InvalidValue> {
    if s.chars().count() > URI_MAX_CHARS {
        return Err(InvalidValue::new(format!(
            "must be at most {URI_MAX_CHARS} characters"
        )));
    }
    let invalid = || InvalidValue::new(format!("{} is not an http(s) URL", quote(s)));
    if s.chars().any(|c| c.is_whitespace() || is_forbidden(c)) {
        return Err(invalid());
    }
    let url = url::Url::parse(s).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid());
    }
    Ok(url.into())
}

/// A URI-reference (RFC 3986) as CloudEvents requires for `source`: an absolute URI
/// (`https://shop.example/orders`, `urn:shop:orders`) or a relative one (`/orders`).
pub(crate) fn uri_reference(s: &str) -> Result<String, InvalidValue> {
    common(s, URI_MAX_CHARS)?;
    let invalid = || InvalidValue::new(format!("{} is not a URI reference", quote(s)));
    if s.chars()
        .any(|c| c.is_whitespace() || "<>\"{}|\\^`".contains(c))
    {
        return Err(invalid());
    }
    let has_scheme = s
        .split_once(':')
        .is_some_and(|(scheme, _)| is_scheme(scheme));
    if has_scheme {
        url::Url::parse(s).map_err(|_| invalid())?;
    } else {
        // Resolve against a dummy base: what is left to check is the relative syntax.
        let base = url::Url::parse("http://base.invalid/").map_err(|_| invalid())?;
        base.join(s).map_err(|_| invalid())?;
    }
    Ok(s.to_owned())
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// An RFC 3339 date-time with offset, converted to UTC, within [`YEARS`].
pub(crate) fn datetime(s: &str) -> Result<DateTime<Utc>, InvalidValue> {
    let at = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| InvalidValue::new(format!("{} is not an RFC 3339 date-time", quote(s))))?;
    plausible(s, at.date_naive())?;
    Ok(at)
}

/// `date` (written as `s`) is within [`YEARS`].
pub(crate) fn plausible(s: &str, date: NaiveDate) -> Result<(), InvalidValue> {
    if YEARS.contains(&date.year()) {
        return Ok(());
    }
    Err(InvalidValue::new(format!(
        "{} is not in the years {} to {}",
        quote(s),
        YEARS.start(),
        YEARS.end()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_names() {
        assert_eq!(identifier("A-10042").unwrap(), "A-10042");
        assert_eq!(name("  Ana ").unwrap(), "Ana");
        assert_eq!(name("").unwrap_err().to_string(), "must not be empty");
        assert_eq!(name("   ").unwrap_err().to_string(), "must not be empty");
        for (bad, folded) in [
            ("Ana\r\nBcc: x", "Ana Bcc: x"),
            ("Ana\n", "Ana"),
            ("A\tna", "A na"),
            ("A\u{0}", "A"),
            ("A\u{2028}b", "A b"),
            ("A\u{85}b", "A b"),
        ] {
            assert_eq!(name(bad).unwrap(), folded, "{bad:?}");
            assert!(
                identifier(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("control characters"),
                "{bad:?}"
            );
        }
        assert!(name(&"x".repeat(200)).is_ok());
        assert_eq!(
            name(&"x".repeat(201)).unwrap_err().to_string(),
            "must be at most 200 characters"
        );
    }

    #[test]
    fn urls() {
        assert_eq!(
            http_url("https://shop.example/orders/A-10042").unwrap(),
            "https://shop.example/orders/A-10042"
        );
        for bad in [
            "",
            "shop.example",
            "ftp://shop.example",
            "javascript:alert(1)",
            "https://a b",
        ] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
        for good in [
            "https://shop.example/orders",
            "/orders",
            "urn:shop:orders",
            "orders",
        ] {
            assert!(uri_reference(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "http://[::1", "<x>"] {
            assert!(uri_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn datetimes() {
        assert_eq!(
            datetime("2026-11-20T15:03:00+01:00").unwrap().to_rfc3339(),
            "2026-11-20T14:03:00+00:00"
        );
        assert_eq!(
            datetime("yesterday").unwrap_err().to_string(),
            r#""yesterday" is not an RFC 3339 date-time"#
        );
        assert!(datetime("2026-11-20").is_err());
        assert_eq!(
            datetime("0001-01-01T00:00:00Z").unwrap_err().to_string(),
            r#""0001-01-01T00:00:00Z" is not in the years 2000 to 2199"#
        );
        assert!(datetime("9999-12-31T23:59:59Z").is_err());
        assert!(datetime("1970-01-01T00:00:00Z").is_err());
        assert!(datetime("2000-01-01T00:00:00Z").is_ok());
        assert!(datetime("2199-12-31T23:59:59Z").is_ok());
        // The offset decides the instant: this one is in 2200 in UTC.
        assert!(datetime("2199-12-31T23:30:00-01:00").is_err());
    }

    #[test]
    fn long_urls() {
        let long = format!("https://shop.example/{}", "a".repeat(URI_MAX_CHARS));
        assert_eq!(
            http_url(&long).unwrap_err().to_string(),
            "must be at most 2048 characters"
        );
        let fits = format!("https://shop.example/{}", "a".repeat(1000));
        assert!(http_url(&fits).is_ok());
    }
}
