//! Rendering one message: the template chosen by locale fallback, its parts rendered from
//! one context, HTML inlined, text tidied, headers made one line.

use super::*;

impl Templates {
    /// Renders `key` for `channel` in the customer's locale (with fallback).
    pub fn render(
        &self,
        key: &str,
        channel: Channel,
        incident: &Incident,
        store: &StoreInfo,
        extras: &Extras<'_>,
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
            now: extras.sent_at,
        };
        // One render context for every part: handing handlebars the JSON value itself instead
        // would copy the whole context for each part.
        let mut data = handlebars::Context::from(context::build(incident, store, extras, &reading));
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
pub(super) fn single_line(s: &str) -> String {
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
pub(super) fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
