//! Editing template texts without a deploy, shared by the command line and the console: check a
//! new text among the templates in force, publish it, and render a sample message with it.
//!
//! A text is checked exactly as `amends templates check` checks the files (syntax, unknown
//! variables in every branch, every sample rendered, SMS measured) together with every other
//! template in force, and the policy's rules must still find their templates. Only a text with
//! no error is published; what is wrong comes back as [`Diagnostic`]s with line and cause.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::policy::Policy;
use crate::store::{Publish, Store, StoreError};
use crate::templates::StoreInfo;
use crate::templates::TemplateError;
use crate::templates::check::Report;
use crate::templates::{Diagnostic, Role, Settings, Severity, Source, Templates};

/// Why an edit could not be checked, saved or published.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The name is not a template file amends reads.
    #[error("{name}: {why}")]
    NotATemplate {
        /// The name given.
        name: String,
        /// Why it is not one.
        why: String,
    },
    /// The text has errors; nothing was published.
    #[error("not published: {} template error(s)", .0.iter().filter(|d| d.severity == Severity::Error).count())]
    Rejected(Vec<Diagnostic>),
    /// Another version came into force since the one the text was based on.
    #[error(
        "{name}: version {} is in force now, not the one this text was based on ({}); reload it to see what changed, then publish again",
        show(*.current), show(*.based_on)
    )]
    Stale {
        /// The file.
        name: String,
        /// The version the editor started from (0: the shipped file).
        based_on: i32,
        /// The version in force now.
        current: i32,
    },
    /// No such version of the file.
    #[error("{name} has no version {version}")]
    NoVersion {
        /// The file.
        name: String,
        /// The version asked for.
        version: i32,
    },
    /// The shipped templates could not be read.
    #[error(transparent)]
    Templates(#[from] TemplateError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A version number as people read it: 0 is the shipped file.
fn show(version: i32) -> String {
    match version {
        0 => "the shipped file".to_owned(),
        n => n.to_string(),
    }
}

/// What a text is checked against: the configuration's templates and the policy in force.
#[derive(Clone)]
pub struct Editor {
    /// The database.
    pub store: Store,
    /// The shipped templates directory.
    pub dir: PathBuf,
    /// How templates are chosen and SMS prepared.
    pub settings: Settings,
    /// The store the messages speak for.
    pub store_info: StoreInfo,
    /// The most segments an SMS may take before a warning.
    pub max_segments: usize,
}

impl Editor {
    /// An editor for `config`'s templates in `store`.
    pub fn new(store: Store, config: &Config) -> Editor {
        Editor {
            store,
            dir: config.templates_dir.clone(),
            settings: config.template_settings(),
            store_info: config.store.clone(),
            max_segments: config.sms.max_segments,
        }
    }

    /// The template files in force with `body` in place of `name` (shown under its own name).
    pub async fn with_text(&self, name: &str, body: &str) -> Result<Vec<Source>, EditError> {
        ensure_template(name)?;
        let mut sources = in_force(&self.store, &self.dir).await?;
        let candidate = Source {
            name: name.to_owned(),
            path: PathBuf::from(name),
            text: body.to_owned(),
        };
        match sources.iter_mut().find(|s| s.name == name) {
            Some(source) => *source = candidate,
            None => sources.push(candidate),
        }
        Ok(sources)
    }

    /// Checks `sources` like `templates check`, and that `policy`'s rules find their
    /// templates; the report, and the templates when there is no error.
    pub fn check(&self, sources: &[Source], policy: &Policy) -> (Report, Option<Templates>) {
        let mut report = crate::templates::check::check(
            sources,
            &self.settings,
            &self.store_info,
            self.max_segments,
        );
        if report.errors() > 0 {
            return (report, None);
        }
        let templates = match Templates::from_sources(sources, &self.settings) {
            Ok(templates) => templates,
            Err(e) => {
                report.diagnostics.insert(0, whole_set(e.to_string()));
                return (report, None);
            }
        };
        if let Err(e) = templates.cover(policy) {
            report.diagnostics.insert(0, whole_set(e.to_string()));
            return (report, None);
        }
        (report, Some(templates))
    }

    /// [`Editor::check`] of `body` as `name` among the templates in force, off the async
    /// threads (a whole-set check takes milliseconds of CPU).
    pub async fn check_text(
        &self,
        policy: Arc<Policy>,
        name: &str,
        body: &str,
    ) -> Result<(Report, Option<Templates>), EditError> {
        let sources = self.with_text(name, body).await?;
        let editor = self.clone();
        tokio::task::spawn_blocking(move || editor.check(&sources, &policy))
            .await
            .map_err(|e| {
                EditError::Rejected(vec![whole_set(format!("the check did not finish: {e}"))])
            })
    }

    /// Checks `body` as `name` and publishes it when it has no error (from the file's draft,
    /// with `from_draft`); the new version number, or every problem found.
    pub async fn publish(
        &self,
        policy: Arc<Policy>,
        edit: Edit<'_>,
        from_draft: bool,
    ) -> Result<(i32, Vec<Diagnostic>), EditError> {
        let (report, templates) = self.check_text(policy, edit.name, edit.body).await?;
        if templates.is_none() {
            return Err(EditError::Rejected(report.diagnostics));
        }
        let published = self
            .store
            .publish_template(
                edit.name,
                edit.body,
                edit.author,
                edit.note,
                from_draft,
                edit.based_on,
            )
            .await?;
        match published {
            Publish::Published(version) => Ok((version, report.diagnostics)),
            Publish::Stale { current } => Err(EditError::Stale {
                name: edit.name.to_owned(),
                based_on: edit.based_on.unwrap_or_default(),
                current,
            }),
        }
    }

    /// Publishes the text of an earlier version again, as a new version, checked like any text;
    /// version 0 is the file shipped in the templates directory.
    pub async fn rollback(
        &self,
        policy: Arc<Policy>,
        name: &str,
        version: i32,
        author: &str,
        note: Option<&str>,
        based_on: Option<i32>,
    ) -> Result<i32, EditError> {
        ensure_template(name)?;
        let missing = || EditError::NoVersion {
            name: name.to_owned(),
            version,
        };
        let body = if version == 0 {
            crate::templates::read_sources(&self.dir)?
                .into_iter()
                .find(|s| s.name == name)
                .map(|s| s.text)
                .ok_or_else(missing)?
        } else {
            self.store
                .template_version(name, version)
                .await?
                .map(|edit| edit.body)
                .ok_or_else(missing)?
        };
        let default_note = match version {
            0 => "rollback to the shipped text".to_owned(),
            _ => format!("rollback to version {version}"),
        };
        let edit = Edit {
            name,
            body: &body,
            author,
            note: Some(note.unwrap_or(&default_note)),
            based_on,
        };
        Ok(self.publish(policy, edit, false).await?.0)
    }
}

/// One text to publish, and who publishes it why.
#[derive(Debug, Clone, Copy)]
pub struct Edit<'a> {
    /// The file, e.g. `order-delayed/email.es.hbs`.
    pub name: &'a str,
    /// Its new text.
    pub body: &'a str,
    /// Who.
    pub author: &'a str,
    /// Why.
    pub note: Option<&'a str>,
    /// The version in force when the editing began (0: the shipped file); publishing fails
    /// if another came into force since. `None`: no such check.
    pub based_on: Option<i32>,
}

