//! Builders for the frames the web messaging guest WebSocket sends (reference §3.3).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::clock::iso;

/// `{"type","class","code","body","tracingId"?}`.
pub fn envelope(kind: &str, class: &str, code: u16, body: Value, tracing_id: Option<&str>) -> String {
    let mut v = json!({"type": kind, "class": class, "code": code, "body": body});
    if let Some(t) = tracing_id {
        v["tracingId"] = json!(t);
    }
    v.to_string()
}

/// An error frame: `class:"string"` with the text as body.
pub fn error(code: u16, text: &str, tracing_id: Option<&str>) -> String {
    envelope("response", "string", code, json!(text), tracing_id)
}

/// The `SessionResponse` body.
pub struct SessionInfo {
    /// Connected.
    pub connected: bool,
    /// New session.
    pub new_session: bool,
    /// Read-only.
    pub read_only: bool,
    /// Inactivity lifetime.
    pub duration_seconds: u64,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Whether an autostart conversation was begun.
    pub auto_started: bool,
}

/// A `SessionResponse` frame.
pub fn session_response(s: &SessionInfo, tracing_id: Option<&str>) -> String {
    envelope(
        "response",
        "SessionResponse",
        200,
        json!({
            "connected": s.connected,
            "newSession": s.new_session,
            "readOnly": s.read_only,
            "clearedExistingSession": false,
            "maxCustomDataBytes": 2048,
            "allowedMedia": {"inbound": {"fileTypes": [{"type": "image/png"}, {"type": "image/jpeg"}], "maxFileSizeKB": 10240}},
            "blockedExtensions": [".exe", ".bat"],
            "durationSeconds": s.duration_seconds,
            "expirationDate": s.expires_at.timestamp(),
            "autoStarted": s.auto_started,
        }),
        tracing_id,
    )
}

/// Who sent a StructuredMessage, for `channel.from` and `originatingEntity`.
pub struct From<'a> {
    /// Nickname shown to the guest.
    pub nickname: &'a str,
    /// `Human` or `Bot`.
    pub originating_entity: &'a str,
}

/// An Outbound Text StructuredMessage (agent / api → guest).
pub fn outbound_text(id: &str, text: &str, time: DateTime<Utc>, from: &From<'_>) -> Value {
    json!({
        "id": id,
        "type": "Text",
        "text": text,
        "direction": "Outbound",
        "channel": {"time": iso(time), "messageId": id, "type": "Private", "from": {"nickname": from.nickname}, "to": {}},
        "content": [],
        "metadata": {"correlationId": id},
        "originatingEntity": from.originating_entity,
    })
}

/// An Inbound Text StructuredMessage (the guest's own message, echoed back).
pub fn inbound_text(id: &str, text: &str, time: DateTime<Utc>) -> Value {
    json!({
        "id": id,
        "type": "Text",
        "text": text,
        "direction": "Inbound",
        "channel": {"time": iso(time), "messageId": id},
        "content": [],
        "metadata": {"correlationId": id},
    })
}

/// The Outbound Presence event (Join, Disconnect, ...); `read_only` adds `metadata.readOnly`.
pub fn presence_event(id: &str, presence: &str, time: DateTime<Utc>, read_only: bool) -> Value {
    let mut v = json!({
        "id": id,
        "type": "Event",
        "direction": "Outbound",
        "channel": {"time": iso(time), "messageId": id},
        "events": [{"eventType": "Presence", "presence": {"type": presence}}],
        "originatingEntity": "Bot",
    });
    if read_only {
        v["metadata"] = json!({"readOnly": "true"});
    }
    v
}

/// An Outbound Typing event.
pub fn typing_event(id: &str, time: DateTime<Utc>) -> Value {
    json!({
        "id": id,
        "type": "Event",
        "direction": "Outbound",
        "channel": {"time": iso(time), "messageId": id},
        "events": [{"eventType": "Typing", "typing": {"type": "On", "duration": 5000}}],
        "originatingEntity": "Human",
    })
}

/// A `message`-type StructuredMessage frame.
pub fn structured(body: Value, tracing_id: Option<&str>) -> String {
    envelope("message", "StructuredMessage", 200, body, tracing_id)
}
