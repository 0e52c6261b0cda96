//! Fault injection on the platform API (`/api/v2`).
//!
//! Two kinds of faults, applied by the middleware in [`crate::http::faults`]:
//!
//! - **Count-based** faults (`arm_429`, `arm_errors`, `arm_latency`): a countdown per kind for the next N requests
//!   of any path; arming one again replaces its countdown. When none is armed the check is three relaxed loads.
//! - **Staged** faults ([`FaultSpec`], [`Faults::stage`]): a list of rules, each scoped to a method and a path
//!   pattern ([`FaultScope`]) and limited by a count, a duration, both or neither (until removed). They add what
//!   count-based faults cannot express: latency *after* the request took effect, a connection dropped after the
//!   request took effect, and 429 storms of a given length.
//!
//! One request takes at most one effect of each phase — a delay before the handler, an answer instead of the
//! handler (429 or 5xx), an effect after the handler (delayed answer or dropped connection) — from the count-based
//! faults first, then from the staged rules in the order they were staged. A rule only counts (and uses up one of
//! its `count`) when it affects a request; after-effects do not apply to a request answered by a fault.

pub mod scope;

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::time::Instant;

pub use scope::FaultScope;

/// What a staged fault does to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum FaultKind {
    /// Wait `ms` before the handler runs: the request has not taken effect while the client waits.
    LatencyBefore {
        /// The delay.
        ms: u64,
        /// Whether the request still takes effect after the delay when the client has given up meanwhile (closed
        /// the connection), like a request stuck behind a slow gateway; otherwise it is dropped with the connection.
        apply_when_abandoned: bool,
    },
    /// Run the handler (the request takes effect, e.g. the message is stored), then wait `ms` before answering.
    LatencyAfter {
        /// The delay.
        ms: u64,
    },
    /// Run the handler (the request takes effect), then reset the connection without any HTTP answer.
    DropAfter,
    /// Answer 429 with `Retry-After: retry_after` instead of running the handler.
    TooManyRequests {
        /// Seconds announced in `Retry-After` (at least 1).
        retry_after: u64,
    },
    /// Answer this 5xx status instead of running the handler.
    Error {
        /// The status (500–599).
        status: u16,
    },
}

/// A fault to stage: what it does, to which requests, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpec {
    /// The effect.
    pub kind: FaultKind,
    /// The requests it applies to.
    pub scope: FaultScope,
    /// How many requests it affects at most (`None`: no limit).
    pub count: Option<u32>,
    /// How long it stays armed from the moment it is staged (`None`: until removed or used up).
    pub duration: Option<Duration>,
}

impl FaultSpec {
    fn new(kind: FaultKind) -> Self {
        FaultSpec { kind, scope: FaultScope::any(), count: None, duration: None }
    }

    /// Delay before the handler runs (a client that gives up meanwhile takes the request with it).
    pub fn latency_before(ms: u64) -> Self {
        Self::new(FaultKind::LatencyBefore { ms, apply_when_abandoned: false })
    }

    /// Delay before the handler runs; the request takes effect after the delay even if the client gave up.
    pub fn held_then_applied(ms: u64) -> Self {
        Self::new(FaultKind::LatencyBefore { ms, apply_when_abandoned: true })
    }

    /// Delay the answer after the handler ran (the request took effect).
    pub fn latency_after(ms: u64) -> Self {
        Self::new(FaultKind::LatencyAfter { ms })
    }

    /// Drop the connection after the handler ran (the request took effect, the client gets no answer).
    pub fn drop_after() -> Self {
        Self::new(FaultKind::DropAfter)
    }

    /// Answer 429 with this `Retry-After` (seconds).
    pub fn too_many_requests(retry_after: u64) -> Self {
        Self::new(FaultKind::TooManyRequests { retry_after: retry_after.max(1) })
    }

    /// Answer this 5xx status.
    pub fn error(status: u16) -> Self {
        Self::new(FaultKind::Error { status })
    }

    /// Only requests with `method` whose path matches `pattern` (see [`FaultScope`]).
    pub fn only(mut self, method: &str, pattern: &str) -> Self {
        self.scope = FaultScope::only(method, pattern);
        self
    }

    /// At most `n` requests.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    /// Armed for `d` from the moment it is staged (a storm).
    pub fn lasting(mut self, d: Duration) -> Self {
        self.duration = Some(d);
        self
    }

