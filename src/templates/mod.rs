//! Templates: loading from `templates/`, locale fallback, and rendering a [`Rendered`] message.
//!
//! Layout of the directory (key = the directory a policy rule names):
//! - `<key>/email.<locale>.hbs`: front matter (`subject:`, `preheader:`) and the HTML body;
//! - `<key>/email.<locale>.txt.hbs`: the plain-text part;
//! - `<key>/sms.<locale>.hbs`: the SMS;
//! - `layouts/*.hbs`, `partials/*.hbs` (HTML) and `partials/*.txt.hbs` (text) shared by all.
//!
//! HTML is rendered with HTML escaping; text, subjects and SMS without it (they are never HTML).
//! Both registries are strict: an unknown variable is an error, never an empty string.

pub mod context;
pub mod format;
pub mod helpers;
pub mod sms;

pub use context::Recovery;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use serde_json::Value;

use crate::config::StoreInfo;
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
    /// A template does not parse.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message with line and column.
        message: String,
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
    /// Rendering failed (strict mode: an unknown variable, a missing partial).
    #[error("rendering {name}: {message}")]
    Render {
        /// Template name.
        name: String,
        /// The renderer's message.
        message: String,
    },
}

/// A rendered message, ready for the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Locale actually used after fallback.
    pub locale: String,
    /// Email subject (email only).
    pub subject: Option<String>,
    /// Plain text: the email's text part, or the SMS.
    pub text: String,
    /// The email's HTML part (email only).
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

/// All loaded templates.
#[derive(Debug)]
pub struct Templates {
    html: Handlebars<'static>,
    plain: Handlebars<'static>,
    /// (key, channel) → locale → variant.
    variants: BTreeMap<(String, Channel), BTreeMap<String, Variant>>,
    default_locale: Locale,
}

impl Templates {
    /// Loads every template under `dir`; any syntax error fails the whole load.
    pub fn load(dir: &Path, default_locale: &Locale) -> Result<Templates, TemplateError> {
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        let mut plain = Handlebars::new();
        plain.set_strict_mode(true);
        plain.register_escape_fn(handlebars::no_escape);
        let mut variants: BTreeMap<(String, Channel), BTreeMap<String, Variant>> = BTreeMap::new();

        for entry in read_dir(dir)? {
            let sub = entry;
            if !sub.is_dir() {
                continue;
            }
            let Some(group) = sub.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            for file in read_dir(&sub)? {
                let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Some(stem) = name.strip_suffix(".hbs") else {
                    continue;
                };
                let source =
                    std::fs::read_to_string(&file).map_err(|source| TemplateError::Read {
                        path: file.clone(),
                        source,
                    })?;
                let syntax = |e: handlebars::TemplateError| TemplateError::Syntax {
                    path: file.clone(),
                    message: syntax_message(&e),
                };
                if group == "layouts" || group == "partials" {
                    let partial = format!("{group}/{stem}");
                    let registry = if stem.ends_with(".txt") {
                        &mut plain
                    } else {
                        &mut html
                    };
                    registry
                        .register_partial(&partial, &source)
                        .map_err(syntax)?;
                    continue;
                }
                // email.<locale>.hbs, email.<locale>.txt.hbs, sms.<locale>.hbs
                let (channel, rest) = match stem.split_once('.') {
                    Some(("email", rest)) => (Channel::Email, rest),
                    Some(("sms", rest)) => (Channel::Sms, rest),
                    _ => continue,
                };
                let (locale, is_text) = match rest.strip_suffix(".txt") {
                    Some(locale) => (locale, true),
                    None => (rest, false),
                };
                let locale = Locale::parse(locale)
                    .map_err(|e| TemplateError::Syntax {
                        path: file.clone(),
                        message: format!("file name has an invalid locale: {e}"),
                    })?
                    .to_string();
                let base = format!("{group}/{channel}.{locale}");
                let slot = variants
                    .entry((group.clone(), channel))
                    .or_default()
                    .entry(locale)
                    .or_insert_with(|| Variant {
                        body: base.clone(),
                        text: None,
                        subject: None,
                        preheader: None,
                    });
                match (channel, is_text) {
                    (Channel::Email, true) => {
                        let name = format!("{base}.txt");
                        plain
                            .register_template_string(&name, &source)
                            .map_err(syntax)?;
                        slot.text = Some(name);
                    }
                    (Channel::Email, false) => {
                        let FrontMatter {
                            fields: front,
                            body,
                            body_line,
                        } = split_front_matter(&source).map_err(|message| {
                            TemplateError::Syntax {
                                path: file.clone(),
                                message,
                            }
                        })?;
                        // Keep line numbers true to the file by padding the body's start.
                        let padded = format!("{}{body}", "\n".repeat(body_line - 1));
                        html.register_template_string(&base, &padded)
                            .map_err(syntax)?;
                        for (field, value) in front {
                            let name = format!("{base}.{field}");
                            plain
                                .register_template_string(&name, &value)
                                .map_err(syntax)?;
                            match field.as_str() {
                                "subject" => slot.subject = Some(name),
                                _ => slot.preheader = Some(name),
                            }
                        }
                        if slot.subject.is_none() {
                            return Err(TemplateError::Syntax {
                                path: file.clone(),
                                message: "front matter has no subject".to_owned(),
                            });
                        }
                    }
                    (Channel::Sms, _) => {
                        plain
                            .register_template_string(&base, &source)
                            .map_err(syntax)?;
                    }
                }
            }
        }
        for ((key, channel), locales) in &variants {
            for (locale, variant) in locales {
                if *channel == Channel::Email && variant.text.is_none() {
                    return Err(TemplateError::Syntax {
                        path: dir.join(key).join(format!("email.{locale}.txt.hbs")),
                        message: "missing: every HTML email needs its plain-text part".to_owned(),
                    });
                }
                if *channel == Channel::Email && variant.subject.is_none() {
                    return Err(TemplateError::Syntax {
                        path: dir.join(key).join(format!("email.{locale}.hbs")),
                        message: "missing: the text part has no HTML email beside it".to_owned(),
                    });
                }
            }
        }
        Ok(Templates {
            html,
            plain,
            variants,
            default_locale: default_locale.clone(),
        })
    }