/// The templates in force, built from [`in_force`].
pub async fn templates_in_force(
    store: &Store,
    dir: &Path,
    settings: &crate::templates::Settings,
) -> Result<Templates, EditError> {
    let sources = in_force(store, dir).await?;
    Ok(Templates::from_sources(&sources, settings)?)
}

/// The template files in force: the shipped ones in `dir`, each replaced by its published
/// version in the database where there is one.
pub async fn in_force(store: &Store, dir: &Path) -> Result<Vec<Source>, EditError> {
    let shipped = crate::templates::read_sources(dir)?;
    let published = store.published_templates().await?;
    Ok(crate::templates::overlay(
        shipped,
        published.into_iter().map(|p| (p.name, p.version, p.body)),
    ))
}

/// Refuses a name that is not a template file amends reads.
pub fn ensure_template(name: &str) -> Result<Role, EditError> {
    Role::parse(name).map_err(|why| EditError::NotATemplate {
        name: name.to_owned(),
        why,
    })
}

/// A problem of the whole set rather than of one line of one file.
fn whole_set(message: String) -> Diagnostic {
    Diagnostic {
        path: PathBuf::from("templates"),
        line: None,
        column: None,
        severity: Severity::Error,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_is_not_a_template_is_refused() {
        assert!(matches!(
            ensure_template("order-delayed/notes.txt"),
            Err(EditError::NotATemplate { .. })
        ));
        assert!(ensure_template("order-delayed/email.es.hbs").is_ok());
    }
}
