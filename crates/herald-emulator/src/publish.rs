//! Turns state changes into notification events (conversation, presence, routing, activity).
//!
//! Every function checks for subscribers before rendering, so unobserved changes cost a few
//! hash lookups.

use serde_json::{json, Value};

use crate::clock::iso;
use crate::messaging::views;
use crate::state::{Counters, Shared};
use crate::world::agent::Agent;
use crate::world::conversation::{Conversation, Media};

/// Publishes a conversation change to its queue and user topics.
pub fn conversation_changed(state: &Shared, conv: &Conversation) {
    let suffix = match conv.media {
        Media::Message => "messages",
        Media::Chat => "chats",
    };
    let mut topics = Vec::new();
    let mut queues: Vec<&String> = conv.participants.iter().filter_map(|p| p.queue_id.as_ref()).collect();
    queues.extend(conv.queue_id.iter());
    queues.sort();
    queues.dedup();
    for q in queues {
        topics.push(format!("v2.routing.queues.{q}.conversations.{suffix}"));
        topics.push(format!("v2.routing.queues.{q}.conversations"));
    }
    for u in conv.agent_ids() {
        topics.push(format!("v2.users.{u}.conversations.{suffix}"));
        topics.push(format!("v2.users.{u}.conversations"));
    }
    let mut body: Option<Value> = None;
    for t in topics {
        if state.hub.has_subscribers(&t) {
            let b = body.get_or_insert_with(|| views::event_body(conv));
            let n = state.hub.publish(&t, b);
            state.counters.notification_frames.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn publish_if(state: &Shared, topic: &str, body: impl FnOnce() -> Value) {
    if state.hub.has_subscribers(topic) {
        let n = state.hub.publish(topic, &body());
        if n > 0 {
            Counters::bump(&state.counters.notification_frames);
        }
    }
}

/// The presence event body (`PresenceEventUserPresence`).
pub fn presence_body(agent: &Agent) -> Value {
    json!({
        "source": "PURECLOUD",
        "presenceDefinition": {"id": agent.presence.definition_id, "systemPresence": agent.presence.system.event_name()},
        "primary": agent.presence.primary,
        "message": agent.presence.message,
        "modifiedDate": iso(agent.presence.modified),
    })
}

/// Publishes presence, routing status and activity for an agent.
pub fn agent_changed(state: &Shared, agent: &Agent, presence: bool, routing: bool) {
    let id = &agent.config.id;
    if presence {
        publish_if(state, &format!("v2.users.{id}.presence"), || presence_body(agent));
    }
    if routing {
        publish_if(
            state,
            &format!("v2.users.{id}.routingStatus"),
            || json!({"id": id, "routingStatus": {"status": agent.routing.as_str(), "startTime": iso(agent.routing_since)}}),
        );
    }
    if presence || routing {
        publish_if(state, &format!("v2.users.{id}.activity"), || {
            let queues: Vec<&String> = if agent.on_queue() { agent.config.queues.iter().collect() } else { Vec::new() };
            json!({
                "id": id,
                "routingStatus": {"status": agent.routing.as_str(), "startTime": iso(agent.routing_since)},
                "presence": {
                    "presenceDefinition": {"id": agent.presence.definition_id, "systemPresence": agent.presence.system.event_name()},
                    "presenceMessage": agent.presence.message,
                    "modifiedDate": iso(agent.presence.modified),
                },
                "outOfOffice": {"active": false},
                "activeQueueIds": queues,
                "dateActiveQueuesChanged": iso(agent.presence.modified),
            })
        });
    }
}

/// Publishes a legacy chat message / member event to `v2.conversations.chats.{id}.*`.
pub fn chat_event(state: &Shared, conv_id: &str, kind: &str, body: Value) {
    publish_if(state, &format!("v2.conversations.chats.{conv_id}.{kind}"), || body);
}
