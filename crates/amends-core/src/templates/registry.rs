//! The registries templates are compiled into: per locale, one that escapes HTML and one that
//! does not, each remembering which file (and line) every template came from.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use handlebars::Handlebars;
use handlebars::template::Template;

use super::safety;

/// Registered names of one template × channel × locale.
#[derive(Debug, Clone)]
pub(super) struct Variant {
    /// Name of the body (HTML for email, text for SMS).
    pub(super) body: String,
    /// Name of the email text part.
    pub(super) text: Option<String>,
    /// Names of the front-matter fields, rendered as text.
    pub(super) subject: Option<String>,
    pub(super) preheader: Option<String>,
}

/// Where a registered template came from: its file, and how many lines precede it there
/// (a subject sits on a front-matter line, so its line 1 is that line of the file).
#[derive(Debug, Clone)]
pub(super) struct Origin {
    pub(super) path: PathBuf,
    pub(super) line_offset: usize,
}

/// The templates of one locale: HTML (escaped) and text (not escaped) registries.
pub(super) struct Registry {
    pub(super) html: Handlebars<'static>,
    pub(super) plain: Handlebars<'static>,
    /// Registered name → its file.
    pub(super) origins: HashMap<String, Origin>,
    /// Names taken out because they can include themselves or include what cannot be
    /// followed ([`safety::guard`]); what includes them is not rendered by the check.
    pub(super) refused: BTreeSet<String>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("templates", &self.origins.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub(super) fn new(register_helpers: &dyn Fn(&mut Handlebars<'static>, bool)) -> Registry {
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
    pub(super) fn add(&mut self, name: &str, template: Template, origin: Origin, plain: bool) {
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
    pub(super) fn get(&self, name: &str, plain: bool) -> Option<&Template> {
        let template = if plain {
            self.plain.get_template(name)
        } else {
            self.html.get_template(name)
        };
        template.map(safety::as_written)
    }

    /// Every name registered in the HTML or text registry, sorted.
    pub(super) fn names(&self, plain: bool) -> Vec<String> {
        let registry = if plain { &self.plain } else { &self.html };
        let mut names: Vec<String> = registry.get_templates().keys().cloned().collect();
        names.sort();
        names
    }

    /// Takes `name` out of the HTML or text registry, remembering that it was refused.
    pub(super) fn refuse(&mut self, name: &str, plain: bool) {
        if plain {
            self.plain.unregister_template(name);
        } else {
            self.html.unregister_template(name);
        }
        self.refused.insert(name.to_owned());
    }
}
