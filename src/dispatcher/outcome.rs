//! What to do after an attempt, decided from the error class alone.

use std::time::Duration;

use herald_core::{ChannelError, ClosedPolicy, ErrorClass};

/// The dispatcher's decision after an attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Try again after a delay (at least `retry_after` when the upstream gave one). `counts` says whether the
    /// attempt counts towards `max_attempts`: a rate-limited attempt does not, so a 429 storm never dead-letters.
    Retry {
        /// The upstream's `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
        /// Whether this attempt counts towards `max_attempts`.
        counts: bool,
    },
    /// The attempt may have reached the upstream: ask the adapter (`confirm_delivery`) before anything else.
    Check,
    /// Give up: the notification fails with this reason.
    Fail,
    /// Keep it until the customer's next conversation.
    Defer {
        /// The customer whose next conversation it waits for.
        customer: String,
    },
    /// Send it again at once as an agentless message.
    Agentless,
}

/// Decide from the error's class and the closed-session policy. `attempts` counts this attempt.
pub fn decide(
    error: &ChannelError,
    policy: ClosedPolicy,
    supports_agentless: bool,
    attempts: u32,
    max_attempts: u32,
) -> (Decision, String) {
    let class = error.class();
    let reason = error.to_string();
    match class {
        ErrorClass::TargetClosed => {
            let customer = match error {
                ChannelError::TargetClosed { customer, .. } => customer.clone(),
                _ => None,
            };
            match policy {
                ClosedPolicy::Defer => match customer {
                    Some(customer) => (
                        Decision::Defer { customer: customer.clone() },
                        format!("{reason}; deferred until customer `{customer}` opens a new conversation (policy defer)"),
                    ),
                    None => (Decision::Fail, format!("{reason}; cannot defer because the customer is unknown; target the customer instead of the conversation")),
                },
                ClosedPolicy::Agentless if supports_agentless => {
                    (Decision::Agentless, format!("{reason}; sending as an agentless message (policy agentless)"))
                }
                ClosedPolicy::Agentless => (
                    Decision::Fail,
                    format!("{reason}; policy agentless is not supported by this integration's kind; use defer or fail"),
                ),
                ClosedPolicy::Fail => (Decision::Fail, format!("{reason} (policy fail); the customer must start a new conversation, or use policy defer or agentless")),
            }
        }
        ErrorClass::RateLimited => {
            let retry_after = match error {
                ChannelError::RateLimited { retry_after, .. } => *retry_after,
                _ => None,
            };
            (Decision::Retry { retry_after, counts: false }, format!("{reason}; not counted as an attempt"))
        }
        ErrorClass::OutcomeUnknown => (Decision::Check, reason),
        ErrorClass::Transient | ErrorClass::Unauthorized if attempts < max_attempts => {
            (Decision::Retry { retry_after: None, counts: true }, reason)
        }
        ErrorClass::Transient | ErrorClass::Unauthorized => {
            (Decision::Fail, format!("{reason}; gave up after {attempts} attempts (dead letter)"))
        }
        ErrorClass::Invalid | ErrorClass::NotFound | ErrorClass::Permanent => (Decision::Fail, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(customer: Option<&str>) -> ChannelError {
        ChannelError::TargetClosed {
            conversation_id: "c1".into(),
            customer: customer.map(str::to_string),
            reason: "every participant has disconnected".into(),
        }
    }

    #[test]
    fn closed_follows_policy() {
        assert!(
            matches!(decide(&closed(Some("ec1")), ClosedPolicy::Defer, true, 1, 5).0, Decision::Defer { ref customer } if customer == "ec1")
        );
        assert_eq!(decide(&closed(None), ClosedPolicy::Defer, true, 1, 5).0, Decision::Fail);
        assert_eq!(decide(&closed(Some("x")), ClosedPolicy::Agentless, true, 1, 5).0, Decision::Agentless);
        assert_eq!(decide(&closed(Some("x")), ClosedPolicy::Agentless, false, 1, 5).0, Decision::Fail);
        let (d, why) = decide(&closed(Some("x")), ClosedPolicy::Fail, true, 1, 5);
        assert_eq!(d, Decision::Fail);
        assert!(why.contains("policy fail"), "{why}");
    }

    #[test]
    fn transient_retries_until_max_attempts() {
        let (d, why) = decide(&ChannelError::transient("503"), ClosedPolicy::Defer, false, 3, 3);
        assert_eq!(d, Decision::Fail);
        assert!(why.contains("dead letter"));
        assert_eq!(
            decide(&ChannelError::transient("503"), ClosedPolicy::Defer, false, 2, 3).0,
            Decision::Retry { retry_after: None, counts: true }
        );
        assert_eq!(
            decide(&ChannelError::invalid("textBody", "too long", "shorten"), ClosedPolicy::Defer, false, 1, 3).0,
            Decision::Fail
        );
    }

    #[test]
    fn rate_limits_never_dead_letter() {
        let rl = ChannelError::RateLimited { retry_after: Some(Duration::from_secs(2)), correlation_id: None };
        for attempts in [1, 3, 100, u32::MAX] {
            assert_eq!(
                decide(&rl, ClosedPolicy::Defer, false, attempts, 3).0,
                Decision::Retry { retry_after: Some(Duration::from_secs(2)), counts: false }
            );
        }
    }

    #[test]
    fn an_unknown_outcome_is_checked_never_retried_blindly() {
        let unknown = ChannelError::outcome_unknown("timed out after the request was written");
        for attempts in [1, 3, 100] {
            assert_eq!(decide(&unknown, ClosedPolicy::Defer, true, attempts, 3).0, Decision::Check);
        }
    }
}
