//! The conversation life cycle shared by REST handlers, the guest socket and the control API:
//! starting and threading guest conversations, recording messages with their fan-out, and
//! disconnecting.

use crate::guest_ws::frames;
use crate::publish;
use crate::routing;
use crate::state::{new_id, AppState, Counters};
use crate::world::conversation::{Conversation, Media, Participant, Sender, State, TranscriptEntry};
use crate::world::World;

/// Records an outbound message (agent, api or system) and delivers it to the guest.
pub fn record_outbound(
    state: &AppState,
    world: &mut World,
    conv_id: &str,
    participant_id: &str,
    comm_id: &str,
    sender: Sender,
    text: &str,
) -> Option<TranscriptEntry> {
    let now = state.clock.now();
    let nickname = match &sender {
        Sender::Agent(uid) => world.agents.get(uid).map(|a| a.alias().to_string()).unwrap_or_else(|| "Agent".into()),
        _ => state.config.org.name.clone(),
    };
    let conv = world.conversations.get_mut(conv_id)?;
    let entry = TranscriptEntry {
        id: new_id(),
        inbound: false,
        originating: if matches!(sender, Sender::Agent(_)) { "Human" } else { "Bot" },
        sender,
        participant_id: participant_id.to_string(),
        communication_id: comm_id.to_string(),
        text: text.to_string(),
        time: now,
        kind: "Text",
        body_type: "standard",
    };
    conv.transcript.push(entry.clone());
    world.message_index.insert(entry.id.clone(), conv_id.to_string());
    let conv = world.conversations.get(conv_id)?;
    match conv.media {
        Media::Message => {
            if let Some(session) = conv.guest_token.as_ref().and_then(|t| world.guests.get(t)) {
                if session.conversation_id.as_deref() == Some(conv_id) {
                    let from = frames::From { nickname: &nickname, originating_entity: entry.originating };
                    let body = frames::outbound_text(&entry.id, text, now, &from);
                    session.broadcast(&frames::structured(body, None));
                }
            }
        }
        Media::Chat => crate::chat::events::message(state, conv, &entry),
    }
    publish::conversation_changed(state, conv);
    Some(entry)
}

/// Records an inbound (customer) message; for web messaging the guest gets its echo.
pub fn record_inbound(
    state: &AppState,
    world: &mut World,
    conv_id: &str,
    text: &str,
    tracing_id: Option<&str>,
) -> Option<TranscriptEntry> {
    let now = state.clock.now();
    let conv = world.conversations.get_mut(conv_id)?;
    let customer = conv.customer()?;
    let entry = TranscriptEntry {
        id: new_id(),
        inbound: true,
        originating: "Human",
        sender: Sender::Customer,
        participant_id: customer.id.clone(),
        communication_id: customer.current_comm().map(|c| c.id.clone()).unwrap_or_default(),
        text: text.to_string(),
        time: now,
        kind: "Text",
        body_type: "standard",
    };
    conv.transcript.push(entry.clone());
    world.message_index.insert(entry.id.clone(), conv_id.to_string());
    Counters::bump(&state.counters.guest_messages);
    let conv = world.conversations.get(conv_id)?;
    match conv.media {
        Media::Message => {
            if let Some(session) = conv.guest_token.as_ref().and_then(|t| world.guests.get(t)) {
                let body = frames::inbound_text(&entry.id, text, now);
                session.broadcast(&frames::structured(body, tracing_id));
            }
        }
        Media::Chat => crate::chat::events::message(state, conv, &entry),
    }
    publish::conversation_changed(state, conv);
    routing::schedule_auto_reply(state, world, conv_id);
    Some(entry)
}

/// Creates a web messaging conversation for a guest session (customer participant only).
pub fn new_guest_conversation(state: &AppState, world: &mut World, token: &str) -> Option<String> {
    let now = state.clock.now();
    let session = world.guests.get(token)?;
    let mut conv = Conversation::new(Media::Message, "webmessaging", now);
    conv.deployment_id = Some(session.deployment_id.clone());
    conv.external_contact_id = Some(session.external_contact_id.clone());
    conv.guest_token = Some(token.to_string());
    let mut customer = Participant::new("customer", State::Connected, now);
    customer.external_contact_id = Some(session.external_contact_id.clone());
    customer.address = Some(session.deployment_id.clone());
    customer.name = world.contacts.get(&session.external_contact_id).map(|c| c.display_name());
    conv.participants.push(customer);
    let id = conv.id.clone();
    world.conversations.insert(id.clone(), conv);
    if let Some(s) = world.guests.get_mut(token) {
        s.conversation_id = Some(id.clone());
        s.read_only = false;
    }
    Some(id)
}