    /// True when a template exists for `key` and `channel` in the default locale.
    pub fn has(&self, key: &str, channel: Channel) -> bool {
        self.variants
            .get(&(key.to_owned(), channel))
            .is_some_and(|l| l.contains_key(&self.default_locale.to_string()))
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
        let locales = self.variants.get(&(key.to_owned(), channel));
        let chain = incident
            .customer
            .locale
            .fallback_chain(&self.default_locale);
        let found = chain.iter().find_map(|l| {
            let l = l.to_string();
            locales.and_then(|v| v.get(&l)).map(|v| (l, v))
        });
        let Some((locale, variant)) = found else {
            return Err(TemplateError::Missing {
                key: key.to_owned(),
                channel,
                locale: incident.customer.locale.to_string(),
            });
        };
        let mut data = context::build(incident, store, recovery);
        match channel {
            Channel::Sms => Ok(Rendered {
                locale,
                subject: None,
                text: tidy_text(&self.render_plain(&variant.body, &data)?),
                html: None,
            }),
            Channel::Email => {
                let subject = match &variant.subject {
                    Some(name) => single_line(&self.render_plain(name, &data)?),
                    None => String::new(),
                };
                let preheader = match &variant.preheader {
                    Some(name) => single_line(&self.render_plain(name, &data)?),
                    None => String::new(),
                };
                if let Some(object) = data.as_object_mut() {
                    object.insert(
                        "message".to_owned(),
                        serde_json::json!({ "subject": subject, "preheader": preheader }),
                    );
                }
                let html = self
                    .html
                    .render(&variant.body, &data)
                    .map_err(|e| render_error(&variant.body, &e))?;
                let text = match &variant.text {
                    Some(name) => tidy_text(&self.render_plain(name, &data)?),
                    None => String::new(),
                };
                Ok(Rendered {
                    locale,
                    subject: Some(subject),
                    text,
                    html: Some(html),
                })
            }
        }
    }

