//! The raw layers: built-in defaults, then the TOML file, then `AMENDS_*` environment variables,
//! each value kept as text with where it came from, and read back through typed getters that
//! name the key and its source in every error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::report::{NOT_KEYS, Setting, closest};
use super::{ConfigError, ENV_PREFIX, InDoubtRule};

/// The built-in defaults: every key amends knows, set to its default or, without one, commented
/// out as `# key = …`. The same file is the commented example users copy, so the two cannot drift.
pub(super) const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// How the built-in defaults are named in an error, which only a broken build can show.
const DEFAULTS_PATH: &str = "built-in defaults.toml";

/// Every known key and its default (`None`: no default).
pub(super) type Keys = BTreeMap<String, Option<String>>;

/// `DEFAULTS_TOML` read once. An error (a broken build, which a unit test rules out) is kept as
/// its message and reported by every load rather than panicking.
static KEYS: LazyLock<Result<Keys, String>> = LazyLock::new(|| {
    parse_defaults(DEFAULTS_TOML).map_err(|e| match e {
        ConfigError::Syntax { message, .. } => message,
        other => other.to_string(),
    })
});

/// The known keys and their defaults, from the built-in defaults file.
pub(super) fn keys() -> Result<&'static Keys, ConfigError> {
    KEYS.as_ref().map_err(|message| ConfigError::Syntax {
        path: PathBuf::from(DEFAULTS_PATH),
        message: message.clone(),
    })
}

/// The keys of a defaults file: those set, with their value as the raw text a user's file would
/// give, and those commented out as `# key = …`, without a default.
fn parse_defaults(text: &str) -> Result<Keys, ConfigError> {
    let path = Path::new(DEFAULTS_PATH);
    let mut keys = Keys::new();
    for (key, value) in parse_table(path, text)? {
        let value = raw_text(path, &key, value)?;
        keys.insert(key, Some(value));
    }
    for line in text.lines() {
        if let Some(key) = commented_key(line) {
            keys.entry(key.to_owned()).or_insert(None);
        }
    }
    Ok(keys)
}

/// The key of a line like `# key = value` (`^# ([a-z_]+) = `), a key without a default.
fn commented_key(line: &str) -> Option<&str> {
    let (key, _) = line.strip_prefix("# ")?.split_once(" = ")?;
    (!key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')).then_some(key)
}

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Default,
    File(PathBuf),
    Env,
}

/// One raw value and its origin.
#[derive(Debug, Clone)]
struct Raw {
    value: String,
    origin: Origin,
}

/// The layered raw values, before typing.
pub(super) struct Layers {
    values: BTreeMap<&'static str, Raw>,
    /// `AMENDS_*` variables that name no key: ignored, and warned about.
    unknown: Vec<String>,
}

