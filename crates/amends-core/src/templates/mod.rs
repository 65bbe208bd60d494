//! Templates: loading from `templates/`, locale fallback, helpers, and rendering a
//! [`Rendered`] message.
//!
//! Layout of the directory (key = the directory a policy rule names):
//! - `<key>/email.<locale>.hbs`: front matter (`subject:`, `preheader:`) and the HTML body;
//! - `<key>/email.<locale>.txt.hbs`: the plain-text part;
//! - `<key>/sms.<locale>.hbs`: the SMS;
//! - `layouts/<name>[.<locale>].hbs`, `partials/<name>[.<locale>].hbs` (HTML) and
//!   `partials/<name>[.<locale>].txt.hbs` (text), shared by all templates of a locale.
//!
//! A customer's locale falls back `es-MX` → `es` → the default, per template, and partials
//! resolve the same way for the locale of the template in use. HTML is rendered with HTML
//! escaping, then its stylesheet is inlined (css-inline) so mail clients that drop `<style>`
//! still show it; text, subjects and SMS are rendered without escaping, since they are never
//! HTML. Both registries are strict: an unknown variable is an error, never an empty string,
//! and [`check`] finds unknown variables in every branch before any message is rendered.
//! Whatever loads templates refuses what none may do ([`safety`]): include itself, log, write
//! a value unescaped into HTML.

pub mod check;
pub mod context;
mod diagnostic;
pub mod format;
#[cfg(test)]
mod golden;
pub mod helpers;
mod load;
mod registry;
mod render;
mod role;
pub mod safety;
pub mod samples;
pub mod sms;
#[cfg(test)]
mod tests;

pub use context::{Extras, Reading, StoreInfo};
pub use diagnostic::{Diagnostic, Severity};
use registry::{Origin, Registry, Variant};
pub use role::Role;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use handlebars::Handlebars;
use serde_json::Value;
use sha2::Digest;

use crate::incident::{Incident, Locale};
use crate::policy::Channel;

/// A template problem, naming the file (and line where the parser knows it).
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The directory or a file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The templates have errors; the first is shown, and how many more there are.
    #[error("{first}{}", if *.more > 0 { format!(" (and {} more; run `amends templates check`)", .more) } else { String::new() })]
    Invalid {
        /// The first error.
        first: Diagnostic,
        /// How many more errors there are.
        more: usize,
    },
    /// No template exists for a key and channel in any locale of the fallback chain.
    #[error("no {channel} template {key:?} for locale {locale} or its fallbacks")]
    Missing {
        /// Template key.
        key: String,
        /// Channel.
        channel: Channel,
        /// Requested locale.
        locale: String,
    },
    /// Rendering failed (strict mode: an unknown variable, a missing partial, a helper error).
    #[error("rendering {name}: {message}")]
    Render {
        /// Template name.
        name: String,
        /// The renderer's message.
        message: String,
    },
}

/// `sources` with each of `edits` (name, version, text) in place of the file of that name, or
/// added beside them; an edit is shown in messages as `<name> (version N)`.
pub fn overlay(
    mut sources: Vec<Source>,
    edits: impl IntoIterator<Item = (String, i32, String)>,
) -> Vec<Source> {
    for (name, version, text) in edits {
        let path = PathBuf::from(format!("{name} (version {version})"));
        match sources.iter_mut().find(|s| s.name == name) {
            Some(source) => {
                source.path = path;
                source.text = text;
            }
            None => sources.push(Source { name, path, text }),
        }
    }
    sources
}

/// Reads every template file under `dir` (`<group>/<file>.hbs`), sorted by name.
pub fn read_sources(dir: &Path) -> Result<Vec<Source>, TemplateError> {
    load::read_sources(dir)
}

/// One template file: its name under the templates directory (`order-delayed/email.es.hbs`),
/// the path shown in messages, and its text.
#[derive(Debug, Clone)]
pub struct Source {
    /// `<group>/<file>`, which says what the file is.
    pub name: String,
    /// Where it came from, for messages.
    pub path: PathBuf,
    /// The template text.
    pub text: String,
}

/// A file named `name` under `templates/` with `text`, for unit tests.
#[cfg(test)]
pub(crate) fn test_source(name: &str, text: &str) -> Source {
    Source {
        name: name.to_owned(),
        path: PathBuf::from("templates").join(name),
        text: text.to_owned(),
    }
}

/// A rule names a template that does not exist.
#[derive(Debug, thiserror::Error)]
#[error(
    "policy rule {rule:?} names {channel} template {template:?}, which does not exist in the default locale"
)]
pub struct MissingTemplate {
    /// The rule.
    pub rule: String,
    /// The template key.
    pub template: String,
    /// The channel.
    pub channel: Channel,
}

