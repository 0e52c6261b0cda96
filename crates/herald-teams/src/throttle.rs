//! Client-side pacing of Bot Connector calls, so herald stays inside Teams' limits instead of collecting 429s.
//!
//! - Per conversation (thread): Teams allows 7/1 s, 8/2 s, 60/30 s and 1,800/3,600 s per bot. One GCRA limiter
//!   with a burst of 7 and one cell per 2.01 s satisfies all four windows (7 in any second, 8 in two, 22 in 30,
//!   1,798 in an hour).
//! - Per tenant: Teams allows 50 requests per second per app; a GCRA at `rps - 5` per second with a burst of 5
//!   never exceeds `rps` in any one-second window.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The limiters of one bot.
pub struct Throttle {
    per_conversation: DefaultKeyedRateLimiter<String>,
    per_tenant: DefaultDirectRateLimiter,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Throttle {
    /// Limiters for a tenant budget of `tenant_rps` requests per second.
    pub fn new(tenant_rps: u32) -> Self {
        let conv = Quota::with_period(Duration::from_millis(2010))
            .map(|q| q.allow_burst(nz(7)))
            .unwrap_or_else(|| Quota::per_second(nz(1)));
        let burst = 5.min(tenant_rps.max(1));
        let tenant = Quota::per_second(nz(tenant_rps.saturating_sub(burst).max(1))).allow_burst(nz(burst));
        Throttle { per_conversation: RateLimiter::keyed(conv), per_tenant: RateLimiter::direct(tenant) }
    }

    /// Waits until a call on `conversation` may go out (both limits).
    pub async fn acquire(&self, conversation: &str) {
        self.per_conversation.until_key_ready(&conversation.to_string()).await;
        self.per_tenant.until_ready().await;
    }

    /// Waits for the tenant limit only (calls not bound to a thread).
    pub async fn acquire_tenant(&self) {
        self.per_tenant.until_ready().await;
    }
}
