//! What to do after an attempt, decided from the error class alone.

use std::time::Duration;

use herald_core::{ChannelError, ClosedPolicy, ErrorClass};

/// The dispatcher's decision after an attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Try again after a delay (at least `retry_after` when the upstream gave one).
    Retry { retry_after: Option<Duration> },
    /// Give up: the notification fails with this reason.
    Fail,
    /// Keep it until the customer's next conversation.
    Defer { customer: String },
    /// Send it again at once as an agentless message.
    Agentless,
}

/// Decide from the error's class and the closed-session policy.
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
        ErrorClass::RateLimited | ErrorClass::Transient | ErrorClass::Unauthorized | ErrorClass::OutcomeUnknown
            if attempts < max_attempts =>
        {
            let retry_after = match error {
                ChannelError::RateLimited { retry_after, .. } => *retry_after,
                _ => None,
            };
            (Decision::Retry { retry_after }, reason)
        }
        ErrorClass::RateLimited | ErrorClass::Transient | ErrorClass::Unauthorized | ErrorClass::OutcomeUnknown => {
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
    fn retryable_until_max_attempts() {
        let rl = ChannelError::RateLimited { retry_after: Some(Duration::from_secs(2)), correlation_id: None };
        assert_eq!(
            decide(&rl, ClosedPolicy::Defer, false, 1, 3).0,
            Decision::Retry { retry_after: Some(Duration::from_secs(2)) }
        );
        let (d, why) = decide(&ChannelError::transient("503"), ClosedPolicy::Defer, false, 3, 3);
        assert_eq!(d, Decision::Fail);
        assert!(why.contains("dead letter"));
        assert_eq!(
            decide(&ChannelError::invalid("textBody", "too long", "shorten"), ClosedPolicy::Defer, false, 1, 3).0,
            Decision::Fail
        );
    }
}
