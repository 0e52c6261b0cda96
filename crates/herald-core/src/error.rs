//! Typed, classified errors.
//!
//! Every failure an adapter reports is a [`ChannelError`]; the dispatcher decides what to do next from its
//! [`ErrorClass`] alone (retry, defer, fail), never by inspecting messages. Each variant carries what a user needs:
//! the field and the fix for invalid payloads, the id for missing targets, the retry delay for rate limits, and the
//! upstream correlation id (Genesys `ININ-Correlation-Id`, Teams `X-Correlating-OperationId`) for support cases.

use std::time::Duration;

/// The class of an error: the only thing the dispatcher looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The payload can never be accepted as it is; retrying is pointless.
    Invalid,
    /// The target conversation exists but has closed; the closed-session policy applies.
    TargetClosed,
    /// The target (conversation, customer, agent, response) does not exist upstream or in the store.
    NotFound,
    /// Credentials were refused (after one refresh); an operator must act.
    Unauthorized,
    /// The upstream asked us to slow down; retry after the given delay.
    RateLimited,
    /// A temporary failure (5xx, refused connection) that certainly did not take effect; retry with backoff.
    Transient,
    /// The request may or may not have taken effect upstream (a timeout or a reset after the request was written,
    /// an abandoned attempt). Never re-sent blindly: the dispatcher first asks the adapter's `confirm_delivery`.
    OutcomeUnknown,
    /// A failure that will not go away by retrying.
    Permanent,
}

impl ErrorClass {
    /// Whether the dispatcher should try again later.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::RateLimited | ErrorClass::Transient)
    }

    /// Stable lower-case name, used in metrics labels and problem documents.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Invalid => "invalid",
            ErrorClass::TargetClosed => "target_closed",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Unauthorized => "unauthorized",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Transient => "transient",
            ErrorClass::OutcomeUnknown => "outcome_unknown",
            ErrorClass::Permanent => "permanent",
        }
    }
}

/// An error from an adapter (built-in or plugin) while delivering or ingesting.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ChannelError {
    /// The payload would be rejected upstream. `field` is a JSON path into the request, `fix` says what to send.
    #[error("invalid payload: `{field}` {reason}; fix: {fix}")]
    Invalid {
        /// JSON path of the offending field, e.g. `textBody` or `target.id`.
        field: String,
        /// What is wrong with it.
        reason: String,
        /// What to send instead.
        fix: String,
    },
    /// The conversation has closed. `customer` names the customer, when known, so a deferred notification can
    /// follow them into their next conversation.
    #[error("conversation `{conversation_id}` is closed: {reason}")]
    TargetClosed {
        /// The closed conversation.
        conversation_id: String,
        /// The customer (external contact id or customer key) of that conversation, when known.
        customer: Option<String>,
        /// Why it counts as closed (e.g. "every participant has disconnected").
        reason: String,
    },
    /// The target does not exist. `what` names the kind of thing, `id` the id that was looked up.
    #[error("{what} `{id}` not found: {hint}")]
    NotFound {
        /// Kind of thing looked up: "conversation", "customer", "communication", "canned response", ...
        what: String,
        /// The id that was not found.
        id: String,
        /// What to check or do.
        hint: String,
    },
    /// Credentials were refused.
    #[error("unauthorized: {reason}{}", corr(correlation_id))]
    Unauthorized {
        /// What was refused and what to check.
        reason: String,
        /// Upstream correlation id, when the upstream answered.
        correlation_id: Option<String>,
    },
    /// The upstream rate-limited us.
    #[error("rate limited by upstream{}{}", retry(retry_after), corr(correlation_id))]
    RateLimited {
        /// How long the upstream asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
        /// Upstream correlation id.
        correlation_id: Option<String>,
    },
    /// A temporary failure worth retrying.
    #[error("transient failure: {reason}{}", corr(correlation_id))]
    Transient {
        /// What happened.
        reason: String,
        /// Upstream correlation id.
        correlation_id: Option<String>,
    },
    /// The request left herald but its outcome is unknown: it may have been applied upstream.
    #[error(
        "outcome unknown: {reason}{}; herald checks the upstream before any further attempt",
        corr(correlation_id)
    )]
    OutcomeUnknown {
        /// What happened (timeout after the request was written, connection reset, attempt abandoned).
        reason: String,
        /// Upstream correlation id, when one was received.
        correlation_id: Option<String>,
    },
    /// A failure that retrying will not fix.
    #[error("permanent failure: {reason}{}", corr(correlation_id))]
    Permanent {
        /// What happened and what to do.
        reason: String,
        /// Upstream correlation id.
        correlation_id: Option<String>,
    },
}

