//! The control plane: typed, in-process access to inspection, steering and fault injection.
//! The HTTP API under `/emulator/v1/` ([`http`]) is a thin layer over [`Control`].

pub mod faults;
pub mod faults_http;
pub mod http;

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::clock::iso;
use crate::error::EmulatorError;
use crate::guest_ws::session;
use crate::http::request_log::RequestLogEntry;
use crate::messaging::flow;
use crate::routing;
use crate::state::{AppState, SocketKind};
use crate::world::agent::RoutingStatus;
use crate::world::conversation::{Media, Sender, State};

/// A conversation as listed by the control API.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    /// Conversation id.
    pub id: String,
    /// `message` or `chat`.
    pub media: String,
    /// Messenger type (`webmessaging`, `sms`, ...; `chat`).
    pub messenger_type: String,
    /// `connected` or `disconnected`.
    pub state: String,
    /// Start time.
    pub start_time: String,
    /// End time.
    pub end_time: Option<String>,
    /// Queue.
    pub queue_id: Option<String>,
    /// Deployment.
    pub deployment_id: Option<String>,
    /// External contact.
    pub external_contact_id: Option<String>,
    /// Guest token (web messaging).
    pub guest_token: Option<String>,
    /// Agents currently alerting or connected.
    pub agent_ids: Vec<String>,
    /// Agents connected.
    pub connected_agent_ids: Vec<String>,
    /// Messages in the transcript.
    pub message_count: usize,
}

/// One transcript line.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptLine {
    /// Message id.
    pub id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `customer`, `agent:{userId}`, `api`, `system`.
    pub sender: String,
    /// Text.
    pub text: String,
    /// Time.
    pub time: String,
    /// Communication id it was sent on.
    pub communication_id: String,
}

/// Counter snapshot.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountersSnapshot {
    /// API requests.
    pub requests: u64,
    /// 429 answers (rate limit and injected).
    pub too_many_requests: u64,
    /// Injected 5xx answers.
    pub injected_errors: u64,
    /// Answers delayed after the request took effect.
    pub delayed_answers: u64,
    /// Connections dropped after the request took effect.
    pub dropped_connections: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Agent-side messages.
    pub agent_messages: u64,
    /// Agentless messages.
    pub agentless_messages: u64,
    /// Guest messages.
    pub guest_messages: u64,
    /// Notification frames written.
    pub notification_frames: u64,
    /// Messages per conversation id.
    pub messages_per_conversation: BTreeMap<String, usize>,
}

/// Which sockets to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropTarget {
    /// Guest web messaging sockets.
    Guests,
    /// Notification (and chat event stream) sockets.
    Notifications,
    /// Both.
    All,
}

/// In-process control handle (cheap to clone).
#[derive(Clone)]
pub struct Control {
    state: AppState,
}

fn nf(what: &str) -> EmulatorError {
    EmulatorError::NotFound(what.to_string())
}

impl Control {
    /// Wraps the shared state.
    pub fn new(state: AppState) -> Self {
        Control { state }
    }

    /// Every conversation, oldest first.
    pub fn conversations(&self) -> Vec<ConversationSummary> {
        let w = self.state.world.lock();
        let mut v: Vec<ConversationSummary> = w
            .conversations
            .values()
            .map(|c| ConversationSummary {
                id: c.id.clone(),
                media: if c.media == Media::Message { "message" } else { "chat" }.into(),
                messenger_type: c.messenger_type.clone(),
                state: if c.ended() { "disconnected" } else { "connected" }.into(),
                start_time: iso(c.start),
                end_time: c.end.map(iso),
                queue_id: c.queue_id.clone(),
                deployment_id: c.deployment_id.clone(),
                external_contact_id: c.external_contact_id.clone(),
                guest_token: c.guest_token.clone(),
                agent_ids: c.live_agent_ids(),
                connected_agent_ids: c
                    .participants
                    .iter()
                    .filter(|p| p.purpose == "agent" && p.state == State::Connected)
                    .filter_map(|p| p.user_id.clone())
                    .collect(),
                message_count: c.transcript.len(),
            })
            .collect();
        v.sort_by(|a, b| a.start_time.cmp(&b.start_time).then(a.id.cmp(&b.id)));
        v
    }

    /// One conversation's summary.
    pub fn conversation(&self, id: &str) -> Result<ConversationSummary, EmulatorError> {
        self.conversations().into_iter().find(|c| c.id == id).ok_or_else(|| nf("conversation"))
    }

