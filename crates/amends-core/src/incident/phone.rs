//! [`PhoneNumber`]: a validated E.164 number that masks itself in `Debug`.

use std::fmt;

use phonenumber::Mode;

use crate::incident::InvalidValue;
use crate::incident::error::quote_masked;

/// Longest phone number input accepted, in characters, spaces and punctuation included.
const PHONE_MAX_CHARS: usize = 64;

/// A phone number in E.164 form (`+34600111222`), validated with the `phonenumber` crate
/// (libphonenumber metadata). Input must start with `+` and the country code; spaces, dots,
/// dashes and parentheses are allowed and dropped. Extensions are refused (SMS cannot use them).
///
/// `Debug` shows only [`masked`](Self::masked).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    /// Normalized E.164: `+`, country code, national number.
    e164: String,
    /// Digits of the country code (1–3), so masking keeps exactly the code visible.
    code_len: usize,
    /// ISO 3166 region the number belongs to, when it is geographic.
    region: Option<&'static str>,
}

impl PhoneNumber {
    /// Validates `s` as an international number and normalizes it to E.164.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        // E.164 has at most 15 digits; with spaces and punctuation no real number comes near.
        if s.chars().count() > PHONE_MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "{} is too long for a phone number (at most {PHONE_MAX_CHARS} characters)",
                quote_masked(s)
            )));
        }
        let trimmed = s.trim();
        let not_e164 = || {
            InvalidValue::new(format!(
                "{} is not an E.164 number (+ and country code)",
                quote_masked(s)
            ))
        };
        let Some(rest) = trimmed.strip_prefix('+') else {
            return Err(not_e164());
        };
        let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')');
        if !rest.starts_with(|c: char| c.is_ascii_digit()) || !rest.chars().all(allowed) {
            return Err(not_e164());
        }
        let number = phonenumber::parse(None, trimmed).map_err(|_| not_e164())?;
        if number.extension().is_some() {
            return Err(not_e164());
        }
        if !number.is_valid() {
            return Err(InvalidValue::new(format!(
                "{} is not a valid phone number",
                quote_masked(s)
            )));
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        let code_len = number.code().value().to_string().len();
        // Non-geographic numbers (+800 …) carry the pseudo-region "001": not a country.
        let region = number
            .metadata(&phonenumber::metadata::DATABASE)
            .map(|meta| meta.id())
            .filter(|id| id.len() == 2 && id.bytes().all(|b| b.is_ascii_uppercase()));
        Ok(PhoneNumber {
            e164,
            code_len,
            region,
        })
    }

    /// The normalized E.164 form, e.g. `+34600111222`.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The country calling code without `+`, e.g. `34`.
    pub fn country_code(&self) -> &str {
        &self.e164[1..=self.code_len]
    }

    /// ISO 3166-1 alpha-2 region of the number, e.g. `ES`; `None` for non-geographic numbers.
    pub fn country(&self) -> Option<&'static str> {
        self.region
    }

    /// For logs and screens: `+`, the country code, `*` for the national number except its last
    /// digits (three for numbers of nine digits or more), e.g. `+34******222`.
    pub fn masked(&self) -> String {
        let national = &self.e164[1 + self.code_len..];
        let visible = (national.len() / 3).min(3);
        let hidden = national.len() - visible;
        format!(
            "+{}{}{}",
            self.country_code(),
            "*".repeat(hidden),
            &national[hidden..]
        )
    }
}

string_newtype!(PhoneNumber);

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_and_masks() {
        let phone = PhoneNumber::parse("+34 600 11 12 22").unwrap();
        assert_eq!(phone.as_str(), "+34600111222");
        assert_eq!(phone.country_code(), "34");
        assert_eq!(phone.country(), Some("ES"));
        assert_eq!(phone.masked(), "+34******222");
        assert_eq!(format!("{phone:?}"), "+34******222");
        assert_eq!(serde_json::to_string(&phone).unwrap(), "\"+34600111222\"");

        let us = PhoneNumber::parse("+1 (415) 555-2671").unwrap();
        assert_eq!(us.as_str(), "+14155552671");
        assert_eq!(us.country(), Some("US"));
        assert_eq!(us.masked(), "+1*******671");
    }

    #[test]
    fn rejects_bad_numbers() {
        assert_eq!(
            PhoneNumber::parse("600111222").unwrap_err().to_string(),
            r#""6*****222" is not an E.164 number (+ and country code)"#
        );
        for bad in [
            "",
            "+",
            "+34",
            "+34600111222 ext. 12",
            "tel:+34600111222",
            "+34abc",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PhoneNumber::parse("+34 12").unwrap_err().to_string(),
            r#""+** 12" is not a valid phone number"#
        );
    }

    proptest! {
        #[test]
        fn masking_hides_the_middle_digits(rest in "[0-9]{8}") {
            let input = format!("+346{rest}");
            let Ok(phone) = PhoneNumber::parse(&input) else {
                return Err(TestCaseError::reject("not a valid Spanish mobile"));
            };
            let masked = phone.masked();
            let national = &phone.as_str()[3..];
            prop_assert_eq!(masked.len(), phone.as_str().len());
            prop_assert!(masked.starts_with("+34"));
            prop_assert_eq!(&masked[3..9], "******");
            prop_assert_eq!(&masked[9..], &national[6..]);
            // No run of the hidden digits survives anywhere in the masked form.
            prop_assert!(!masked.contains(&national[..6]));
            let debug = format!("{phone:?}");
            prop_assert!(!debug.contains(&national[..6]));
        }
    }
}