/// Re-opens an ended conversation inside its threading window: the customer gets a new
/// communication and the conversation is live again.
pub fn reopen(state: &AppState, world: &mut World, conv_id: &str) {
    let now = state.clock.now();
    if let Some(conv) = world.conversations.get_mut(conv_id) {
        conv.end = None;
        if let Some(c) = conv.customer_mut() {
            c.reopen(now);
        }
        publish::conversation_changed(state, conv);
    }
}

/// Makes sure a live conversation without agent is queued on the deployment's queue.
pub fn ensure_routed(state: &AppState, world: &mut World, conv_id: &str) {
    let Some(conv) = world.conversations.get(conv_id) else {
        return;
    };
    if conv.ended() || conv.queued || !conv.live_agent_ids().is_empty() {
        return;
    }
    let queue = conv
        .deployment_id
        .as_ref()
        .and_then(|d| state.config.deployments.iter().find(|x| &x.id == d).map(|x| x.queue_id.clone()));
    if let Some(q) = queue.or_else(|| conv.queue_id.clone()) {
        routing::enqueue(state, world, conv_id, &q);
    }
}

/// Where a guest's next message goes; `None` = the session is read-only.
pub fn guest_target(state: &AppState, world: &mut World, token: &str) -> Option<String> {
    let now = state.clock.now();
    let session = world.guests.get(token)?;
    if session.read_only {
        return None;
    }
    let current = session.conversation_id.clone();
    match current.and_then(|id| world.conversations.get(&id)) {
        None => new_guest_conversation(state, world, token),
        Some(c) if !c.ended() => Some(c.id.clone()),
        Some(c) => {
            let id = c.id.clone();
            if world.within_threading_window(c, now) {
                reopen(state, world, &id);
                Some(id)
            } else {
                new_guest_conversation(state, world, token)
            }
        }
    }
}

/// Ends a conversation (every participant disconnects) and tells the guest.
pub fn disconnect_conversation(state: &AppState, world: &mut World, conv_id: &str, disconnect_type: &str) -> bool {
    let now = state.clock.now();
    let Some(conv) = world.conversations.get_mut(conv_id) else {
        return false;
    };
    if conv.ended() {
        return false;
    }
    conv.end_now(now, disconnect_type);
    let conv = &*conv;
    publish::conversation_changed(state, conv);
    match conv.media {
        Media::Message => notify_guest_disconnect(state, world, conv_id),
        Media::Chat => crate::chat::events::conversation_ended(state, conv),
    }
    routing::release_agents(state, world, conv_id);
    true
}

/// Disconnects one participant; an agent or api leaving a messaging conversation ends it
/// when `behaviour.agent_disconnect_ends_conversation` is set, the customer leaving always does.
pub fn disconnect_participant(
    state: &AppState,
    world: &mut World,
    conv_id: &str,
    participant_id: &str,
) -> Result<(), &'static str> {
    let now = state.clock.now();
    let conv = world.conversations.get_mut(conv_id).ok_or("conversation")?;
    let p = conv.participant_mut(participant_id).ok_or("participant")?;
    let purpose = p.purpose.clone();
    p.disconnect(now, "client");
    let remaining = conv
        .participants
        .iter()
        .any(|x| x.state != State::Disconnected && x.purpose != "customer" && x.purpose != "acd");
    let ends = purpose == "customer"
        || (matches!(purpose.as_str(), "agent" | "api")
            && (state.config.behaviour.agent_disconnect_ends_conversation || !remaining));
    if ends {
        disconnect_conversation(state, world, conv_id, "peer");
    } else if let Some(conv) = world.conversations.get(conv_id) {
        publish::conversation_changed(state, conv);
        routing::release_agents(state, world, conv_id);
    }
    Ok(())
}

fn notify_guest_disconnect(state: &AppState, world: &mut World, conv_id: &str) {
    let now = state.clock.now();
    let Some(conv) = world.conversations.get(conv_id) else {
        return;
    };
    let Some(token) = conv.guest_token.clone() else {
        return;
    };
    let dep = conv.deployment_id.as_ref().and_then(|d| state.config.deployments.iter().find(|x| &x.id == d));
    let Some(dep) = dep else {
        return;
    };
    if !dep.conversation_disconnect_enabled {
        return;
    }
    let read_only = dep.conversation_disconnect_type == "ReadOnly";
    let Some(session) = world.guests.get_mut(&token) else {
        return;
    };
    if session.conversation_id.as_deref() != Some(conv_id) {
        return;
    }
    session.read_only = read_only;
    let body = frames::presence_event(&new_id(), "Disconnect", now, read_only);
    session.broadcast(&frames::structured(body, None));
}
