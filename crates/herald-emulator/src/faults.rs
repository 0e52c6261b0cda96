//! Fault injection: 429 bursts, 5xx answers and added latency for the next N API requests.
//!
//! Each fault is a countdown; the middleware consumes one unit per `/api/v2` request. When no
//! fault is armed the check is three relaxed atomic loads.

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

/// Armed faults.
#[derive(Debug, Default)]
pub struct Faults {
    burst_429: AtomicU32,
    retry_after: AtomicU64,
    errors: AtomicU32,
    error_status: AtomicU16,
    latency_requests: AtomicU32,
    latency_ms: AtomicU64,
}

/// What the middleware must do for one request.
#[derive(Debug, Default, Clone, Copy)]
pub struct FaultDecision {
    /// Answer 429 with this `Retry-After`.
    pub too_many: Option<u64>,
    /// Answer this 5xx status.
    pub error_status: Option<u16>,
    /// Sleep this long first.
    pub latency_ms: Option<u64>,
}

fn take(counter: &AtomicU32) -> bool {
    counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
}

impl Faults {
    /// The next `n` requests answer 429 with `Retry-After: retry_after`.
    pub fn arm_429(&self, n: u32, retry_after: u64) {
        self.retry_after.store(retry_after.max(1), Ordering::Relaxed);
        self.burst_429.store(n, Ordering::Relaxed);
    }

    /// The next `n` requests answer `status` (a 5xx).
    pub fn arm_errors(&self, n: u32, status: u16) {
        self.error_status.store(status, Ordering::Relaxed);
        self.errors.store(n, Ordering::Relaxed);
    }

    /// The next `n` requests are delayed by `ms`.
    pub fn arm_latency(&self, n: u32, ms: u64) {
        self.latency_ms.store(ms, Ordering::Relaxed);
        self.latency_requests.store(n, Ordering::Relaxed);
    }

    /// Disarms everything.
    pub fn clear(&self) {
        self.burst_429.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        self.latency_requests.store(0, Ordering::Relaxed);
    }

    /// Consumes the faults that apply to one request.
    pub fn next(&self) -> FaultDecision {
        let mut d = FaultDecision::default();
        if take(&self.latency_requests) {
            d.latency_ms = Some(self.latency_ms.load(Ordering::Relaxed));
        }
        if take(&self.burst_429) {
            d.too_many = Some(self.retry_after.load(Ordering::Relaxed));
        } else if take(&self.errors) {
            d.error_status = Some(self.error_status.load(Ordering::Relaxed));
        }
        d
    }
}
