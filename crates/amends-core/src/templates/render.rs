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
        let reading = Reading {
            locale: reading_locale(
                customer_locale,
                template_locale,
                &self.settings.default_locale,
            ),
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

/// The locale money and dates are formatted in, given the customer's locale, the locale of the
/// template chosen for them and the store's default.
///
/// A template in the customer's language is read with the customer's own conventions (an es-MX
/// customer reading the `es` text sees Mexican formats). A customer whose language has no texts
/// gets the default language's, and reads them with the default locale's conventions: a store
/// whose default is `en-GB` writes `21/02/2027` to an Italian customer, never the `2/21/27` of
/// the bare `en` its texts are filed under, and never the formats of the customer's own
/// language inside an English sentence.
fn reading_locale(customer: &Locale, template: &Locale, default: &Locale) -> String {
    // The fallback chain is the customer's locales and then the default's, so a template not in
    // the customer's language is in the default's.
    if template.language() == customer.language() {
        customer.to_string()
    } else {
        default.to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(customer: &str, template: &str, default: &str) -> String {
        let parse = |s: &str| Locale::parse(s).unwrap();
        reading_locale(&parse(customer), &parse(template), &parse(default))
    }

    #[test]
    fn the_customers_locale_formats_a_text_in_their_language() {
        assert_eq!(reading("es-MX", "es", "en"), "es-MX");
        assert_eq!(reading("pt-BR", "pt-BR", "en-GB"), "pt-BR");
        assert_eq!(reading("pt-AO", "pt", "en-GB"), "pt-AO");
        assert_eq!(reading("en-US", "en", "en-GB"), "en-US");
    }

    #[test]
    fn the_default_locale_formats_a_fallback_text() {
        // Never the bare tag of the text (`en`, US formats) nor the customer's own locale.
        assert_eq!(reading("it-IT", "en", "en-GB"), "en-GB");
        assert_eq!(reading("nl-NL", "es", "es-ES"), "es-ES");
        assert_eq!(reading("it-IT", "en", "en"), "en");
    }
}
