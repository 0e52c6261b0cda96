//! Deadlines of Genesys requests: every wait a request makes ends by its deadline.
//!
//! A delivery attempt has a deadline (`Delivery::deadline`); after it the dispatcher abandons the attempt. A
//! request made for that attempt must therefore never wait past it — not for the rate budget, a token, a backoff,
//! a `Retry-After`, nor the HTTP exchange itself. A request gets its deadline in one of two ways, and the earlier
//! one applies:
//!
//! - explicitly, from a client made with [`GenesysClient::until`](crate::GenesysClient::until);
//! - implicitly, from the task: code running inside [`scope`] (the adapters wrap `deliver` and
//!   `confirm_delivery` in it) gives every request it makes — resolution look-ups, canned response fetches,
//!   the send — the scope's deadline, without passing it through every function.
//!
//! A wait that would end after the deadline is not started: the request returns at once with what it knows
//! (a 429 becomes `RateLimited { retry_after }`, a budget wait `RateLimited` with the budget's delay).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `fut` with `deadline` applying to every Genesys request it makes (see the module docs). Nested scopes
/// keep the earlier deadline.
pub async fn scope<F: Future>(deadline: Instant, fut: F) -> F::Output {
    let effective = earliest(current(), Some(deadline)).unwrap_or(deadline);
    DEADLINE.scope(effective, fut).await
}

/// The deadline of the current task's [`scope`], if any.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// The earlier of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Time left until `deadline` (zero once passed); `None` without a deadline.
pub fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Whether a wait of `wait` starting now ends by `deadline` (always true without one).
pub fn fits(wait: Duration, deadline: Option<Instant>) -> bool {
    remaining(deadline).is_none_or(|left| wait <= left)
}

/// `limit`, shortened to the time left until `deadline`.
pub fn bounded(limit: Duration, deadline: Option<Instant>) -> Duration {
    remaining(deadline).map_or(limit, |left| limit.min(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scopes_nest_to_the_earlier_deadline() {
        assert_eq!(current(), None);
        let near = Instant::now() + Duration::from_secs(5);
        let far = Instant::now() + Duration::from_secs(50);
        let seen = scope(near, async { scope(far, async { current() }).await }).await;
        assert_eq!(seen, Some(near));
        assert!(fits(Duration::from_secs(5), Some(near)));
        assert!(!fits(Duration::from_secs(6), Some(near)));
        assert!(fits(Duration::MAX, None));
        assert_eq!(bounded(Duration::from_secs(30), Some(near)), Duration::from_secs(5));
        assert_eq!(bounded(Duration::from_secs(30), None), Duration::from_secs(30));
    }
}
