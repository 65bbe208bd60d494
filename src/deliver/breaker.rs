//! A circuit breaker per provider: after repeated transient failures the provider is skipped
//! for a cooling-off period, so messages go to the next provider instead of queueing behind an
//! outage; after it, one send is let through to probe, and a success closes it again.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::SendError;

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive transient failures that open it.
    pub threshold: u32,
    /// How long it stays open.
    pub cool_off: Duration,
}

/// One provider's breaker, shared by every sender of a replica.
#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Breaker {
        Breaker {
            settings,
            state: Mutex::default(),
        }
    }

    /// `None` when the provider may be used at `now`; else how long it stays open.
    pub fn open_for(&self, now: Instant) -> Option<Duration> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .open_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Counts one send's outcome; true when this outcome opened the breaker.
    pub fn record(&self, result: &Result<String, SendError>, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(_) => {
                *state = State::default();
                false
            }
            // The provider is down or slow, or will not work for us: count it against the
            // provider. A permanent failure is the message's own, and says nothing of it.
            Err(SendError::Retryable { .. } | SendError::Unknown { .. }) => {
                state.failures += 1;
                if state.failures >= self.settings.threshold {
                    // Half-open after the cool-off: one more failure opens it again at once.
                    state.failures = self.settings.threshold.saturating_sub(1);
                    state.open_until = Some(now + self.settings.cool_off);
                    return true;
                }
                false
            }
            Err(SendError::ProviderRejected { .. }) => {
                state.failures = self.settings.threshold.saturating_sub(1);
                state.open_until = Some(now + self.settings.cool_off);
                true
            }
            Err(SendError::Permanent { .. }) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            threshold: 3,
            cool_off: Duration::from_secs(30),
        })
    }

    fn transient() -> Result<String, SendError> {
        Err(SendError::Retryable {
            message: "503".into(),
            retry_after: None,
        })
    }

    #[test]
    fn opens_after_the_threshold_and_closes_after_a_success() {
        let b = breaker();
        let t0 = Instant::now();
        assert!(!b.record(&transient(), t0));
        assert!(!b.record(&transient(), t0));
        assert_eq!(b.open_for(t0), None);
        assert!(b.record(&transient(), t0), "the third failure opens it");
        assert_eq!(b.open_for(t0), Some(Duration::from_secs(30)));
        assert_eq!(
            b.open_for(t0 + Duration::from_secs(10)),
            Some(Duration::from_secs(20))
        );
        // Cooled off: half open, one probe allowed; one more failure opens it again.
        let later = t0 + Duration::from_secs(30);
        assert_eq!(b.open_for(later), None);
        assert!(b.record(&transient(), later));
        assert!(b.open_for(later).is_some());
        // A success closes it and resets the count.
        let much_later = later + Duration::from_secs(31);
        assert!(!b.record(&Ok("id".into()), much_later));
        assert!(!b.record(&transient(), much_later));
        assert_eq!(b.open_for(much_later), None);
    }

    #[test]
    fn a_permanent_failure_is_the_messages_and_a_refusal_opens_at_once() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..10 {
            b.record(
                &Err(SendError::Permanent {
                    message: "invalid number".into(),
                }),
                t0,
            );
        }
        assert_eq!(b.open_for(t0), None);
        assert!(b.record(
            &Err(SendError::ProviderRejected {
                message: "401".into()
            }),
            t0
        ));
        assert!(b.open_for(t0).is_some());
    }
}
