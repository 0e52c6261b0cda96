//! ACD routing: queueing conversations, offering them to On Queue agents, auto-answer and
//! auto-reply.
//!
//! An agent is routable while On Queue with fewer active conversations than its `capacity`
//! (default 1, so by default only IDLE agents receive conversations). Delays run on tokio
//! timers; everything else happens under the world lock.

use std::time::Duration;

use crate::messaging::flow;
use crate::publish;
use crate::state::AppState;
use crate::world::conversation::{Media, Participant, Sender, State};
use crate::world::World;

/// Queues a conversation on `queue_id` (adds the acd participant) and tries to route it.
pub fn enqueue(state: &AppState, world: &mut World, conv_id: &str, queue_id: &str) {
    let now = state.clock.now();
    let queue_name = state.config.queues.iter().find(|q| q.id == queue_id).map(|q| q.name.clone());
    let Some(conv) = world.conversations.get_mut(conv_id) else {
        return;
    };
    if conv.queued {
        return;
    }
    let mut acd = Participant::new("acd", State::Connected, now);
    acd.queue_id = Some(queue_id.to_string());
    acd.name = queue_name;
    conv.participants.push(acd);
    conv.queue_id = Some(queue_id.to_string());
    conv.queued = true;
    publish::conversation_changed(state, conv);
    world.waiting.entry(queue_id.to_string()).or_default().push_back(conv_id.to_string());
    route_queue(state, world, queue_id);
}

/// Offers waiting conversations of a queue to routable agents.
pub fn route_queue(state: &AppState, world: &mut World, queue_id: &str) {
    loop {
        let Some(conv_id) = world.waiting.get(queue_id).and_then(|q| q.front().cloned()) else {
            return;
        };
        let still_waiting = world.conversations.get(&conv_id).is_some_and(|c| c.queued && !c.ended());
        if !still_waiting {
            if let Some(q) = world.waiting.get_mut(queue_id) {
                q.pop_front();
            }
            continue;
        }
        let n = world.agent_order.len();
        let pick = (0..n)
            .map(|i| world.agent_order[(world.route_cursor + i) % n.max(1)].clone())
            .find(|id| world.agents.get(id).is_some_and(|a| a.routable() && a.serves(queue_id)));
        let Some(agent_id) = pick else {
            return;
        };
        world.route_cursor = world.route_cursor.wrapping_add(1);
        if let Some(q) = world.waiting.get_mut(queue_id) {
            q.pop_front();
        }
        offer(state, world, &conv_id, &agent_id, queue_id);
    }
}

/// Adds an alerting agent participant and schedules the auto-answer.
pub fn offer(state: &AppState, world: &mut World, conv_id: &str, agent_id: &str, queue_id: &str) {
    let now = state.clock.now();
    let Some(agent) = world.agents.get_mut(agent_id) else {
        return;
    };
    let Some(conv) = world.conversations.get_mut(conv_id) else {
        return;
    };
    let mut p = Participant::new("agent", State::Alerting, now);
    p.user_id = Some(agent_id.to_string());
    // A conversation that never queued (an agent connected by the control API to an agentless one) has no queue.
    p.queue_id = (!queue_id.is_empty()).then(|| queue_id.to_string());
    p.name = Some(agent.config.name.clone());
    let participant_id = p.id.clone();
    conv.participants.push(p);
    conv.queued = false;
    publish::conversation_changed(state, conv);
    agent.active.insert(conv_id.to_string());
    refresh_routing(state, world, agent_id);
    let Some(agent) = world.agents.get(agent_id) else {
        return;
    };
    if agent.config.auto_answer {
        let delay = Duration::from_millis(agent.config.auto_answer_delay_ms);
        let st = state.clone();
        let cid = conv_id.to_string();
        tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut w = st.world.lock();
            let _ = answer(&st, &mut w, &cid, &participant_id);
        });
    }
}

