//! The Handlebars helpers templates format with: `money`, `date`, `time`, `relative_days`,
//! `number`, `plural` and `link`.
//!
//! Each reads the message's locale, time zone and send time from `message` in the render
//! context, so a template says `{{money order.total}}` and gets `129,90 €` for a customer in
//! Spain and `€129.90` for one in Ireland. A null value formats as nothing (templates guard
//! optional values with `#if`); a value of the wrong kind is a render error naming the helper.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};
use rust_decimal::Decimal;
use serde_json::Value;

use super::format::{DateStyle, Formats, LocaleFormats};
use crate::incident::{Currency, Money};

/// Every helper name this module registers, for the static check.
pub const NAMES: &[&str] = &[
    "money",
    "date",
    "time",
    "relative_days",
    "number",
    "plural",
    "link",
];

/// Registers the helpers on `registry`; `html` chooses what `link` writes (an anchor or the URL).
pub fn register(registry: &mut Handlebars<'static>, formats: &Arc<Formats>, html: bool) {
    let f = |kind| {
        Box::new(Format {
            kind,
            formats: Arc::clone(formats),
        })
    };
    registry.register_helper("money", f(Kind::Money));
    registry.register_helper("date", f(Kind::Date));
    registry.register_helper("time", f(Kind::Time));
    registry.register_helper("relative_days", f(Kind::RelativeDays));
    registry.register_helper("number", f(Kind::Number));
    registry.register_helper("plural", f(Kind::Plural));
    registry.register_helper("link", Box::new(Link { html }));
}

/// Where and when a message is read: its formatters, time zone and the day it is sent.
struct Reader {
    formats: Arc<LocaleFormats>,
    tz: chrono_tz::Tz,
    today: NaiveDate,
}

impl Reader {
    fn of(formats: &Formats, ctx: &Context) -> Result<Reader, RenderError> {
        let message = &ctx.data()["message"];
        let text = |key: &str| {
            message[key].as_str().ok_or_else(|| {
                fail(format!(
                    "message.{key} is missing from the context, so helpers cannot format"
                ))
            })
        };
        let formats = formats
            .get(text("locale")?)
            .map_err(|e| fail(e.to_string()))?;
        let tz: chrono_tz::Tz = text("timezone")?
            .parse()
            .map_err(|e| fail(format!("message.timezone: {e}")))?;
        let now = DateTime::parse_from_rfc3339(text("now")?)
            .map_err(|e| fail(format!("message.now: {e}")))?;
        Ok(Reader {
            formats,
            tz,
            today: now.with_timezone(&tz).date_naive(),
        })
    }

    /// A date (`2026-11-29`) as it is, or a timestamp as the date it is in the reader's zone.
    fn day(&self, helper: &str, text: &str) -> Result<NaiveDate, RenderError> {
        if let Ok(date) = NaiveDate::from_str(text) {
            return Ok(date);
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&self.tz).date_naive())
            .map_err(|_| {
                fail(format!(
                    "{helper}: {text:?} is neither a date nor an RFC 3339 time"
                ))
            })
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Money,
    Date,
    Time,
    RelativeDays,
    Number,
    Plural,
}

/// A helper that turns one value into localized text.
struct Format {
    kind: Kind,
    formats: Arc<Formats>,
}

