//! [`Locale`]: a BCP 47 language tag with a fallback chain for template lookup.

use std::fmt;

use icu_locale_core::subtags::{Language, Region, Script, Variant};

use crate::incident::InvalidValue;
use crate::incident::error::quote;

/// Longest language tag accepted, in characters. Real ones are under 40 even with a few
/// extensions (`zh-Hant-TW-u-ca-chinese-nu-hanidec`).
pub(crate) const LOCALE_MAX_CHARS: usize = 100;

/// A BCP 47 language tag in canonical case (`es-MX`, `zh-Hant-TW`, `de-DE-u-co-phonebk`).
///
/// Subtags are validated by `icu_locale_core` (language, script, region, variants); extension and
/// private-use sections are checked for shape and kept, lower-cased. (`icu_locale_core` is built
/// without its `alloc` feature, so the whole-tag parser is not available: the split is done here.)
/// A POSIX-style `es_MX` is accepted and normalized; `und` is refused because it names no
/// language.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Locale {
    tag: String,
    language: Language,
    script: Option<Script>,
    region: Option<Region>,
    variants: Vec<Variant>,
    /// `-u-…`, `-t-…`, `-x-…` sections, lower-case, without the leading `-`; may be empty.
    extensions: String,
}

impl Locale {
    /// Parses and normalizes a language tag (of at most 100 characters).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        // Checked first: the variants are compared pairwise, so length must be bounded.
        if s.chars().count() > LOCALE_MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "{} is too long for a language tag (at most {LOCALE_MAX_CHARS} characters)",
                quote(s)
            )));
        }
        let invalid = || InvalidValue::new(format!("{} is not a BCP 47 language tag", quote(s)));
        let normalized = s.trim().replace('_', "-");
        let mut subtags = normalized.split('-').peekable();
        let language = subtags
            .next()
            .and_then(|subtag| Language::try_from_str(subtag).ok())
            .ok_or_else(invalid)?;
        if language.is_unknown() {
            return Err(InvalidValue::new(format!(
                "{} does not name a language",
                quote(s)
            )));
        }
        let script = subtags
            .next_if(|subtag| Script::try_from_str(subtag).is_ok())
            .and_then(|subtag| Script::try_from_str(subtag).ok());
        let region = subtags
            .next_if(|subtag| Region::try_from_str(subtag).is_ok())
            .and_then(|subtag| Region::try_from_str(subtag).ok());
        let mut variants = Vec::new();
        while let Some(variant) = subtags.next_if(|subtag| Variant::try_from_str(subtag).is_ok()) {
            let variant = Variant::try_from_str(variant).map_err(|_| invalid())?;
            if variants.contains(&variant) {
                return Err(invalid());
            }
            variants.push(variant);
        }
        let rest: Vec<&str> = subtags.collect();
        if !extensions_well_formed(&rest) {
            return Err(invalid());
        }
        Ok(Locale::build(
            language,
            script,
            region,
            variants,
            rest.join("-").to_ascii_lowercase(),
        ))
    }

    fn build(
        language: Language,
        script: Option<Script>,
        region: Option<Region>,
        variants: Vec<Variant>,
        extensions: String,
    ) -> Self {
        let mut tag = language.as_str().to_owned();
        let parts = script
            .iter()
            .map(|script| script.as_str())
            .chain(region.iter().map(|region| region.as_str()))
            .chain(variants.iter().map(|variant| variant.as_str()))
            .chain((!extensions.is_empty()).then_some(extensions.as_str()));
        for part in parts {
            tag.push('-');
            tag.push_str(part);
        }
        Locale {
            tag,
            language,
            script,
            region,
            variants,
            extensions,
        }
    }

    /// The canonical tag, e.g. `es-MX`.
    pub fn as_str(&self) -> &str {
        &self.tag
    }

    /// The language subtag, e.g. `es`.
    pub fn language(&self) -> &str {
        self.language.as_str()
    }

    /// The script subtag, e.g. `Hant`.
    pub fn script(&self) -> Option<&str> {
        self.script.as_ref().map(|script| script.as_str())
    }

    /// The region subtag, e.g. `MX`.
    pub fn region(&self) -> Option<&str> {
        self.region.as_ref().map(|region| region.as_str())
    }

    /// Locales to try, most specific first, without duplicates: this locale, then the same with
    /// extensions, variants, region and script dropped in turn, then `default` and its own
    /// less specific forms. `es-MX` with default `en` gives `es-MX, es, en`; `zh-Hant-TW` gives
    /// `zh-Hant-TW, zh-Hant, zh, en`.
    pub fn fallback_chain(&self, default: &Locale) -> Vec<Locale> {
        let mut chain = Vec::new();
        self.push_chain(&mut chain);
        default.push_chain(&mut chain);
        chain
    }

    fn push_chain(&self, chain: &mut Vec<Locale>) {
        let mut push = |locale: Locale| {
            if !chain.contains(&locale) {
                chain.push(locale);
            }
        };
        let (language, script, region) = (self.language, self.script, self.region);
        push(self.clone());
        push(Locale::build(
            language,
            script,
            region,
            self.variants.clone(),
            String::new(),
        ));
        push(Locale::build(
            language,
            script,
            region,
            Vec::new(),
            String::new(),
        ));
        push(Locale::build(
            language,
            script,
            None,
            Vec::new(),
            String::new(),
        ));
        push(Locale::build(
            language,
            None,
            None,
            Vec::new(),
            String::new(),
        ));
    }
}

