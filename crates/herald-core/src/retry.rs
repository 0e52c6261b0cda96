//! Retry timing shared by every layer: one `Retry-After` parser, one backoff, and checked time arithmetic.
//!
//! Numbers in these computations come from outside (an upstream's `Retry-After`, a token's `expires_in`, a config
//! value). The standard library's conversions panic on negative, NaN or huge values (`Duration::from_secs_f64`,
//! `Instant + Duration`, `DateTime + TimeDelta`), and a panic in a delivery worker would stall its conversation.
//! Everything here clamps instead: a value out of range becomes the nearest sensible one, never a panic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// The longest wait any upstream may impose through `Retry-After` (one hour). Longer values are clamped to it:
/// a notification waiting longer than that is better served by its expiry than by trusting one header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A number of seconds from outside as a [`Duration`]: `None` for NaN or negative values, clamped to `max`.
pub fn secs_f64(secs: f64, max: Duration) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    if secs >= max.as_secs_f64() {
        return Some(max);
    }
    Duration::try_from_secs_f64(secs).ok().map(|d| d.min(max))
}

/// Parses a `Retry-After` header value: delay-seconds (integer or decimal) or an HTTP-date, relative to `now`.
///
/// Returns `None` for values that are not one of those (or negative / NaN); a date in the past is a zero wait;
/// anything longer than [`MAX_RETRY_AFTER`] is clamped to it.
pub fn parse_retry_after_at(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        // Integers of any length: digits beyond u64 are still "very long", not an error.
        return Some(v.parse::<u64>().map(Duration::from_secs).unwrap_or(MAX_RETRY_AFTER).min(MAX_RETRY_AFTER));
    }
    if let Ok(secs) = v.parse::<f64>() {
        return secs_f64(secs, MAX_RETRY_AFTER);
    }
    let date = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    let wait = (date - now).to_std().unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// [`parse_retry_after_at`] relative to the current time.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    parse_retry_after_at(value, Utc::now())
}

/// The delay before attempt `attempts + 1`, given `attempts` already made: exponential from `initial`, capped at
/// `max`, jittered within its upper half (so a retry storm spreads out and still backs off), and never shorter than
/// the upstream's `retry_after` (itself clamped to [`MAX_RETRY_AFTER`]).
pub fn backoff(attempts: u32, initial: Duration, max: Duration, retry_after: Option<Duration>) -> Duration {
    let exp = initial.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    let ceiling = exp.min(max);
    let jittered = if ceiling.is_zero() {
        ceiling
    } else {
        let half = ceiling / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    };
    match retry_after {
        Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
        None => jittered,
    }
}

/// `at + wait` without overflow: saturates at the latest representable instant.
pub fn add_to(at: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(wait).ok().and_then(|d| at.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `now + wait` for a monotonic deadline without overflow: a wait too long to represent becomes ~100 years.
pub fn instant_after(now: std::time::Instant, wait: Duration) -> std::time::Instant {
    now.checked_add(wait).or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600))).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms_and_hostile_values() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z").map(|d| d.with_timezone(&Utc));
        let now = now.unwrap_or_else(|_| Utc::now());
        assert_eq!(parse_retry_after_at("42", now), Some(Duration::from_secs(42)));
        assert_eq!(parse_retry_after_at(" 1.5 ", now), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after_at("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after_at("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        for hostile in ["-1", "NaN", "nan", "-inf", "", "soon", "1e400x"] {
            assert_eq!(parse_retry_after_at(hostile, now), None, "{hostile}");
        }
        for huge in ["1e300", "inf", "99999999999999999999999999", "18446744073709551616", "1e13"] {
            assert_eq!(parse_retry_after_at(huge, now), Some(MAX_RETRY_AFTER), "{huge}");
        }
    }

    #[test]
    fn secs_f64_never_panics() {
        let max = Duration::from_secs(10);
        assert_eq!(secs_f64(f64::NAN, max), None);
        assert_eq!(secs_f64(-0.5, max), None);
        assert_eq!(secs_f64(f64::INFINITY, max), Some(max));
        assert_eq!(secs_f64(f64::MAX, max), Some(max));
        assert_eq!(secs_f64(2.5, max), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn backoff_grows_caps_and_honours_retry_after() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(2));
        for _ in 0..100 {
            let d1 = backoff(1, i, m, None);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100), "{d1:?}");
            let d4 = backoff(4, i, m, None);
            assert!(d4 >= Duration::from_millis(400) && d4 <= Duration::from_millis(800), "{d4:?}");
            assert!(backoff(u32::MAX, i, m, None) <= m);
            assert!(backoff(1, i, m, Some(Duration::from_secs(5))) >= Duration::from_secs(5));
            assert_eq!(backoff(1, i, m, Some(Duration::MAX)), MAX_RETRY_AFTER);
        }
    }

    #[test]
    fn time_arithmetic_saturates() {
        let now = Utc::now();
        assert_eq!(add_to(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(add_to(now, Duration::from_secs(1)), now + chrono::TimeDelta::seconds(1));
        let i = std::time::Instant::now();
        assert!(instant_after(i, Duration::MAX) > i);
    }
}
