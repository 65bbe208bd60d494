//! What the daemon knows of its own health, from the work it already does: whether each worker
//! task is alive, whether the consumer is consuming, and whether the database answered lately.
//!
//! `/healthz` and `/readyz` read this instead of probing anything themselves, so a flood of
//! probes costs nothing but a lock, and a task that died is seen at once rather than at shutdown.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::telemetry::Metrics;

/// How long a database observation counts for readiness: the dispatcher touches the database
/// several times a second, so an older one means it is stuck or gone.
const DATABASE_FRESH: Duration = Duration::from_secs(15);

/// The state of one worker task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Running.
    Running,
    /// Ended because the daemon is stopping.
    Stopped,
    /// Ended on its own (a panic, or a return it should never make): the daemon is unhealthy.
    Died(String),
}

/// The daemon's own view of its health, shared by its tasks and the HTTP probes.
#[derive(Debug)]
pub struct Health {
    tasks: Mutex<BTreeMap<&'static str, TaskState>>,
    consuming: AtomicBool,
    database: Mutex<Option<(Instant, bool)>>,
    metrics: Arc<Metrics>,
}

/// What `/readyz` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// The consumer's topology is declared and it is consuming.
    pub consuming: bool,
    /// The database answered the last time it was used, recently.
    pub database: bool,
}

impl Readiness {
    /// Ready to take events.
    pub fn ready(&self) -> bool {
        self.consuming && self.database
    }
}

impl Health {
    /// Nothing running yet, not consuming, the database not yet seen.
    pub fn new(metrics: Arc<Metrics>) -> Arc<Health> {
        Arc::new(Health {
            tasks: Mutex::default(),
            consuming: AtomicBool::new(false),
            database: Mutex::default(),
            metrics,
        })
    }

    /// Runs `task` as the worker `name`: a panic or an early end marks it dead (and is logged
    /// and counted); an end after `token` was cancelled is a clean stop.
    pub fn spawn(
        self: &Arc<Self>,
        name: &'static str,
        token: CancellationToken,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        self.set(name, TaskState::Running);
        let health = self.clone();
        tokio::spawn(async move {
            let state = match contain(task).await {
                Err(why) => {
                    health.metrics.panic(name);
                    tracing::error!(task = name, panic = %why, "a worker task panicked");
                    TaskState::Died(format!("panicked: {why}"))
                }
                Ok(()) if token.is_cancelled() => TaskState::Stopped,
                Ok(()) => {
                    tracing::error!(task = name, "a worker task stopped on its own");
                    TaskState::Died("stopped on its own".to_owned())
                }
            };
            health.set(name, state);
        })
    }

    fn set(&self, name: &'static str, state: TaskState) {
        self.metrics.task_up(name, state == TaskState::Running);
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, state);
    }

    /// Every worker task and its state.
    pub fn tasks(&self) -> BTreeMap<&'static str, TaskState> {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The tasks that died, with why; empty when healthy.
    pub fn dead(&self) -> Vec<(&'static str, String)> {
        self.tasks()
            .into_iter()
            .filter_map(|(name, state)| match state {
                TaskState::Died(why) => Some((name, why)),
                _ => None,
            })
            .collect()
    }

    /// The consumer started (true) or stopped (false) consuming.
    pub fn set_consuming(&self, consuming: bool) {
        self.consuming.store(consuming, Ordering::Relaxed);
    }

    /// The database answered (true) or could not be reached (false) just now.
    pub fn database(&self, answered: bool) {
        *self.database.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), answered));
    }

    /// What readiness looks like now.
    pub fn readiness(&self) -> Readiness {
        let database = self
            .database
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|(at, ok)| ok && at.elapsed() < DATABASE_FRESH);
        Readiness {
            consuming: self.consuming.load(Ordering::Relaxed),
            database,
        }
    }
}

/// Runs `work`; a panic inside it becomes `Err` with the panic's message instead of unwinding
/// further, so it is the failure of that one piece of work (an event, a send, a task).
pub async fn contain<T>(work: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|panic| panic_message(panic.as_ref()))
}

/// The message a panic carried, as text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_dead_and_a_cancelled_one_stopped() {
        let health = Health::new(Metrics::new());
        let token = CancellationToken::new();
        let boom = health.spawn("consumer", token.clone(), async {
            panic!("poisoned");
        });
        let _ = boom.await;
        assert_eq!(
            health.dead(),
            vec![("consumer", "panicked: poisoned".to_owned())]
        );

        let quiet = health.spawn("dispatcher", token.clone(), {
            let token = token.clone();
            async move { token.cancelled().await }
        });
        assert_eq!(health.tasks()["dispatcher"], TaskState::Running);
        token.cancel();
        let _ = quiet.await;
        assert_eq!(health.tasks()["dispatcher"], TaskState::Stopped);

        let early = health.spawn("announcer", CancellationToken::new(), async {});
        let _ = early.await;
        assert_eq!(
            health.tasks()["announcer"],
            TaskState::Died("stopped on its own".to_owned())
        );
    }

    #[tokio::test]
    async fn a_panic_is_contained_with_its_message() {
        assert_eq!(contain(async { 7 }).await, Ok(7));
        let amount = rust_decimal::Decimal::MAX;
        let overflow = contain(async move { amount * rust_decimal::Decimal::TWO }).await;
        assert_eq!(overflow, Err("Multiplication overflowed".to_owned()));
        let formatted = contain(async { panic!("event {} is poison", 42) }).await;
        assert_eq!(formatted, Err::<(), _>("event 42 is poison".to_owned()));
    }

    #[test]
    fn ready_only_when_consuming_and_the_database_answered() {
        let health = Health::new(Metrics::new());
        assert!(!health.readiness().ready());
        health.set_consuming(true);
        assert!(!health.readiness().ready(), "the database not yet seen");
        health.database(true);
        assert!(health.readiness().ready());
        health.database(false);
        assert!(!health.readiness().ready());
        health.database(true);
        health.set_consuming(false);
        assert!(!health.readiness().ready());
    }
}
