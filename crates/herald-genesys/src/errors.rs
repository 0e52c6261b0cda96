//! Genesys error bodies and their mapping to herald's error classes.
//!
//! Every non-2xx answer of the Platform API carries an `ErrorBody` (all fields optional) and the
//! `ININ-Correlation-Id` header. [`map_error`] turns status + body + correlation id into a [`ChannelError`] whose
//! class the dispatcher acts on, keeping the correlation id for support cases.

use std::collections::BTreeMap;
use std::time::Duration;

use herald_core::ChannelError;
use serde::{Deserialize, Serialize};

/// Name of the correlation header on every Genesys response.
pub const CORRELATION_HEADER: &str = "ININ-Correlation-Id";

/// One entry of `ErrorBody.details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Machine code of this detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The request field the detail is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// Entity the detail is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Name of that entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_name: Option<String>,
}

/// `ErrorBody.limit`: which limit was hit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorLimit {
    /// Limit key, e.g. `client.credentials.token.rate.per.minute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Limit namespace (`platform.api`, `messaging`, `web.messaging`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The limit's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
}

/// The Platform API error body. Every field is optional and unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Dotted code, e.g. `bad.request`, `too.many.requests.retry.after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// HTTP status repeated in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Entity the error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Name of that entity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_name: Option<String>,
    /// Message template with `{param}` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_with_params: Option<String>,
    /// Values of the template's placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_params: Option<BTreeMap<String, String>>,
    /// The correlation id (equals the `ININ-Correlation-Id` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Per-field details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ErrorDetail>>,
    /// Nested errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ErrorBody>>,
    /// The limit that was hit, on limit errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<ErrorLimit>,
}

impl ErrorBody {
    /// Parses a response body leniently: a non-JSON or empty body gives an `ErrorBody` with only `message` set
    /// (truncated), never an error.
    pub fn parse(bytes: &[u8]) -> ErrorBody {
        match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(b) => b,
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                let text = text.trim();
                ErrorBody {
                    message: (!text.is_empty()).then(|| text.chars().take(300).collect()),
                    ..ErrorBody::default()
                }
            }
        }
    }

    /// The first field named in `details[]` (also looking into nested `errors[]`).
    pub fn field_name(&self) -> Option<&str> {
        self.details
            .iter()
            .flatten()
            .find_map(|d| d.field_name.as_deref().filter(|f| !f.is_empty()))
            .or_else(|| self.errors.iter().flatten().find_map(|e| e.field_name()))
    }

    /// The message, else the message template with its parameters filled in, else the code.
    pub fn describe(&self) -> String {
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            return m.to_string();
        }
        if let Some(t) = &self.message_with_params {
            let mut out = t.clone();
            for (k, v) in self.message_params.iter().flatten() {
                out = out.replace(&format!("{{{k}}}"), v);
            }
            return out;
        }
        self.code.clone().unwrap_or_else(|| "no error message".into())
    }
}

/// What a request was about, so a mapped error can name the thing that was not found or closed.
#[derive(Debug, Clone, Default)]
pub struct ErrorContext {
    /// Kind of entity addressed (`conversation`, `communication`, `canned response`, `user`, ...).
    pub what: Option<&'static str>,
    /// Its id.
    pub id: Option<String>,
    /// When set, a 409 (and a 4xx whose code says the conversation is disconnected) means this conversation is
    /// closed: the error becomes [`ChannelError::TargetClosed`].
    pub closed_conversation: Option<String>,
    /// The request field to blame on a 400 that names none (default `body`).
    pub default_field: Option<&'static str>,
    /// Whether repeating the request after an unknown outcome is harmless. `None` decides by the method
    /// ([`crate::outcome::retry_safe`]); a POST that only reads (a query) sets `Some(true)`.
    pub retry_safe: Option<bool>,
}

impl ErrorContext {
    /// Context naming an entity kind and id.
    pub fn entity(what: &'static str, id: impl Into<String>) -> Self {
        ErrorContext { what: Some(what), id: Some(id.into()), ..Default::default() }
    }

