//! Reloading: the running daemon picks up a changed policy file, and template texts published in
//! the database, within seconds.
//!
//! The file is polled rather than watched with inotify: polling sees every way a file can be
//! replaced (an editor's rename, a Kubernetes ConfigMap's symlink swap, a network mount) and costs
//! one small read every few seconds. A new text that fails the check is logged once with the
//! problem, and the policy in force stays; a consumer reads the current policy once per event.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::policy::Policy;
use crate::templates::Templates;

/// The policy in force, swapped atomically when the file changes.
pub type PolicyCell = Arc<ArcSwap<Policy>>;

/// The templates in force, swapped atomically when a version is published.
pub type TemplatesCell = Arc<ArcSwap<Templates>>;

/// Watches the policy file and swaps in each new version that passes the check.
pub struct PolicyReloader {
    /// The file.
    pub path: PathBuf,
    /// The policy in force.
    pub cell: PolicyCell,
    /// The templates the rules must name.
    pub templates: TemplatesCell,
    /// How often to look.
    pub interval: Duration,
    /// Counts each reload.
    pub metrics: Arc<crate::telemetry::Metrics>,
}

impl PolicyReloader {
    /// Polls until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        // The problem last reported (a read error, or the version of a rejected text), so a
        // problem is logged once, not at every interval.
        let mut reported: Option<String> = None;
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(self.interval) => {}
            }
            let text = match tokio::fs::read_to_string(&self.path).await {
                Ok(text) => text,
                Err(e) => {
                    let problem = format!("cannot read the policy: {e}");
                    if reported.as_ref() != Some(&problem) {
                        tracing::error!(path = %self.path.display(), error = %e, "cannot read the policy; keeping the one in force");
                        reported = Some(problem);
                    }
                    continue;
                }
            };
            let version = crate::policy::version_of(&text);
            if version == self.cell.load().version() || reported.as_ref() == Some(&version) {
                continue;
            }
            let checked = Policy::parse(&text).and_then(|p| {
                self.templates
                    .load()
                    .cover(&p)
                    .map(|()| p)
                    .map_err(|e| e.to_string())
            });
            match checked {
                Ok(policy) => {
                    tracing::info!(
                        path = %self.path.display(),
                        version = %crate::policy::short(policy.version()),
                        rules = policy.rules().len(),
                        "policy reloaded"
                    );
                    self.cell.store(Arc::new(policy));
                    self.metrics.policy_reloads.inc();
                    reported = None;
                }
                Err(problem) => {
                    tracing::error!(
                        path = %self.path.display(),
                        problem = %problem,
                        keeping = %crate::policy::short(self.cell.load().version()),
                        "policy rejected; the previous one stays in force"
                    );
                    reported = Some(version);
                }
            }
        }
    }
}

/// Rebuilds the templates when a version is published (PostgreSQL `LISTEN amends_templates`),
/// and every `interval` in case a notification was missed while the connection was down.
pub struct TemplateReloader {
    /// The database.
    pub store: crate::store::Store,
    /// The shipped templates directory.
    pub dir: PathBuf,
    /// How templates are chosen and SMS prepared.
    pub settings: crate::templates::Settings,
    /// The templates in force.
    pub cell: TemplatesCell,
    /// The policy, whose rules must keep their templates.
    pub policy: PolicyCell,
    /// The safety-net poll.
    pub interval: Duration,
    /// Counts each reload.
    pub metrics: Arc<crate::telemetry::Metrics>,
}

impl TemplateReloader {
    /// Listens until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        let mut listener = match self.store.listen_for_templates().await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for template changes; polling only");
                None
            }
        };
        loop {
            let notified = async {
                match listener.as_mut() {
                    // PgListener reconnects by itself; a missed notification is caught by the poll.
                    Some(l) => l.recv().await.map(|_| ()).map_err(|e| e.to_string()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = token.cancelled() => break,
                result = notified => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "template notifications interrupted");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                _ = tokio::time::sleep(self.interval) => {}
            }
            self.reload().await;
        }
    }

    /// Builds the templates from the files and the published versions; swaps them in if they
    /// differ and pass, else keeps the ones in force.
    pub async fn reload(&self) {
        match crate::editor::templates_in_force(&self.store, &self.dir, &self.settings).await {
            Ok(templates) if templates.version() == self.cell.load().version() => {}
            Ok(templates) => {
                if let Err(e) = templates.cover(&self.policy.load()) {
                    tracing::error!(problem = %e, "published templates rejected; the ones in force stay");
                    return;
                }
                tracing::info!(version = %&templates.version()[..12], "templates reloaded");
                self.cell.store(Arc::new(templates));
                self.metrics.template_reloads.inc();
            }
            // The database is away: nothing was rejected, and the next round tries again.
            Err(e @ crate::editor::EditError::Store(_)) => {
                tracing::warn!(error = %e, "cannot read the published templates; the ones in force stay")
            }
            Err(e) => {
                tracing::error!(problem = %e, "published templates rejected; the ones in force stay")
            }
        }
    }
}
