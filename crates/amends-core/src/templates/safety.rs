//! What no template may do, refused when templates are loaded, and a depth limit as they render.
//!
//! - Include itself, directly or through other partials and layouts, in any branch. Rendering
//!   would recurse until the stack overflows, which aborts the whole process: every replica, at
//!   the first customer who takes that branch. Every include is followed: in `#if` and `#each`
//!   bodies and their `else`, and in the content of a partial block (`{{#> layout}}…{{/layout}}`),
//!   which the caller renders. Each registry (HTML, text) of each locale is a graph of its own.
//! - Include what that search cannot follow: a partial whose name is computed while rendering
//!   (`{{> (lookup …)}}`), or an inline partial (`{{#*inline "x"}}`), defined while rendering.
//! - `{{log …}}`: it writes the values it is given (customer data) to the logs unmasked.
//! - In HTML, write a value without escaping (`{{{…}}}`, `{{& …}}`): every value comes from the
//!   order event, so it would put whatever HTML the event holds into the email.
//!
//! The second guard is at render time: every registered template is wrapped in a block helper
//! that counts how deeply templates are nested on the rendering thread, so nesting deeper than
//! [`NESTING_LIMIT`] is a render error instead of a stack overflow.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::LazyLock;

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, Renderable,
};
use serde_json::Value;

use super::{Diagnostic, Registry};

/// How deeply templates may be nested while a message renders (the message itself counts as
/// one). The shipped templates nest 4 deep: message, layout, footer, contact.
pub const NESTING_LIMIT: usize = 16;

/// The block helper every registered template is wrapped in; templates do not call it.
const NESTING_HELPER: &str = "amends-partial";

/// The name `{{> @partial-block}}` uses for the content of the partial block being rendered.
const PARTIAL_BLOCK: &str = "@partial-block";

/// Registers the helpers every registry needs for safety: the nesting counter, and a `log`
/// that writes nothing.
pub(super) fn register(registry: &mut Handlebars<'static>) {
    registry.register_helper(NESTING_HELPER, Box::new(Nesting));
    registry.register_helper("log", Box::new(Silent));
}

/// The wrapper, compiled once: a block helper with no content of its own.
static WRAPPER: LazyLock<Option<Template>> = LazyLock::new(|| {
    Template::compile(&format!(
        "{{{{#{NESTING_HELPER}}}}}{{{{/{NESTING_HELPER}}}}}"
    ))
    .ok()
});

/// `template` inside the nesting counter, so that rendering it counts one level.
pub(super) fn counted(template: Template) -> Template {
    // The wrapper is a constant text that compiles; the tests show it wraps.
    let Some(mut wrapper) = WRAPPER.clone() else {
        return template;
    };
    match wrapper.elements.first_mut() {
        Some(TemplateElement::HelperBlock(h)) => h.template = Some(template),
        _ => return template,
    }
    // No lines of its own: an error of the wrapper (too deep) is placed by the template that
    // included this one, at its include.
    wrapper.mapping.clear();
    wrapper
}

/// The template [`counted`] was given (`template` itself when it is not wrapped).
pub(super) fn as_written(template: &Template) -> &Template {
    match template.elements.as_slice() {
        [TemplateElement::HelperBlock(h)] if name_of(&h.name) == NESTING_HELPER => {
            h.template.as_ref().unwrap_or(template)
        }
        _ => template,
    }
}