impl HelperDef for Format {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        let name = h.name();
        let value = h
            .param(0)
            .map(|p| p.value())
            .ok_or_else(|| fail(format!("{name} needs a value, e.g. {{{{{name} x}}}}")))?;
        if value.is_null() {
            return Ok(ScopedJson::Derived(Value::String(String::new())));
        }
        let reader = Reader::of(&self.formats, ctx)?;
        let f = &reader.formats;
        let text = match self.kind {
            Kind::Money => {
                let money = money(string(name, value)?)?;
                f.money(&money).map_err(|e| fail(e.to_string()))?
            }
            Kind::Date => {
                let day = reader.day(name, string(name, value)?)?;
                let style = match h.param(1).map(|p| p.value()) {
                    None => DateStyle::Auto,
                    Some(Value::String(s)) => DateStyle::parse(s).ok_or_else(|| {
                        fail(format!("date: unknown style {s:?} (year, numeric, short)"))
                    })?,
                    Some(other) => return Err(fail(format!("date: style {other} is not text"))),
                };
                f.date(day, style, reader.today)
            }
            Kind::Time => {
                let text = string(name, value)?;
                let time = DateTime::parse_from_rfc3339(text)
                    .map_err(|_| fail(format!("time: {text:?} is not an RFC 3339 time")))?;
                f.time(time.with_timezone(&reader.tz).time())
            }
            Kind::RelativeDays => {
                let day = reader.day(name, string(name, value)?)?;
                f.relative_days((day - reader.today).num_days())
            }
            Kind::Number => f.number(number(name, value)?),
            Kind::Plural => {
                let n = number(name, value)?;
                let category = f.plural(n);
                let form = h
                    .hash_get(category)
                    .or_else(|| h.hash_get("other"))
                    .map(|p| p.value())
                    .ok_or_else(|| {
                        fail("plural needs at least other=\"…\" (and one=, few=, … as the language needs)".to_owned())
                    })?;
                let form = form
                    .as_str()
                    .ok_or_else(|| fail(format!("plural: the {category} form is not text")))?;
                form.replace('#', &f.number(n))
            }
        };
        Ok(ScopedJson::Derived(Value::String(text)))
    }
}

/// `{{link url "text" class="btn"}}`: an anchor in HTML, the URL in text; only http(s) URLs.
struct Link {
    html: bool,
}

impl HelperDef for Link {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let url = h.param(0).map(|p| p.value()).unwrap_or(&Value::Null);
        let url = match url {
            Value::Null => None,
            Value::String(s) => safe_url(s),
            other => return Err(fail(format!("link: {other} is not a URL"))),
        };
        if !self.html {
            if let Some(url) = url {
                out.write(url.as_str())?;
            }
            return Ok(());
        }
        let text = match h.param(1).map(|p| p.value()) {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(Value::Null) | None => None,
            Some(other) => return Err(fail(format!("link: text {other} is not text"))),
        };
        let escape = attribute_escape;
        match url {
            Some(url) => {
                let class = match h.hash_get("class").map(|p| p.value()) {
                    Some(Value::String(c)) => format!(" class=\"{}\"", escape(c)),
                    _ => String::new(),
                };
                let text = text.unwrap_or(url.as_str());
                out.write(&format!(
                    "<a href=\"{}\"{class}>{}</a>",
                    escape(url.as_str()),
                    escape(text)
                ))?;
            }
            // An unusable link still says what it was about.
            None => out.write(&escape(text.unwrap_or_default()))?,
        }
        Ok(())
    }
}

/// The URL, normalised, when it is an absolute http or https URL with a host; else none, so a
/// `javascript:` or relative link from an event can never reach a message.
pub fn safe_url(text: &str) -> Option<url::Url> {
    let url = url::Url::parse(text.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(url)
}

/// Escapes text for an HTML attribute or element: only what HTML needs, so a URL's `=` stays
/// readable (handlebars' own escaping also encodes `=` and backticks).
fn attribute_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn string<'a>(helper: &str, value: &'a Value) -> Result<&'a str, RenderError> {
    value
        .as_str()
        .ok_or_else(|| fail(format!("{helper}: {value} is not text")))
}

/// `"129.90 EUR"`, as the context writes money.
fn money(text: &str) -> Result<Money, RenderError> {
    let invalid = || fail(format!("money: {text:?} is not an amount and a currency"));
    let (amount, code) = text.split_once(' ').ok_or_else(invalid)?;
    let currency = Currency::parse(code).map_err(|_| invalid())?;
    Money::parse(amount, currency).map_err(|_| invalid())
}

fn number(helper: &str, value: &Value) -> Result<Decimal, RenderError> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return Err(fail(format!("{helper}: {other} is not a number"))),
    };
    Decimal::from_str(&text).map_err(|_| fail(format!("{helper}: {text:?} is not a number")))
}