/// Connects an alerting agent participant (the acd participant leaves with `transfer`).
pub fn answer(state: &AppState, world: &mut World, conv_id: &str, participant_id: &str) -> Result<(), String> {
    let now = state.clock.now();
    let conv = world.conversations.get_mut(conv_id).ok_or("conversation not found")?;
    if conv.ended() {
        return Err("conversation has ended".into());
    }
    let p = conv.participant_mut(participant_id).ok_or("participant not found")?;
    if p.state != State::Alerting {
        return Err("participant is not alerting".into());
    }
    p.connect(now);
    let user_id = p.user_id.clone();
    let comm_id = p.current_comm().map(|c| c.id.clone()).unwrap_or_default();
    for acd in conv.participants.iter_mut().filter(|x| x.purpose == "acd") {
        acd.disconnect(now, "transfer");
    }
    publish::conversation_changed(state, conv);
    if conv.media == Media::Chat {
        if let Some(p) = conv.participants.iter().find(|p| p.id == participant_id) {
            crate::chat::events::member(state, conv, p);
        }
    }
    let greeting = user_id.as_ref().and_then(|u| world.agents.get(u)).and_then(|a| a.config.greeting.clone());
    if let (Some(text), Some(uid)) = (greeting, user_id) {
        flow::record_outbound(state, world, conv_id, participant_id, &comm_id, Sender::Agent(uid), &text);
    }
    // A customer message waiting for the agent gets the agent's auto-reply too.
    let customer_waiting =
        world.conversations.get(conv_id).and_then(|c| c.transcript.last()).is_some_and(|m| m.inbound);
    if customer_waiting {
        schedule_auto_reply(state, world, conv_id);
    }
    Ok(())
}

/// Recomputes an agent's routing status from presence and load, publishing changes, and
/// routes waiting conversations to it when it became available.
pub fn refresh_routing(state: &AppState, world: &mut World, agent_id: &str) {
    let now = state.clock.now();
    let Some(agent) = world.agents.get_mut(agent_id) else {
        return;
    };
    let next = agent.derived_routing();
    if next != agent.routing {
        agent.routing = next;
        agent.routing_since = now;
        publish::agent_changed(state, agent, false, true);
    }
    if agent.routable() {
        let queues: Vec<String> = if agent.config.queues.is_empty() {
            world.waiting.keys().cloned().collect()
        } else {
            agent.config.queues.clone()
        };
        for q in queues {
            if world.waiting.get(&q).is_some_and(|w| !w.is_empty()) {
                route_queue(state, world, &q);
            }
        }
    }
}

/// Releases agents no longer alerting/connected on a conversation.
pub fn release_agents(state: &AppState, world: &mut World, conv_id: &str) {
    let Some(conv) = world.conversations.get(conv_id) else {
        return;
    };
    let live = conv.live_agent_ids();
    let all = conv.agent_ids();
    for uid in all.into_iter().filter(|u| !live.contains(u)) {
        let removed = world.agents.get_mut(&uid).is_some_and(|a| a.active.remove(conv_id));
        if removed {
            refresh_routing(state, world, &uid);
        }
    }
}

/// Schedules the connected agent's auto-reply to a guest message.
pub fn schedule_auto_reply(state: &AppState, world: &World, conv_id: &str) {
    let Some(conv) = world.conversations.get(conv_id) else {
        return;
    };
    let Some(agent_p) = conv.connected_agent() else {
        return;
    };
    let Some(agent) = agent_p.user_id.as_ref().and_then(|u| world.agents.get(u)) else {
        return;
    };
    let Some(text) = agent.config.auto_reply.clone() else {
        return;
    };
    let delay = Duration::from_millis(agent.config.auto_reply_delay_ms);
    let (st, cid, pid, uid) = (state.clone(), conv_id.to_string(), agent_p.id.clone(), agent.config.id.clone());
    let comm = agent_p.current_comm().map(|c| c.id.clone()).unwrap_or_default();
    tokio::spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut w = st.world.lock();
        let live = w
            .conversations
            .get(&cid)
            .is_some_and(|c| !c.ended() && c.participants.iter().any(|p| p.id == pid && p.state == State::Connected));
        if live {
            flow::record_outbound(&st, &mut w, &cid, &pid, &comm, Sender::Agent(uid), &text);
        }
    });
}