thread_local! {
    /// Templates being rendered on this thread. Rendering is synchronous, so a message's whole
    /// nesting is counted on the thread that renders it.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// One level of nesting, given back when dropped (also when rendering fails or panics).
struct Level;

impl Level {
    fn enter() -> Result<Level, RenderError> {
        DEPTH.with(|depth| {
            if depth.get() >= NESTING_LIMIT {
                return Err(RenderErrorReason::Other(format!(
                    "partials nested more than {NESTING_LIMIT} deep; does a partial include itself?"
                ))
                .into());
            }
            depth.set(depth.get() + 1);
            Ok(Level)
        })
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Renders the wrapped template one level deeper.
struct Nesting;

impl HelperDef for Nesting {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        registry: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let _level = Level::enter()?;
        match h.template() {
            Some(template) => template.render(registry, ctx, rc, out),
            None => Ok(()),
        }
    }
}

/// `log` that writes nothing: a template using it is refused, and should one get through
/// anyway, customer data still never reaches the logs.
struct Silent;

impl HelperDef for Silent {
    fn call<'reg: 'rc, 'rc>(
        &self,
        _: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        _: &mut dyn Output,
    ) -> HelperResult {
        Ok(())
    }
}

/// A problem found in one template, at its line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Finding {
    /// Line in the file.
    pub line: Option<usize>,
    /// Column in the line.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// What one compiled template includes, and what it does that no template may.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Names of the templates it includes, in every branch, with the line of each include.
    pub includes: Vec<(String, Option<usize>)>,
    /// Logging, unescaped values, and what cannot be followed.
    pub findings: Vec<Finding>,
    /// It includes or defines a partial whose name only rendering knows.
    pub opaque: bool,
}

/// Reads every element of `template` (lines are the file's: `line_offset` is added); `html`
/// when its output is HTML.
pub(super) fn scan(template: &Template, html: bool, line_offset: usize) -> Scan {
    let mut scanner = Scanner {
        html,
        line_offset,
        scan: Scan::default(),
    };
    scanner.template(template);
    scanner.scan
}

struct Scanner {
    html: bool,
    line_offset: usize,
    scan: Scan,
}

type At = Option<(usize, usize)>;

impl Scanner {
    fn find(&mut self, at: At, message: String) {
        self.scan.findings.push(Finding {
            line: at.map(|a| a.0),
            column: at.map(|a| a.1),
            message,
        });
    }

    fn template(&mut self, template: &Template) {
        for (index, element) in template.elements.iter().enumerate() {
            let at = template
                .mapping
                .get(index)
                .map(|m| (m.0 + self.line_offset, m.1));
            match element {
                TemplateElement::HtmlExpression(h) => {
                    // Every form of it writes a value (the grammar has no literal one): text of
                    // the template's own is written as it is, without braces.
                    if self.html {
                        let call = show_call(h);
                        self.find(
                            at,
                            format!(
                                "`{{{{{{{call}}}}}}}` writes its value without HTML escaping; use `{{{{{call}}}}}`"
                            ),
                        );
                    }
                    self.helper(h, at);
                }
                TemplateElement::Expression(h) => self.helper(h, at),
                TemplateElement::HelperBlock(h) => {
                    self.helper(h, at);
                    for inner in [&h.template, &h.inverse].into_iter().flatten() {
                        self.template(inner);
                    }
                }
                TemplateElement::PartialExpression(d) | TemplateElement::PartialBlock(d) => {
                    match &d.name {
                        Parameter::Subexpression(_) => {
                            self.scan.opaque = true;
                            self.find(
                                at,
                                format!(
                                    "`{{{{> {}}}}}`: the partial's name is worked out only while a message renders, so no check can tell what it includes (or that it does not include itself); write the name out, e.g. `{{{{> partials/contact}}}}`",
                                    show(&d.name)
                                ),
                            );
                        }
                        name => {
                            let name = name_of(name);
                            if name != PARTIAL_BLOCK {
                                self.scan.includes.push((name, at.map(|a| a.0)));
                            }
                        }
                    }
                    for p in d.params.iter().chain(sorted(&d.hash)) {
                        self.param(p, at);
                    }
                    // A partial block's content is rendered by the caller, so what it includes,
                    // the caller includes.
                    if let Some(content) = &d.template {
                        self.template(content);
                    }
                }
                TemplateElement::DecoratorExpression(d) | TemplateElement::DecoratorBlock(d) => {
                    self.scan.opaque = true;
                    let name = name_of(&d.name);
                    let message = if name == "inline" {
                        "inline partials (`{{#*inline …}}`) are refused: they are defined only while a message renders, so no check can follow them (or tell that one does not include itself); put the text in a file under partials/".to_owned()
                    } else {
                        format!(
                            "decorators (`{{{{*{name}}}}}`) are refused: they act only while a message renders, where no check can follow them"
                        )
                    };
                    self.find(at, message);
                    // Its content is looked at for what no template may do; what it includes is
                    // not this template's unless it is used, which is not known here.
                    if let Some(inner) = &d.template {
                        let includes = self.scan.includes.len();
                        self.template(inner);
                        self.scan.includes.truncate(includes);
                    }
                }
                TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
                // A kind of element this version does not know might include anything.
                _ => {
                    self.scan.opaque = true;
                    self.find(
                        at,
                        "this kind of Handlebars element is not supported".to_owned(),
                    );
                }
            }
        }
    }

