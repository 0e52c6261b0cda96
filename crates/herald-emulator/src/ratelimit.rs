//! The per-token request budget: a fixed 60-second window per token, lock-free.
//!
//! The window starts with the first request after the previous window ended (so a token that
//! idles never pays for a stale window). Time comes from the virtual clock, so advancing the
//! clock by a minute resets every budget.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

/// Window length.
pub const WINDOW_MS: i64 = 60_000;

/// The rate window of one token.
#[derive(Debug)]
pub struct RateWindow {
    start_ms: AtomicI64,
    count: AtomicU32,
    limit: u32,
}

impl RateWindow {
    /// A window allowing `limit` requests per minute.
    pub fn new(limit: u32) -> Self {
        Self { start_ms: AtomicI64::new(i64::MIN / 2), count: AtomicU32::new(0), limit }
    }

    /// Counts one request at `now_ms`; `Err(retry_after_seconds)` when over budget.
    pub fn check(&self, now_ms: i64) -> Result<(), u64> {
        let start = self.start_ms.load(Ordering::Acquire);
        let start = if now_ms - start >= WINDOW_MS {
            match self.start_ms.compare_exchange(start, now_ms, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.count.store(0, Ordering::Release);
                    now_ms
                }
                Err(current) => current,
            }
        } else {
            start
        };
        let n = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if n <= self.limit {
            Ok(())
        } else {
            self.count.fetch_sub(1, Ordering::AcqRel);
            let remaining_ms = (start + WINDOW_MS - now_ms).max(0);
            Err(((remaining_ms + 999) / 1000).max(1) as u64)
        }
    }

    /// Requests left in the current window.
    pub fn remaining(&self, now_ms: i64) -> u32 {
        if now_ms - self.start_ms.load(Ordering::Acquire) >= WINDOW_MS {
            self.limit
        } else {
            self.limit.saturating_sub(self.count.load(Ordering::Acquire))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_and_retry_after() {
        let w = RateWindow::new(2);
        assert!(w.check(1_000).is_ok());
        assert!(w.check(2_000).is_ok());
        assert_eq!(w.check(31_000), Err(30));
        assert!(w.check(61_000).is_ok());
    }
}