impl Layers {
    /// Reads the defaults, then the file's keys over them, then the environment's over both.
    pub(super) fn read(
        file: Option<(&Path, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Layers, ConfigError> {
        let keys = keys()?;
        let mut values: BTreeMap<&'static str, Raw> = keys
            .iter()
            .filter_map(|(key, default)| {
                default.as_ref().map(|d| {
                    (
                        key.as_str(),
                        Raw {
                            value: d.clone(),
                            origin: Origin::Default,
                        },
                    )
                })
            })
            .collect();

        if let Some((path, text)) = file {
            for (key, value) in parse_table(path, text)? {
                let Some((known, _)) = keys.get_key_value(&key) else {
                    let hint = closest(&key, keys.keys().map(String::as_str))
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    return Err(ConfigError::UnknownKey {
                        path: path.to_path_buf(),
                        key,
                        hint,
                    });
                };
                values.insert(
                    known.as_str(),
                    Raw {
                        value: raw_text(path, &key, value)?,
                        origin: Origin::File(path.to_path_buf()),
                    },
                );
            }
        }

        let mut unknown = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if NOT_KEYS.contains(&rest) {
                continue;
            }
            let key = rest.to_lowercase();
            match keys.get_key_value(&key) {
                Some((known, _)) => {
                    values.insert(
                        known.as_str(),
                        Raw {
                            value,
                            origin: Origin::Env,
                        },
                    );
                }
                None => unknown.push(name),
            }
        }
        unknown.sort();

        Ok(Layers { values, unknown })
    }

    /// One line per `AMENDS_*` variable that names no key, with the closest key that does.
    pub(super) fn warnings(&self) -> Vec<String> {
        let keys = keys().map(|k| k.keys().map(String::as_str).collect::<Vec<_>>());
        self.unknown
            .iter()
            .map(|name| {
                let hint = keys
                    .as_ref()
                    .ok()
                    .and_then(|keys| closest(name, keys.iter().copied()))
                    .map(|k| format!("; did you mean {ENV_PREFIX}{}?", k.to_uppercase()))
                    .unwrap_or_default();
                format!("{name} is not a configuration variable and is ignored{hint}")
            })
            .collect()
    }

    /// Every known key's effective value (secrets masked) and where it came from.
    pub(super) fn settings(&self) -> Result<Vec<Setting>, ConfigError> {
        Ok(keys()?
            .keys()
            .map(|key| {
                let raw = self.values.get(key.as_str());
                Setting {
                    key: key.clone(),
                    variable: format!("{ENV_PREFIX}{}", key.to_uppercase()),
                    value: self.get(key).map(|v| super::report::mask(key, v)),
                    origin: match raw.map(|r| &r.origin) {
                        Some(Origin::File(path)) => path.display().to_string(),
                        Some(Origin::Env) => "environment".to_owned(),
                        Some(Origin::Default) | None => "default".to_owned(),
                    },
                }
            })
            .collect())
    }

    fn origin(&self, key: &str) -> String {
        match self.values.get(key).map(|r| &r.origin) {
            Some(Origin::File(path)) => format!("{key} (in {})", path.display()),
            Some(Origin::Env) => format!("{ENV_PREFIX}{}", key.to_uppercase()),
            Some(Origin::Default) | None => format!("{key} (default)"),
        }
    }

    /// An error about `key`'s value, naming the key the way its source spells it.
    pub(super) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin(key),
            message: message.into(),
        }
    }

    /// The value, or `None` when unset or blank.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|r| r.value.trim())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn require(&self, key: &str, why: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| ConfigError::Invalid {
            origin: format!("{ENV_PREFIX}{}", key.to_uppercase()),
            message: format!("required {why}"),
        })
    }

    pub(super) fn string(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    pub(super) fn secret(&self, key: &str) -> Option<SecretString> {
        self.get(key).map(|v| SecretString::from(v.to_owned()))
    }

    pub(super) fn parse<T: std::str::FromStr>(
        &self,
        key: &str,
        what: &str,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let value = self.require(key, "")?;
        value
            .parse()
            .map_err(|e| self.invalid(key, format!("{value:?} is not {what}: {e}")))
    }

    pub(super) fn url(&self, key: &str) -> Result<Option<Url>, ConfigError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let url =
            Url::parse(value).map_err(|e| self.invalid(key, format!("not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(self.invalid(key, "must be an http or https URL"));
        }
        Ok(Some(url))
    }

    pub(super) fn in_doubt(&self, key: &str) -> Result<InDoubtRule, ConfigError> {
        match self.require(key, "")? {
            "resend" => Ok(InDoubtRule::Resend),
            "unknown" => Ok(InDoubtRule::Unknown),
            other => Err(self.invalid(key, format!("{other:?} is not resend or unknown"))),
        }
    }

    pub(super) fn duration(&self, key: &str) -> Result<Duration, ConfigError> {
        let value = self.require(key, "")?;
        humantime::parse_duration(value).map_err(|e| {
            self.invalid(
                key,
                format!("{value:?} is not a duration like 250ms or 30s: {e}"),
            )
        })
    }

    pub(super) fn positive<T>(&self, key: &str) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + Default,
        T::Err: std::fmt::Display,
    {
        let n: T = self.parse(key, "a positive whole number")?;
        if n <= T::default() {
            return Err(self.invalid(key, "must be greater than zero"));
        }
        Ok(n)
    }
}

/// `text` parsed as a TOML table; a syntax error keeps the parser's first line and its position.
fn parse_table(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().lines().next().unwrap_or_default().to_owned()
                + &location(text, e.span()),
        })
}

/// A file's value as the text the environment would give: every value is parsed per key later,
/// whichever layer it came from. An array is a comma-separated list.
fn raw_text(path: &Path, key: &str, value: toml::Value) -> Result<String, ConfigError> {
    Ok(match value {
        toml::Value::String(s) => s,
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        other => {
            return Err(ConfigError::Invalid {
                origin: format!("{key} (in {})", path.display()),
                message: format!("must be a string or number, not {}", other.type_str()),
            });
        }
    })
}

/// ` at line L column C` for a byte span of `text`.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    format!(" at line {line} column {column}")
}
