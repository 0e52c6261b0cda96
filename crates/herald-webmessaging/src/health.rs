//! Health of a web messaging integration: the OAuth token, the notification stream and recent deliveries.
//!
//! - `token`: whether a valid access token is cached (one is fetched on first use).
//! - `stream`: connected or reconnecting, channels, last frame and heartbeat, reconnects, skipped frames,
//!   rejected topics.
//! - `deliveries`: the outcomes of the last [`WINDOW`] deliveries by class, and the last error.
//! - `discovery`: whether the first discovery pass has finished (the adapter is ready), and the stream cache's
//!   size against its bound.
//!
//! Status: `starting` until the stream first connects; `unhealthy` when the last delivery was refused as
//! unauthorized or topics were rejected for permissions; `degraded` while the stream reconnects or when most
//! recent deliveries failed; else `healthy`.

use std::collections::{BTreeMap, VecDeque};

use herald_core::{ChannelError, ErrorClass, Health, HealthStatus};
use parking_lot::Mutex;

use crate::adapter::Inner;

/// Delivery outcomes kept for health.
pub const WINDOW: usize = 100;

/// Recent delivery outcomes (`None` = delivered).
#[derive(Debug, Default)]
pub(crate) struct DeliveryStats {
    inner: Mutex<StatsInner>,
}

#[derive(Debug, Default)]
struct StatsInner {
    recent: VecDeque<Option<ErrorClass>>,
    last_error: Option<String>,
    delivered: u64,
    failed: u64,
}

impl DeliveryStats {
    /// Records a delivery.
    pub fn record_ok(&self) {
        let mut s = self.inner.lock();
        s.delivered += 1;
        push(&mut s.recent, None);
    }

    /// Records a failed attempt.
    pub fn record_err(&self, e: &ChannelError) {
        let mut s = self.inner.lock();
        s.failed += 1;
        s.last_error = Some(e.to_string());
        push(&mut s.recent, Some(e.class()));
    }
}

fn push(q: &mut VecDeque<Option<ErrorClass>>, v: Option<ErrorClass>) {
    if q.len() == WINDOW {
        q.pop_front();
    }
    q.push_back(v);
}

/// The integration's health now.
pub(crate) fn health(inner: &Inner) -> Health {
    let mut checks = BTreeMap::new();
    let token_ok = inner.channel.client.auth().has_valid_token();
    checks.insert(
        "token".to_string(),
        if token_ok {
            "a valid access token is cached".to_string()
        } else {
            "no valid access token cached".to_string()
        },
    );
    let Some(rt) = inner.channel.runtime.get() else {
        checks.insert("stream".into(), "not started".into());
        return Health { status: HealthStatus::Starting, checks };
    };
    let h = rt.stream.get();
    let last = h.last_frame_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into());
    let mut stream = format!(
        "{} ({}/{} channels), last frame {last}, {} frames, {} reconnects, {} skipped",
        if h.connected { "connected" } else { "reconnecting" },
        h.connected_channels,
        h.channels,
        h.frames,
        h.reconnects,
        h.skipped_frames
    );
    if let Some(e) = &h.last_error {
        stream.push_str(&format!("; last error: {e}"));
    }
    if !h.rejected_topics.is_empty() {
        stream.push_str(&format!("; rejected topics: {}", h.rejected_topics.join("; ")));
    }
    checks.insert("stream".into(), stream);
    checks.insert("discovery".into(), inner.channel.discovery_summary());

    let s = inner.stats.inner.lock();
    let failures = s.recent.iter().filter(|o| o.is_some()).count();
    let mut by_class: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &s.recent {
        *by_class.entry(o.map(ErrorClass::as_str).unwrap_or("delivered")).or_default() += 1;
    }
    let summary = by_class.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    let mut deliveries = format!(
        "last {}: {}; total delivered {}, failed attempts {}",
        s.recent.len(),
        if summary.is_empty() { "none".to_string() } else { summary },
        s.delivered,
        s.failed
    );
    if let Some(e) = &s.last_error {
        deliveries.push_str(&format!("; last error: {e}"));
    }
    checks.insert("deliveries".into(), deliveries);

    let last_unauthorized = matches!(s.recent.back(), Some(Some(ErrorClass::Unauthorized)));
    let status = if last_unauthorized || !h.rejected_topics.is_empty() {
        HealthStatus::Unhealthy
    } else if h.frames == 0 && h.connected_channels == 0 && h.reconnects == 0 && h.last_error.is_none() {
        HealthStatus::Starting
    } else if !h.connected || (s.recent.len() >= 4 && failures * 2 > s.recent.len()) {
        HealthStatus::Degraded
    } else {
        HealthStatus::Healthy
    };
    Health { status, checks }
}