    /// The current conversation of a guest token.
    pub fn guest_conversation(&self, token: &str) -> Option<String> {
        self.state.world.lock().guests.get(token).and_then(|s| s.conversation_id.clone())
    }

    /// The external contact a guest token maps to.
    pub fn guest_contact(&self, token: &str) -> Option<String> {
        self.state.world.lock().contact_by_token.get(token).cloned()
    }

    /// A conversation's transcript.
    pub fn transcript(&self, id: &str) -> Result<Vec<TranscriptLine>, EmulatorError> {
        let w = self.state.world.lock();
        let c = w.conversations.get(id).ok_or_else(|| nf("conversation"))?;
        Ok(c.transcript
            .iter()
            .map(|m| TranscriptLine {
                id: m.id.clone(),
                direction: if m.inbound { "inbound" } else { "outbound" }.into(),
                sender: m.sender.label(),
                text: m.text.clone(),
                time: iso(m.time),
                communication_id: m.communication_id.clone(),
            })
            .collect())
    }

    /// Connects an agent to a conversation: answers its alert, or adds and connects it.
    pub fn connect_agent(&self, conv_id: &str, user_id: &str) -> Result<(), EmulatorError> {
        let s = &self.state;
        let mut w = s.world.lock();
        if !w.agents.contains_key(user_id) {
            return Err(nf("agent"));
        }
        let conv = w.conversations.get(conv_id).ok_or_else(|| nf("conversation"))?;
        if conv.ended() {
            return Err(EmulatorError::Invalid("conversation has ended".into()));
        }
        let alerting = conv
            .participants
            .iter()
            .find(|p| p.user_id.as_deref() == Some(user_id) && p.state != State::Disconnected)
            .map(|p| (p.id.clone(), p.state));
        let pid = match alerting {
            Some((_, State::Connected)) => return Ok(()),
            Some((pid, _)) => pid,
            None => {
                let queue = conv.queue_id.clone().unwrap_or_default();
                routing::offer(s, &mut w, conv_id, user_id, &queue);
                w.conversations
                    .get(conv_id)
                    .and_then(|c| c.participants.iter().rev().find(|p| p.user_id.as_deref() == Some(user_id)))
                    .map(|p| p.id.clone())
                    .ok_or_else(|| nf("participant"))?
            }
        };
        let already = w
            .conversations
            .get(conv_id)
            .and_then(|c| c.participants.iter().find(|p| p.id == pid))
            .is_some_and(|p| p.state == State::Connected);
        if already {
            return Ok(());
        }
        routing::answer(s, &mut w, conv_id, &pid).map_err(EmulatorError::Invalid)
    }

    /// Disconnects an agent's participant from a conversation.
    pub fn disconnect_agent(&self, conv_id: &str, user_id: &str) -> Result<(), EmulatorError> {
        let s = &self.state;
        let mut w = s.world.lock();
        let pid = w
            .conversations
            .get(conv_id)
            .ok_or_else(|| nf("conversation"))?
            .participants
            .iter()
            .find(|p| p.user_id.as_deref() == Some(user_id) && p.state != State::Disconnected)
            .map(|p| p.id.clone())
            .ok_or_else(|| nf("agent participant"))?;
        flow::disconnect_participant(s, &mut w, conv_id, &pid).map_err(nf)
    }

    /// Ends a conversation.
    pub fn disconnect_conversation(&self, conv_id: &str) -> Result<(), EmulatorError> {
        let mut w = self.state.world.lock();
        if !w.conversations.contains_key(conv_id) {
            return Err(nf("conversation"));
        }
        flow::disconnect_conversation(&self.state, &mut w, conv_id, "client");
        Ok(())
    }

    /// Ends every live conversation; returns how many.
    pub fn close_all_conversations(&self) -> usize {
        let mut w = self.state.world.lock();
        let ids: Vec<String> = w.conversations.values().filter(|c| !c.ended()).map(|c| c.id.clone()).collect();
        for id in &ids {
            flow::disconnect_conversation(&self.state, &mut w, id, "system");
        }
        ids.len()
    }

