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
pub mod format;
#[cfg(test)]
mod golden;
pub mod helpers;
mod load;
pub mod safety;
pub mod samples;
pub mod sms;

pub use context::{Reading, Recovery};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use handlebars::Handlebars;
use handlebars::template::Template;
use serde_json::Value;
use sha2::Digest;

use crate::config::{Config, StoreInfo};
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

/// Whether `name` is a template file name amends reads (`order-delayed/sms.es.hbs`, …), and if
/// not, why.
pub fn load_role(name: &str) -> Result<(), String> {
    load::role(name).map(|_| ())
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

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The template cannot be used as it is.
    Error,
    /// It works, but a customer may get less than intended (a fallback locale, a long SMS).
    Warning,
}

/// One problem in one file, with its line where known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The file.
    pub path: PathBuf,
    /// Line in the file (1-based).
    pub line: Option<usize>,
    /// Column in the line (1-based).
    pub column: Option<usize>,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one line.
    pub message: String,
}

impl Diagnostic {
    fn error(path: &Path, line: Option<usize>, message: String) -> Diagnostic {
        Diagnostic {
            path: path.to_path_buf(),
            line,
            column: None,
            severity: Severity::Error,
            message,
        }
    }

    fn warning(path: &Path, line: Option<usize>, message: String) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, line, message)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {severity}: {}", self.message)
    }
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

/// How templates are chosen and SMS prepared.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The last locale of every fallback chain.
    pub default_locale: Locale,
    /// Languages whose SMS may be transliterated to GSM-7.
    pub sms_transliterate: Vec<String>,
}

impl Settings {
    /// The settings a configuration gives.
    pub fn of(config: &Config) -> Settings {
        Settings {
            default_locale: config.default_locale.clone(),
            sms_transliterate: config.sms.transliterate.clone(),
        }
    }

