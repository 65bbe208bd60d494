//! The dispatcher's claims while it works on them: which messages it holds, the mark that a
//! message's request is about to leave, and the heartbeat that keeps its leases alive.
//!
//! A claim is a lease in the database. Without a heartbeat a slow provider, a long wait for the
//! rate limiter or a database blip while recording could outlast the lease, and the reaper would
//! take back a message that is still being handled. With it, a lease only runs out when its
//! dispatcher is gone. The mark (`send_started_at`) is what lets the reaper tell a message whose
//! request never left (simply due again) from one in doubt.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::Store;

/// The messages one dispatcher holds, from their claim until their outcome is recorded.
#[derive(Debug, Clone, Default)]
pub(super) struct Held(Arc<Mutex<HashSet<Uuid>>>);

impl Held {
    /// Adds claimed messages.
    pub(super) fn add(&self, ids: impl IntoIterator<Item = Uuid>) {
        self.lock().extend(ids);
    }

    /// Removes messages whose outcome is recorded (or whose claim was lost).
    pub(super) fn remove(&self, ids: impl IntoIterator<Item = Uuid>) {
        let mut held = self.lock();
        for id in ids {
            held.remove(&id);
        }
    }

    /// The messages held now.
    pub(super) fn ids(&self) -> Vec<Uuid> {
        self.lock().iter().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Uuid>> {
        // The set stays consistent whatever a panicking holder did: plain inserts and removes.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What became of a request to mark a message as having its request on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mark {
    /// Marked: the request may leave.
    Held,
    /// The claim was taken back meanwhile: this dispatcher must not send it.
    Lost,
    /// The database could not be reached: nothing may be sent before it is marked.
    Failed(String),
}

struct MarkRequest {
    id: Uuid,
    reply: oneshot::Sender<Mark>,
}

/// Marks messages as started, many in one statement: every sender waits for its mark, and one
/// commit serves all those that asked meanwhile.
#[derive(Debug, Clone)]
pub(super) struct Marker {
    requests: mpsc::Sender<MarkRequest>,
}

/// Largest number of marks written in one statement.
const MARK_BATCH: usize = 256;

impl Marker {
    /// A marker for `instance`'s claims, and the task that writes its marks (it ends when every
    /// clone of the marker is dropped).
    pub(super) fn start(store: Store, instance: String) -> (Marker, tokio::task::JoinHandle<()>) {
        let (requests, mut pending) = mpsc::channel::<MarkRequest>(MARK_BATCH);
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MARK_BATCH);
            while pending.recv_many(&mut batch, MARK_BATCH).await > 0 {
                let ids: Vec<Uuid> = batch.iter().map(|r| r.id).collect();
                let result = store.mark_started(&instance, &ids).await;
                let marked: HashSet<Uuid> = match &result {
                    Ok(ids) => ids.iter().copied().collect(),
                    Err(_) => HashSet::new(),
                };
                for request in batch.drain(..) {
                    let mark = match &result {
                        Ok(_) if marked.contains(&request.id) => Mark::Held,
                        Ok(_) => Mark::Lost,
                        Err(e) => Mark::Failed(e.to_string()),
                    };
                    // A sender that gave up waiting has nothing left to tell.
                    let _ = request.reply.send(mark);
                }
            }
        });
        (Marker { requests }, task)
    }

    /// Marks `id` as having its request on the way; waits for the commit.
    pub(super) async fn mark(&self, id: Uuid) -> Mark {
        let (reply, answer) = oneshot::channel();
        if self.requests.send(MarkRequest { id, reply }).await.is_err() {
            return Mark::Failed("the marker stopped".to_owned());
        }
        answer
            .await
            .unwrap_or_else(|_| Mark::Failed("the marker stopped".to_owned()))
    }
}

/// Extends the leases of every held message every third of the lease, until `token` is
/// cancelled. A claim found lost is logged: its result will be fenced out when recorded.
pub(super) async fn heartbeat(
    store: Store,
    instance: String,
    held: Held,
    lease: Duration,
    token: CancellationToken,
) {
    let every = lease / 3;
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
        let ids = held.ids();
        if ids.is_empty() {
            continue;
        }
        match store.extend_leases(&instance, &ids, lease).await {
            Ok(kept) if kept.len() < ids.len() => {
                let kept: HashSet<Uuid> = kept.into_iter().collect();
                // One recorded meanwhile is no longer claimed, and no longer held: not lost.
                let still_held: HashSet<Uuid> = held.ids().into_iter().collect();
                let lost = ids
                    .iter()
                    .filter(|id| !kept.contains(id) && still_held.contains(id));
                for lost in lost {
                    tracing::warn!(outbox_id = %lost, "lease lost while the message was being handled");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, held = ids.len(), "extending leases failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_messages_come_and_go() {
        let held = Held::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        held.add([a, b]);
        let mut ids = held.ids();
        ids.sort();
        let mut both = vec![a, b];
        both.sort();
        assert_eq!(ids, both);
        held.remove([a]);
        assert_eq!(held.ids(), vec![b]);
    }
}