fn corr(c: &Option<String>) -> String {
    c.as_ref().map(|c| format!(" (correlation id {c})")).unwrap_or_default()
}

fn retry(r: &Option<Duration>) -> String {
    r.map(|r| format!("; retry after {:.1}s", r.as_secs_f64())).unwrap_or_default()
}

impl ChannelError {
    /// The class the dispatcher acts on.
    pub fn class(&self) -> ErrorClass {
        match self {
            ChannelError::Invalid { .. } => ErrorClass::Invalid,
            ChannelError::TargetClosed { .. } => ErrorClass::TargetClosed,
            ChannelError::NotFound { .. } => ErrorClass::NotFound,
            ChannelError::Unauthorized { .. } => ErrorClass::Unauthorized,
            ChannelError::RateLimited { .. } => ErrorClass::RateLimited,
            ChannelError::Transient { .. } => ErrorClass::Transient,
            ChannelError::OutcomeUnknown { .. } => ErrorClass::OutcomeUnknown,
            ChannelError::Permanent { .. } => ErrorClass::Permanent,
        }
    }

    /// The upstream correlation id, when one was received.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            ChannelError::Unauthorized { correlation_id, .. }
            | ChannelError::RateLimited { correlation_id, .. }
            | ChannelError::Transient { correlation_id, .. }
            | ChannelError::OutcomeUnknown { correlation_id, .. }
            | ChannelError::Permanent { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// Shorthand for an [`ChannelError::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>, fix: impl Into<String>) -> Self {
        ChannelError::Invalid { field: field.into(), reason: reason.into(), fix: fix.into() }
    }

    /// Shorthand for a [`ChannelError::NotFound`].
    pub fn not_found(what: impl Into<String>, id: impl Into<String>, hint: impl Into<String>) -> Self {
        ChannelError::NotFound { what: what.into(), id: id.into(), hint: hint.into() }
    }

    /// Shorthand for a [`ChannelError::Transient`] without correlation id.
    pub fn transient(reason: impl Into<String>) -> Self {
        ChannelError::Transient { reason: reason.into(), correlation_id: None }
    }

    /// Shorthand for a [`ChannelError::OutcomeUnknown`] without correlation id.
    pub fn outcome_unknown(reason: impl Into<String>) -> Self {
        ChannelError::OutcomeUnknown { reason: reason.into(), correlation_id: None }
    }

    /// Shorthand for a [`ChannelError::Permanent`] without correlation id.
    pub fn permanent(reason: impl Into<String>) -> Self {
        ChannelError::Permanent { reason: reason.into(), correlation_id: None }
    }
}

/// An error of the session store or the outbox.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The embedded database failed (I/O, corruption). The service should stop accepting work.
    #[error("store backend failed: {0}")]
    Backend(String),
    /// A stored record could not be decoded (written by an incompatible version?).
    #[error("stored record `{key}` could not be decoded: {reason}")]
    Corrupt {
        /// The key of the record.
        key: String,
        /// The decoding error.
        reason: String,
    },
    /// The record to update does not exist.
    #[error("no record with id `{0}`")]
    Missing(String),
    /// The store was closed (shutdown in progress).
    #[error("the store is shutting down")]
    Closed,
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// A store failure while delivering is transient: the dispatcher retries once the store answers again.
impl From<StoreError> for ChannelError {
    fn from(e: StoreError) -> Self {
        ChannelError::transient(format!("the session store failed: {e}"))
    }
}

/// One problem found in a configuration, with the key path where it was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigProblem {
    /// Dotted key path, e.g. `integration[0].webmessaging.deployment_id`.
    pub path: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl ConfigProblem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem { path: path.into(), message: message.into() }
    }
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_and_fix() {
        let e = ChannelError::invalid("textBody", "is 2001 characters, over the limit of 2000", "shorten the text");
        assert_eq!(e.class(), ErrorClass::Invalid);
        let s = e.to_string();
        assert!(s.contains("`textBody`") && s.contains("fix: shorten"), "{s}");
    }

    #[test]
    fn rate_limited_is_retryable_and_shows_delay() {
        let e =
            ChannelError::RateLimited { retry_after: Some(Duration::from_secs(3)), correlation_id: Some("c-1".into()) };
        assert!(e.class().is_retryable());
        assert_eq!(e.correlation_id(), Some("c-1"));
        assert!(e.to_string().contains("retry after 3.0s"));
        assert!(!ErrorClass::Invalid.is_retryable());
    }
}
