//! Keeping a plugin's work inside the attempt's deadline.
//!
//! herald abandons a delivery at `Delivery::deadline` and treats its outcome as unknown; the SDK also stops the
//! adapter's future there (and when the host cancels). Inside `deliver`, bound every wait — a token fetch, an HTTP
//! call, a `Retry-After` pause — with [`within`] or [`remaining`], so the plugin never keeps working on an attempt
//! herald has given up on.

use std::future::Future;
use std::time::Duration;

use herald_core::{ChannelError, Delivery};

/// Run `work` until `deadline`; past it the work is dropped (an HTTP request in flight is cancelled) and the
/// answer is [`ChannelError::OutcomeUnknown`], since a request may already have reached the upstream.
pub async fn within<T>(
    deadline: tokio::time::Instant,
    work: impl Future<Output = Result<T, ChannelError>>,
) -> Result<T, ChannelError> {
    match tokio::time::timeout_at(deadline, work).await {
        Ok(r) => r,
        Err(_) => Err(ChannelError::outcome_unknown(
            "the attempt's deadline passed while the plugin was still working; the request may have reached the \
             upstream",
        )),
    }
}

/// Time left for `delivery`, for a client's per-request timeout (e.g. `reqwest::RequestBuilder::timeout`). Never
/// zero, so a request built after the deadline fails at once instead of meaning "no timeout".
pub fn remaining(delivery: &Delivery) -> Duration {
    delivery.remaining().max(Duration::from_millis(1))
}

/// A failed HTTP exchange as a `ChannelError`: [`ChannelError::Transient`] when the request certainly did not
/// reach the upstream (`request_sent == false`: DNS, connection refused, TLS), else
/// [`ChannelError::OutcomeUnknown`] (timeout or reset after the request was written).
pub fn transport_error(reason: impl std::fmt::Display, request_sent: bool) -> ChannelError {
    if request_sent {
        ChannelError::outcome_unknown(format!("{reason} (the request may have reached the upstream)"))
    } else {
        ChannelError::transient(reason.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_past_the_deadline_is_dropped_with_an_unknown_outcome() {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(20);
        let r: Result<(), _> = within(deadline, std::future::pending()).await;
        assert_eq!(r.map_err(|e| e.class()), Err(herald_core::ErrorClass::OutcomeUnknown));
        let r = within(deadline, async { Ok(7) }).await;
        assert_eq!(r, Ok(7));
        assert_eq!(transport_error("refused", false).class(), herald_core::ErrorClass::Transient);
        assert_eq!(transport_error("reset", true).class(), herald_core::ErrorClass::OutcomeUnknown);
    }
}
