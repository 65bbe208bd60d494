//! [`TimeZone`] (IANA) and [`EventKey`] (the idempotency key).

use std::fmt;

use crate::incident::InvalidValue;
use crate::incident::check;
use crate::incident::error::quote;

/// An IANA time zone (`Europe/Madrid`) from `chrono-tz`'s database; defaults to `UTC`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    /// UTC, the default when a customer has no time zone.
    pub const UTC: TimeZone = TimeZone(chrono_tz::Tz::UTC);

    /// Parses an IANA name (exact spelling, e.g. `America/Mexico_City`).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        s.trim()
            .parse::<chrono_tz::Tz>()
            .map(TimeZone)
            .map_err(|_| InvalidValue::new(format!("{} is not an IANA time zone name", quote(s))))
    }

    /// The IANA name.
    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }

    /// The `chrono-tz` zone, for conversions.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone::UTC
    }
}

string_newtype!(TimeZone);

impl fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimeZone({})", self.as_str())
    }
}

/// The idempotency key of an event: CloudEvents `source` and `id`. The same pair is the same
/// event. `Display` is `source/id`; serializes as `{"source": …, "id": …}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct EventKey {
    source: String,
    id: String,
}

impl EventKey {
    /// Checks both parts as the envelope parser does (`source` a URI reference, `id` non-empty
    /// without control characters), e.g. for a key read back from storage or typed by an admin.
    pub fn new(source: &str, id: &str) -> Result<Self, InvalidValue> {
        let source =
            check::uri_reference(source).map_err(|e| InvalidValue::new(format!("source: {e}")))?;
        let id = check::identifier(id).map_err(|e| InvalidValue::new(format!("id: {e}")))?;
        Ok(EventKey { source, id })
    }

    /// Both parts already checked by the envelope parser.
    pub(crate) fn from_checked(source: String, id: String) -> Self {
        EventKey { source, id }
    }

    /// The CloudEvents `source`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The CloudEvents `id`.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.source, self.id)
    }
}

impl fmt::Debug for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones() {
        let madrid = TimeZone::parse("Europe/Madrid").unwrap();
        assert_eq!(madrid.as_str(), "Europe/Madrid");
        assert_eq!(madrid.tz(), chrono_tz::Europe::Madrid);
        assert_eq!(TimeZone::default().as_str(), "UTC");
        assert_eq!(
            TimeZone::parse("Mars/Olympus").unwrap_err().to_string(),
            r#""Mars/Olympus" is not an IANA time zone name"#
        );
        assert!(TimeZone::parse("").is_err());
        assert_eq!(serde_json::to_string(&madrid).unwrap(), "\"Europe/Madrid\"");
    }

    #[test]
    fn event_keys() {
        let key = EventKey::new("https://shop.example/orders", "42").unwrap();
        assert_eq!(key.to_string(), "https://shop.example/orders/42");
        assert_eq!(
            (key.source(), key.id()),
            ("https://shop.example/orders", "42")
        );
        assert_eq!(
            serde_json::to_value(&key).unwrap(),
            serde_json::json!({"source": "https://shop.example/orders", "id": "42"})
        );
        assert_eq!(
            EventKey::new("https://shop.example/orders", "")
                .unwrap_err()
                .to_string(),
            "id: must not be empty"
        );
        assert!(EventKey::new("a b", "1").is_err());
    }
}
