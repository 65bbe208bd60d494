//! `amends templates check`: every problem in every template, before a customer sees one.
//!
//! - syntax errors, with file and line (from loading);
//! - unknown variables against the data model ([`samples::model`]), found by walking each
//!   template's syntax tree, so a typo inside an `#if` branch no sample takes, or inside an
//!   `#each` body, is found too; unknown helpers and missing partials likewise;
//! - what no template may do, found while loading ([`super::safety`]): a partial that can
//!   include itself, `{{log}}`, a value written unescaped into HTML; a message that reaches a
//!   partial refused for its includes is not rendered against the samples;
//! - templates and partials missing a locale that others have (customers get the fallback);
//! - every template rendered against the sample events, with and without offers, and each
//!   SMS measured: more segments than the configured limit is a warning.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use handlebars::Path as HbPath;
use handlebars::template::{
    BlockParam, DecoratorTemplate, HelperTemplate, Parameter, Template, TemplateElement,
};
use serde_json::Value;

use super::{Diagnostic, Extras, Origin, Registry, Role, Settings, Severity, Source, Templates};
use super::{samples, sms};
use crate::incident::Locale;
use crate::policy::Channel;
use crate::templates::StoreInfo;

/// What `templates check` measures beside problems: the longest SMS of each template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMeasure {
    /// Template key.
    pub key: String,
    /// Template locale.
    pub locale: String,
    /// The most segments any sample took.
    pub segments: usize,
    /// Its encoding.
    pub encoding: sms::SmsEncoding,
    /// Its length in characters.
    pub characters: usize,
    /// Which sample that was.
    pub sample: String,
}

/// The outcome of a check.
#[derive(Debug, Default)]
pub struct Report {
    /// Every problem, errors first, then by file and line.
    pub diagnostics: Vec<Diagnostic>,
    /// Template × channel × locale combinations checked.
    pub variants: usize,
    /// Messages rendered against samples.
    pub rendered: usize,
    /// The longest SMS per template and locale.
    pub sms: Vec<SmsMeasure>,
}

