//! Retry delays: the configured schedule, ±20 % jitter, and a provider's `Retry-After` honoured
//! within bounds.

use std::time::Duration;

use rand::Rng;

/// The delay before retry number `retry` (1-based), or `None` when the schedule is exhausted.
///
/// `retry_after` from the provider is honoured but clamped to [base, 2 × base] so a provider can
/// neither make us hammer it nor park a message for a day.
pub fn delay(
    schedule: &[Duration],
    retry: usize,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Option<Duration> {
    let base = *schedule.get(retry.checked_sub(1)?)?;
    if let Some(asked) = retry_after {
        return Some(asked.clamp(base, base * 2));
    }
    let jitter = rng.random_range(0.8..=1.2);
    Some(base.mul_f64(jitter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn schedule() -> Vec<Duration> {
        vec![Duration::from_secs(1), Duration::from_secs(10)]
    }

    #[test]
    fn follows_the_schedule_with_bounded_jitter() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..100 {
            let first = delay(&schedule(), 1, None, &mut rng).unwrap();
            assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
            let second = delay(&schedule(), 2, None, &mut rng).unwrap();
            assert!(second >= Duration::from_secs(8) && second <= Duration::from_secs(12));
        }
    }

    #[test]
    fn stops_when_the_schedule_is_exhausted() {
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(delay(&schedule(), 3, None, &mut rng), None);
        assert_eq!(delay(&schedule(), 0, None, &mut rng), None);
        assert_eq!(delay(&[], 1, None, &mut rng), None);
    }

    #[test]
    fn retry_after_is_clamped() {
        let mut rng = StdRng::seed_from_u64(7);
        let s = schedule();
        assert_eq!(
            delay(&s, 1, Some(Duration::from_millis(1)), &mut rng),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            delay(&s, 1, Some(Duration::from_secs(3600)), &mut rng),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            delay(&s, 2, Some(Duration::from_secs(15)), &mut rng),
            Some(Duration::from_secs(15))
        );
    }
}
