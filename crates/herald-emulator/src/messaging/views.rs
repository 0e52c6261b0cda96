//! JSON renderings of conversations, in the platform's field names.
//!
//! Kept apart from the model so that each API generation (generic Conversation, media-specific
//! MessageConversation / ChatConversation, notification event bodies) is one function.

use serde_json::{json, Map, Value};

use crate::clock::iso;
use crate::world::conversation::{Communication, Conversation, Media, Participant, Sender, TranscriptEntry};

fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_string(), v);
    }
}

fn entity(id: &Option<String>, kind: &str) -> Option<Value> {
    id.as_ref().map(|i| json!({"id": i, "selfUri": format!("/api/v2/{kind}/{i}")}))
}

fn message_details(conv: &Conversation, comm: &Communication) -> Vec<Value> {
    conv.transcript
        .iter()
        .filter(|m| m.communication_id == comm.id)
        .map(|m| {
            json!({
                "messageId": m.id,
                "messageURI": format!("/api/v2/conversations/messages/{}/messages/{}", conv.id, m.id),
                "messageStatus": if m.inbound { "received" } else { "sent" },
                "messageSegmentCount": 1,
                "messageTime": iso(m.time),
            })
        })
        .collect()
}

fn communication(conv: &Conversation, p: &Participant, c: &Communication) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id));
    m.insert("state".into(), json!(c.state.as_str()));
    m.insert("initialState".into(), json!(c.initial_state.as_str()));
    m.insert("direction".into(), json!(p.direction));
    m.insert("held".into(), json!(false));
    put(&mut m, "connectedTime", c.connected.map(|t| json!(iso(t))));
    put(&mut m, "disconnectedTime", c.end.map(|t| json!(iso(t))));
    put(&mut m, "disconnectType", c.disconnect_type.as_ref().map(|d| json!(d)));
    if conv.media == Media::Message {
        m.insert("type".into(), json!(conv.messenger_type));
        m.insert("recordingId".into(), json!(conv.id));
        m.insert("messages".into(), Value::Array(message_details(conv, c)));
        put(&mut m, "toAddress", p.address.as_ref().map(|a| json!({"addressNormalized": a})));
    } else {
        m.insert("roomId".into(), json!(format!("{}@conference.emulator", conv.id)));
        m.insert("startAlertingTime".into(), json!(iso(c.start)));
    }
    // A live segment has no end yet (and no `howEnded`); an ended one has both.
    let mut segment = Map::new();
    segment.insert("startTime".into(), json!(iso(c.start)));
    put(&mut segment, "endTime", c.end.map(|t| json!(iso(t))));
    segment.insert("type".into(), json!("Interact"));
    put(&mut segment, "howEnded", c.disconnect_type.as_ref().map(|d| json!(d)));
    m.insert("segments".into(), json!([Value::Object(segment)]));
    Value::Object(m)
}

/// Fields every participant rendering has. The generic `Participant` has no `state`, `direction` or
/// `disconnectType` (they live on its communications); the media participants and event bodies add them
/// with [`participant_state`].
fn participant_common(p: &Participant) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(p.id));
    m.insert("startTime".into(), json!(iso(p.start)));
    put(&mut m, "connectedTime", p.connected.map(|t| json!(iso(t))));
    put(&mut m, "endTime", p.end.map(|t| json!(iso(t))));
    put(&mut m, "name", p.name.as_ref().map(|n| json!(n)));
    m.insert("purpose".into(), json!(p.purpose));
    m.insert("wrapupRequired".into(), json!(false));
    m.insert("attributes".into(), json!({}));
    m
}

/// `state`, `direction` and `disconnectType` of a media participant (MessageMediaParticipant,
/// ChatMediaParticipant, event bodies).
fn participant_state(m: &mut Map<String, Value>, p: &Participant) {
    m.insert("state".into(), json!(p.state.as_str()));
    m.insert("direction".into(), json!(p.direction));
    put(m, "disconnectType", p.disconnect_type.as_ref().map(|d| json!(d)));
}

