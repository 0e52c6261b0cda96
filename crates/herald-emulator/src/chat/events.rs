//! Chat JSON shapes (WebChatMessage, WebChatMemberInfo) and the events published to
//! `v2.conversations.chats.{id}.messages|members`.

use serde_json::{json, Value};

use crate::clock::iso;
use crate::publish;
use crate::state::Shared;
use crate::world::conversation::{Conversation, Participant, State, TranscriptEntry};

/// `WebChatMessage`; the sender carries its `role` like a `WebChatMemberInfo`.
pub fn message_json(conv: &Conversation, m: &TranscriptEntry) -> Value {
    let role = conv.participants.iter().find(|p| p.id == m.participant_id).map_or("WORKFLOW", |p| role_of(&p.purpose));
    json!({
        "id": m.id,
        "conversation": {"id": conv.id, "selfUri": format!("/api/v2/webchat/guest/conversations/{}", conv.id)},
        "sender": {"id": m.communication_id, "role": role},
        "body": m.text,
        "bodyType": m.body_type,
        "timestamp": iso(m.time),
        "selfUri": format!("/api/v2/webchat/guest/conversations/{}/messages/{}", conv.id, m.id),
    })
}

/// The `WebChatMemberInfo.role` of a participant purpose.
fn role_of(purpose: &str) -> &'static str {
    match purpose {
        "customer" => "CUSTOMER",
        "agent" => "AGENT",
        "acd" => "ACD",
        _ => "WORKFLOW",
    }
}

/// `WebChatMemberInfo` of a participant (its id is the chat communication id).
pub fn member_json(conv: &Conversation, p: &Participant) -> Value {
    let role = role_of(&p.purpose);
    let state = match p.state {
        State::Connected => "CONNECTED",
        State::Alerting => "ALERTING",
        State::Disconnected => "DISCONNECTED",
    };
    let name =
        if p.purpose == "customer" { conv.chat_guest.as_ref().map(|g| g.display_name.clone()) } else { p.name.clone() };
    let mut v = json!({
        "id": p.current_comm().map(|c| c.id.clone()).unwrap_or_default(),
        "displayName": name,
        "role": role,
        "joinDate": iso(p.start),
        "state": state,
        "authenticatedGuest": false,
    });
    if let Some(end) = p.end {
        v["leaveDate"] = json!(iso(end));
    }
    v
}

/// Publishes a chat message event.
pub fn message(state: &Shared, conv: &Conversation, m: &TranscriptEntry) {
    publish::chat_event(state, &conv.id, "messages", message_json(conv, m));
}

/// Publishes a member change (join / leave) of one participant.
pub fn member(state: &Shared, conv: &Conversation, p: &Participant) {
    let member = member_json(conv, p);
    publish::chat_event(
        state,
        &conv.id,
        "members",
        json!({"conversation": {"id": conv.id}, "member": member, "timestamp": iso(state.clock.now())}),
    );
}

/// Publishes member-leave events for everyone when a chat ends.
pub fn conversation_ended(state: &Shared, conv: &Conversation) {
    for p in conv.participants.iter().filter(|p| p.purpose != "acd") {
        member(state, conv, p);
    }
}