    /// A helper call or a value: `log` is refused, wherever it is called from.
    fn helper(&mut self, h: &HelperTemplate, at: At) {
        if matches!(&h.name, Parameter::Name(_) | Parameter::Path(_)) && name_of(&h.name) == "log" {
            self.find(
                at,
                format!(
                    "`{{{{{}}}}}` would write customer data to the logs unmasked; templates may not log",
                    show_call(h)
                ),
            );
        }
        self.param(&h.name, at);
        for p in h.params.iter().chain(sorted(&h.hash)) {
            self.param(p, at);
        }
    }

    fn param(&mut self, p: &Parameter, at: At) {
        if let Parameter::Subexpression(sub) = p
            && let TemplateElement::Expression(h) = sub.as_element()
        {
            self.helper(h, at);
        }
    }
}

/// Hash values in the order of their keys, so findings come in the same order every time.
fn sorted(hash: &std::collections::HashMap<String, Parameter>) -> Vec<&Parameter> {
    let mut entries: Vec<_> = hash.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries.into_iter().map(|(_, p)| p).collect()
}

/// The name a partial or helper is looked up by, as the renderer reads it.
fn name_of(p: &Parameter) -> String {
    match p {
        Parameter::Name(n) => n.clone(),
        Parameter::Path(path) => super::check::raw(path).to_owned(),
        Parameter::Literal(Value::String(s)) => s.clone(),
        other => show(other),
    }
}

/// A parameter as a template would write it.
fn show(p: &Parameter) -> String {
    match p {
        Parameter::Name(n) => n.clone(),
        Parameter::Path(path) => super::check::raw(path).to_owned(),
        Parameter::Literal(value) => value.to_string(),
        Parameter::Subexpression(sub) => match sub.as_element() {
            TemplateElement::Expression(h) => format!("({})", show_call(h)),
            _ => "(…)".to_owned(),
        },
        _ => "…".to_owned(),
    }
}

/// A helper call (or a value) as a template would write it between the braces.
fn show_call(h: &HelperTemplate) -> String {
    let mut parts = vec![show(&h.name)];
    parts.extend(h.params.iter().map(show));
    let mut hash: Vec<_> = h.hash.iter().collect();
    hash.sort_by(|a, b| a.0.cmp(b.0));
    parts.extend(hash.into_iter().map(|(k, v)| format!("{k}={}", show(v))));
    parts.join(" ")
}

/// One registered template: its file and what it includes.
struct Node {
    path: PathBuf,
    includes: Vec<(String, Option<usize>)>,
}

/// Includes that come back to where they started.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cycle {
    /// The templates in order, starting with the smallest name.
    chain: Vec<String>,
    /// The file of the last one, whose include closes the cycle.
    path: PathBuf,
    /// The line of that include.
    line: Option<usize>,
}

/// Every cycle of includes among `nodes`, each once. For each include that lies on a cycle, the
/// shortest way back is taken: every template on any cycle is in one found, and the search stays
/// polynomial however the templates include each other.
fn cycles(nodes: &BTreeMap<String, Node>) -> Vec<Cycle> {
    let mut found: BTreeMap<Vec<String>, Cycle> = BTreeMap::new();
    for (from, node) in nodes {
        let targets: BTreeSet<&String> = node.includes.iter().map(|(n, _)| n).collect();
        for to in targets {
            let Some(back) = shortest_path(nodes, to, from) else {
                continue;
            };
            // from → to → … → from, without repeating `from`.
            let mut chain = vec![from.clone()];
            chain.extend(back.into_iter().take_while(|n| n != from));
            let start = chain
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.cmp(b.1))
                .map_or(0, |(i, _)| i);
            chain.rotate_left(start);
            if found.contains_key(&chain) {
                continue;
            }
            let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
                continue;
            };
            let Some(closing) = nodes.get(last) else {
                continue;
            };
            let line = closing
                .includes
                .iter()
                .find(|(n, _)| n == first)
                .and_then(|(_, line)| *line);
            let cycle = Cycle {
                chain: chain.clone(),
                path: closing.path.clone(),
                line,
            };
            found.insert(chain, cycle);
        }
    }
    found.into_values().collect()
}

