//! Loading: template files → one pair of Handlebars registries (HTML, text) per locale.
//!
//! Each locale's registries hold that locale's templates and, under their plain names
//! (`partials/offers`), the partials and layouts that locale resolves to: the file of the
//! locale itself, else of the next locale of its fallback chain (es-MX → es → the default),
//! else the locale-neutral file. So a Spanish template calling `{{> partials/offers}}` gets
//! `partials/offers.es.hbs`, and a layout shared by all locales needs no translation.
//!
//! Every problem found becomes a [`Diagnostic`]; a file with an error is left out, so the check
//! can report all problems at once while the daemon refuses to start on the first. What no
//! template may do (include itself, log, write raw HTML) is refused here too ([`safety`]), so
//! every way templates are loaded refuses it: the daemon, its reloader, the editor, the check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use handlebars::template::Template;

use super::{Diagnostic, Origin, Registry, Role, Severity, Source, Variant, safety};
use crate::incident::Locale;
use crate::policy::Channel;

/// Reads every `*.hbs` file two levels under `dir` (`<group>/<file>`), sorted by name.
pub(super) fn read_sources(dir: &Path) -> Result<Vec<Source>, super::TemplateError> {
    let mut sources = Vec::new();
    for group in read_dir(dir)? {
        if !group.is_dir() {
            continue;
        }
        for file in read_dir(&group)? {
            if file.extension().and_then(|e| e.to_str()) != Some("hbs") {
                continue;
            }
            let name = match (group.file_name(), file.file_name()) {
                (Some(g), Some(f)) => format!("{}/{}", g.to_string_lossy(), f.to_string_lossy()),
                _ => continue,
            };
            let text =
                std::fs::read_to_string(&file).map_err(|source| super::TemplateError::Read {
                    path: file.clone(),
                    source,
                })?;
            sources.push(Source {
                name,
                path: file,
                text,
            });
        }
    }
    Ok(sources)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, super::TemplateError> {
    let read = |source| super::TemplateError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    paths.sort();
    Ok(paths)
}

/// One compiled template with where it came from.
#[derive(Debug, Clone)]
struct Compiled {
    template: Template,
    origin: Origin,
}

/// A message template's compiled parts.
#[derive(Debug, Default)]
struct Parts {
    body: Option<Compiled>,
    text: Option<Compiled>,
    subject: Option<Compiled>,
    preheader: Option<Compiled>,
    /// The HTML file, for messages about a missing text part.
    html_path: Option<PathBuf>,
    text_path: Option<PathBuf>,
}

/// The outcome of loading: registries per locale, the message variants, and every problem.
pub(super) struct Loaded {
    pub registries: BTreeMap<String, Registry>,
    pub variants: BTreeMap<(String, Channel), BTreeMap<String, Variant>>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Compiles `sources` and builds the registries, collecting every problem.
pub(super) fn build(
    sources: &[Source],
    default_locale: &Locale,
    register_helpers: &dyn Fn(&mut Handlebars<'static>, bool),
) -> Loaded {
    let mut diagnostics = Vec::new();
    // Registered name → locale (None = neutral) → compiled, for layouts and partials.
    let mut shared: BTreeMap<String, BTreeMap<Option<String>, (Compiled, bool)>> = BTreeMap::new();
    let mut messages: BTreeMap<(String, Channel, String), Parts> = BTreeMap::new();

    for source in sources {
        let role = match Role::parse(&source.name) {
            Ok(role) => role,
            Err(message) => {
                diagnostics.push(Diagnostic::warning(
                    &source.path,
                    None,
                    message + "; ignored",
                ));
                continue;
            }
        };
        // `html`: the text is rendered as HTML (escaped), so no value may be written raw.
        let compile = |text: &str, line_offset: usize, html: bool, found: &mut Vec<Diagnostic>| {
            match Template::compile(text) {
                Ok(template) => {
                    for finding in safety::scan(&template, html, line_offset).findings {
                        found.push(Diagnostic {
                            path: source.path.clone(),
                            line: finding.line,
                            column: finding.column,
                            severity: Severity::Error,
                            message: finding.message,
                        });
                    }
                    Some(Compiled {
                        template,
                        origin: Origin {
                            path: source.path.clone(),
                            line_offset,
                        },
                    })
                }
                Err(e) => {
                    let (line, column) = match e.pos() {
                        Some((line, column)) => (Some(line + line_offset), Some(column)),
                        None => (None, None),
                    };
                    found.push(Diagnostic {
                        path: source.path.clone(),
                        line,
                        column,
                        severity: Severity::Error,
                        message: super::render::one_line(&e.reason().to_string()),
                    });
                    None
                }
            }
        };
        match role {
            Role::Shared { name, locale, text } => {
                if let Some(compiled) = compile(&source.text, 0, !text, &mut diagnostics) {
                    shared
                        .entry(name)
                        .or_default()
                        .insert(locale, (compiled, text));
                }
            }
            Role::Message {
                key,
                channel,
                locale,
                text,
            } => {
                let parts = messages.entry((key, channel, locale)).or_default();
                match (channel, text) {
                    (Channel::Sms, _) => {
                        parts.body = compile(&source.text, 0, false, &mut diagnostics);
                    }
                    (Channel::Email, true) => {
                        parts.text_path = Some(source.path.clone());
                        parts.text = compile(&source.text, 0, false, &mut diagnostics);
                    }
                    (Channel::Email, false) => {
                        parts.html_path = Some(source.path.clone());
                        let front = match split_front_matter(&source.text) {
                            Ok(front) => front,
                            Err((line, message)) => {
                                diagnostics.push(Diagnostic::error(
                                    &source.path,
                                    Some(line),
                                    message,
                                ));
                                continue;
                            }
                        };
                        // Pad the body's start so its line numbers are the file's.
                        let padded = format!("{}{}", "\n".repeat(front.body_line - 1), front.body);
                        parts.body = compile(&padded, 0, true, &mut diagnostics);
                        // Subject and preheader are header text, never HTML.
                        for (field, line, value) in front.fields {
                            let compiled = compile(&value, line - 1, false, &mut diagnostics);
                            match field.as_str() {
                                "subject" => parts.subject = compiled,
                                _ => parts.preheader = compiled,
                            }
                        }
                    }
                }
            }
        }
    }

    // Every locale that has a message template gets registries.
    let mut locales: Vec<String> = messages.keys().map(|(_, _, l)| l.clone()).collect();
    locales.sort();
    locales.dedup();
    let mut registries: BTreeMap<String, Registry> = BTreeMap::new();
    for tag in &locales {
        let mut registry = Registry::new(register_helpers);
        let chain: Vec<Option<String>> = match Locale::parse(tag) {
            Ok(locale) => locale
                .fallback_chain(default_locale)
                .iter()
                .map(|l| Some(l.to_string()))
                .chain([None])
                .collect(),
            Err(_) => vec![Some(tag.clone()), None],
        };
        for (name, by_locale) in &shared {
            let Some((compiled, text)) = chain.iter().find_map(|l| by_locale.get(l)) else {
                continue;
            };
            registry.add(
                name,
                compiled.template.clone(),
                compiled.origin.clone(),
                *text,
            );
        }
        registries.insert(tag.clone(), registry);
    }

    let mut variants: BTreeMap<(String, Channel), BTreeMap<String, Variant>> = BTreeMap::new();
    for ((key, channel, locale), parts) in messages {
        let Some(registry) = registries.get_mut(&locale) else {
            continue;
        };
        let base = format!("{key}/{channel}.{locale}");
        if channel == Channel::Email {
            match (&parts.html_path, &parts.text_path) {
                (Some(_), None) => {
                    let path = sibling(
                        parts.html_path.as_deref(),
                        &format!("email.{locale}.txt.hbs"),
                    );
                    diagnostics.push(Diagnostic::error(
                        &path,
                        None,
                        "missing: every HTML email needs its plain-text part".to_owned(),
                    ));
                    continue;
                }
                (None, Some(text_path)) => {
                    diagnostics.push(Diagnostic::error(
                        text_path,
                        None,
                        "the text part has no HTML email beside it".to_owned(),
                    ));
                    continue;
                }
                _ => {}
            }
            if parts.subject.is_none() && parts.body.is_some() {
                if let Some(path) = &parts.html_path {
                    diagnostics.push(Diagnostic::error(
                        path,
                        Some(2),
                        "front matter has no subject".to_owned(),
                    ));
                }
                continue;
            }
        }
        let Some(body) = parts.body else {
            continue;
        };
        let html = channel == Channel::Email;
        registry.add(&base, body.template, body.origin, !html);
        let mut variant = Variant {
            body: base.clone(),
            text: None,
            subject: None,
            preheader: None,
        };
        if let Some(text) = parts.text {
            let name = format!("{base}.txt");
            registry.add(&name, text.template, text.origin, true);
            variant.text = Some(name);
        } else if html {
            // The text part did not compile; its error is already reported.
            continue;
        }
        for (field, compiled, slot) in [
            ("subject", parts.subject, &mut variant.subject),
            ("preheader", parts.preheader, &mut variant.preheader),
        ] {
            if let Some(compiled) = compiled {
                let name = format!("{base}.{field}");
                registry.add(&name, compiled.template, compiled.origin, true);
                *slot = Some(name);
            }
        }
        variants
            .entry((key, channel))
            .or_default()
            .insert(locale, variant);
    }
    // With every template of a locale in place, what can include itself is taken out.
    for registry in registries.values_mut() {
        safety::guard(registry, &mut diagnostics);
    }
    Loaded {
        registries,
        variants,
        diagnostics,
    }
}

fn sibling(path: Option<&Path>, file: &str) -> PathBuf {
    path.and_then(Path::parent)
        .map(|p| p.join(file))
        .unwrap_or_else(|| PathBuf::from(file))
}

/// An email template split into its front matter and its body.
#[derive(Debug, PartialEq)]
pub(super) struct FrontMatter<'a> {
    /// `(key, line, value)` in file order.
    pub fields: Vec<(String, usize, String)>,
    /// The HTML body.
    pub body: &'a str,
    /// Line of the file where the body starts.
    pub body_line: usize,
}

/// Splits `---` front matter (`key: value` lines) from the body; errors carry their line.
pub(super) fn split_front_matter(source: &str) -> Result<FrontMatter<'_>, (usize, String)> {
    let Some(rest) = source.strip_prefix("---\n") else {
        return Err((1, "expected front matter starting with ---".to_owned()));
    };
    let Some(end) = rest.find("\n---\n") else {
        return Err((1, "front matter is not closed by a --- line".to_owned()));
    };
    let mut fields = Vec::new();
    for (i, line) in rest[..end].lines().enumerate() {
        let number = i + 2;
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err((number, "expected `key: value`".to_owned()));
        };
        let key = key.trim();
        if !matches!(key, "subject" | "preheader") {
            return Err((
                number,
                format!("unknown front matter key {key:?} (subject, preheader)"),
            ));
        }
        fields.push((key.to_owned(), number, value.trim().to_owned()));
    }
    let body = &rest[end + 5..];
    let body_line = rest[..end + 5].matches('\n').count() + 2;
    Ok(FrontMatter {
        fields,
        body,
        body_line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_parsed_with_lines() {
        let FrontMatter {
            fields,
            body,
            body_line,
        } = split_front_matter("---\nsubject: Sorry {{x}}\npreheader: p\n---\n<p>b</p>").unwrap();
        assert_eq!(
            fields,
            vec![
                ("subject".to_owned(), 2, "Sorry {{x}}".to_owned()),
                ("preheader".to_owned(), 3, "p".to_owned())
            ]
        );
        assert_eq!(body, "<p>b</p>");
        assert_eq!(body_line, 5);
        assert_eq!(
            split_front_matter("<p>no front matter</p>").unwrap_err().0,
            1
        );
        assert_eq!(
            split_front_matter("---\nsubjekt: x\n---\n").unwrap_err().0,
            2
        );
    }
}