    /// Defaults for `default_locale`: no transliteration.
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

/// Registered names of one template × channel × locale.
#[derive(Debug, Clone)]
struct Variant {
    /// Name of the body (HTML for email, text for SMS).
    body: String,
    /// Name of the email text part.
    text: Option<String>,
    /// Names of the front-matter fields, rendered as text.
    subject: Option<String>,
    preheader: Option<String>,
}

/// Where a registered template came from: its file, and how many lines precede it there
/// (a subject sits on a front-matter line, so its line 1 is that line of the file).
#[derive(Debug, Clone)]
struct Origin {
    path: PathBuf,
    line_offset: usize,
}

/// The templates of one locale: HTML (escaped) and text (not escaped) registries.
struct Registry {
    html: Handlebars<'static>,
    plain: Handlebars<'static>,
    /// Registered name → its file.
    origins: HashMap<String, Origin>,
    /// Names taken out because they can include themselves or include what cannot be
    /// followed ([`safety::guard`]); what includes them is not rendered by the check.
    refused: BTreeSet<String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("templates", &self.origins.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    fn new(register_helpers: &dyn Fn(&mut Handlebars<'static>, bool)) -> Registry {
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        register_helpers(&mut html, true);
        safety::register(&mut html);
        let mut plain = Handlebars::new();
        plain.set_strict_mode(true);
        plain.register_escape_fn(handlebars::no_escape);
        register_helpers(&mut plain, false);
        safety::register(&mut plain);
        Registry {
            html,
            plain,
            origins: HashMap::new(),
            refused: BTreeSet::new(),
        }
    }

    /// Registers `template` as `name`, wrapped so that rendering it counts towards the nesting
    /// limit ([`safety::NESTING_LIMIT`]).
    fn add(&mut self, name: &str, template: Template, origin: Origin, plain: bool) {
        let template = safety::counted(template);
        if plain {
            self.plain.register_template(name, template);
        } else {
            self.html.register_template(name, template);
        }
        self.origins.insert(name.to_owned(), origin);
    }

    /// The compiled template registered as `name` in the HTML or text registry (as written,
    /// without its wrapper).
    fn get(&self, name: &str, plain: bool) -> Option<&Template> {
        let template = if plain {
            self.plain.get_template(name)
        } else {
            self.html.get_template(name)
        };
        template.map(safety::as_written)
    }

    /// Every name registered in the HTML or text registry, sorted.
    fn names(&self, plain: bool) -> Vec<String> {
        let registry = if plain { &self.plain } else { &self.html };
        let mut names: Vec<String> = registry.get_templates().keys().cloned().collect();
        names.sort();
        names
    }

    /// Takes `name` out of the HTML or text registry, remembering that it was refused.
    fn refuse(&mut self, name: &str, plain: bool) {
        if plain {
            self.plain.unregister_template(name);
        } else {
            self.html.unregister_template(name);
        }
        self.refused.insert(name.to_owned());
    }
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
        let version = digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
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

    /// True when a template exists for `key` and `channel` in the default locale.
    pub fn has(&self, key: &str, channel: Channel) -> bool {
        self.variants
            .get(&(key.to_owned(), channel))
            .is_some_and(|l| l.contains_key(&self.settings.default_locale.to_string()))
    }

    /// Renders `key` for `channel` in the customer's locale (with fallback).
    pub fn render(
        &self,
        key: &str,
        channel: Channel,
        incident: &Incident,
        store: &StoreInfo,
        recovery: &Recovery<'_>,
    ) -> Result<Rendered, TemplateError> {
        let customer_locale = &incident.customer.locale;
        let locales = self.variants.get(&(key.to_owned(), channel));
        let chain = customer_locale.fallback_chain(&self.settings.default_locale);
        let found = chain.iter().find_map(|l| {
            let tag = l.to_string();
            locales.and_then(|v| v.get(&tag)).map(|v| (l, tag, v))
        });
        let missing = || TemplateError::Missing {
            key: key.to_owned(),
            channel,
            locale: customer_locale.to_string(),
        };
        let (template_locale, tag, variant) = found.ok_or_else(missing)?;
        let registry = self.registries.get(&tag).ok_or_else(missing)?;
        // Format in the customer's own locale (es-MX money and dates) when the template speaks
        // their language; in the template's when it is a fallback to another language.
        let reading = Reading {
            locale: if template_locale.language() == customer_locale.language() {
                customer_locale.to_string()
            } else {
                tag.clone()
            },
            timezone: incident.customer.timezone.as_str().to_owned(),
            now: recovery.sent_at,
        };
        // One render context for every part: handing handlebars the JSON value itself instead
        // would copy the whole context for each part.
        let mut data =
            handlebars::Context::from(context::build(incident, store, recovery, &reading));
        let plain = |name: &str, data: &handlebars::Context| {
            registry
                .plain
                .render_with_context(name, data)
                .map_err(|e| render_error(name, &e))
        };
        match channel {
            Channel::Sms => {
                let text = tidy_text(&plain(&variant.body, &data)?);
                let transliterate = self
                    .settings
                    .sms_transliterate
                    .iter()
                    .any(|l| l == template_locale.language());
                Ok(Rendered {
                    locale: tag,
                    subject: None,
                    text: sms::prepare(&text, transliterate),
                    html: None,
                })
            }
            Channel::Email => {
                let subject = match &variant.subject {
                    Some(name) => single_line(&plain(name, &data)?),
                    None => String::new(),
                };
                let preheader = match &variant.preheader {
                    Some(name) => single_line(&plain(name, &data)?),
                    None => String::new(),
                };
                let message = &mut data.data_mut()["message"];
                message["subject"] = Value::String(subject.clone());
                message["preheader"] = Value::String(preheader);
                let html = registry
                    .html
                    .render_with_context(&variant.body, &data)
                    .map_err(|e| render_error(&variant.body, &e))?;
                let html = self
                    .inliner
                    .inline(&html)
                    .map_err(|e| TemplateError::Render {
                        name: variant.body.clone(),
                        message: format!("inlining the stylesheet: {e}"),
                    })?;
                let text = match &variant.text {
                    Some(name) => tidy_text(&plain(name, &data)?),
                    None => String::new(),
                };
                Ok(Rendered {
                    locale: tag,
                    subject: Some(subject),
                    text,
                    html: Some(html),
                })
            }
        }
    }
}

fn render_error(name: &str, e: &handlebars::RenderError) -> TemplateError {
    let at = match (e.line_no, e.column_no) {
        (Some(line), Some(column)) => format!("line {line}, column {column}: "),
        _ => String::new(),
    };
    TemplateError::Render {
        name: name.to_owned(),
        message: format!("{at}{}", one_line(&e.reason().to_string())),
    }
}

/// Collapses a rendered header value to one line: no CR, LF or other control characters.
fn single_line(s: &str) -> String {
    s.split(|c: char| c.is_control())
        .filter(|p| !p.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Trims trailing spaces on lines and collapses runs of blank lines that conditionals leave.
fn tidy_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0;
    for line in s.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// A possibly multi-line message joined into one line.
fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en() -> Locale {
        Locale::parse("en").unwrap()
    }

    fn incident(event_type: &str, edit: impl FnOnce(&mut Value)) -> Incident {
        samples::edited(event_type, edit).unwrap()
    }

    fn in_locale(event_type: &str, locale: &str) -> Incident {
        incident(event_type, |e| {
            e["data"]["customer"]["locale"] = locale.into()
        })
    }

    /// Renders for the sample store, with no offers.
    fn plain(
        templates: &Templates,
        key: &str,
        channel: Channel,
        incident: &Incident,
    ) -> Result<Rendered, TemplateError> {
        templates.render(
            key,
            channel,
            incident,
            &samples::store(),
            &Recovery::apology(samples::now()),
        )
    }

    fn shipped() -> Templates {
        Templates::load(Path::new("templates"), &Settings::new(&en())).unwrap()
    }

    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const KEYS: [(&str, &str); 3] = [
        ("order-delayed", "order.delayed"),
        ("order-stockout", "order.stockout"),
        ("order-cancelled", "order.cancelled"),
    ];

    #[test]
    fn every_shipped_template_renders_in_every_locale_with_every_offer() {
        let templates = shipped();
        for (key, event_type) in KEYS {
            for locale in ["en", "es-ES"] {
                let incident = in_locale(event_type, locale);
                let offers = samples::every_offer(&incident, samples::now());
                for recovery in [
                    Recovery::apology(samples::now()),
                    Recovery {
                        offers: &offers,
                        escalated: true,
                        sent_at: samples::now(),
                    },
                ] {
                    let store = samples::store();
                    let email = templates
                        .render(key, Channel::Email, &incident, &store, &recovery)
                        .unwrap();
                    assert_eq!(email.locale, &locale[..2]);
                    let subject = email.subject.unwrap();
                    assert!(!subject.is_empty() && !subject.contains('\n'));
                    let html = email.html.unwrap();
                    assert!(html.contains("Northwind Outfitters"));
                    assert!(
                        html.contains(&format!("lang=\"{locale}\"")),
                        "{key} {locale}"
                    );
                    let number = incident.order.number.as_deref().unwrap();
                    assert!(email.text.contains(number), "{}", email.text);
                    let sms = templates
                        .render(key, Channel::Sms, &incident, &store, &recovery)
                        .unwrap();
                    assert!(!sms.text.contains('<'), "{}", sms.text);
                    assert!(sms.text.contains("Northwind Outfitters"));
                    assert!(!sms.text.contains('\u{a0}'), "{}", sms.text);
                }
            }
        }
    }

    #[test]
    fn money_and_dates_follow_the_customers_locale() {
        let templates = shipped();
        let spain = plain(
            &templates,
            "order-delayed",
            Channel::Email,
            &in_locale("order.delayed", "es-ES"),
        )
        .unwrap();
        assert!(spain.text.contains("129,90\u{a0}€"), "{}", spain.text);
        assert!(spain.text.contains("de noviembre"), "{}", spain.text);
        let ireland = plain(
            &templates,
            "order-delayed",
            Channel::Email,
            &in_locale("order.delayed", "en-IE"),
        )
        .unwrap();
        assert!(ireland.text.contains("€129.90"), "{}", ireland.text);
        assert!(ireland.text.contains("November"), "{}", ireland.text);
        // es-MX falls back to the Spanish template but formats money and dates for Mexico.
        let mexico = plain(
            &templates,
            "order-delayed",
            Channel::Email,
            &in_locale("order.delayed", "es-MX"),
        )
        .unwrap();
        assert_eq!(mexico.locale, "es");
        assert!(
            mexico.text.contains("EUR") || mexico.text.contains('€'),
            "{}",
            mexico.text
        );
    }

    #[test]
    fn a_locale_without_templates_falls_back_to_the_default_in_its_language() {
        let templates = shipped();
        let french = plain(
            &templates,
            "order-delayed",
            Channel::Email,
            &in_locale("order.delayed", "fr-CA"),
        )
        .unwrap();
        assert_eq!(french.locale, "en");
        // English text, so English formatting: never "129,90 €" inside an English sentence.
        assert!(french.text.contains("€129.90"), "{}", french.text);
    }

    #[test]
    fn texts_read_well_without_store_contacts() {
        let templates = shipped();
        let bare = StoreInfo::named("Northwind Outfitters");
        for (key, event_type) in KEYS {
            for locale in ["en", "es-ES"] {
                let incident = incident(event_type, |e| {
                    e["data"]["order"].as_object_mut().unwrap().remove("url");
                    e["data"]["customer"]["locale"] = locale.into();
                });
                for channel in [Channel::Email, Channel::Sms] {
                    let message = templates
                        .render(
                            key,
                            channel,
                            &incident,
                            &bare,
                            &Recovery::apology(samples::now()),
                        )
                        .unwrap();
                    let all = format!("{}\n{}", message.text, message.html.unwrap_or_default());
                    for dangling in [
                        "write to .",
                        "write to ,",
                        "escríbenos a .",
                        "href=\"\"",
                        "mailto:\"",
                        " at .",
                        " -\n",
                        " en .",
                        "()",
                    ] {
                        assert!(
                            !all.contains(dangling),
                            "{key} {channel} {locale}: {dangling:?} in {all}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let templates = shipped();
        let incident = incident("order.delayed", |e| {
            e["data"]["customer"]["first_name"] = "<script>alert(1)</script> & Co".into();
        });
        let email = plain(&templates, "order-delayed", Channel::Email, &incident).unwrap();
        let html = email.html.unwrap();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(email.text.contains("<script>alert(1)</script> & Co"));
    }

    #[test]
    fn issued_codes_and_a_follow_up_are_shown_on_every_channel() {
        let templates = shipped();
        for (locale, amount, expiry, follow_up) in [
            ("en-IE", "€25.00", "21 February 2027", "personally"),
            (
                "es-ES",
                "25,00\u{a0}€",
                "21 de febrero de 2027",
                "personalmente",
            ),
        ] {
            let incident = in_locale("order.delayed", locale);
            let mut gift = samples::offer(
                crate::policy::OfferKind::GiftCertificate,
                &incident,
                samples::now(),
            );
            gift.code = Some("SORRY-ABCD2345".to_owned());
            gift.expires_at = Some("2027-02-21T10:00:00Z".parse().unwrap());
            let offers = [gift];
            let recovery = Recovery {
                offers: &offers,
                escalated: true,
                sent_at: samples::now(),
            };
            let store = samples::store();
            let email = templates
                .render(
                    "order-delayed",
                    Channel::Email,
                    &incident,
                    &store,
                    &recovery,
                )
                .unwrap();
            // The HTML serialiser writes the no-break space of "25,00 €" as &nbsp;.
            let html = email.html.as_ref().unwrap().replace("&nbsp;", "\u{a0}");
            for part in [&email.text, &html] {
                assert!(part.contains("SORRY-ABCD2345"), "{part}");
                assert!(part.contains(amount), "{locale}: {part}");
                assert!(part.contains(expiry), "{locale}: {part}");
                assert!(part.contains(follow_up), "{locale}: {part}");
            }
            let sms = templates
                .render("order-delayed", Channel::Sms, &incident, &store, &recovery)
                .unwrap();
            assert!(sms.text.contains("SORRY-ABCD2345"), "{}", sms.text);
            let apology = plain(&templates, "order-delayed", Channel::Sms, &incident).unwrap();
            assert!(!apology.text.contains("SORRY"), "{}", apology.text);
        }
    }

    #[test]
    fn unknown_template_is_a_clear_error() {
        let templates = shipped();
        let err = plain(
            &templates,
            "order-lost",
            Channel::Sms,
            &incident("order.delayed", |_| {}),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no sms template \"order-lost\" for locale es-ES or its fallbacks"
        );
    }

    #[test]
    fn strict_mode_rejects_unknown_variables_with_the_template() {
        let dir = dir(&[("oops/sms.en.hbs", "Hello {{customer.nickname}}")]);
        let templates = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
        let err = plain(
            &templates,
            "oops",
            Channel::Sms,
            &incident("order.delayed", |_| {}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("customer.nickname"), "{err}");
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let dir = dir(&[(
            "bad/email.en.hbs",
            "---\nsubject: Hi\n---\n<p>ok</p>\n<p>{{#if x}}never closed</p>\n",
        )]);
        let err = Templates::load(dir.path(), &Settings::new(&en()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("email.en.hbs:"), "{err}");
        assert!(err.contains(":5:") || err.contains(":6:"), "{err}");
    }

    #[test]
    fn partials_and_layouts_resolve_by_the_templates_locale() {
        let dir = dir(&[
            (
                "k/sms.en.hbs",
                "{{> partials/hi.txt}} {{> partials/bye.txt}}",
            ),
            (
                "k/sms.es.hbs",
                "{{> partials/hi.txt}} {{> partials/bye.txt}}",
            ),
            (
                "k/sms.pt.hbs",
                "{{> partials/hi.txt}} {{> partials/bye.txt}}",
            ),
            ("partials/hi.en.txt.hbs", "Hello"),
            ("partials/hi.es.txt.hbs", "Hola"),
            ("partials/bye.txt.hbs", "--"),
        ]);
        let templates = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
        let text = |locale: &str| {
            plain(
                &templates,
                "k",
                Channel::Sms,
                &in_locale("order.delayed", locale),
            )
            .unwrap()
            .text
        };
        assert_eq!(text("es-MX"), "Hola --");
        assert_eq!(text("en-GB"), "Hello --");
        // Portuguese has its template but no partial of its own: the default locale's.
        assert_eq!(text("pt-BR"), "Hello --");
    }

    #[test]
    fn the_stylesheet_is_inlined_and_media_queries_kept() {
        let dir = dir(&[
            (
                "k/email.en.hbs",
                "---\nsubject: S\n---\n<html><head><style>.p { color: #123456; } @media (prefers-color-scheme: dark) { .p { color: #fff !important; } }</style></head><body><p class=\"p\">{{store.name}}</p></body></html>",
            ),
            ("k/email.en.txt.hbs", "{{store.name}}"),
        ]);
        let templates = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
        let html = plain(
            &templates,
            "k",
            Channel::Email,
            &incident("order.delayed", |_| {}),
        )
        .unwrap()
        .html
        .unwrap();
        assert!(html.contains("style=\"color: #123456;\""), "{html}");
        assert!(
            html.contains("@media (prefers-color-scheme: dark)"),
            "{html}"
        );
    }

    #[test]
    fn sms_is_transliterated_only_for_the_configured_languages() {
        let dir = dir(&[
            ("k/sms.en.hbs", "Sorry"),
            ("k/sms.es.hbs", "Tu pedido llegará {{money order.total}}"),
        ]);
        let incident = in_locale("order.delayed", "es-ES");
        let off = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
        assert_eq!(
            plain(&off, "k", Channel::Sms, &incident).unwrap().text,
            "Tu pedido llegará 129,90 €"
        );
        let mut settings = Settings::new(&en());
        settings.sms_transliterate = vec!["es".to_owned()];
        let on = Templates::load(dir.path(), &settings).unwrap();
        assert_eq!(
            plain(&on, "k", Channel::Sms, &incident).unwrap().text,
            "Tu pedido llegara 129,90 €"
        );
    }

    #[test]
    fn the_version_names_the_texts_not_their_order() {
        let source = |name: &str, text: &str| Source {
            name: name.to_owned(),
            path: PathBuf::from(name),
            text: text.to_owned(),
        };
        let a = source("k/sms.en.hbs", "Sorry");
        let b = source("k/sms.es.hbs", "Lo sentimos");
        let settings = Settings::new(&en());
        let one = Templates::from_sources(&[a.clone(), b.clone()], &settings).unwrap();
        let other_order = Templates::from_sources(&[b.clone(), a.clone()], &settings).unwrap();
        assert_eq!(one.version(), other_order.version());
        assert_eq!(one.version().len(), 64);
        let edited =
            Templates::from_sources(&[a, source("k/sms.es.hbs", "Lo sentimos.")], &settings)
                .unwrap();
        assert_ne!(one.version(), edited.version());
    }

    #[test]
    fn header_values_become_one_line() {
        assert_eq!(single_line("Sorry\r\nBcc: x@y.z"), "Sorry Bcc: x@y.z");
    }
}