/// Generic `Conversation` (`GET /api/v2/conversations/{id}`).
pub fn generic(conv: &Conversation) -> Value {
    let parts: Vec<Value> = conv
        .participants
        .iter()
        .map(|p| {
            let mut m = participant_common(p);
            put(&mut m, "userId", p.user_id.as_ref().map(|v| json!(v)));
            put(&mut m, "queueId", p.queue_id.as_ref().map(|v| json!(v)));
            put(&mut m, "externalContactId", p.external_contact_id.as_ref().map(|v| json!(v)));
            put(&mut m, "address", p.address.as_ref().map(|v| json!(v)));
            let comms: Vec<Value> = p.comms.iter().map(|c| communication(conv, p, c)).collect();
            let (msgs, chats) = match conv.media {
                Media::Message => (comms, Vec::new()),
                Media::Chat => (Vec::new(), comms),
            };
            m.insert("messages".into(), Value::Array(msgs));
            m.insert("chats".into(), Value::Array(chats));
            for k in [
                "calls",
                "callbacks",
                "emails",
                "cobrowsesessions",
                "screenshares",
                "socialExpressions",
                "videos",
                "evaluations",
            ] {
                m.insert(k.into(), json!([]));
            }
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("id".into(), json!(conv.id));
    m.insert("startTime".into(), json!(iso(conv.start)));
    put(&mut m, "endTime", conv.end.map(|t| json!(iso(t))));
    m.insert("participants".into(), Value::Array(parts));
    m.insert("conversationIds".into(), json!([]));
    m.insert("maxParticipants".into(), json!(conv.participants.len().max(2)));
    m.insert("recordingState".into(), json!("NONE"));
    m.insert("divisions".into(), json!([]));
    m.insert("selfUri".into(), json!(format!("/api/v2/conversations/{}", conv.id)));
    Value::Object(m)
}

/// Media participant fields shared by MessageMediaParticipant and ChatMediaParticipant.
fn media_participant(conv: &Conversation, p: &Participant) -> Map<String, Value> {
    let mut m = participant_common(p);
    participant_state(&mut m, p);
    put(&mut m, "user", entity(&p.user_id, "users"));
    put(&mut m, "queue", entity(&p.queue_id, "routing/queues"));
    put(&mut m, "externalContact", entity(&p.external_contact_id, "externalcontacts/contacts"));
    put(&mut m, "address", p.address.as_ref().map(|v| json!(v)));
    m.insert("held".into(), json!(false));
    m.insert("wrapupSkipped".into(), json!(false));
    if conv.media == Media::Message {
        m.insert("type".into(), json!(conv.messenger_type));
        let msgs: Vec<Value> = p.comms.iter().flat_map(|c| message_details(conv, c)).collect();
        m.insert("messages".into(), Value::Array(msgs));
    } else {
        m.insert("roomId".into(), json!(format!("{}@conference.emulator", conv.id)));
    }
    m
}

/// `MessageConversation` / `ChatConversation` (media-specific GET).
pub fn media_conversation(conv: &Conversation) -> Value {
    let kind = if conv.media == Media::Message { "messages" } else { "chats" };
    let parts: Vec<Value> = conv.participants.iter().map(|p| Value::Object(media_participant(conv, p))).collect();
    let mut v = json!({
        "id": conv.id,
        "otherMediaUris": [],
        "divisions": [],
        "selfUri": format!("/api/v2/conversations/{kind}/{}", conv.id),
    });
    // Moved in rather than through `json!`, which would copy every participant's message list once more.
    v["participants"] = Value::Array(parts);
    v
}

/// Body of `v2.routing.queues.{id}.conversations.messages` / `v2.users.{id}.conversations.messages`
/// (and the `.chats` equivalents).
pub fn event_body(conv: &Conversation) -> Value {
    let parts: Vec<Value> = conv
        .participants
        .iter()
        .map(|p| {
            let mut m = participant_common(p);
            participant_state(&mut m, p);
            put(&mut m, "user", p.user_id.as_ref().map(|i| json!({"id": i})));
            put(&mut m, "queue", p.queue_id.as_ref().map(|i| json!({"id": i})));
            put(&mut m, "externalContact", p.external_contact_id.as_ref().map(|i| json!({"id": i})));
            m.insert("initialState".into(), json!(p.initial_state.as_str()));
            if conv.media == Media::Message {
                m.insert("type".into(), json!(conv.messenger_type));
                let msgs: Vec<Value> = conv
                    .transcript
                    .iter()
                    .filter(|t| t.participant_id == p.id)
                    .map(|t| {
                        json!({"message": {"id": t.id}, "messageTime": iso(t.time),
                               "messageStatus": if t.inbound { "received" } else { "sent" }})
                    })
                    .collect();
                m.insert("messages".into(), Value::Array(msgs));
            }
            Value::Object(m)
        })
        .collect();
    // Moved into the object: `json!` would copy `parts` (every message of the conversation) once more.
    let mut m = Map::new();
    m.insert("id".into(), json!(conv.id));
    m.insert("participants".into(), Value::Array(parts));
    m.insert("divisions".into(), json!([]));
    Value::Object(m)
}

/// `MessageData` for one transcript entry.
pub fn message_data(conv: &Conversation, m: &TranscriptEntry) -> Value {
    let from = conv
        .participants
        .iter()
        .find(|p| p.id == m.participant_id)
        .and_then(|p| p.address.clone().or(p.user_id.clone()))
        .unwrap_or_default();
    let mut v = json!({
        "id": m.id,
        "timestamp": iso(m.time),
        "direction": if m.inbound { "inbound" } else { "outbound" },
        "messengerType": conv.messenger_type,
        "status": if m.inbound { "received" } else { "sent" },
        "fromAddress": from,
        "toAddress": conv.deployment_id.clone().unwrap_or_default(),
        "normalizedMessage": {
            "id": m.id,
            "type": m.kind,
            "text": m.text,
            "direction": if m.inbound { "Inbound" } else { "Outbound" },
        },
        "conversationId": conv.id,
        "selfUri": format!("/api/v2/conversations/messages/{}/messages/{}", conv.id, m.id),
    });
    if let Sender::Agent(uid) = &m.sender {
        v["createdBy"] = json!({"id": uid, "version": 1, "selfUri": format!("/api/v2/users/{uid}")});
    }
    v
}
