//! [`EmailAddress`]: a validated, PII-masking email address.

use std::fmt;

use crate::incident::InvalidValue;
use crate::incident::error::quote_masked;

/// A customer's email address, validated with the `email_address` crate: a bare `local@domain`
/// (no display name, no IP-literal domain, at least two domain labels), no whitespace or control
/// characters (it goes into message headers). Surrounding whitespace is trimmed.
///
/// `Debug` shows only [`masked`](Self::masked), so addresses never reach logs by accident.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Validates `s` as an email address.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let trimmed = s.trim();
        let invalid =
            || InvalidValue::new(format!("{} is not a valid email address", quote_masked(s)));
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let options = email_address::Options::default()
            .with_minimum_sub_domains(2)
            .without_domain_literal()
            .without_display_text();
        let parsed = email_address::EmailAddress::parse_with_options(trimmed, options)
            .map_err(|_| invalid())?;
        Ok(EmailAddress(parsed.as_str().to_owned()))
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// For logs and screens: first character of the local part, `***`, then the domain, e.g.
    /// `a***@example.com`.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }
}

string_newtype!(EmailAddress);

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_masks() {
        let email = EmailAddress::parse(" ana@example.com ").unwrap();
        assert_eq!(email.as_str(), "ana@example.com");
        assert_eq!(email.domain(), "example.com");
        assert_eq!(email.masked(), "a***@example.com");
        assert_eq!(format!("{email:?}"), "a***@example.com");
        assert_eq!(email.to_string(), "ana@example.com");
        assert_eq!(
            serde_json::to_string(&email).unwrap(),
            "\"ana@example.com\""
        );
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@@example.com",
            "ana@localhost",
            "Ana <ana@example.com>",
            "ana@[127.0.0.1]",
            "ana@example.com\r\nBcc: x@evil.example",
            "a na@example.com",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert!(
                err.to_string().ends_with("is not a valid email address"),
                "{bad}"
            );
            assert!(!err.to_string().contains('\n'));
        }
    }
}