fn fail(message: String) -> RenderError {
    RenderErrorReason::Other(message).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, locale: &str, data: Value) -> Result<String, String> {
        let formats = Arc::new(Formats::new());
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        register(&mut hb, &formats, true);
        let mut data = data;
        data["message"] = json!({
            "locale": locale,
            "timezone": "Europe/Madrid",
            "now": "2026-11-30T23:30:00Z",
        });
        hb.render_template(template, &data)
            .map_err(|e| e.reason().to_string())
    }

    #[test]
    fn money_in_two_locales() {
        let data = json!({ "total": "1234.50 EUR" });
        assert_eq!(
            render("{{money total}}", "es-ES", data.clone()).unwrap(),
            "1234,50\u{a0}€"
        );
        assert_eq!(
            render("{{money total}}", "en-IE", data).unwrap(),
            "€1,234.50"
        );
        assert_eq!(
            render("[{{money x}}]", "en", json!({ "x": null })).unwrap(),
            "[]"
        );
        let err = render("{{money x}}", "en", json!({ "x": "12 euros" })).unwrap_err();
        assert!(err.contains("money: \"12 euros\""), "{err}");
    }

    #[test]
    fn dates_are_read_in_the_customers_zone() {
        // 23:30 UTC on 30 November is already 1 December in Madrid.
        let data = json!({ "eta": "2026-12-02", "expires": "2027-02-20T23:30:00Z" });
        assert_eq!(
            render(
                "{{date eta}} ({{relative_days eta}})",
                "es-ES",
                data.clone()
            )
            .unwrap(),
            "miércoles, 2 de diciembre (mañana)"
        );
        assert_eq!(
            render("{{date expires}}", "es-ES", data.clone()).unwrap(),
            "domingo, 21 de febrero de 2027"
        );
        assert_eq!(
            render("{{date eta \"numeric\"}}", "en-US", data.clone()).unwrap(),
            "12/2/26"
        );
        let err = render("{{date eta \"weekly\"}}", "en", data).unwrap_err();
        assert!(err.contains("unknown style"), "{err}");
    }

    #[test]
    fn plural_picks_the_form_and_formats_the_number() {
        let t = "{{plural n one=\"# día\" other=\"# días\"}}";
        assert_eq!(render(t, "es", json!({ "n": 1 })).unwrap(), "1 día");
        assert_eq!(render(t, "es", json!({ "n": 3 })).unwrap(), "3 días");
        assert_eq!(render(t, "es", json!({ "n": 1200 })).unwrap(), "1200 días");
        let pl = "{{plural n one=\"# dzień\" few=\"# dni\" many=\"# dni.\" other=\"# dnia\"}}";
        assert_eq!(render(pl, "pl", json!({ "n": 22 })).unwrap(), "22 dni");
        assert_eq!(render(pl, "pl", json!({ "n": 25 })).unwrap(), "25 dni.");
        assert!(render("{{plural n one=\"x\"}}", "en", json!({ "n": 2 })).is_err());
    }

    #[test]
    fn links_are_safe() {
        let t = "{{link url \"Track <it>\" class=\"btn\"}}";
        assert_eq!(
            render(t, "en", json!({ "url": "https://t.example/a?b=1&c=\"2\"" })).unwrap(),
            "<a href=\"https://t.example/a?b=1&amp;c=%222%22\" class=\"btn\">Track &lt;it&gt;</a>"
        );
        for bad in [
            "javascript:alert(1)",
            "/relative",
            "data:text/html,hi",
            "http://",
        ] {
            assert_eq!(
                render(t, "en", json!({ "url": bad })).unwrap(),
                "Track &lt;it&gt;",
                "{bad}"
            );
        }
        assert_eq!(
            render(t, "en", json!({ "url": null })).unwrap(),
            "Track &lt;it&gt;"
        );
    }

    #[test]
    fn link_in_text_is_the_url_alone() {
        let formats = Arc::new(Formats::new());
        let mut hb = Handlebars::new();
        hb.register_escape_fn(handlebars::no_escape);
        register(&mut hb, &formats, false);
        let out = |url: &str| {
            hb.render_template("Track: {{link url \"x\"}}", &json!({ "url": url }))
                .unwrap()
        };
        assert_eq!(out("https://t.example/1"), "Track: https://t.example/1");
        assert_eq!(out("javascript:alert(1)"), "Track: ");
    }
}
