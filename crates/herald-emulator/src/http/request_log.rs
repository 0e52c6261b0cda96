//! The optional request log, readable through the control API.

use parking_lot::Mutex;
use serde::Serialize;
use std::collections::VecDeque;

use crate::clock::{iso, Clock};

/// One logged API request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLogEntry {
    /// Virtual time of the answer.
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Answered status.
    pub status: u16,
    /// `ININ-Correlation-Id`.
    pub correlation_id: String,
    /// Request body (UTF-8, lossy).
    pub body: String,
}

/// A bounded, in-memory request log.
#[derive(Debug)]
pub struct RequestLog {
    enabled: bool,
    capacity: usize,
    entries: Mutex<VecDeque<RequestLogEntry>>,
}

impl RequestLog {
    /// A log that records when `enabled`, keeping at most `capacity` entries.
    pub fn new(enabled: bool, capacity: usize) -> Self {
        Self { enabled, capacity: capacity.max(1), entries: Mutex::new(VecDeque::new()) }
    }

    /// Whether requests are recorded.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records one request.
    pub fn push(&self, clock: &Clock, method: String, path: String, status: u16, correlation_id: String, body: String) {
        let mut e = self.entries.lock();
        if e.len() >= self.capacity {
            e.pop_front();
        }
        e.push_back(RequestLogEntry { time: iso(clock.now()), method, path, status, correlation_id, body });
    }

    /// A copy of the log, oldest first.
    pub fn snapshot(&self) -> Vec<RequestLogEntry> {
        self.entries.lock().iter().cloned().collect()
    }

    /// Empties the log.
    pub fn clear(&self) {
        self.entries.lock().clear();
    }
}