    /// Marks the request as a send into `conversation_id`: conflicts mean the conversation has closed.
    pub fn closed_on_conflict(mut self, conversation_id: impl Into<String>) -> Self {
        self.closed_conversation = Some(conversation_id.into());
        self
    }

    /// The request field to blame on a 400 that names none.
    pub fn default_field(mut self, field: &'static str) -> Self {
        self.default_field = Some(field);
        self
    }

    /// Marks the request as harmless to repeat whatever its method (a POST that only queries).
    pub fn retry_safe(mut self) -> Self {
        self.retry_safe = Some(true);
        self
    }
}

fn says_closed(body: &ErrorBody) -> bool {
    let hay = format!("{} {}", body.code.as_deref().unwrap_or(""), body.message.as_deref().unwrap_or(""))
        .to_ascii_lowercase();
    ["disconnected", "closed", "not.connected", "not connected", "read-only", "terminated"]
        .iter()
        .any(|w| hay.contains(w))
}

/// Maps a final (non-retried) error response to a [`ChannelError`].
///
/// 400/422 → `Invalid` (field from `details[].fieldName`), 401/403 → `Unauthorized`, 404 → `NotFound`,
/// 409 → `Permanent` (or `TargetClosed` for sends, see [`ErrorContext::closed_on_conflict`]), 429 → `RateLimited`,
/// 5xx → `Transient`. The correlation id is the header value, else `contextId`.
pub fn map_error(
    status: u16,
    body: &ErrorBody,
    correlation_id: Option<String>,
    retry_after: Option<Duration>,
    ctx: &ErrorContext,
) -> ChannelError {
    let correlation_id = correlation_id.or_else(|| body.context_id.clone());
    let msg = body.describe();
    let code = body.code.clone().unwrap_or_default();
    let corr_note = correlation_id.as_deref().map(|c| format!(" (correlation id {c})")).unwrap_or_default();
    if let Some(conv) = &ctx.closed_conversation {
        if status == 409 || ((400..500).contains(&status) && status != 429 && says_closed(body)) {
            return ChannelError::TargetClosed {
                conversation_id: conv.clone(),
                customer: None,
                reason: format!("Genesys answered {status} {code}: {msg}{corr_note}"),
            };
        }
    }
    match status {
        400 | 413 | 422 => {
            let field =
                body.field_name().map(str::to_string).unwrap_or_else(|| ctx.default_field.unwrap_or("body").into());
            ChannelError::Invalid {
                field,
                reason: format!("was rejected by Genesys ({status} {code}): {msg}{corr_note}"),
                fix: fix_for(&code, status),
            }
        }
        401 | 403 => {
            ChannelError::Unauthorized {
                reason: if status == 401 {
                    format!("the access token was refused ({code}: {msg}); check the OAuth client is active and not revoked")
                } else {
                    format!(
                    "the OAuth client lacks a permission or division for this call ({code}: {msg}); add the role with \
                     the permission listed for this endpoint to the OAuth client"
                )
                },
                correlation_id,
            }
        }
        404 => ChannelError::NotFound {
            what: ctx.what.unwrap_or("resource").to_string(),
            id: ctx.id.clone().or_else(|| body.entity_id.clone()).unwrap_or_default(),
            hint: format!("Genesys answered 404 {code}: {msg}{corr_note}; check the id and the region"),
        },
        429 => ChannelError::RateLimited { retry_after, correlation_id },
        500..=599 => {
            ChannelError::Transient { reason: format!("Genesys answered {status} {code}: {msg}"), correlation_id }
        }
        408 => {
            ChannelError::Transient { reason: format!("Genesys answered 408 (request timeout): {msg}"), correlation_id }
        }
        _ => ChannelError::Permanent { reason: format!("Genesys answered {status} {code}: {msg}"), correlation_id },
    }
}

fn fix_for(code: &str, status: u16) -> String {
    match code {
        "response.entity.too.large" => "send a smaller body (Genesys accepts at most 512000 bytes)".into(),
        "invalid.date" => "send dates as ISO-8601, e.g. 2026-01-31T12:00:00.000Z".into(),
        "invalid.query.param.value" => "check the query parameters of the request".into(),
        _ if status == 413 => "send a smaller body".into(),
        _ => "correct the named field; run `herald doctor` on the payload to see every problem".into(),
    }
}