/// How templates are chosen and SMS prepared.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The last locale of every fallback chain.
    pub default_locale: Locale,
    /// Languages whose SMS letters may be transliterated to GSM-7 (`á` → `a`), changing words;
    /// punctuation is mapped for every language regardless ([`sms::prepare`]).
    pub sms_transliterate: Vec<String>,
}

impl Settings {
    /// Defaults for `default_locale`: no letter is transliterated.
    pub fn new(default_locale: &Locale) -> Settings {
        Settings {
            default_locale: default_locale.clone(),
            sms_transliterate: Vec::new(),
        }
    }
}

/// A rendered message, ready for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Locale of the template used, after fallback.
    pub locale: String,
    /// Email subject (email only).
    pub subject: Option<String>,
    /// Plain text: the email's text part, or the SMS.
    pub text: String,
    /// The email's HTML part (email only), its styles inlined.
    pub html: Option<String>,
}

/// All loaded templates.
pub struct Templates {
    /// Template locale → its registries.
    registries: BTreeMap<String, Registry>,
    /// (key, channel) → locale → variant.
    variants: BTreeMap<(String, Channel), BTreeMap<String, Variant>>,
    settings: Settings,
    inliner: css_inline::CSSInliner<'static>,
    /// SHA-256 of every source's name and text: which texts a message was rendered with.
    version: String,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("locales", &self.registries.keys().collect::<Vec<_>>())
            .field("variants", &self.variants.len())
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// Loads every template under `dir`; any error fails the whole load.
    pub fn load(dir: &Path, settings: &Settings) -> Result<Templates, TemplateError> {
        let sources = load::read_sources(dir)?;
        Templates::from_sources(&sources, settings)
    }

    /// Builds templates from `sources`; any error fails, naming the first.
    pub fn from_sources(
        sources: &[Source],
        settings: &Settings,
    ) -> Result<Templates, TemplateError> {
        let (templates, diagnostics) = Templates::build(sources, settings);
        let mut errors = diagnostics
            .into_iter()
            .filter(|d| d.severity == Severity::Error);
        match errors.next() {
            Some(first) => Err(TemplateError::Invalid {
                first,
                more: errors.count(),
            }),
            None => Ok(templates),
        }
    }

    /// Builds templates from every source that compiles, with every problem found on the way.
    fn build(sources: &[Source], settings: &Settings) -> (Templates, Vec<Diagnostic>) {
        let formats = Arc::new(format::Formats::new());
        let register = |registry: &mut Handlebars<'static>, html: bool| {
            helpers::register(registry, &formats, html);
        };
        let loaded = load::build(sources, &settings.default_locale, &register);
        let mut sorted: Vec<&Source> = sources.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let mut digest = sha2::Sha256::new();
        for source in sorted {
            // Lengths first, so no two different sets of files can hash alike.
            digest.update((source.name.len() as u64).to_le_bytes());
            digest.update(source.name.as_bytes());
            digest.update((source.text.len() as u64).to_le_bytes());
            digest.update(source.text.as_bytes());
        }
        let version = hex::encode(digest.finalize());
        let inliner = css_inline::CSSInliner::options()
            // Media queries (mobile, dark mode) cannot be inlined; keep them in a <style>.
            .keep_at_rules(true)
            .load_remote_stylesheets(false)
            .build();
        (
            Templates {
                registries: loaded.registries,
                variants: loaded.variants,
                settings: settings.clone(),
                inliner,
                version,
            },
            loaded.diagnostics,
        )
    }

    /// Which texts these are: SHA-256 of every template file's name and text, recorded with
    /// each message rendered from them.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Checks that every template a rule may send exists in the default locale, on every
    /// channel: a rule's channels fall back to the others when they cannot reach a customer.
    pub fn cover(&self, policy: &crate::policy::Policy) -> Result<(), MissingTemplate> {
        for rule in policy.rules() {
            for channel in [Channel::Email, Channel::Sms] {
                if !self.has(&rule.template, channel) {
                    return Err(MissingTemplate {
                        rule: rule.name.clone(),
                        template: rule.template.clone(),
                        channel,
                    });
                }
            }
        }
        Ok(())
    }

    /// True when a template exists for `key` and `channel` in the default locale or the
    /// language it falls back to: a store whose default is `en-GB` is served by `en` files.
    pub fn has(&self, key: &str, channel: Channel) -> bool {
        let default = &self.settings.default_locale;
        self.variants
            .get(&(key.to_owned(), channel))
            .is_some_and(|l| {
                default
                    .fallback_chain(default)
                    .iter()
                    .any(|tag| l.contains_key(&tag.to_string()))
            })
    }
}
