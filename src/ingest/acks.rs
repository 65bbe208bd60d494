//! Acknowledgements gathered: one `basic.ack` with `multiple` for every delivery settled below
//! the oldest one still in hand, instead of one frame per event.
//!
//! A multiple ack settles every unacknowledged delivery up to its tag, so it may only cover
//! tags whose events are done: a delivery still being recorded (or handed back with a nack)
//! stays outside it. What finished above a delivery still in hand is acknowledged one by one at
//! once, so one slow event never holds the others' acks back: unacknowledged deliveries count
//! against the prefetch, and the broker would stop sending.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use lapin::Channel;
use lapin::options::BasicAckOptions;
use tokio::sync::Notify;

use crate::broker;

/// What one flush sends.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Flush {
    /// One ack with `multiple` up to this tag, covering every done delivery at or below it.
    pub(super) up_to: Option<u64>,
    /// Done deliveries above a delivery still in hand, acknowledged one by one.
    pub(super) single: Vec<u64>,
}

/// Which deliveries are in hand and which are done but not yet acknowledged.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    in_hand: BTreeSet<u64>,
    done: BTreeSet<u64>,
}

impl Ledger {
    /// A delivery arrived; its handler has it.
    pub(super) fn received(&mut self, tag: u64) {
        self.in_hand.insert(tag);
    }

    /// Its event is recorded (or set aside): it is to be acknowledged.
    pub(super) fn done(&mut self, tag: u64) {
        if self.in_hand.remove(&tag) {
            self.done.insert(tag);
        }
    }

    /// It was settled another way (a nack already sent): nothing more to send for it.
    pub(super) fn settled(&mut self, tag: u64) {
        self.in_hand.remove(&tag);
    }

    /// What to send now, forgetting it.
    pub(super) fn flush(&mut self) -> Flush {
        let oldest_in_hand = self.in_hand.first().copied().unwrap_or(u64::MAX);
        let above = self.done.split_off(&oldest_in_hand);
        let up_to = self.done.last().copied();
        self.done = BTreeSet::new();
        Flush {
            up_to,
            single: above.into_iter().collect(),
        }
    }
}

/// The acknowledgements of one channel, sent by one task in batches.
#[derive(Debug)]
pub(super) struct Acks {
    ledger: Mutex<Ledger>,
    wake: Notify,
}

impl Acks {
    /// Acks for a channel; [`Acks::run`] sends them.
    pub(super) fn new() -> Arc<Acks> {
        Arc::new(Acks {
            ledger: Mutex::new(Ledger::default()),
            wake: Notify::new(),
        })
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // The ledger is a pair of sets; a panic elsewhere cannot leave it half-changed.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A delivery arrived; must be called before its handler starts.
    pub(super) fn received(&self, tag: u64) {
        self.ledger().received(tag);
    }

    /// The delivery's event is done: acknowledge it with the next batch.
    pub(super) fn done(&self, tag: u64) {
        self.ledger().done(tag);
        self.wake.notify_one();
    }

    /// The delivery was handed back with a nack: never acknowledge it.
    pub(super) fn settled(&self, tag: u64) {
        self.ledger().settled(tag);
        self.wake.notify_one();
    }

    /// Sends what is due each time a delivery is done, until `stop` is notified; then sends the
    /// last of them.
    pub(super) async fn run(self: Arc<Self>, channel: Channel, stop: Arc<Notify>) {
        loop {
            let stopping = tokio::select! {
                _ = self.wake.notified() => false,
                _ = stop.notified() => true,
            };
            let flush = self.ledger().flush();
            send(&channel, flush).await;
            if stopping {
                break;
            }
        }
    }
}

async fn send(channel: &Channel, flush: Flush) {
    let acks = flush
        .up_to
        .map(|tag| (tag, true))
        .into_iter()
        .chain(flush.single.into_iter().map(|tag| (tag, false)));
    for (tag, multiple) in acks {
        // Timed: on a connection that just broke, an acknowledgement can wait for ever.
        let sent = broker::timed(
            "acknowledging",
            channel.basic_ack(tag, BasicAckOptions { multiple }),
        )
        .await;
        if let Err(e) = sent {
            // The broker will redeliver; the record is idempotent, so that is safe.
            tracing::warn!(error = %e, "ack failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flushed(up_to: Option<u64>, single: &[u64]) -> Flush {
        Flush {
            up_to,
            single: single.to_vec(),
        }
    }

    #[test]
    fn done_deliveries_below_every_one_in_hand_go_in_one_multiple_ack() {
        let mut ledger = Ledger::default();
        for tag in 1..=5 {
            ledger.received(tag);
        }
        ledger.done(2);
        ledger.done(1);
        ledger.done(3);
        assert_eq!(ledger.flush(), flushed(Some(3), &[]));
        // Nothing twice.
        assert_eq!(ledger.flush(), Flush::default());
    }

    #[test]
    fn a_delivery_in_hand_is_never_covered_and_holds_no_one_back() {
        let mut ledger = Ledger::default();
        for tag in 1..=6 {
            ledger.received(tag);
        }
        ledger.done(1);
        ledger.done(4);
        ledger.done(5);
        // 2 and 3 are still being recorded: 4 and 5 go one by one, now.
        assert_eq!(ledger.flush(), flushed(Some(1), &[4, 5]));
        ledger.done(2);
        ledger.done(3);
        assert_eq!(ledger.flush(), flushed(Some(3), &[]));
    }

    #[test]
    fn a_delivery_handed_back_is_never_acknowledged() {
        let mut ledger = Ledger::default();
        for tag in 1..=3 {
            ledger.received(tag);
        }
        ledger.settled(2);
        ledger.done(1);
        ledger.done(3);
        // The multiple ack may cover 2: it was nacked first, so the broker no longer counts it
        // as unacknowledged. What matters is that 2 is never acked on its own.
        assert_eq!(ledger.flush(), flushed(Some(3), &[]));
        ledger.done(2);
        assert_eq!(ledger.flush(), Flush::default());
    }
}