    /// Why this spec is invalid, if it is.
    pub fn problem(&self) -> Option<String> {
        if let FaultKind::Error { status } = self.kind {
            if !(500..600).contains(&status) {
                return Some(format!("status {status} must be a 5xx"));
            }
        }
        self.scope.problem()
    }
}

/// A staged fault as listed by the control API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedFault {
    /// Id (for removal).
    pub id: u64,
    /// The effect.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// The requests it applies to.
    #[serde(flatten)]
    pub scope: FaultScope,
    /// Requests it may still affect (`None`: no count limit).
    pub remaining: Option<u32>,
    /// Milliseconds until it ends (`None`: no time limit; 0: ended).
    pub remaining_ms: Option<u64>,
    /// Requests it has affected.
    pub hits: u64,
    /// Whether it still applies to new requests.
    pub active: bool,
}

struct Rule {
    id: u64,
    spec: FaultSpec,
    remaining: Option<u32>,
    until: Option<Instant>,
    hits: u64,
    done: bool,
}

impl Rule {
    fn live(&self, now: Instant) -> bool {
        !self.done && self.remaining != Some(0) && self.until.is_none_or(|u| now < u)
    }

    fn view(&self, now: Instant) -> StagedFault {
        StagedFault {
            id: self.id,
            kind: self.spec.kind,
            scope: self.spec.scope.clone(),
            remaining: self.remaining,
            remaining_ms: self.until.map(|u| u.saturating_duration_since(now).as_millis() as u64),
            hits: self.hits,
            active: self.live(now),
        }
    }
}

/// What happens after the handler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterEffect {
    /// Wait this long, then answer.
    Delay(u64),
    /// Reset the connection instead of answering.
    Drop,
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
    /// Finish the request (delay, handler) even when the client leaves during the delay.
    pub apply_when_abandoned: bool,
    /// After the handler ran: delay or drop.
    pub after: Option<AfterEffect>,
}

impl FaultDecision {
    fn answered(&self) -> bool {
        self.too_many.is_some() || self.error_status.is_some()
    }
}

/// Armed faults (count-based and staged).
#[derive(Default)]
pub struct Faults {
    burst_429: AtomicU32,
    retry_after: AtomicU64,
    errors: AtomicU32,
    error_status: AtomicU16,
    latency_requests: AtomicU32,
    latency_ms: AtomicU64,
    /// Staged rules not yet known to be over (the fast path skips the lock at 0).
    armed: AtomicUsize,
    next_id: AtomicU64,
    rules: Mutex<Vec<Rule>>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").field("armed", &self.armed.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
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

    /// The next `n` requests are delayed by `ms` before they take effect.
    pub fn arm_latency(&self, n: u32, ms: u64) {
        self.latency_ms.store(ms, Ordering::Relaxed);
        self.latency_requests.store(n, Ordering::Relaxed);
    }

