//! An upstream's HTTP error answer as a `ChannelError`: one mapping of status and `Retry-After` for every plugin
//! (the header is read with `herald_core::retry::parse_retry_after`, like the built-in adapters do).

use herald_core::retry::parse_retry_after;
use herald_core::ChannelError;

/// One error answer from an upstream, as read from the response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorAnswer<'a> {
    /// Who answered (`Genesys`, `the third party`), for the messages.
    pub who: &'a str,
    /// The HTTP status (an error status: 4xx or 5xx).
    pub status: u16,
    /// The `Retry-After` header, if any (seconds or an HTTP date).
    pub retry_after: Option<&'a str>,
    /// The upstream's correlation id header, if any.
    pub correlation_id: Option<String>,
    /// The upstream's own message from the body (may be empty).
    pub message: &'a str,
    /// The request field the upstream blamed, if it said (JSON path); `body` otherwise.
    pub field: Option<&'a str>,
}

/// The class herald's dispatcher acts on:
///
/// | status | error |
/// |---|---|
/// | 400, 413, 422 | `Invalid` (field from the answer, else `body`) |
/// | 401, 403 | `Unauthorized` |
/// | 404 | `NotFound` |
/// | 408, 425, 5xx | `Transient` (the upstream answered, so the request did not take effect) |
/// | 429 | `RateLimited` with `Retry-After` (seconds or HTTP date, clamped to an hour) |
/// | any other | `Permanent` |
pub fn error_for_status(answer: ErrorAnswer<'_>) -> ChannelError {
    let ErrorAnswer { who, status, retry_after, correlation_id, message, field } = answer;
    let said = if message.is_empty() { String::new() } else { format!(": {message}") };
    match status {
        400 | 413 | 422 => ChannelError::Invalid {
            field: field.unwrap_or("body").to_string(),
            reason: format!("was refused by {who} ({status}){said}"),
            fix: "change the message as the upstream's answer says".into(),
        },
        401 | 403 => ChannelError::Unauthorized {
            reason: format!("{who} answered {status}{said}; check the plugin's credentials and their permissions"),
            correlation_id,
        },
        404 => ChannelError::NotFound {
            what: format!("{who} resource"),
            id: message.to_string(),
            hint: "check the ids in the plugin's settings and the target".into(),
        },
        429 => ChannelError::RateLimited { retry_after: retry_after.and_then(parse_retry_after), correlation_id },
        408 | 425 | 500..=599 => {
            ChannelError::Transient { reason: format!("{who} answered {status}{said}"), correlation_id }
        }
        _ => ChannelError::Permanent { reason: format!("{who} answered {status}{said}"), correlation_id },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use herald_core::ErrorClass;

    use super::*;

    fn class(status: u16) -> ErrorClass {
        error_for_status(ErrorAnswer { who: "up", status, ..Default::default() }).class()
    }

    #[test]
    fn statuses_map_to_the_dispatcher_classes() {
        assert_eq!(class(400), ErrorClass::Invalid);
        assert_eq!(class(403), ErrorClass::Unauthorized);
        assert_eq!(class(404), ErrorClass::NotFound);
        assert_eq!(class(429), ErrorClass::RateLimited);
        assert_eq!(class(503), ErrorClass::Transient);
        assert_eq!(class(409), ErrorClass::Permanent);
        let e =
            error_for_status(ErrorAnswer { who: "up", status: 429, retry_after: Some("1.5"), ..Default::default() });
        assert_eq!(
            e,
            ChannelError::RateLimited { retry_after: Some(Duration::from_millis(1500)), correlation_id: None }
        );
        let e =
            error_for_status(ErrorAnswer { who: "up", status: 429, retry_after: Some("soon"), ..Default::default() });
        assert_eq!(e, ChannelError::RateLimited { retry_after: None, correlation_id: None });
        let e = error_for_status(ErrorAnswer {
            who: "Genesys",
            status: 400,
            field: Some("text"),
            message: "too long",
            ..Default::default()
        });
        assert!(
            matches!(&e, ChannelError::Invalid { field, reason, .. } if field == "text" && reason.contains("too long"))
        );
    }
}
