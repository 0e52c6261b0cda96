//! What a failed request means upstream: certainly not applied, or possibly applied.
//!
//! Genesys sends (`POST …/communications/{id}/messages`, `POST …/messages/agentless`, chat sends) take no
//! idempotency key. Sending one again after a failure whose outcome is unknown can post the message twice, so the
//! client only repeats a request when it is **retry-safe** (see [`retry_safe`]) or when the failure proves the
//! request was not applied:
//!
//! | failure | meaning | retry-safe request | other request (POST, PATCH) |
//! |---|---|---|---|
//! | connect refused, DNS, TLS handshake, connect timeout ([`Transport::NotSent`]) | never reached Genesys | retried | retried |
//! | timeout, reset or EOF after the connection was up ([`Transport::MaybeSent`]) | may have been applied | retried | `OutcomeUnknown`, not retried |
//! | 429, 503, 408 | refused before being applied | retried (after `Retry-After`) | retried (after `Retry-After`) |
//! | 500, 502, 504 (configurable: `ClientConfig::outcome_unknown_statuses`) | may have been applied behind a proxy or after a crash | retried | `OutcomeUnknown`, not retried |
//! | any other 5xx | refused | retried | retried |
//!
//! The reference leaves the 5xx behaviour of Genesys sends UNCONFIRMED. herald's choice: a 503 or 429 is an
//! explicit refusal (load shedding, rate limiting) and is safe to repeat; a 500, 502 or 504 can come from a
//! gateway after the service behind it accepted the message, so it is treated as "may have been sent" and the
//! dispatcher checks (`confirm_delivery`) before any further attempt. Operators who know better for their
//! deployment change the list.

use reqwest::Method;

/// Whether a failed transport exchange may have reached Genesys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The request was certainly not written (no connection could be made).
    NotSent,
    /// The request may have been written and applied (timeout, reset or EOF after the connection was up).
    MaybeSent,
}

/// Classifies a reqwest error of `send()` (see the module docs).
///
/// A connect error (refused, DNS, TLS handshake, connect timeout) is [`Transport::NotSent`]; a request that
/// could not even be built is too. Everything else happened on an established connection and may have
/// reached the server.
pub fn classify_transport(e: &reqwest::Error) -> Transport {
    if e.is_connect() || e.is_builder() {
        Transport::NotSent
    } else {
        Transport::MaybeSent
    }
}

/// Whether a request with `method` may be repeated after an unknown outcome: GET, HEAD, OPTIONS, PUT and DELETE
/// are idempotent by HTTP's definition; POST and PATCH are not (a caller that knows its POST is a pure query, like
/// the analytics query, says so with [`ErrorContext::retry_safe`](crate::ErrorContext::retry_safe)).
pub fn retry_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE)
}

/// What the client does with a non-2xx status other than 401 and 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusVerdict {
    /// Try again (after a backoff or the `Retry-After`), if attempts and the deadline allow.
    Retry,
    /// The request may have been applied: stop and report `OutcomeUnknown`.
    OutcomeUnknown,
    /// A final answer: map it to its error class.
    Final,
}

/// The verdict for `status` on a request that is (or is not) `retry_safe`, with `unknown` the statuses that mean
/// "may have been applied" for requests that are not (see the module docs).
pub fn status_verdict(status: u16, retry_safe: bool, unknown: &[u16]) -> StatusVerdict {
    match status {
        408 | 500..=599 if retry_safe => StatusVerdict::Retry,
        500..=599 if unknown.contains(&status) => StatusVerdict::OutcomeUnknown,
        408 | 500..=599 => StatusVerdict::Retry,
        _ => StatusVerdict::Final,
    }
}

/// The default of `ClientConfig::outcome_unknown_statuses`: 500, 502 and 504.
pub fn default_outcome_unknown_statuses() -> Vec<u16> {
    vec![500, 502, 504]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_statuses() {
        assert!(retry_safe(&Method::GET) && retry_safe(&Method::PUT) && retry_safe(&Method::DELETE));
        assert!(!retry_safe(&Method::POST) && !retry_safe(&Method::PATCH));
        let unknown = default_outcome_unknown_statuses();
        for s in [500, 502, 504] {
            assert_eq!(status_verdict(s, false, &unknown), StatusVerdict::OutcomeUnknown, "{s}");
            assert_eq!(status_verdict(s, true, &unknown), StatusVerdict::Retry, "{s}");
        }
        for s in [503, 408, 501] {
            assert_eq!(status_verdict(s, false, &unknown), StatusVerdict::Retry, "{s}");
        }
        for s in [400, 404, 409, 422] {
            assert_eq!(status_verdict(s, false, &unknown), StatusVerdict::Final, "{s}");
        }
        assert_eq!(status_verdict(500, false, &[]), StatusVerdict::Retry);
    }
}
