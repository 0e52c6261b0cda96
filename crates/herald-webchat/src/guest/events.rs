//! Typed events of a chat guest's event stream.
//!
//! The guest's `eventStreamUri` is a notification-channel WebSocket subscribed to
//! `v2.conversations.chats.{conversationId}.messages` and `….members`. Every frame is the notification envelope
//! `{topicName, eventBody, …}`; `channel.metadata` frames (heartbeats, pongs) carry nothing for the guest.

use std::collections::HashMap;

use serde_json::Value;

/// A chat message seen on the guest's event stream (a `WebChatMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestMessage {
    /// The message id.
    pub id: String,
    /// The sender's member id (its chat communication id).
    pub sender_id: String,
    /// The sender's role (`AGENT`, `CUSTOMER`, `ACD`, `WORKFLOW`) when a member event named it earlier.
    pub sender_role: Option<String>,
    /// The text.
    pub body: String,
    /// `standard`, `notice`, `member-join`, `member-leave`, `media-request`.
    pub body_type: String,
    /// When Genesys stamped it (ISO-8601), if it did.
    pub timestamp: Option<String>,
}

impl GuestMessage {
    /// Whether an agent sent it (by the role learned from member events).
    pub fn is_from_agent(&self) -> bool {
        self.sender_role.as_deref() == Some("AGENT")
    }
}

/// A member joining, leaving or changing state (`WebChatMemberInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChange {
    /// The member id (its chat communication id).
    pub id: String,
    /// `AGENT`, `CUSTOMER`, `ACD` or `WORKFLOW`.
    pub role: String,
    /// `CONNECTED`, `DISCONNECTED` or `ALERTING`.
    pub state: String,
    /// Display name, when given.
    pub display_name: Option<String>,
}

/// What a chat guest sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestEvent {
    /// A chat message (the guest's own messages come back too).
    Message(GuestMessage),
    /// Someone is typing.
    Typing {
        /// The typing member's id.
        sender_id: String,
    },
    /// A member joined, left or changed state.
    Member(MemberChange),
    /// The event stream closed; nothing more will arrive.
    StreamClosed {
        /// Why, as far as known.
        reason: String,
    },
}

fn text(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Turns one frame into an event, remembering member roles in `roles`. `None` for frames without meaning for
/// the guest (metadata, other topics, unparsable text).
pub(crate) fn parse_frame(frame: &str, roles: &mut HashMap<String, String>) -> Option<GuestEvent> {
    let v: Value = serde_json::from_str(frame).ok()?;
    let topic = v.get("topicName")?.as_str()?;
    let body = v.get("eventBody")?;
    if !topic.starts_with("v2.conversations.chats.") {
        return None;
    }
    if topic.ends_with(".members") {
        let member = body.get("member")?;
        let change = MemberChange {
            id: text(member, "/id")?,
            role: text(member, "/role").unwrap_or_default(),
            state: text(member, "/state").unwrap_or_default(),
            display_name: text(member, "/displayName"),
        };
        if !change.role.is_empty() {
            roles.insert(change.id.clone(), change.role.clone());
        }
        return Some(GuestEvent::Member(change));
    }
    if topic.ends_with(".messages") {
        let sender_id = text(body, "/sender/id").unwrap_or_default();
        let body_type = text(body, "/bodyType").unwrap_or_else(|| "standard".into());
        if body_type == "typing-indicator" {
            return Some(GuestEvent::Typing { sender_id });
        }
        return Some(GuestEvent::Message(GuestMessage {
            id: text(body, "/id").unwrap_or_default(),
            sender_role: roles.get(&sender_id).cloned(),
            sender_id,
            body: body.get("body").and_then(Value::as_str).unwrap_or_default().to_string(),
            body_type,
            timestamp: text(body, "/timestamp"),
        }));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_typed_events_with_roles() {
        let mut roles = HashMap::new();
        let member = r#"{"topicName":"v2.conversations.chats.c1.members","eventBody":{"member":{"id":"m-a","role":"AGENT","state":"CONNECTED","displayName":"Alice"}}}"#;
        assert!(matches!(parse_frame(member, &mut roles), Some(GuestEvent::Member(m)) if m.role == "AGENT"));
        let msg = r#"{"topicName":"v2.conversations.chats.c1.messages","eventBody":{"id":"x1","sender":{"id":"m-a"},"body":"Hi","bodyType":"standard"}}"#;
        match parse_frame(msg, &mut roles) {
            Some(GuestEvent::Message(m)) => {
                assert!(m.is_from_agent());
                assert_eq!(m.body, "Hi");
            }
            other => panic!("{other:?}"),
        }
        let typing = r#"{"topicName":"v2.conversations.chats.c1.messages","eventBody":{"sender":{"id":"m-a"},"bodyType":"typing-indicator"}}"#;
        assert!(matches!(parse_frame(typing, &mut roles), Some(GuestEvent::Typing { .. })));
        let beat = r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#;
        assert_eq!(parse_frame(beat, &mut roles), None);
        assert_eq!(parse_frame("not json", &mut roles), None);
    }
}