    /// Stages a fault; returns its id. The caller validates the spec first ([`FaultSpec::problem`]).
    pub fn stage(&self, spec: FaultSpec) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let until = spec.duration.map(|d| Instant::now() + d);
        let rule = Rule { id, remaining: spec.count, until, spec, hits: 0, done: false };
        let mut rules = self.rules.lock();
        rules.push(rule);
        self.armed.fetch_add(1, Ordering::Relaxed);
        id
    }

    /// Removes one staged fault; false when no fault has that id.
    pub fn remove(&self, id: u64) -> bool {
        let mut rules = self.rules.lock();
        let Some(at) = rules.iter().position(|r| r.id == id) else { return false };
        let rule = rules.remove(at);
        if !rule.done {
            self.armed.fetch_sub(1, Ordering::Relaxed);
        }
        true
    }

    /// Every staged fault (also those that ended), in staging order.
    pub fn staged(&self) -> Vec<StagedFault> {
        let now = Instant::now();
        self.rules.lock().iter().map(|r| r.view(now)).collect()
    }

    /// Disarms everything (count-based and staged).
    pub fn clear(&self) {
        self.burst_429.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        self.latency_requests.store(0, Ordering::Relaxed);
        let mut rules = self.rules.lock();
        rules.clear();
        self.armed.store(0, Ordering::Relaxed);
    }

    /// Consumes the count-based faults that apply to one request (any path).
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

    /// Consumes every fault (count-based, then staged) that applies to a request of `method` to `path`.
    pub fn decide(&self, method: &str, path: &str) -> FaultDecision {
        let mut d = self.next();
        if self.armed.load(Ordering::Relaxed) == 0 {
            return d;
        }
        let now = Instant::now();
        let mut rules = self.rules.lock();
        // Before and instead of the handler first: an answered request takes no after-effect.
        for rule in rules.iter_mut() {
            if !self.check_live(rule, now) || !rule.spec.scope.matches(method, path) {
                continue;
            }
            let used = match rule.spec.kind {
                FaultKind::LatencyBefore { ms, apply_when_abandoned } if d.latency_ms.is_none() => {
                    d.latency_ms = Some(ms);
                    d.apply_when_abandoned = apply_when_abandoned;
                    true
                }
                FaultKind::TooManyRequests { retry_after } if !d.answered() => {
                    d.too_many = Some(retry_after);
                    true
                }
                FaultKind::Error { status } if !d.answered() => {
                    d.error_status = Some(status);
                    true
                }
                _ => false,
            };
            if used {
                self.use_one(rule);
            }
        }
        if d.answered() {
            return d;
        }
        for rule in rules.iter_mut() {
            if d.after.is_some() {
                break;
            }
            if !self.check_live(rule, now) || !rule.spec.scope.matches(method, path) {
                continue;
            }
            d.after = match rule.spec.kind {
                FaultKind::LatencyAfter { ms } => Some(AfterEffect::Delay(ms)),
                FaultKind::DropAfter => Some(AfterEffect::Drop),
                _ => continue,
            };
            self.use_one(rule);
        }
        d
    }

    /// Whether a rule still applies; marks it over (and disarms it) the first time it is found ended.
    fn check_live(&self, rule: &mut Rule, now: Instant) -> bool {
        if rule.live(now) {
            return true;
        }
        if !rule.done {
            rule.done = true;
            self.armed.fetch_sub(1, Ordering::Relaxed);
        }
        false
    }

    fn use_one(&self, rule: &mut Rule) {
        rule.hits += 1;
        if let Some(n) = rule.remaining.as_mut() {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEND: &str = "/api/v2/conversations/messages/*/communications/*/messages";
    const A_SEND: &str = "/api/v2/conversations/messages/c/communications/m/messages";

    #[test]
    fn staged_rules_are_scoped_and_counted() {
        let f = Faults::default();
        let id = f.stage(FaultSpec::latency_after(100).only("POST", SEND).times(1));
        assert!(f.decide("GET", A_SEND).after.is_none());
        assert_eq!(f.decide("POST", A_SEND).after, Some(AfterEffect::Delay(100)));
        assert!(f.decide("POST", A_SEND).after.is_none(), "used up");
        let v = f.staged();
        assert_eq!((v[0].id, v[0].hits, v[0].remaining, v[0].active), (id, 1, Some(0), false));
        assert_eq!(f.armed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn answers_take_precedence_over_after_effects() {
        let f = Faults::default();
        f.stage(FaultSpec::drop_after().times(1));
        f.stage(FaultSpec::too_many_requests(2).times(1));
        let d = f.decide("POST", "/x");
        assert_eq!((d.too_many, d.after), (Some(2), None));
        assert_eq!(f.decide("POST", "/x").after, Some(AfterEffect::Drop));
        assert_eq!(f.staged()[0].hits, 1);
    }

    #[test]
    fn storms_end_and_can_be_removed() {
        let f = Faults::default();
        let storm = f.stage(FaultSpec::too_many_requests(1).lasting(Duration::ZERO));
        assert!(f.decide("GET", "/x").too_many.is_none(), "a storm of zero length is over");
        let open = f.stage(FaultSpec::error(503));
        assert_eq!(f.decide("GET", "/x").error_status, Some(503));
        assert_eq!(f.decide("GET", "/x").error_status, Some(503));
        assert!(f.remove(open));
        assert!(!f.remove(open));
        assert!(f.decide("GET", "/x").error_status.is_none());
        assert!(f.remove(storm));
        assert_eq!(f.armed.load(Ordering::Relaxed), 0);
        assert!(FaultSpec::error(404).problem().is_some());
    }
}