impl Report {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Checks `sources` as the daemon would load them; `max_segments` bounds an SMS.
pub fn check(
    sources: &[Source],
    settings: &Settings,
    store: &StoreInfo,
    max_segments: usize,
) -> Report {
    let (templates, mut diagnostics) = Templates::build(sources, settings);
    let model = samples::model();
    let mut report = Report::default();

    // Unknown variables, helpers and partials, in every branch. A variant with such an error
    // is not rendered against the samples too: it would only fail again on the same name.
    let mut broken: BTreeSet<(String, Channel, String)> = BTreeSet::new();
    for ((key, channel), locales) in &templates.variants {
        for (locale, variant) in locales {
            let Some(registry) = templates.registries.get(locale) else {
                continue;
            };
            report.variants += 1;
            let before = diagnostics.len();
            let email = *channel == Channel::Email;
            let parts = [
                (Some(&variant.body), !email),
                (variant.text.as_ref(), true),
                (variant.subject.as_ref(), true),
                (variant.preheader.as_ref(), true),
            ];
            let mut refused = false;
            for (name, plain) in parts {
                if let Some(name) = name {
                    let mut walker = Walker::new(registry, plain, &model, &mut diagnostics);
                    walker.template(name);
                    refused |= walker.reaches_refused;
                }
            }
            // A variant that reaches a template refused for its includes is not rendered: that
            // could recurse without end. Its error was reported when the templates were loaded.
            if diagnostics.len() > before || refused {
                broken.insert((key.clone(), *channel, locale.clone()));
            }
        }
    }

    missing_locales(&templates, sources, &mut diagnostics);
    render_samples(
        &templates,
        store,
        max_segments,
        &broken,
        &mut report,
        &mut diagnostics,
    );

    diagnostics.sort_by(|a, b| (a.severity, &a.path, a.line).cmp(&(b.severity, &b.path, b.line)));
    diagnostics.dedup();
    report.diagnostics = diagnostics;
    report
}

/// A template or partial missing a locale that other templates have is a warning: customers
/// of that locale get the fallback language.
fn missing_locales(templates: &Templates, sources: &[Source], diagnostics: &mut Vec<Diagnostic>) {
    let all: BTreeSet<&String> = templates.variants.values().flat_map(|l| l.keys()).collect();
    for ((key, channel), locales) in &templates.variants {
        for locale in &all {
            if !locales.contains_key(*locale) {
                let have: Vec<&str> = locales.keys().map(String::as_str).collect();
                // Name the file that would be missing, beside one that exists.
                let file = format!("{channel}.{locale}.hbs");
                let path = locales
                    .iter()
                    .find_map(|(l, v)| templates.registries.get(l)?.origins.get(&v.body))
                    .map(|o| o.path.with_file_name(&file))
                    .unwrap_or_else(|| std::path::PathBuf::from(key).join(&file));
                diagnostics.push(Diagnostic::warning(
                    &path,
                    None,
                    format!(
                        "missing: {key} has no {channel} template in {locale} (it has {}); customers reading {locale} get the fallback",
                        have.join(", ")
                    ),
                ));
            }
        }
    }
    // Localised partials: a locale with templates but no partial of its own language.
    let mut partials: BTreeMap<String, (BTreeSet<String>, std::path::PathBuf)> = BTreeMap::new();
    for source in sources {
        if let Ok(Role::Shared {
            name,
            locale: Some(locale),
            ..
        }) = Role::parse(&source.name)
        {
            let entry = partials
                .entry(name)
                .or_insert_with(|| (BTreeSet::new(), source.path.clone()));
            entry.0.insert(language(&locale));
        }
    }
    for (name, (languages, path)) in partials {
        for locale in &all {
            if !languages.contains(&language(locale)) {
                diagnostics.push(Diagnostic::warning(
                    &path,
                    None,
                    format!(
                        "missing: {name} has no {} version; {locale} templates use the fallback",
                        language(locale)
                    ),
                ));
            }
        }
    }
}

fn language(tag: &str) -> String {
    tag.split('-').next().unwrap_or(tag).to_owned()
}

/// The feedback link follow-ups are checked with: as long as a configured one is likely to be.
const SAMPLE_FEEDBACK_URL: &str =
    "https://shop.example/feedback?incident=00000000-0000-0000-0000-000000000000";

/// Renders every template against each matching sample (all samples for keys that are not an
/// event type), without offers and with them, and measures every SMS.
fn render_samples(
    templates: &Templates,
    store: &StoreInfo,
    max_segments: usize,
    broken: &BTreeSet<(String, Channel, String)>,
    report: &mut Report,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let now = samples::now();
    for ((key, channel), locales) in &templates.variants {
        let types: Vec<&str> = match samples::type_of(key) {
            Some(t) => vec![t],
            None => samples::types().collect(),
        };
        for (tag, variant) in locales {
            if broken.contains(&(key.clone(), *channel, tag.clone())) {
                continue;
            }
            let Ok(locale) = Locale::parse(tag) else {
                continue;
            };
            let Some(registry) = templates.registries.get(tag) else {
                continue;
            };
            let file = registry
                .origins
                .get(&variant.body)
                .map(|o| o.path.clone())
                .unwrap_or_else(|| std::path::PathBuf::from(key));
            let mut longest: Option<SmsMeasure> = None;
            for event_type in &types {
                let Some(incident) = samples::incident(event_type, &locale) else {
                    continue;
                };
                let apology = (format!("{event_type}, apology only"), Vec::new(), false);
                // An email shows every offer at once; an SMS is measured with each kind of code,
                // as a real decision gives one.
                let cases: Vec<(String, Vec<crate::policy::Offer>, bool)> = match channel {
                    Channel::Email => vec![
                        apology,
                        (
                            format!("{event_type}, every offer, escalated"),
                            samples::every_offer(&incident, now),
                            true,
                        ),
                    ],
                    Channel::Sms => std::iter::once(apology)
                        .chain(samples::CODE_KINDS.map(|kind| {
                            (
                                format!("{event_type}, {} code, escalated", kind.as_str()),
                                vec![samples::offer(kind, &incident, now)],
                                true,
                            )
                        }))
                        .collect(),
                };
                // What the decision may add is set too, so a follow-up is measured with a
                // code restated and its feedback link (an update without the date told before,
                // its longer wording).
                let closing =
                    crate::incident::IncidentType::parse(event_type).is_ok_and(|t| t.closes_loop());
                for (label, offers, escalated) in cases {
                    let extras = Extras {
                        offers: &offers,
                        escalated,
                        sent_at: now,
                        earlier: 1,
                        updates_promised: true,
                        feedback_url: closing.then_some(SAMPLE_FEEDBACK_URL),
                        previous_eta: None,
                        earlier_codes: if closing { &offers } else { &[] },
                    };
                    report.rendered += 1;
                    match templates.render(key, *channel, &incident, store, &extras) {
                        Ok(message) if *channel == Channel::Sms => {
                            let info = sms::analyse(&message.text);
                            let measure = SmsMeasure {
                                key: key.clone(),
                                locale: tag.clone(),
                                segments: info.segments,
                                encoding: info.encoding,
                                characters: message.text.chars().count(),
                                sample: label,
                            };
                            if longest.as_ref().is_none_or(|l| {
                                (measure.segments, measure.characters) > (l.segments, l.characters)
                            }) {
                                longest = Some(measure);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => diagnostics.push(Diagnostic::error(
                            &file,
                            None,
                            format!("rendering sample {label}: {e}"),
                        )),
                    }
                }
            }
            if let Some(longest) = longest {
                if longest.segments > max_segments {
                    diagnostics.push(Diagnostic::warning(
                        &file,
                        None,
                        format!(
                            "SMS takes {} segments ({}, {} characters) for sample {}; the limit is {max_segments} (sms_max_segments)",
                            longest.segments, longest.encoding, longest.characters, longest.sample
                        ),
                    ));
                }
                report.sms.push(longest);
            }
        }
    }
}

/// Built-in helpers of handlebars-rust that templates may use.
const BUILTIN_HELPERS: &[&str] = &[
    "if", "unless", "each", "with", "lookup", "log", "eq", "ne", "gt", "gte", "lt", "lte", "and",
    "or", "not", "len",
];

fn is_helper(name: &str) -> bool {
    BUILTIN_HELPERS.contains(&name) || super::helpers::NAMES.contains(&name)
}

/// One level of context while walking: the shape `this` is, and block parameters.
#[derive(Clone)]
struct Scope<'m> {
    this: &'m Value,
    params: HashMap<String, &'m Value>,
    /// Inside an `#each`: `@index`, `@first`, `@last`, `@key` exist.
    in_each: bool,
}

/// Walks templates of one registry against the model.
struct Walker<'a, 'm> {
    registry: &'a Registry,
    plain: bool,
    root: &'m Value,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// Partials being walked, to stop at recursion.
    partials: Vec<String>,
    /// The blocks `{{> @partial-block}}` stands for, innermost last, with their scopes.
    blocks: Vec<(&'a Template, Origin, Vec<Scope<'m>>)>,
    /// A template walked includes one the load refused ([`super::safety::guard`]).
    reaches_refused: bool,
}

/// The model has no such path; the message says which part is unknown.
struct Unknown(String);

impl<'a, 'm> Walker<'a, 'm> {
    fn new(
        registry: &'a Registry,
        plain: bool,
        root: &'m Value,
        diagnostics: &'a mut Vec<Diagnostic>,
    ) -> Self {
        Walker {
            registry,
            plain,
            root,
            diagnostics,
            partials: Vec::new(),
            blocks: Vec::new(),
            reaches_refused: false,
        }
    }

    fn template(&mut self, name: &str) {
        if self.registry.refused.contains(name) {
            self.reaches_refused = true;
            return;
        }
        let (Some(template), Some(origin)) = (
            self.registry.get(name, self.plain),
            self.registry.origins.get(name),
        ) else {
            return;
        };
        let scopes = vec![Scope {
            this: self.root,
            params: HashMap::new(),
            in_each: false,
        }];
        self.walk(template, origin, &scopes);
    }

    fn report(&mut self, origin: &Origin, template: &Template, index: usize, message: String) {
        let (line, column) = match template.mapping.get(index) {
            Some(m) => (Some(m.0 + origin.line_offset), Some(m.1)),
            None => (None, None),
        };
        self.diagnostics.push(Diagnostic {
            path: origin.path.clone(),
            line,
            column,
            severity: Severity::Error,
            message,
        });
    }

    fn walk(&mut self, template: &'a Template, origin: &Origin, scopes: &[Scope<'m>]) {
        for (index, element) in template.elements.iter().enumerate() {
            let problems = match element {
                TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                    self.expression(h, scopes)
                }
                TemplateElement::HelperBlock(h) => self.block(h, origin, scopes),
                TemplateElement::PartialExpression(d) | TemplateElement::PartialBlock(d) => {
                    self.partial(d, origin, scopes)
                }
                _ => Vec::new(),
            };
            for message in problems {
                self.report(origin, template, index, message);
            }
        }
    }

