//! Retry delays: exponential with full jitter, capped, and never shorter than the upstream's `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// The delay before attempt `attempts + 1`, given `attempts` already made.
pub fn delay(attempts: u32, initial: Duration, max: Duration, retry_after: Option<Duration>) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    let ceiling = exp.min(max);
    let jittered = if ceiling.is_zero() {
        ceiling
    } else {
        // Full jitter, but never below half the ceiling so a retry storm still spreads out and backs off.
        let half = ceiling / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    };
    match retry_after {
        Some(ra) => jittered.max(ra),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_honours_retry_after() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(2));
        for _ in 0..100 {
            let d1 = delay(1, i, m, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100), "{d1:?}");
            let d4 = delay(4, i, m, None);
            assert!(d4 >= Duration::from_millis(400) && d4 <= Duration::from_millis(800), "{d4:?}");
            assert!(delay(30, i, m, None) <= m);
            assert!(delay(1, i, m, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
        }
    }
}