    fn render_plain(&self, name: &str, data: &Value) -> Result<String, TemplateError> {
        self.plain
            .render(name, data)
            .map_err(|e| render_error(name, &e))
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

/// `line L, column C: reason` from a parse error.
fn syntax_message(e: &handlebars::TemplateError) -> String {
    let reason = one_line(&e.reason().to_string());
    match e.pos() {
        Some((line, column)) => format!("line {line}, column {column}: {reason}"),
        None => reason,
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, TemplateError> {
    let entries = std::fs::read_dir(dir).map_err(|source| TemplateError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TemplateError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
    paths.sort();
    Ok(paths)
}

/// An email template split into its front matter and its body.
#[derive(Debug, PartialEq)]
struct FrontMatter<'a> {
    /// `(key, value)` in file order.
    fields: Vec<(String, String)>,
    /// The HTML body.
    body: &'a str,
    /// Line of the file where the body starts.
    body_line: usize,
}

/// Splits `---` front matter (`key: value` lines) from the body.
fn split_front_matter(source: &str) -> Result<FrontMatter<'_>, String> {
    let Some(rest) = source.strip_prefix("---\n") else {
        return Err("line 1: expected front matter starting with ---".to_owned());
    };
    let Some(end) = rest.find("\n---\n") else {
        return Err("front matter is not closed by a --- line".to_owned());
    };
    let mut fields = Vec::new();
    for (i, line) in rest[..end].lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("line {}: expected `key: value`", i + 2));
        };
        let key = key.trim();
        if !matches!(key, "subject" | "preheader") {
            return Err(format!(
                "line {}: unknown front matter key {key:?} (subject, preheader)",
                i + 2
            ));
        }
        fields.push((key.to_owned(), value.trim().to_owned()));
    }
    let body = &rest[end + 5..];
    let body_line = rest[..end + 5].matches('\n').count() + 2;
    Ok(FrontMatter {
        fields,
        body,
        body_line,
    })
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
    use crate::incident::{parse, sample};

    fn store() -> StoreInfo {
        StoreInfo {
            name: "Northwind Outfitters".into(),
            url: None,
            support_email: Some("help@shop.example".into()),
            support_phone: None,
        }
    }

    fn en() -> Locale {
        Locale::parse("en").unwrap()
    }

    fn incident(event_type: &str, edit: impl FnOnce(&mut Value)) -> Incident {
        let mut event: Value = serde_json::from_str(sample(event_type).unwrap()).unwrap();
        edit(&mut event);
        parse(&serde_json::to_vec(&event).unwrap(), None, &en()).unwrap()
    }

    /// Renders for the test store, with no offers.
    fn plain(
        templates: &Templates,
        key: &str,
        channel: Channel,
        incident: &Incident,
    ) -> Result<Rendered, TemplateError> {
        templates.render(key, channel, incident, &store(), &Recovery::default())
    }

    fn shipped() -> Templates {
        Templates::load(Path::new("templates"), &en()).unwrap()
    }

    #[test]
    fn every_shipped_template_renders_for_every_sample() {
        let templates = shipped();
        for (key, event_type) in [
            ("order-delayed", "order.delayed"),
            ("order-stockout", "order.stockout"),
            ("order-cancelled", "order.cancelled"),
        ] {
            let incident = incident(event_type, |_| {});
            let email = plain(&templates, key, Channel::Email, &incident).unwrap();
            let subject = email.subject.unwrap();
            assert!(!subject.is_empty() && !subject.contains('\n'));
            assert!(email.html.unwrap().contains("Northwind Outfitters"));
            assert!(
                email
                    .text
                    .contains(incident.order.number.as_deref().unwrap())
            );
            let sms = plain(&templates, key, Channel::Sms, &incident).unwrap();
            assert!(!sms.text.contains('<'), "{}", sms.text);
            assert!(sms.text.contains("Northwind Outfitters"));
        }
    }

