//! What the configuration says, for people: the closest known key to a misspelt one, and each
//! effective value with where it came from and secrets masked (`amends config`). Pure.

use super::ENV_PREFIX;

/// Environment variables with the prefix that are not configuration keys, and are not
/// misspellings of one: the file's path, and values only the build or the tests read.
pub(super) const NOT_KEYS: &[&str] = &["CONFIG", "COMMIT", "ADVISORY_DB", "E2E_BIN"];

/// One effective setting, as `amends config` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The key, as in the file.
    pub key: String,
    /// Its environment variable.
    pub variable: String,
    /// The value with any secret masked; `None` when unset.
    pub value: Option<String>,
    /// Where it came from: `default`, the file's path, or `environment`.
    pub origin: String,
}

/// The known key closest to `name` (a key or a variable), when one is close enough to be a slip
/// of the keyboard.
pub fn closest<'a>(name: &str, keys: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = name.strip_prefix(ENV_PREFIX).unwrap_or(name).to_lowercase();
    keys.into_iter()
        .map(|key| (strsim::levenshtein(&wanted, key), key))
        // Up to a third of the name wrong, and at most three letters.
        .filter(|(distance, key)| *distance <= 3 && *distance * 3 <= key.len().max(3))
        .min()
        .map(|(_, key)| key)
}

/// The words of a key that mark its value as a secret to mask whole.
const SECRET_WORDS: [&str; 5] = ["token", "secret", "password", "api_key", "admin_users"];

/// Keys whose value is a URL that may carry a password.
const URL_KEYS: [&str; 3] = ["amqp_url", "database_url", "smtp_url"];

/// `value` as it may be shown for `key`: a secret as `********`, a URL with its password
/// replaced by `********`, anything else as it is.
pub fn mask(key: &str, value: &str) -> String {
    if SECRET_WORDS.iter().any(|w| key.contains(w)) {
        return "********".to_owned();
    }
    if URL_KEYS.contains(&key) {
        return match url::Url::parse(value) {
            Ok(mut url) => {
                if url.password().is_some() {
                    // Only fails for URLs that cannot have a password, which this one has.
                    let _ = url.set_password(Some("********"));
                }
                url.to_string()
            }
            // Not a URL: it may still hold a password, so show none of it.
            Err(_) => "******** (not a valid URL)".to_owned(),
        };
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 4] = ["prefetch", "http_bind", "retention", "sms_quiet_hours"];

    #[test]
    fn a_misspelt_variable_finds_its_key() {
        assert_eq!(closest("AMENDS_PREFECH", KEYS), Some("prefetch"));
        assert_eq!(closest("AMENDS_HTTP_BINDS", KEYS), Some("http_bind"));
        assert_eq!(closest("sms_quiet_hour", KEYS), Some("sms_quiet_hours"));
        assert_eq!(closest("AMENDS_RETENTOIN", KEYS), Some("retention"));
    }

    #[test]
    fn nothing_close_suggests_nothing() {
        assert_eq!(closest("AMENDS_COLOUR", KEYS), None);
        assert_eq!(closest("AMENDS_X", KEYS), None);
    }

    #[test]
    fn secrets_are_masked_and_urls_lose_only_their_password() {
        assert_eq!(mask("admin_token", "abc"), "********");
        assert_eq!(mask("twilio_auth_token_previous", "abc"), "********");
        assert_eq!(mask("sendgrid_api_key", "SG.x"), "********");
        assert_eq!(mask("vonage_api_secret", "s"), "********");
        assert_eq!(mask("postmark_webhook_password", "p"), "********");
        assert_eq!(
            mask("amqp_url", "amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:********@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            mask("database_url", "postgres://postgres@127.0.0.1:5432/amends"),
            "postgres://postgres@127.0.0.1:5432/amends"
        );
        assert_eq!(
            mask("smtp_url", "smtps://u:p@host"),
            "smtps://u:********@host"
        );
        assert_eq!(
            mask("database_url", "not a url:pw"),
            "******** (not a valid URL)"
        );
        assert_eq!(mask("prefetch", "64"), "64");
    }
}
