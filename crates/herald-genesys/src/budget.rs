//! The request budget of one OAuth client: a GCRA rate limiter shared process-wide.
//!
//! Genesys limits requests per OAuth client token (300/minute by default) and answers 429 beyond it. herald spends
//! its budget evenly instead: requests wait for budget rather than fail, so steady traffic never draws a 429.
//! Every [`GenesysClient`](crate::GenesysClient) with the same environment and client id shares one [`RateBudget`]
//! (see [`RateBudget::shared`]).
//!
//! The limiter runs on tokio's clock, so tests with paused time prove the rate without real waiting.
//! With `burst = b`, the steady rate is `rpm - b` per minute: any 60-second window then holds at most `rpm`
//! requests (`b` back to back + `rpm - b` paced), which keeps a strict sliding-window upstream happy.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;

/// A governor clock reading tokio's (pausable) time, as nanoseconds since the limiter was made.
#[derive(Debug, Clone)]
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(tokio::time::Instant::now().saturating_duration_since(self.origin))
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// A snapshot of what a budget has done, for benchmarks and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStats {
    /// Requests that were granted budget.
    pub granted: u64,
    /// Requests that had to wait.
    pub waited: u64,
    /// Total time spent waiting for budget.
    pub total_wait: Duration,
}

/// The request budget of one OAuth client (see the module docs).
pub struct RateBudget {
    limiter: Limiter,
    clock: TokioClock,
    requests_per_minute: u32,
    burst: u32,
    granted: AtomicU64,
    waited: AtomicU64,
    wait_nanos: AtomicU64,
}

impl std::fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateBudget")
            .field("requests_per_minute", &self.requests_per_minute)
            .field("burst", &self.burst)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Budgets by (environment, client id).
type BudgetMap = HashMap<(String, String), Arc<RateBudget>>;

static SHARED: LazyLock<Mutex<BudgetMap>> = LazyLock::new(Default::default);

impl RateBudget {
    /// A private budget of `requests_per_minute` with `burst` requests allowed back to back.
    ///
    /// Values are clamped to sane bounds (at least 1 per minute, burst at least 1 and below the rate).
    pub fn new(requests_per_minute: u32, burst: u32) -> Self {
        let rpm = requests_per_minute.max(1);
        let burst = burst.clamp(1, rpm.saturating_sub(1).max(1));
        let steady = (rpm - burst.min(rpm - 1)).max(1);
        let period = Duration::from_nanos(60_000_000_000u64 / u64::from(steady));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        let clock = TokioClock { origin: tokio::time::Instant::now() };
        RateBudget {
            limiter: RateLimiter::new(quota, InMemoryState::default(), clock.clone()),
            clock,
            requests_per_minute: rpm,
            burst,
            granted: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
        }
    }

    /// The budget shared by every client of `client_id` in `environment` in this process, made on first use.
    ///
    /// If a later caller asks for a different rate, the first one wins and a warning is logged.
    pub fn shared(environment: &str, client_id: &str, requests_per_minute: u32, burst: u32) -> Arc<RateBudget> {
        let mut map = SHARED.lock();
        let key = (environment.to_string(), client_id.to_string());
        if let Some(b) = map.get(&key) {
            if b.requests_per_minute != requests_per_minute.max(1) {
                tracing::warn!(
                    client_id,
                    environment,
                    configured = requests_per_minute,
                    in_use = b.requests_per_minute,
                    "two configurations give the same OAuth client different request budgets; using the first"
                );
            }
            return b.clone();
        }
        let b = Arc::new(RateBudget::new(requests_per_minute, burst));
        map.insert(key, b.clone());
        b
    }

    /// The configured requests per minute.
    pub fn requests_per_minute(&self) -> u32 {
        self.requests_per_minute
    }

    /// Waits until one request may go out and returns how long it waited (zero when budget was available).
    pub async fn acquire(&self) -> Duration {
        match self.acquire_until(None).await {
            Ok(waited) | Err(waited) => waited,
        }
    }

    /// Like [`acquire`](Self::acquire), but never waits past `deadline`: when the budget has no room for a request
    /// before then, returns `Err(wait)` at once (without spending budget), `wait` being how long it would take.
    pub async fn acquire_until(&self, deadline: Option<tokio::time::Instant>) -> Result<Duration, Duration> {
        let mut total = Duration::ZERO;
        loop {
            match self.limiter.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    let wait = if wait.is_zero() { Duration::from_micros(50) } else { wait };
                    if !crate::deadline::fits(wait, deadline) {
                        return Err(wait);
                    }
                    total += wait;
                    tokio::time::sleep(wait).await;
                }
            }
        }
        self.granted.fetch_add(1, Ordering::Relaxed);
        if !total.is_zero() {
            self.waited.fetch_add(1, Ordering::Relaxed);
            let nanos = u64::try_from(total.as_nanos()).unwrap_or(u64::MAX);
            self.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
        Ok(total)
    }

    /// What the budget has done so far.
    pub fn stats(&self) -> BudgetStats {
        BudgetStats {
            granted: self.granted.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            total_wait: Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_to_the_configured_rate_without_real_waiting() {
        let b = RateBudget::new(300, 3);
        let start = tokio::time::Instant::now();
        let mut in_first_minute = 0;
        for _ in 0..600 {
            b.acquire().await;
            if start.elapsed() < Duration::from_secs(60) {
                in_first_minute += 1;
            }
        }
        let elapsed = start.elapsed();
        // 600 requests at 297/min after a burst of 3: a bit over two minutes of virtual time.
        assert!(elapsed >= Duration::from_secs(119) && elapsed <= Duration::from_secs(123), "{elapsed:?}");
        assert!(in_first_minute <= 300, "{in_first_minute} in the first minute");
        assert!(in_first_minute >= 285, "delivery at >= 95% of budget: {in_first_minute}");
        let s = b.stats();
        assert_eq!(s.granted, 600);
        assert!(s.waited >= 590);
    }

    #[tokio::test(start_paused = true)]
    async fn any_sixty_second_window_stays_within_budget() {
        let b = RateBudget::new(120, 10);
        let start = tokio::time::Instant::now();
        let mut times = Vec::new();
        for _ in 0..400 {
            b.acquire().await;
            times.push(start.elapsed());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < *t + Duration::from_secs(60)).count();
            assert!(in_window <= 120, "window starting at {t:?} holds {in_window}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_wait_past_the_deadline_returns_at_once() {
        let b = RateBudget::new(60, 1);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
        assert_eq!(b.acquire_until(Some(deadline)).await, Ok(Duration::ZERO));
        let start = tokio::time::Instant::now();
        let wait = b.acquire_until(Some(deadline)).await.expect_err("no budget within 100 ms");
        assert!(wait > Duration::from_millis(100), "{wait:?}");
        assert_eq!(start.elapsed(), Duration::ZERO, "returned without waiting");
        assert_eq!(b.stats().granted, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn shared_budgets_are_per_client_and_environment() {
        let a = RateBudget::shared("env-a", "client-shared-test", 60, 1);
        let b = RateBudget::shared("env-a", "client-shared-test", 60, 1);
        let c = RateBudget::shared("env-b", "client-shared-test", 60, 1);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(a.acquire().await, Duration::ZERO);
        // The second request through the *other* handle waits: the budget is shared.
        assert!(b.acquire().await > Duration::ZERO);
    }
}