    /// Sends a message as the conversation's connected agent (or `user_id`'s participant).
    pub fn agent_send(&self, conv_id: &str, user_id: Option<&str>, text: &str) -> Result<String, EmulatorError> {
        let s = &self.state;
        let mut w = s.world.lock();
        let c = w.conversations.get(conv_id).ok_or_else(|| nf("conversation"))?;
        let p = c
            .participants
            .iter()
            .rev()
            .find(|p| {
                p.purpose == "agent"
                    && p.state == State::Connected
                    && user_id.is_none_or(|u| p.user_id.as_deref() == Some(u))
            })
            .ok_or_else(|| EmulatorError::Invalid("no connected agent".into()))?;
        let (pid, comm, uid) = (
            p.id.clone(),
            p.current_comm().map(|c| c.id.clone()).unwrap_or_default(),
            p.user_id.clone().unwrap_or_default(),
        );
        flow::record_outbound(s, &mut w, conv_id, &pid, &comm, Sender::Agent(uid), text)
            .map(|e| e.id)
            .ok_or_else(|| nf("conversation"))
    }

    /// Sets an agent's presence (definition id, label or system presence).
    pub fn set_presence(&self, user_id: &str, presence: &str) -> Result<(), EmulatorError> {
        let mut w = self.state.world.lock();
        crate::presence::set_presence(&self.state, &mut w, user_id, presence, None)
            .map_err(|e| EmulatorError::Invalid(e.message))
    }

    /// Sets an agent's routing status (`IDLE`, `OFF_QUEUE`, `NOT_RESPONDING`).
    pub fn set_routing_status(&self, user_id: &str, status: &str) -> Result<(), EmulatorError> {
        let st =
            RoutingStatus::parse(status).ok_or_else(|| EmulatorError::Invalid(format!("routing status {status:?}")))?;
        let mut w = self.state.world.lock();
        crate::presence::set_routing(&self.state, &mut w, user_id, st).map_err(|e| EmulatorError::Invalid(e.message))
    }

    /// An agent's `(presence definition id, system presence, routing status)`.
    pub fn agent_status(&self, user_id: &str) -> Option<(String, String, String)> {
        let w = self.state.world.lock();
        w.agents.get(user_id).map(|a| {
            (
                a.presence.definition_id.clone(),
                a.presence.system.definition_name().to_string(),
                a.routing.as_str().to_string(),
            )
        })
    }

    /// Advances the virtual clock and applies expiries (tokens, channels, guest sessions).
    pub fn advance_clock(&self, by: Duration) {
        let s = &self.state;
        s.clock.advance(by);
        s.tokens.purge_expired(s.clock.now_ms());
        s.hub.expire(s.clock.now());
        let mut w = s.world.lock();
        session::expire(s, &mut w);
    }

    /// The clock's offset from real time.
    pub fn clock_offset(&self) -> Duration {
        self.state.clock.offset()
    }

    /// Drops live WebSockets.
    pub fn drop_sockets(&self, target: DropTarget) {
        let tx = &self.state.drop_sockets;
        if matches!(target, DropTarget::Guests | DropTarget::All) {
            let _ = tx.send(SocketKind::Guest);
        }
        if matches!(target, DropTarget::Notifications | DropTarget::All) {
            let _ = tx.send(SocketKind::Notification);
        }
    }

    /// Sends `v2.system.socket_closing` to every connected channel; returns how many.
    pub fn socket_closing(&self) -> usize {
        self.state.hub.socket_closing(&self.state.config.org.id)
    }

    /// Revokes every token (or one client's) and removes the client's channels; returns tokens revoked.
    pub fn revoke_tokens(&self, client_id: Option<&str>) -> usize {
        let n = self.state.tokens.revoke(client_id);
        self.state.hub.remove_owner(client_id);
        n
    }

    /// The request log (empty unless `diagnostics.request_log`).
    pub fn request_log(&self) -> Vec<RequestLogEntry> {
        self.state.request_log.snapshot()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.state.request_log.clear();
    }

    /// Counters.
    pub fn counters(&self) -> CountersSnapshot {
        let c = &self.state.counters;
        let per = self.state.world.lock().conversations.values().map(|c| (c.id.clone(), c.transcript.len())).collect();
        CountersSnapshot {
            requests: c.requests.load(Ordering::Relaxed),
            too_many_requests: c.too_many_requests.load(Ordering::Relaxed),
            injected_errors: c.injected_errors.load(Ordering::Relaxed),
            delayed_answers: c.delayed_answers.load(Ordering::Relaxed),
            dropped_connections: c.dropped_connections.load(Ordering::Relaxed),
            tokens_issued: c.tokens_issued.load(Ordering::Relaxed),
            agent_messages: c.agent_messages.load(Ordering::Relaxed),
            agentless_messages: c.agentless_messages.load(Ordering::Relaxed),
            guest_messages: c.guest_messages.load(Ordering::Relaxed),
            notification_frames: self.state.hub.frames_sent(),
            messages_per_conversation: per,
        }
    }
}
