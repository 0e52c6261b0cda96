//! The guest protocol's frames: what the guest sends (actions) and the typed [`GuestEvent`]s every server frame is
//! parsed into.
//!
//! Server frames share one envelope, `{"type": "response"|"message", "class": ..., "code": ..., "body": ...,
//! "tracingId"?}`. Errors are `class: "string"` with the text as body and a numeric code (4006 session expired,
//! 4011 message too long, 409 read-only, ...); rate limiting is `TooManyRequestsErrorMessage` with `retryAfter`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// `configureSession`: open (or resume) the session of `token`; `start_new` asks for a new conversation after a
/// read-only disconnect.
pub fn configure_session(deployment_id: &str, token: &str, start_new: bool, tracing_id: &str) -> String {
    let mut v =
        json!({"action": "configureSession", "deploymentId": deployment_id, "token": token, "tracingId": tracing_id});
    if start_new {
        v["startNew"] = json!(true);
    }
    v.to_string()
}

/// `onMessage` with a Text message.
pub fn on_message(token: &str, text: &str, tracing_id: &str) -> String {
    json!({"action": "onMessage", "token": token, "tracingId": tracing_id, "message": {"type": "Text", "text": text}})
        .to_string()
}

/// `echo` (keep-alive; answered with a `response` StructuredMessage).
pub fn echo(token: &str, tracing_id: &str) -> String {
    json!({"action": "echo", "token": token, "tracingId": tracing_id, "message": {"type": "Text", "text": "ping"}})
        .to_string()
}

/// `getJwt` (answered with a `JwtResponse`).
pub fn get_jwt(token: &str, tracing_id: &str) -> String {
    json!({"action": "getJwt", "token": token, "tracingId": tracing_id}).to_string()
}

/// `closeSession`; `all` closes the guest's other sockets too.
pub fn close_session(token: &str, all: bool, tracing_id: &str) -> String {
    json!({"action": "closeSession", "token": token, "closeAllConnections": all, "tracingId": tracing_id}).to_string()
}

/// The `SessionResponse` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SessionInfo {
    /// Whether the session is connected.
    pub connected: bool,
    /// Whether a new session (and, after `startNew`, a new conversation) was created.
    pub new_session: bool,
    /// Whether the session is read-only (its conversation was disconnected with ReadOnly).
    pub read_only: bool,
    /// Inactivity lifetime of the session, in seconds.
    pub duration_seconds: Option<u64>,
    /// Session expiry, epoch seconds.
    pub expiration_date: Option<i64>,
}

/// Who a message goes to / comes from, seen from the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// From the guest (the echo of its own message).
    Inbound,
    /// To the guest (agent, bot, agentless).
    Outbound,
}

/// A `StructuredMessage` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructuredMessage {
    /// Message id.
    pub id: String,
    /// `Text`, `Structured` or `Event`.
    pub kind: String,
    /// The text, for Text messages.
    pub text: Option<String>,
    /// Inbound (guest) or Outbound (to the guest).
    pub direction: Direction,
    /// `channel.time`.
    pub time: Option<String>,
    /// `originatingEntity` (`Human`, `Bot`).
    pub originating_entity: Option<String>,
    /// The sender's nickname (`channel.from.nickname`).
    pub from_nickname: Option<String>,
    /// `events[]`, for Event messages.
    pub events: Vec<Value>,
    /// `metadata`.
    pub metadata: Value,
    /// The `tracingId` of the frame (the guest's own tracing id on the echo of its message).
    pub tracing_id: Option<String>,
    /// Whether the frame was a `response` (the answer to `echo`) rather than a pushed `message`.
    pub is_response: bool,
}

/// Every frame the server sends, typed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum GuestEvent {
    /// `SessionResponse` (to `configureSession` / `closeSession`).
    Session(SessionInfo),
    /// A Text or Structured message (Inbound echo of the guest's own, or Outbound from an agent/bot/api).
    Message(StructuredMessage),
    /// An Outbound Presence Disconnect event: the conversation ended; `read_only` = the guest may not send until it
    /// starts a new one.
    Disconnected {
        /// `metadata.readOnly == "true"`.
        read_only: bool,
    },
    /// Any other event message (Join, Typing, ...).
    Event(StructuredMessage),
    /// `JwtResponse`.
    Jwt {
        /// The guest JWT (for `GET /api/v2/webmessaging/messages`).
        jwt: String,
        /// Expiry, epoch seconds.
        exp: i64,
    },
    /// An error frame (`class: "string"`): 4006 session expired, 4007 not found, 4011 too long, 409 read-only, ...
    Error {
        /// The code.
        code: u16,
        /// The text.
        message: String,
        /// The tracing id of the request it answers.
        tracing_id: Option<String>,
    },
    /// `TooManyRequestsErrorMessage` (429 / 4029). The client resends the message after `retry_after` itself.
    RateLimited {
        /// How long to wait.
        retry_after: Duration,
        /// `errorMessage`.
        message: String,
        /// The tracing id of the rejected request.
        tracing_id: Option<String>,
    },
    /// `SessionExpiredEvent`: the session is gone.
    SessionExpired,
    /// `ConnectionClosedEvent` (another socket called closeSession, or a connection limit).
    ConnectionClosed {
        /// `reason`, if any.
        reason: Option<String>,
    },
    /// A frame of another class (`PresignedUrlResponse`, `LogoutEvent`, ...), untouched.
    Other {
        /// `class`.
        class: String,
        /// `code`.
        code: u16,
        /// `body`.
        body: Value,
    },
}

