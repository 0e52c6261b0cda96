//! Counters shared by every guest of a run, the latency histogram, and the summary they become.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Live counters (lock-free except the histogram and the error map).
pub struct Stats {
    /// Sessions whose `configureSession` succeeded.
    pub opened: AtomicU64,
    /// Guests connected right now.
    pub active: AtomicU64,
    /// Highest `active` seen.
    pub peak_active: AtomicU64,
    /// Messages sent (`onMessage`).
    pub sent: AtomicU64,
    /// Messages the platform echoed back (accepted).
    pub echoed: AtomicU64,
    /// Outbound text messages received (agent / bot / agentless answers).
    pub received: AtomicU64,
    /// New conversations started after a read-only disconnect.
    pub restarts: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    latency_us: Mutex<Histogram<u64>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            opened: AtomicU64::new(0),
            active: AtomicU64::new(0),
            peak_active: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            echoed: AtomicU64::new(0),
            received: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            // 1 µs .. 1 h at 3 significant digits: constant, valid bounds.
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid"),
            ),
        }
    }
}

impl Stats {
    /// Adds 1 to a counter.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A guest connected.
    pub fn connected(&self) {
        Stats::bump(&self.opened);
        let now = self.active.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_active.fetch_max(now, Ordering::Relaxed);
    }

    /// A guest disconnected.
    pub fn disconnected(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts an error by its code or label (`4029`, `409`, `timeout`, `connect`, ...).
    pub fn error(&self, code: impl Into<String>) {
        *self.errors.lock().entry(code.into()).or_default() += 1;
    }

    /// Records one send→answer latency.
    pub fn latency(&self, d: Duration) {
        let us = (d.as_micros() as u64).max(1);
        let _ = self.latency_us.lock().record(us);
    }

    /// Total errors.
    pub fn error_count(&self) -> u64 {
        self.errors.lock().values().sum()
    }

    /// The summary as of now.
    pub fn summary(&self, elapsed: Duration, guests: usize) -> LoadSummary {
        let h = self.latency_us.lock();
        let ms = |q: f64| if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 / 1000.0 };
        let sent = self.sent.load(Ordering::Relaxed);
        let received = self.received.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64().max(1e-9);
        LoadSummary {
            guests,
            sessions_opened: self.opened.load(Ordering::Relaxed),
            peak_concurrent: self.peak_active.load(Ordering::Relaxed),
            messages_sent: sent,
            messages_echoed: self.echoed.load(Ordering::Relaxed),
            messages_received: received,
            restarts: self.restarts.load(Ordering::Relaxed),
            errors: self.errors.lock().clone(),
            latency_samples: h.len(),
            latency_p50_ms: ms(0.50),
            latency_p95_ms: ms(0.95),
            latency_p99_ms: ms(0.99),
            latency_max_ms: if h.is_empty() { 0.0 } else { h.max() as f64 / 1000.0 },
            sent_per_second: sent as f64 / secs,
            received_per_second: received as f64 / secs,
            elapsed_seconds: elapsed.as_secs_f64(),
            peak_rss_bytes: memory("VmHWM:"),
            rss_bytes: memory("VmRSS:"),
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Guests planned.
    pub guests: usize,
    /// Sessions opened (`configureSession` answered).
    pub sessions_opened: u64,
    /// Most guests connected at once.
    pub peak_concurrent: u64,
    /// Messages sent.
    pub messages_sent: u64,
    /// Messages echoed back (accepted by the platform).
    pub messages_echoed: u64,
    /// Outbound text messages received.
    pub messages_received: u64,
    /// New conversations after read-only disconnects.
    pub restarts: u64,
    /// Errors by code (`4029`, `409`, `4006`, ...) or label (`timeout`, `connect`, `closed`).
    pub errors: BTreeMap<String, u64>,
    /// Number of latency samples.
    pub latency_samples: u64,
    /// Send → answer (or echo) latency, median, milliseconds.
    pub latency_p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub latency_p95_ms: f64,
    /// 99th percentile, milliseconds.
    pub latency_p99_ms: f64,
    /// Maximum, milliseconds.
    pub latency_max_ms: f64,
    /// Messages sent per second over the run.
    pub sent_per_second: f64,
    /// Messages received per second over the run.
    pub received_per_second: f64,
    /// Length of the run.
    pub elapsed_seconds: f64,
    /// Peak resident memory of this process (`VmHWM`), bytes; 0 where /proc is unavailable.
    pub peak_rss_bytes: u64,
    /// Resident memory at the end (`VmRSS`), bytes.
    pub rss_bytes: u64,
}

impl LoadSummary {
    /// Text for the terminal.
    pub fn to_text(&self) -> String {
        let errors = if self.errors.is_empty() {
            "none".to_string()
        } else {
            self.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
        };
        format!(
            "guests: {} planned, {} sessions opened, {} at once at peak\n\
             messages: {} sent ({:.1}/s), {} echoed, {} answers received ({:.1}/s), {} new conversations\n\
             errors: {errors}\n\
             latency send→answer: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)\n\
             memory: peak RSS {:.1} MiB, RSS at end {:.1} MiB\n\
             elapsed: {:.1} s\n",
            self.guests,
            self.sessions_opened,
            self.peak_concurrent,
            self.messages_sent,
            self.sent_per_second,
            self.messages_echoed,
            self.messages_received,
            self.received_per_second,
            self.restarts,
            self.latency_p50_ms,
            self.latency_p95_ms,
            self.latency_p99_ms,
            self.latency_max_ms,
            self.latency_samples,
            self.peak_rss_bytes as f64 / 1048576.0,
            self.rss_bytes as f64 / 1048576.0,
            self.elapsed_seconds,
        )
    }
}

/// A `/proc/self/status` memory line (`VmHWM:`, `VmRSS:`) in bytes; 0 when unavailable.
pub fn memory(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