/// The templates from `from` to `to` (both included) by includes, fewest first; `[from]` when
/// they are the same.
fn shortest_path(
    nodes: &BTreeMap<String, Node>,
    from: &String,
    to: &String,
) -> Option<Vec<String>> {
    if !nodes.contains_key(from) {
        return None;
    }
    let mut parent: BTreeMap<&String, Option<&String>> = BTreeMap::from([(from, None)]);
    let mut queue = VecDeque::from([from]);
    while let Some(at) = queue.pop_front() {
        if at == to {
            let mut path = vec![at.clone()];
            let mut step = at;
            while let Some(Some(previous)) = parent.get(step) {
                path.push((*previous).clone());
                step = previous;
            }
            path.reverse();
            return Some(path);
        }
        let Some(node) = nodes.get(at) else {
            continue;
        };
        for (next, _) in &node.includes {
            if nodes.contains_key(next) && !parent.contains_key(next) {
                parent.insert(next, Some(at));
                queue.push_back(next);
            }
        }
    }
    None
}

/// Takes out of `registry` every template that can include itself or includes what cannot be
/// followed, with an error for each cycle (once, however many locales share its files); what
/// includes a template taken out then fails to render for want of it, and never recurses.
pub(super) fn guard(registry: &mut Registry, diagnostics: &mut Vec<Diagnostic>) {
    for plain in [false, true] {
        let mut nodes = BTreeMap::new();
        let mut refused = BTreeSet::new();
        for name in registry.names(plain) {
            let (Some(template), Some(origin)) =
                (registry.get(&name, plain), registry.origins.get(&name))
            else {
                continue;
            };
            // Findings were reported when the file was compiled; here only includes matter.
            let scan = scan(template, !plain, origin.line_offset);
            if scan.opaque {
                refused.insert(name.clone());
            }
            nodes.insert(
                name,
                Node {
                    path: origin.path.clone(),
                    includes: scan.includes,
                },
            );
        }
        for cycle in cycles(&nodes) {
            let first = cycle.chain.first().cloned().unwrap_or_default();
            let shown: Vec<&str> = cycle
                .chain
                .iter()
                .chain([&first])
                .map(String::as_str)
                .collect();
            let diagnostic = Diagnostic::error(
                &cycle.path,
                cycle.line,
                format!(
                    "`{first}` can include itself: {}; rendering it would never end, so it is refused",
                    shown.join(" → ")
                ),
            );
            if !diagnostics.contains(&diagnostic) {
                diagnostics.push(diagnostic);
            }
            refused.extend(cycle.chain);
        }
        for name in refused {
            registry.refuse(&name, plain);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    use crate::incident::Locale;
    use crate::templates::{Origin, Settings, Severity, Source, Templates};

    use crate::templates::test_source as source;

    /// An HTML email of key `k` in `locale` whose body is `body`.
    fn email(locale: &str, body: &str) -> [Source; 2] {
        [
            source(
                &format!("k/email.{locale}.hbs"),
                &format!("---\nsubject: S\n---\n{body}"),
            ),
            source(&format!("k/email.{locale}.txt.hbs"), "text"),
        ]
    }

    fn errors_of(sources: &[Source]) -> Vec<String> {
        let en = Locale::parse("en").unwrap();
        let (_, diagnostics) = Templates::build(sources, &Settings::new(&en));
        diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.to_string())
            .collect()
    }

    /// The one error of `sources`, which must name `chain` at `at` (`file:line`).
    fn assert_cycle(sources: &[Source], at: &str, chain: &str) {
        let errors = errors_of(sources);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(&format!("templates/{at}: error: ")),
            "{errors:?}"
        );
        assert!(
            errors[0].contains(&format!("can include itself: {chain};")),
            "{errors:?}"
        );
    }

    #[test]
    fn a_partial_that_includes_itself_is_refused() {
        let [body, text] = email("en", "{{> partials/contact}}");
        let contact = source(
            "partials/contact.en.hbs",
            "<p>Write to us.</p>\n{{> partials/contact}}",
        );
        assert_cycle(
            &[body, text, contact],
            "partials/contact.en.hbs:2",
            "partials/contact → partials/contact",
        );
    }

    #[test]
    fn a_cycle_through_another_partial_is_named_link_by_link() {
        let [body, text] = email("en", "{{> partials/footer}}");
        assert_cycle(
            &[
                body,
                text,
                source(
                    "partials/contact.en.hbs",
                    "Write to us.\n{{> partials/footer}}",
                ),
                source(
                    "partials/footer.en.hbs",
                    "Thanks.\n\n{{> partials/contact}}",
                ),
            ],
            "partials/footer.en.hbs:3",
            "partials/contact → partials/footer → partials/contact",
        );
    }

    #[test]
    fn an_include_in_a_branch_no_sample_takes_is_followed() {
        let [body, text] = email("en", "{{> partials/contact}}");
        let contact = source(
            "partials/contact.en.hbs",
            "Write to us.{{#if (eq customer.tier \"gold\")}}\n{{> partials/contact}}{{/if}}",
        );
        assert_cycle(
            &[body, text, contact],
            "partials/contact.en.hbs:2",
            "partials/contact → partials/contact",
        );
        // And in the else of an #unless.
        let [body, text] = email("en", "{{> partials/contact}}");
        let contact = source(
            "partials/contact.en.hbs",
            "{{#unless store.url}}x{{else}}{{> partials/contact}}{{/unless}}",
        );
        assert_cycle(
            &[body, text, contact],
            "partials/contact.en.hbs:1",
            "partials/contact → partials/contact",
        );
    }

    #[test]
    fn an_include_inside_each_is_followed() {
        let [body, text] = email("en", "{{> partials/items}}");
        let items = source(
            "partials/items.en.hbs",
            "<ul>\n{{#each order.items}}\n<li>{{name}}</li>{{> partials/items}}\n{{/each}}</ul>",
        );
        assert_cycle(
            &[body, text, items],
            "partials/items.en.hbs:3",
            "partials/items → partials/items",
        );
    }

    #[test]
    fn the_content_of_a_partial_block_is_the_callers() {
        // The content is rendered by the partial that calls the layout: it includes itself,
        // though the layout never names it.
        let [body, text] = email("en", "{{> partials/card}}");
        let card = source(
            "partials/card.en.hbs",
            "{{#> layouts/frame}}\n<p>{{> partials/card}}</p>\n{{/layouts/frame}}",
        );
        let frame = source("layouts/frame.hbs", "<div>{{> @partial-block}}</div>");
        assert_cycle(
            &[body, text, card, frame],
            "partials/card.en.hbs:2",
            "partials/card → partials/card",
        );
        // A layout is a partial like any other.
        let [body, text] = email("en", "{{#> layouts/frame}}hi{{/layouts/frame}}");
        let frame = source(
            "layouts/frame.hbs",
            "<div>{{> @partial-block}}</div>\n{{> partials/footer}}",
        );
        let footer = source(
            "partials/footer.hbs",
            "{{#> layouts/frame}}again{{/layouts/frame}}",
        );
        assert_cycle(
            &[body, text, frame, footer],
            "partials/footer.hbs:1",
            "layouts/frame → partials/footer → layouts/frame",
        );
    }

    #[test]
    fn text_partials_are_a_graph_of_their_own() {
        let sources = [
            source("k/sms.en.hbs", "{{> partials/contact.txt}}"),
            source(
                "partials/contact.en.txt.hbs",
                "Call us.\n{{> partials/contact.txt}}",
            ),
            // The HTML partial of the same name does not include itself.
            source("partials/contact.en.hbs", "<p>Call us.</p>"),
        ];
        assert_cycle(
            &sources,
            "partials/contact.en.txt.hbs:2",
            "partials/contact.txt → partials/contact.txt",
        );
    }

    #[test]
    fn each_cycle_is_reported_once_for_every_locale_that_shares_its_file() {
        let sources = [
            source("k/sms.en.hbs", "{{> partials/contact.txt}}"),
            source("k/sms.en-US.hbs", "{{> partials/contact.txt}}"),
            source("k/sms.es.hbs", "{{> partials/contact.txt}}"),
            source("k/sms.es-MX.hbs", "{{> partials/contact.txt}}"),
            source("partials/contact.en.txt.hbs", "{{> partials/contact.txt}}"),
            source(
                "partials/contact.es.txt.hbs",
                "Llámanos.\n{{> partials/contact.txt}}",
            ),
        ];
        let errors = errors_of(&sources);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("templates/partials/contact.en.txt.hbs:1:"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("templates/partials/contact.es.txt.hbs:2:"),
            "{errors:?}"
        );
    }

    #[test]
    fn partials_no_check_can_follow_are_refused() {
        let [body, text] = email("en", "{{> (lookup customer \"tier\")}}");
        let errors = errors_of(&[body, text]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("templates/k/email.en.hbs:4:")
                && errors[0].contains("`{{> (lookup customer \"tier\")}}`")
                && errors[0].contains("write the name out"),
            "{errors:?}"
        );
        let sms = source(
            "k/sms.en.hbs",
            "{{#*inline \"again\"}}{{> again}}{{/inline}}\n{{> again}}",
        );
        let errors = errors_of(&[sms]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("templates/k/sms.en.hbs:1:")
                && errors[0].contains("inline partials"),
            "{errors:?}"
        );
    }

    #[test]
    fn log_is_refused_everywhere() {
        let [body, text] = email("en", "<p>\n{{log customer.email}}</p>");
        let sms = source(
            "k/sms.en.hbs",
            "Hi{{#if x}} {{money (log order.total)}}{{/if}}",
        );
        let errors = errors_of(&[body, text, sms]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("templates/k/email.en.hbs:5:")
                && errors[0].contains("`{{log customer.email}}` would write customer data"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("templates/k/sms.en.hbs:1:")
                && errors[1].contains("`{{log order.total}}`"),
            "{errors:?}"
        );
    }

    #[test]
    fn unescaped_values_are_refused_in_html_only() {
        let [body, text] = email(
            "en",
            "{{#> layouts/frame}}<p>Hi {{{customer.first_name}}}</p>{{/layouts/frame}}",
        );
        let frame = source(
            "layouts/frame.hbs",
            "<title>{{& message.subject}}</title>\n{{> @partial-block}}{{> partials/sig}}",
        );
        let sig = source(
            "partials/sig.en.hbs",
            "&mdash;\n{{{link store.url \"Home\"}}}",
        );
        let errors = errors_of(&[body, text, frame, sig]);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].starts_with("templates/k/email.en.hbs:4:")
                && errors[0].contains(
                    "`{{{customer.first_name}}}` writes its value without HTML escaping; use `{{customer.first_name}}`"
                ),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("templates/layouts/frame.hbs:1:")
                && errors[1].contains("`{{{message.subject}}}`"),
            "{errors:?}"
        );
        // A helper's result is a value like any other.
        assert!(
            errors[2].starts_with("templates/partials/sig.en.hbs:2:")
                && errors[2].contains("`{{{link store.url \"Home\"}}}`"),
            "{errors:?}"
        );
        // Text parts, subjects, text partials and SMS are never HTML.
        let sources = [
            source(
                "k/email.en.hbs",
                "---\nsubject: {{{customer.first_name}}}\n---\n<p>{{customer.first_name}}</p>",
            ),
            source("k/email.en.txt.hbs", "Hi {{{customer.first_name}}}"),
            source(
                "k/sms.en.hbs",
                "Hi {{& customer.first_name}} {{> partials/sig.txt}}",
            ),
            source("partials/sig.en.txt.hbs", "{{{store.name}}}"),
        ];
        assert!(errors_of(&sources).is_empty(), "{:?}", errors_of(&sources));
    }

    /// A registry built by hand, with no check: `files` (name, text) wrapped as amends wraps
    /// every template.
    fn unchecked(files: &[(&str, &str)]) -> Registry {
        let mut registry = Registry::new(&|_, _| {});
        for (name, text) in files {
            let origin = Origin {
                path: PathBuf::from(name),
                line_offset: 0,
            };
            registry.add(name, Template::compile(text).unwrap(), origin, true);
        }
        registry
    }

    #[test]
    fn nesting_too_deep_is_an_error_not_a_stack_overflow() {
        // A cycle the load would refuse, rendered anyway: without the limit this test would
        // abort the test process with a stack overflow.
        let registry = unchecked(&[
            ("k/sms.en", "Hi {{> partials/a.txt}}"),
            ("partials/a.txt", "a\n{{> partials/b.txt}}"),
            ("partials/b.txt", "{{#if true}}{{> partials/a.txt}}{{/if}}"),
        ]);
        let err = registry.plain.render("k/sms.en", &json!({})).unwrap_err();
        assert_eq!(
            err.reason().to_string(),
            format!(
                "partials nested more than {NESTING_LIMIT} deep; does a partial include itself?"
            )
        );
        // The error is placed at an include of the cycle.
        assert!(matches!(err.line_no, Some(1 | 2)), "{:?}", err.line_no);
        // Every level was given back: the next render starts from the top.
        DEPTH.with(|depth| assert_eq!(depth.get(), 0));
        let fine = unchecked(&[
            ("k/sms.en", "{{> partials/a.txt}}"),
            ("partials/a.txt", "a"),
        ]);
        assert_eq!(fine.plain.render("k/sms.en", &json!({})).unwrap(), "a");
    }

    #[test]
    fn the_wrapper_keeps_the_lines_of_errors() {
        let registry = unchecked(&[
            ("k/sms.en", "Hi\n{{> partials/a.txt}}"),
            ("partials/a.txt", "a\n\n{{#if true}}{{missing}}{{/if}}"),
        ]);
        // Strict, as every registry is: the unknown name is an error on line 3 of the partial.
        let err = registry.plain.render("k/sms.en", &json!({})).unwrap_err();
        assert_eq!(err.line_no, Some(3), "{err}");
        // The checks see the template itself, not its wrapper.
        let wrapped = registry.plain.get_template("partials/a.txt").unwrap();
        assert_ne!(as_written(wrapped), wrapped);
        assert_eq!(
            as_written(wrapped),
            &Template::compile("a\n\n{{#if true}}{{missing}}{{/if}}").unwrap()
        );
    }

    #[test]
    fn the_log_helper_writes_nothing() {
        let registry = unchecked(&[(
            "k/sms.en",
            "[{{log customer.email level=\"nope\"}}{{log \"x\"}}]",
        )]);
        // The built-in `log` fails on an unknown level; the one registered writes nothing.
        let data = json!({ "customer": { "email": "ana@example.com" } });
        assert_eq!(registry.plain.render("k/sms.en", &data).unwrap(), "[]");
    }

    #[test]
    fn the_shipped_templates_nest_far_below_the_limit() {
        let templates = Templates::load(
            &crate::shipped("templates"),
            &Settings::new(&Locale::parse("en").unwrap()),
        )
        .unwrap();
        fn depth(registry: &Registry, name: &str, plain: bool) -> usize {
            let Some(template) = registry.get(name, plain) else {
                return 0;
            };
            1 + scan(template, !plain, 0)
                .includes
                .iter()
                .map(|(n, _)| depth(registry, n, plain))
                .max()
                .unwrap_or(0)
        }
        let mut deepest = 0;
        for locales in templates.variants.values() {
            for (locale, variant) in locales {
                let registry = &templates.registries[locale];
                let html = variant.text.is_some();
                deepest = deepest.max(depth(registry, &variant.body, !html));
                if let Some(text) = &variant.text {
                    deepest = deepest.max(depth(registry, text, true));
                }
            }
        }
        // Message, layout, footer; or message, offers, call.
        assert_eq!(deepest, 3);
        assert!(deepest * 4 <= NESTING_LIMIT);
    }
}
