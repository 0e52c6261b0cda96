//! The virtual clock: real time plus an offset that the control API can advance.
//!
//! Every expiry (tokens, channels, guest sessions, threading window, rate windows) reads this
//! clock, so tests move time forward instead of sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// Real time shifted by an adjustable offset.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// The current virtual time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// The current virtual time in epoch milliseconds (cheap; used by the rate limiter).
    pub fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock forward by `by` (negative values are ignored).
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.offset_ms.fetch_add(ms.max(0), Ordering::Relaxed);
    }

    /// The current offset from real time.
    pub fn offset(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.offset_ms.load(Ordering::Relaxed).max(0) as u64)
    }
}

/// Formats a timestamp the way the platform does (`2024-01-01T10:00:00.000Z`). `to_rfc3339_opts` writes the
/// same text as the `%Y-%m-%dT%H:%M:%S%.3fZ` pattern without parsing a format string on every call (event
/// bodies format one time per message).
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_is_the_platform_format() {
        let t = DateTime::parse_from_rfc3339("2024-01-01T10:00:00.5+00:00").map(|t| t.with_timezone(&Utc));
        let t = t.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(iso(t), "2024-01-01T10:00:00.500Z");
        assert_eq!(iso(t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    }
}