impl GuestEvent {
    /// The Outbound Text message this event carries, if it is one (an agent's or agentless answer).
    pub fn as_outbound_text(&self) -> Option<&StructuredMessage> {
        match self {
            GuestEvent::Message(m) if m.direction == Direction::Outbound && m.text.is_some() => Some(m),
            _ => None,
        }
    }

    /// The echo of the guest's own message sent with `tracing_id`.
    pub fn is_echo_of(&self, tracing_id: &str) -> bool {
        matches!(self, GuestEvent::Message(m) if m.direction == Direction::Inbound && m.tracing_id.as_deref() == Some(tracing_id))
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    code: u16,
    #[serde(default)]
    body: Value,
    #[serde(rename = "tracingId", default)]
    tracing_id: Option<String>,
}

/// Parses one text frame. `None` when it is not a JSON envelope.
pub fn parse(text: &str) -> Option<GuestEvent> {
    let env: Envelope = serde_json::from_str(text).ok()?;
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    Some(match env.class.as_str() {
        "SessionResponse" => GuestEvent::Session(serde_json::from_value(env.body).unwrap_or_default()),
        "StructuredMessage" => {
            let b = &env.body;
            let direction = if str_of(b, "direction").as_deref() == Some("Inbound") {
                Direction::Inbound
            } else {
                Direction::Outbound
            };
            let msg = StructuredMessage {
                id: str_of(b, "id").unwrap_or_default(),
                kind: str_of(b, "type").unwrap_or_else(|| "Text".into()),
                text: str_of(b, "text"),
                direction,
                time: b.pointer("/channel/time").and_then(Value::as_str).map(str::to_string),
                originating_entity: str_of(b, "originatingEntity"),
                from_nickname: b.pointer("/channel/from/nickname").and_then(Value::as_str).map(str::to_string),
                events: b.get("events").and_then(Value::as_array).cloned().unwrap_or_default(),
                metadata: b.get("metadata").cloned().unwrap_or(Value::Null),
                tracing_id: env.tracing_id.clone(),
                is_response: env.kind == "response",
            };
            if msg.kind == "Event" {
                let disconnect = msg.events.iter().any(|e| {
                    e.get("eventType").and_then(Value::as_str) == Some("Presence")
                        && e.pointer("/presence/type").and_then(Value::as_str) == Some("Disconnect")
                });
                if disconnect {
                    let ro = msg.metadata.get("readOnly");
                    let read_only =
                        ro.and_then(Value::as_str) == Some("true") || ro.and_then(Value::as_bool) == Some(true);
                    GuestEvent::Disconnected { read_only }
                } else {
                    GuestEvent::Event(msg)
                }
            } else {
                GuestEvent::Message(msg)
            }
        }
        "JwtResponse" => GuestEvent::Jwt {
            jwt: str_of(&env.body, "jwt").unwrap_or_default(),
            exp: env.body.get("exp").and_then(Value::as_i64).unwrap_or_default(),
        },
        "string" => GuestEvent::Error {
            code: env.code,
            message: env.body.as_str().map(str::to_string).unwrap_or_else(|| env.body.to_string()),
            tracing_id: env.tracing_id,
        },
        "TooManyRequestsErrorMessage" => GuestEvent::RateLimited {
            retry_after: Duration::from_secs(env.body.get("retryAfter").and_then(Value::as_u64).unwrap_or(1)),
            message: str_of(&env.body, "errorMessage").unwrap_or_default(),
            tracing_id: env.tracing_id,
        },
        "SessionExpiredEvent" => GuestEvent::SessionExpired,
        "ConnectionClosedEvent" => GuestEvent::ConnectionClosed { reason: str_of(&env.body, "reason") },
        _ => GuestEvent::Other { class: env.class, code: env.code, body: env.body },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_reference_frames() {
        let s = r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":true,"newSession":true,"readOnly":false,"maxCustomDataBytes":2048}}"#;
        assert!(matches!(parse(s), Some(GuestEvent::Session(SessionInfo { connected: true, new_session: true, .. }))));
        let m = r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"text":"Hello","direction":"Inbound","id":"1","channel":{"time":"2022-08-22T19:24:26.704Z","messageId":"1"},"type":"Text"},"tracingId":"t1"}"#;
        assert!(parse(m).is_some_and(|e| e.is_echo_of("t1")));
        let d = r#"{"type":"message","class":"StructuredMessage","code":200,"body":{"direction":"Outbound","id":"2","channel":{"time":"x"},"type":"Event","metadata":{"readOnly":"true"},"events":[{"eventType":"Presence","presence":{"type":"Disconnect"}}],"originatingEntity":"Bot"}}"#;
        assert_eq!(parse(d), Some(GuestEvent::Disconnected { read_only: true }));
        let r = r#"{"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":{"retryAfter":3,"errorCode":4029,"errorMessage":"Message rate too high for this session"}}"#;
        assert!(
            matches!(parse(r), Some(GuestEvent::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(3))
        );
        let e =
            r#"{"type":"response","class":"string","code":409,"body":"Session is read-only, no new messages allowed"}"#;
        assert!(matches!(parse(e), Some(GuestEvent::Error { code: 409, .. })));
        assert_eq!(
            parse(r#"{"type":"message","class":"SessionExpiredEvent","code":200,"body":{}}"#),
            Some(GuestEvent::SessionExpired)
        );
        assert!(parse("not json").is_none());
    }
}