/// Parses a `Retry-After` header value: the one parser of herald ([`herald_core::retry::parse_retry_after`]:
/// seconds, decimals or an HTTP-date; negative or NaN values are ignored, huge ones clamped to an hour).
pub use herald_core::retry::parse_retry_after;

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::ErrorClass;

    #[test]
    fn parses_the_429_body_and_tolerates_unknown_fields() {
        let b = ErrorBody::parse(
            br#"{"message":"Rate limit exceeded the maximum. Retry the request in [42] seconds",
                 "code":"too.many.requests.retry.after","status":429,"contextId":"corr-1","details":[],"errors":[],
                 "limit":{"key":"token.rate.per.minute","namespace":"platform.api","value":300},"surprise":true}"#,
        );
        assert_eq!(b.code.as_deref(), Some("too.many.requests.retry.after"));
        assert_eq!(b.limit.as_ref().and_then(|l| l.value), Some(300));
        let e = map_error(429, &b, None, Some(Duration::from_secs(42)), &ErrorContext::default());
        assert_eq!(e.class(), ErrorClass::RateLimited);
        assert_eq!(e.correlation_id(), Some("corr-1"));
    }

    #[test]
    fn invalid_names_the_field_from_details() {
        let b = ErrorBody::parse(
            br#"{"message":"textBody is too long","code":"invalid.value","status":400,
                 "details":[{"errorCode":"length","fieldName":"textBody"}]}"#,
        );
        match map_error(400, &b, Some("c9".into()), None, &ErrorContext::default()) {
            ChannelError::Invalid { field, reason, .. } => {
                assert_eq!(field, "textBody");
                assert!(reason.contains("c9") && reason.contains("too long"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let none = ErrorBody::parse(b"not json");
        match map_error(400, &none, None, None, &ErrorContext::default().default_field("textBody")) {
            ChannelError::Invalid { field, reason, .. } => {
                assert_eq!(field, "textBody");
                assert!(reason.contains("not json"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statuses_map_to_classes() {
        let b = ErrorBody {
            message_with_params: Some("no {x}".into()),
            message_params: Some([("x".to_string(), "y".to_string())].into()),
            ..Default::default()
        };
        assert_eq!(b.describe(), "no y");
        let ctx = ErrorContext::entity("conversation", "c-1");
        let cases = [
            (401, ErrorClass::Unauthorized),
            (403, ErrorClass::Unauthorized),
            (404, ErrorClass::NotFound),
            (409, ErrorClass::Permanent),
            (500, ErrorClass::Transient),
            (503, ErrorClass::Transient),
            (422, ErrorClass::Invalid),
            (418, ErrorClass::Permanent),
        ];
        for (status, class) in cases {
            let e = map_error(status, &b, Some("corr".into()), None, &ctx);
            assert_eq!(e.class(), class, "{status}");
        }
        match map_error(404, &b, None, None, &ctx) {
            ChannelError::NotFound { what, id, .. } => {
                assert_eq!((what.as_str(), id.as_str()), ("conversation", "c-1"))
            }
            other => panic!("{other:?}"),
        }
        let send = ErrorContext::entity("communication", "m-1").closed_on_conflict("c-1");
        assert_eq!(map_error(409, &b, None, None, &send).class(), ErrorClass::TargetClosed);
        let disc = ErrorBody { code: Some("conversation.disconnected".into()), ..Default::default() };
        assert_eq!(map_error(400, &disc, None, None, &send).class(), ErrorClass::TargetClosed);
    }

    #[test]
    fn retry_after_values() {
        assert_eq!(parse_retry_after("42"), Some(Duration::from_secs(42)));
        assert_eq!(parse_retry_after(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        for hostile in ["-1", "NaN", "soon"] {
            assert_eq!(parse_retry_after(hostile), None, "{hostile}");
        }
        assert_eq!(parse_retry_after("1e300"), Some(herald_core::retry::MAX_RETRY_AFTER));
    }
}
