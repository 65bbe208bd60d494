//! Errors of `incident`: [`IncidentError`] for a rejected event, [`InvalidValue`] for a value a
//! newtype refused.
//!
//! Both render as one line (values are quoted with control characters escaped), because the line
//! ends up in the `x-amends-error` header of the dead-letter queue and in logs.

/// Why an inbound event was rejected. `Display` is one line naming the JSON path and the problem,
/// e.g. `data.order.total: "12,5" is not a decimal amount`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// The message's content type is not a JSON type.
    #[error("content type {} is not a CloudEvents JSON type", quote(.0))]
    ContentType(String),
    /// The body is larger than any event should be.
    #[error("body is {bytes} bytes, more than the {max} an event may have")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The most accepted.
        max: usize,
    },
    /// The body is not JSON at all.
    #[error("body is not valid JSON: {0}")]
    Json(String),
    /// The body is JSON, but not an object (so not a structured-mode CloudEvent).
    #[error("body is not a JSON object (a structured-mode CloudEvent)")]
    NotAnObject,
    /// A well-formed CloudEvent of a type `amends` does not handle.
    #[error("type: unsupported event type {}", quote(.0))]
    UnsupportedType(String),
    /// A field is missing, has the wrong JSON type, or holds an invalid value.
    #[error("{field}: {problem}")]
    Invalid {
        /// JSON path, e.g. `data.order.items[0].quantity`.
        field: String,
        /// What is wrong, e.g. `expected a positive integer`.
        problem: String,
    },
}

impl IncidentError {
    pub(crate) fn at(field: impl Into<String>, problem: impl Into<String>) -> Self {
        IncidentError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The JSON path of the offending field (`type` for an unsupported type); `None` when the
    /// whole message is wrong (content type, JSON syntax).
    pub fn field(&self) -> Option<&str> {
        match self {
            IncidentError::Invalid { field, .. } => Some(field),
            IncidentError::UnsupportedType(_) => Some("type"),
            IncidentError::ContentType(_)
            | IncidentError::TooLarge { .. }
            | IncidentError::Json(_)
            | IncidentError::NotAnObject => None,
        }
    }
}

/// A value that failed a newtype's validation. `Display` is the problem, e.g.
/// `"EURO" is not an ISO 4217 currency code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(String);

impl InvalidValue {
    pub(crate) fn new(problem: impl Into<String>) -> Self {
        InvalidValue(problem.into())
    }

    /// The problem, as `Display` shows it.
    pub fn problem(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_problem(self) -> String {
        self.0
    }
}

/// Longest value (in characters) quoted in an error; the rest is cut, so one absurd field cannot
/// make a multi-kilobyte header.
const QUOTE_MAX_CHARS: usize = 64;

/// `value` in double quotes, control characters escaped (so the message stays on one line),
/// truncated to [`QUOTE_MAX_CHARS`] characters.
pub(crate) fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

/// Like [`quote`], but only the first character and the last three of a contact detail survive
/// (`"6*****222"`): bad addresses and numbers are still personal data, and this line reaches logs
/// and the dead-letter header.
pub(crate) fn quote_masked(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let masked: String = if chars.len() <= 4 {
        "*".repeat(chars.len())
    } else {
        chars
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 || i + 3 >= chars.len() {
                    *c
                } else {
                    '*'
                }
            })
            .collect()
    };
    quote(&masked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_and_truncates() {
        assert_eq!(quote("a\r\nb"), r#""a\r\nb""#);
        assert_eq!(quote("García"), "\"García\"");
        let long = "x".repeat(100);
        assert_eq!(quote(&long), format!("\"{}\"…", "x".repeat(64)));
    }

    #[test]
    fn field_names_the_path() {
        assert_eq!(
            IncidentError::at("data.x", "missing").field(),
            Some("data.x")
        );
        assert_eq!(
            IncidentError::UnsupportedType("a".into()).field(),
            Some("type")
        );
        assert_eq!(IncidentError::Json("x".into()).field(), None);
        assert_eq!(
            IncidentError::ContentType("text/plain".into()).to_string(),
            r#"content type "text/plain" is not a CloudEvents JSON type"#
        );
    }
}