    #[test]
    fn texts_read_well_without_store_contacts() {
        let templates = shipped();
        let bare = StoreInfo {
            name: "Northwind Outfitters".into(),
            url: None,
            support_email: None,
            support_phone: None,
        };
        for (key, event_type) in [
            ("order-delayed", "order.delayed"),
            ("order-stockout", "order.stockout"),
            ("order-cancelled", "order.cancelled"),
        ] {
            let incident = incident(event_type, |e| {
                e["data"]["order"].as_object_mut().unwrap().remove("url");
            });
            for channel in [Channel::Email, Channel::Sms] {
                let message = templates
                    .render(key, channel, &incident, &bare, &Recovery::default())
                    .unwrap();
                let all = format!("{}\n{}", message.text, message.html.unwrap_or_default());
                for dangling in [
                    "write to .",
                    "write to ,",
                    "href=\"\"",
                    "mailto:\"",
                    " at .",
                    " -\n",
                ] {
                    assert!(
                        !all.contains(dangling),
                        "{key} {channel}: {dangling:?} in {all}"
                    );
                }
                assert!(
                    !message.text.trim_end().ends_with("Questions?"),
                    "{}",
                    message.text
                );
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
        let incident = incident("order.delayed", |_| {});
        let eur = crate::incident::Currency::parse("EUR").unwrap();
        let gift = crate::policy::Offer {
            kind: crate::policy::OfferKind::GiftCertificate,
            amount: Some(crate::incident::Money::parse("25.00", eur).unwrap()),
            percent: None,
            cost: crate::incident::Money::parse("25.00", eur).unwrap(),
            expires_at: Some("2027-02-21T10:00:00Z".parse().unwrap()),
            substitutes: Vec::new(),
            refund: None,
            code: Some("SORRY-ABCD2345".to_owned()),
        };
        let offers = [gift];
        let recovery = Recovery {
            offers: &offers,
            escalated: true,
        };
        let email = templates
            .render(
                "order-delayed",
                Channel::Email,
                &incident,
                &store(),
                &recovery,
            )
            .unwrap();
        for part in [&email.text, email.html.as_ref().unwrap()] {
            assert!(part.contains("SORRY-ABCD2345"), "{part}");
            assert!(part.contains("€25.00 gift certificate"), "{part}");
            assert!(part.contains("Sunday, 21 February 2027"), "{part}");
            assert!(part.contains("get in touch with you personally"), "{part}");
        }
        let sms = templates
            .render(
                "order-delayed",
                Channel::Sms,
                &incident,
                &store(),
                &recovery,
            )
            .unwrap();
        assert!(
            sms.text
                .contains("A €25.00 gift card: code SORRY-ABCD2345."),
            "{}",
            sms.text
        );
        let plain = plain(&templates, "order-delayed", Channel::Sms, &incident).unwrap();
        assert!(!plain.text.contains("code"), "{}", plain.text);
    }

    #[test]
    fn missing_locale_falls_back_to_default() {
        let templates = shipped();
        let incident = incident("order.delayed", |e| {
            e["data"]["customer"]["locale"] = "fr-CA".into();
        });
        let email = plain(&templates, "order-delayed", Channel::Email, &incident).unwrap();
        assert_eq!(email.locale, "en");
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
    fn strict_mode_rejects_unknown_variables_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("oops");
        std::fs::create_dir(&key).unwrap();
        std::fs::write(key.join("sms.en.hbs"), "Hello {{customer.nickname}}").unwrap();
        let templates = Templates::load(dir.path(), &en()).unwrap();
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
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("bad");
        std::fs::create_dir(&key).unwrap();
        std::fs::write(
            key.join("email.en.hbs"),
            "---\nsubject: Hi\n---\n<p>ok</p>\n<p>{{#if x}}never closed</p>\n",
        )
        .unwrap();
        let err = Templates::load(dir.path(), &en()).unwrap_err().to_string();
        assert!(err.contains("email.en.hbs"), "{err}");
        assert!(err.contains("line 5") || err.contains("line 6"), "{err}");
    }

    #[test]
    fn front_matter_is_parsed() {
        let FrontMatter {
            fields,
            body,
            body_line: line,
        } = split_front_matter("---\nsubject: Sorry {{x}}\npreheader: p\n---\n<p>b</p>").unwrap();
        assert_eq!(
            fields,
            vec![
                ("subject".to_owned(), "Sorry {{x}}".to_owned()),
                ("preheader".to_owned(), "p".to_owned())
            ]
        );
        assert_eq!(body, "<p>b</p>");
        assert_eq!(line, 5);
        assert!(split_front_matter("<p>no front matter</p>").is_err());
        assert!(split_front_matter("---\nsubjekt: x\n---\n").is_err());
    }

    #[test]
    fn header_values_become_one_line() {
        assert_eq!(single_line("Sorry\r\nBcc: x@y.z"), "Sorry Bcc: x@y.z");
    }
}