/// Extension (`u-co-phonebk`) and private-use (`x-shop`) sections: each starts with a singleton,
/// an extension has at least one subtag of 2–8 alphanumerics, a singleton appears once, and after
/// `x` everything (1–8 alphanumerics each) is private use.
fn extensions_well_formed(subtags: &[&str]) -> bool {
    let alnum = |s: &str, min: usize| {
        (min..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    let mut seen = Vec::new();
    let mut i = 0;
    while i < subtags.len() {
        let singleton = subtags[i].to_ascii_lowercase();
        if singleton.len() != 1 || !alnum(&singleton, 1) || seen.contains(&singleton) {
            return false;
        }
        i += 1;
        let start = i;
        if singleton == "x" {
            return i < subtags.len() && subtags[i..].iter().all(|s| alnum(s, 1));
        }
        while i < subtags.len() && subtags[i].len() > 1 {
            if !alnum(subtags[i], 2) {
                return false;
            }
            i += 1;
        }
        if i == start {
            return false;
        }
        seen.push(singleton);
    }
    true
}

string_newtype!(Locale);

impl fmt::Debug for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Locale({})", self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locale(s: &str) -> Locale {
        Locale::parse(s).unwrap()
    }

    fn tags(chain: &[Locale]) -> Vec<&str> {
        chain.iter().map(Locale::as_str).collect()
    }

    #[test]
    fn normalizes() {
        assert_eq!(locale("es-mx").as_str(), "es-MX");
        assert_eq!(locale("ES_mx").as_str(), "es-MX");
        assert_eq!(locale("zh-hant-tw").as_str(), "zh-Hant-TW");
        assert_eq!(locale("es-MX").language(), "es");
        assert_eq!(locale("es-MX").region(), Some("MX"));
        assert_eq!(locale("es").region(), None);
        assert_eq!(locale("zh-hant-tw").script(), Some("Hant"));
        assert_eq!(locale("es-419").as_str(), "es-419");
        assert_eq!(locale("sl-rozaj-biske").as_str(), "sl-rozaj-biske");
        assert_eq!(locale("DE-de-U-co-PHONEBK").as_str(), "de-DE-u-co-phonebk");
        assert_eq!(locale("en-x-Shop").as_str(), "en-x-shop");
        assert_eq!(format!("{:?}", locale("es-MX")), "Locale(es-MX)");
        assert_eq!(
            serde_json::to_string(&locale("es-MX")).unwrap(),
            "\"es-MX\""
        );
    }

    #[test]
    fn rejects_bad_tags() {
        assert_eq!(
            Locale::parse("??").unwrap_err().to_string(),
            r#""??" is not a BCP 47 language tag"#
        );
        for bad in [
            "",
            "e",
            "toolonglanguage",
            "es-",
            "es--MX",
            "es MX",
            "es-MX-u",
            "es-u-co-u-ca",
            "es-x",
            "es-MX-MX",
            "sl-rozaj-rozaj",
            "es-a-b-c",
            "español",
        ] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
        assert!(Locale::parse("und").is_err());
    }

    #[test]
    fn fallback_chain() {
        let en = locale("en");
        assert_eq!(
            tags(&locale("es-MX").fallback_chain(&en)),
            ["es-MX", "es", "en"]
        );
        assert_eq!(tags(&locale("es").fallback_chain(&en)), ["es", "en"]);
        assert_eq!(tags(&en.fallback_chain(&en)), ["en"]);
        assert_eq!(
            tags(&locale("zh-Hant-TW").fallback_chain(&en)),
            ["zh-Hant-TW", "zh-Hant", "zh", "en"]
        );
        assert_eq!(
            tags(&locale("fr-CA").fallback_chain(&locale("en-US"))),
            ["fr-CA", "fr", "en-US", "en"]
        );
        assert_eq!(
            tags(&locale("de-DE-u-co-phonebk").fallback_chain(&en)),
            ["de-DE-u-co-phonebk", "de-DE", "de", "en"]
        );
        assert_eq!(
            tags(&locale("en-GB").fallback_chain(&locale("en-US"))),
            ["en-GB", "en", "en-US"]
        );
    }
}
