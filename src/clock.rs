//! The daemon's notion of "now": what decisions are made at, what due times are set from and
//! compared with, and when a customer's quiet hours or calling hours are. Real time by default;
//! tests set it ([`ManualTime`]), so quiet hours are crossed without waiting for them.
//!
//! Only due times go by this clock. Leases, the time a send may take and the audit timestamps
//! the database writes (`created_at`, `sent_at`) measure elapsed time, and stay on the
//! database's own clock; replicas' clocks should agree as any servers' do (NTP), since a
//! replica whose clock runs ahead sends a due message that much early.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Utc};

/// Where "now" comes from.
pub trait TimeSource: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTime;

impl TimeSource for SystemTime {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A time set by hand, for tests: it runs at the pace of real time from where it was last set,
/// so what is measured in real time (a retry's few milliseconds, a lease) passes as usual, and a
/// test jumps it across a customer's night.
#[derive(Debug, Clone)]
pub struct ManualTime(Arc<Mutex<(DateTime<Utc>, Instant)>>);

impl ManualTime {
    /// A time reading `at` now.
    pub fn new(at: DateTime<Utc>) -> ManualTime {
        ManualTime(Arc::new(Mutex::new((at, Instant::now()))))
    }

    /// Makes it read `at` now (forward or back), for every clock made from it.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = (at, Instant::now());
    }
}

impl TimeSource for ManualTime {
    fn now(&self) -> DateTime<Utc> {
        let (at, since) = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        chrono::Duration::from_std(since.elapsed())
            .ok()
            .and_then(|elapsed| at.checked_add_signed(elapsed))
            .unwrap_or(at)
    }
}

/// The clock every part of the daemon reads, cheap to clone.
#[derive(Clone)]
pub struct Clock(Arc<dyn TimeSource>);

impl Clock {
    /// Real time.
    pub fn system() -> Clock {
        Clock(Arc::new(SystemTime))
    }

    /// A clock reading `source`.
    pub fn new(source: impl TimeSource + 'static) -> Clock {
        Clock(Arc::new(source))
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_reads_what_it_was_set_to_and_every_copy_sees_it() {
        let start: DateTime<Utc> = "2026-11-24T02:10:00Z".parse().unwrap();
        let time = ManualTime::new(start);
        let clock = Clock::new(time.clone());
        let copy = clock.clone();
        let first = clock.now();
        assert!(first >= start && first - start < chrono::Duration::minutes(1));
        // It runs on from there.
        assert!(clock.now() >= first);
        let later: DateTime<Utc> = "2026-11-24T07:01:00Z".parse().unwrap();
        time.set(later);
        let now = copy.now();
        assert!(now >= later && now - later < chrono::Duration::minutes(1));
        // Back again.
        time.set(start);
        assert!(clock.now() < later);
        // Real time moves on its own.
        assert!(Clock::system().now() > start);
    }
}