    /// `{{path}}` or `{{helper args}}`.
    fn expression(&mut self, h: &HelperTemplate, scopes: &[Scope<'m>]) -> Vec<String> {
        let name = param_name(&h.name);
        if h.params.is_empty() && h.hash.is_empty() && !name.as_deref().is_some_and(is_helper) {
            return self.param(&h.name, scopes).err().into_iter().collect();
        }
        self.call(name.as_deref(), &h.params, &h.hash, scopes)
    }

    /// A helper call: the helper must exist and its arguments resolve.
    fn call(
        &mut self,
        name: Option<&str>,
        params: &[Parameter],
        hash: &HashMap<String, Parameter>,
        scopes: &[Scope<'m>],
    ) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(name) = name
            && !is_helper(name)
        {
            problems.push(format!("unknown helper `{name}`"));
        }
        for p in params.iter().chain(hash.values()) {
            if let Err(message) = self.param(p, scopes) {
                problems.push(message);
            }
        }
        problems
    }

    /// Resolves one parameter; `Ok(None)` when its shape cannot be known (a helper's result).
    fn param(&mut self, p: &Parameter, scopes: &[Scope<'m>]) -> Result<Option<&'m Value>, String> {
        match p {
            Parameter::Literal(_) => Ok(None),
            Parameter::Name(name) => resolve(name, scopes, self.root)
                .map(Some)
                .map_err(|Unknown(m)| m),
            Parameter::Path(path) => resolve(raw(path), scopes, self.root)
                .map(Some)
                .map_err(|Unknown(m)| m),
            Parameter::Subexpression(sub) => {
                let problems = self.call(
                    Some(sub.name()),
                    sub.params().map(Vec::as_slice).unwrap_or_default(),
                    &sub.hash().cloned().unwrap_or_default(),
                    scopes,
                );
                match problems.into_iter().next() {
                    Some(first) => Err(first),
                    None => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    /// `{{#if}}`, `{{#unless}}`, `{{#each}}`, `{{#with}}`.
    fn block(
        &mut self,
        h: &'a HelperTemplate,
        origin: &Origin,
        scopes: &[Scope<'m>],
    ) -> Vec<String> {
        let name = param_name(&h.name).unwrap_or_default();
        let mut problems = Vec::new();
        let first = match h.params.first() {
            Some(p) => match self.param(p, scopes) {
                Ok(shape) => shape,
                Err(message) => {
                    problems.push(message);
                    None
                }
            },
            None => None,
        };
        for p in h.params.iter().skip(1).chain(h.hash.values()) {
            if let Err(message) = self.param(p, scopes) {
                problems.push(message);
            }
        }
        let inner: Vec<Scope<'m>> = match name.as_str() {
            "each" | "with" => {
                let element = match (name.as_str(), first) {
                    ("each", Some(Value::Array(items))) => items.first(),
                    ("each", Some(Value::Object(_))) => None,
                    ("each", Some(Value::Null)) | (_, None) => None,
                    ("each", Some(other)) => {
                        problems.push(format!("`#each` over {}, which is not a list", kind(other)));
                        None
                    }
                    (_, shape) => shape,
                };
                let mut scope = Scope {
                    this: element.unwrap_or(&Value::Null),
                    params: HashMap::new(),
                    in_each: name == "each",
                };
                if let Some(BlockParam::Single(Parameter::Name(p))) = &h.block_param {
                    scope.params.insert(p.clone(), scope.this);
                }
                let mut inner = scopes.to_vec();
                inner.push(scope);
                inner
            }
            "if" | "unless" => scopes.to_vec(),
            other => {
                if !is_helper(other) {
                    problems.push(format!("unknown block helper `#{other}`"));
                }
                scopes.to_vec()
            }
        };
        if let Some(t) = &h.template {
            self.walk(t, origin, &inner);
        }
        if let Some(t) = &h.inverse {
            self.walk(t, origin, scopes);
        }
        problems
    }

    /// `{{> name}}` and `{{#> layout}}…{{/layout}}`: the partial must exist for this locale,
    /// and is walked in the caller's scope.
    fn partial(
        &mut self,
        d: &'a DecoratorTemplate,
        origin: &Origin,
        scopes: &[Scope<'m>],
    ) -> Vec<String> {
        let Some(name) = param_name(&d.name) else {
            return Vec::new();
        };
        if name == "@partial-block" {
            if let Some((block, block_origin, block_scopes)) = self.blocks.pop() {
                self.walk(block, &block_origin, &block_scopes);
                self.blocks.push((block, block_origin, block_scopes));
            }
            return Vec::new();
        }
        if self.registry.refused.contains(&name) {
            self.reaches_refused = true;
            return Vec::new();
        }
        let Some(template) = self.registry.get(&name, self.plain) else {
            let kind = if self.plain { "text" } else { "HTML" };
            return vec![format!(
                "missing partial `{name}` ({kind}; text partials end in .txt and are used from text parts and SMS)"
            )];
        };
        if self.partials.contains(&name) {
            return Vec::new();
        }
        let mut problems = Vec::new();
        let mut inner = scopes.to_vec();
        if let Some(p) = d.params.first() {
            match self.param(p, scopes) {
                Ok(shape) => inner.push(Scope {
                    this: shape.unwrap_or(&Value::Null),
                    params: HashMap::new(),
                    in_each: false,
                }),
                Err(message) => problems.push(message),
            }
        }
        for p in d.hash.values() {
            if let Err(message) = self.param(p, scopes) {
                problems.push(message);
            }
        }
        if let Some(last) = inner.last_mut() {
            for key in d.hash.keys() {
                last.params.insert(key.clone(), &Value::Null);
            }
        }
        let Some(partial_origin) = self.registry.origins.get(&name) else {
            return problems;
        };
        let pushed = match &d.template {
            Some(block) => {
                self.blocks.push((block, origin.clone(), scopes.to_vec()));
                true
            }
            None => false,
        };
        self.partials.push(name);
        self.walk(template, &partial_origin.clone(), &inner);
        self.partials.pop();
        if pushed {
            self.blocks.pop();
        }
        problems
    }
}

fn param_name(p: &Parameter) -> Option<String> {
    match p {
        Parameter::Name(n) => Some(n.clone()),
        Parameter::Path(path) => Some(raw(path).to_owned()),
        _ => None,
    }
}

/// The text of a path as written in the template.
pub(super) fn raw(path: &HbPath) -> &str {
    match path {
        HbPath::Relative((_, raw)) => raw,
        HbPath::Local((_, _, raw)) => raw,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "a value",
        Value::Bool(_) => "a true/false value",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Resolves a Handlebars path (`customer.first_name`, `../store.name`, `this`, `@root.x`,
/// `items.[1]`, `@index`) against the scopes; `Value::Null` in the model means "any value".
fn resolve<'m>(raw: &str, scopes: &[Scope<'m>], root: &'m Value) -> Result<&'m Value, Unknown> {
    let unknown = |what: String| Unknown(format!("unknown variable `{raw}`{what}"));
    let mut rest = raw.trim();
    let mut depth = scopes.len().saturating_sub(1);
    let mut from_root = false;
    if let Some(r) = rest.strip_prefix("@root") {
        from_root = true;
        rest = r.trim_start_matches(['.', '/']);
    }
    while let Some(r) = rest.strip_prefix("../") {
        depth = depth.saturating_sub(1);
        rest = r;
    }
    let scope = scopes.get(depth);
    if let Some(local) = rest.strip_prefix('@') {
        return match (local, scope) {
            ("index" | "first" | "last" | "key", Some(s)) if s.in_each => Ok(&Value::Null),
            ("index" | "first" | "last" | "key", _) => {
                Err(unknown(" (it only exists inside #each)".to_owned()))
            }
            _ => Err(unknown(String::new())),
        };
    }
    let rest = rest
        .strip_prefix("this")
        .map(|r| r.trim_start_matches(['.', '/']))
        .or_else(|| rest.strip_prefix("./"))
        .unwrap_or(rest);
    let mut segments = rest
        .split(['.', '/'])
        .map(|s| s.trim_start_matches('[').trim_end_matches(']'))
        .filter(|s| !s.is_empty())
        .peekable();
    let mut shape: &'m Value = match (from_root, scope) {
        (true, _) | (false, None) => root,
        (false, Some(scope)) => match segments.peek().and_then(|first| scope.params.get(*first)) {
            Some(param) => {
                segments.next();
                param
            }
            None => scope.this,
        },
    };
    let mut walked = Vec::new();
    for segment in segments {
        shape = match shape {
            Value::Object(map) => match map.get(segment) {
                Some(next) => next,
                None => {
                    let known: Vec<&str> = map.keys().map(String::as_str).collect();
                    let at = if walked.is_empty() {
                        "here".to_owned()
                    } else {
                        format!("in `{}`", walked.join("."))
                    };
                    return Err(unknown(format!(
                        ": no `{segment}` {at} (known: {})",
                        known.join(", ")
                    )));
                }
            },
            Value::Array(items) if segment.parse::<usize>().is_ok() => {
                items.first().unwrap_or(&Value::Null)
            }
            Value::Array(_) if segment == "length" => &Value::Null,
            // A leaf that no sample filled: any value, nothing more is known.
            Value::Null => return Ok(&Value::Null),
            other => {
                return Err(unknown(format!(
                    ": `{}` is {}, it has no `{segment}`",
                    walked.join("."),
                    kind(other)
                )));
            }
        };
        walked.push(segment);
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::templates::test_source as source;

    fn run(sources: &[Source]) -> Report {
        let en = Locale::parse("en").unwrap();
        check(sources, &Settings::new(&en), &samples::store(), 3)
    }

    fn errors(report: &Report) -> Vec<String> {
        report
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect()
    }

    fn sms(key: &str, text: &str) -> Source {
        source(&format!("{key}/sms.en.hbs"), text)
    }

    #[test]
    fn unknown_variables_are_found_in_branches_no_sample_takes() {
        let report = run(&[sms(
            "order-delayed",
            "Hi\n{{#if delay.new_eta}}ok{{else}}{{#unless escalated}}{{delay.new_date}}{{/unless}}{{/if}}",
        )]);
        let errors = errors(&report);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("templates/order-delayed/sms.en.hbs:2:"),
            "{}",
            errors[0]
        );
        assert!(
            errors[0].contains("unknown variable `delay.new_date`"),
            "{}",
            errors[0]
        );
        assert!(errors[0].contains("known: "), "{}", errors[0]);
    }

    #[test]
    fn each_changes_the_scope() {
        let ok = run(&[sms(
            "order-stockout",
            "{{#each stockout.items}}{{name}} {{quantity}} {{@index}} {{../order.number}} {{@root.store.name}}{{/each}}{{#each codes as |c|}}{{c.code}}{{/each}}",
        )]);
        assert!(errors(&ok).is_empty(), "{:?}", errors(&ok));
        let bad = run(&[sms(
            "order-stockout",
            "{{#each stockout.items}}\n{{price}}{{/each}}{{@index}}",
        )]);
        let errors = errors(&bad);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.contains(":2:") && e.contains("`price`")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("only exists inside #each")),
            "{errors:?}"
        );
    }

    #[test]
    fn helpers_partials_and_subexpressions_are_checked() {
        let report = run(&[
            sms(
                "order-delayed",
                "{{shout customer.first_name}} {{#if (eq delay.reasn \"x\")}}{{/if}} {{> partials/nope.txt}} {{> partials/sig.txt}}",
            ),
            source("partials/sig.en.txt.hbs", "{{store.nam}}"),
        ]);
        let errors = errors(&report);
        assert!(
            errors.iter().any(|e| e.contains("unknown helper `shout`")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("`delay.reasn`")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("missing partial `partials/nope.txt`")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("templates/partials/sig.en.txt.hbs:1:")
                    && e.contains("`store.nam`")),
            "{errors:?}"
        );
    }

    #[test]
    fn partial_blocks_are_walked_in_the_callers_scope() {
        let report = run(&[
            source(
                "order-delayed/email.en.hbs",
                "---\nsubject: Hi {{customer.first_nam}}\n---\n{{#> layouts/email}}\n{{#each codes}}{{code}} {{wrong}}{{/each}}\n{{/layouts/email}}",
            ),
            source("order-delayed/email.en.txt.hbs", "{{order.number}}"),
            source(
                "layouts/email.hbs",
                "<html lang=\"{{message.locale}}\">{{> @partial-block}}</html>",
            ),
        ]);
        let errors = errors(&report);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("templates/order-delayed/email.en.hbs:2:")
                    && e.contains("first_nam")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("templates/order-delayed/email.en.hbs:5:")
                    && e.contains("`wrong`")),
            "{errors:?}"
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn missing_locales_and_long_sms_are_warnings() {
        let long = "{{store.name}}: ".to_owned() + &"á".repeat(300);
        let report = run(&[
            sms("order-delayed", &long),
            source("order-delayed/sms.es.hbs", "{{store.name}}"),
            sms("order-stockout", "{{store.name}}"),
        ]);
        assert_eq!(report.errors(), 0, "{:?}", report.diagnostics);
        let warnings: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("order-stockout has no sms template in es")),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("SMS takes 5 segments (UCS-2") && w.contains("limit is 3")),
            "{warnings:?}"
        );
    }

    #[test]
    fn what_reaches_a_cycle_is_not_rendered_and_the_rest_is() {
        let report = run(&[
            sms("order-delayed", "{{store.name}} {{> partials/contact.txt}}"),
            sms("order-stockout", "{{store.name}}"),
            source(
                "partials/contact.en.txt.hbs",
                "{{#if (eq customer.tier \"gold\")}}{{> partials/contact.txt}}{{/if}}",
            ),
        ]);
        let errors = errors(&report);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("templates/partials/contact.en.txt.hbs:1:")
                && errors[0].contains("partials/contact.txt → partials/contact.txt"),
            "{errors:?}"
        );
        // Only the stockout SMS was rendered: an apology and one per kind of code.
        assert_eq!(report.rendered, 1 + samples::CODE_KINDS.len());
        assert_eq!(report.sms.len(), 1);
        assert_eq!(report.sms[0].key, "order-stockout");
    }

    #[test]
    fn syntax_errors_are_reported_with_the_rest() {
        let report = run(&[
            sms("order-delayed", "fine {{store.name}}"),
            sms("order-stockout", "line 1\n{{#if x}}never closed"),
            source("order-cancelled/email.en.hbs", "no front matter"),
        ]);
        let errors = errors(&report);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("templates/order-stockout/sms.en.hbs:")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(
                |e| e.starts_with("templates/order-cancelled/email.en.hbs:1:")
                    && e.contains("front matter")
            ),
            "{errors:?}"
        );
    }
}
