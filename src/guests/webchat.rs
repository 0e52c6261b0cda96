//! The legacy web chat guest of a load run: a [`ChatGuest`] (guest chat REST calls and its own event stream
//! WebSocket) routed to a queue of a chat deployment.
//!
//! Script semantics match web messaging: `say` posts a guest message; `wait = "echo"` ends when the guest's own
//! message (same message id) comes back on its event stream, `wait = "answer"` when a message from someone else
//! (the agent) arrives. A send refused because the chat has ended joins a new chat and sends again (counted as a
//! new conversation, like web messaging's read-only restart).

use std::time::Duration;

use herald_core::ChannelError;
use herald_webchat::guest::{ChatGuest, GuestEvent, GuestMessage, GuestOptions};
use tokio::time::Instant;

use super::runner::{Hit, LoadGuest};
use super::script::WaitFor;
use super::stats::Stats;
use super::LoadPlan;

/// A chat guest, with what it needs to join again after its chat ended.
pub(super) struct WebChatGuest {
    guest: ChatGuest,
    options: GuestOptions,
    /// The event stream closed: nothing more will arrive.
    closed: bool,
}

/// A sent chat message: its id (from the send's answer) and text (the fallback when no id came back).
pub(super) struct SentChat {
    id: String,
    text: String,
}

/// The error label of a chat failure: its class (`invalid`, `target_closed`, `rate_limited`, `transient`, ...).
fn label(e: &ChannelError) -> String {
    e.class().as_str().to_string()
}

/// Whether `m` is a text the guest itself sent.
fn is_own(me: &str, m: &GuestMessage) -> bool {
    m.sender_id == me && m.body_type == "standard"
}

/// Whether `m` is a text from someone else than the guest or a customer (an agent's answer).
fn is_answer(me: &str, m: &GuestMessage) -> bool {
    m.sender_id != me && m.body_type == "standard" && m.sender_role.as_deref() != Some("CUSTOMER")
}

impl LoadGuest for WebChatGuest {
    type Event = GuestEvent;
    type Sent = SentChat;

    async fn open(idx: usize, plan: &LoadPlan) -> Result<Self, String> {
        let mut options = GuestOptions::new(
            plan.api_base_url(),
            plan.organization_id.clone(),
            plan.deployment_id.clone(),
            plan.queue.clone(),
            format!("Load guest {idx}"),
        );
        options.timeout = plan.connect_timeout;
        let guest = ChatGuest::join(&options).await.map_err(|e| label(&e))?;
        Ok(WebChatGuest { guest, options, closed: false })
    }

    async fn say(&mut self, text: &str, _plan: &LoadPlan, stats: &Stats) -> Result<SentChat, String> {
        let sent = match self.guest.send(text).await {
            Err(ChannelError::TargetClosed { .. }) => {
                self.guest = ChatGuest::join(&self.options).await.map_err(|e| label(&e))?;
                self.closed = false;
                Stats::bump(&stats.restarts);
                self.guest.send(text).await
            }
            other => other,
        };
        let message = sent.map_err(|e| label(&e))?;
        Ok(SentChat { id: message.id.unwrap_or_default(), text: text.to_string() })
    }

    async fn next_event(&mut self, left: Duration) -> Result<Option<GuestEvent>, String> {
        if self.closed {
            return Err("closed".into());
        }
        let asked = Instant::now();
        match self.guest.next_event(left).await {
            Ok(GuestEvent::StreamClosed { .. }) => {
                self.closed = true;
                Err("closed".into())
            }
            Ok(ev) => Ok(Some(ev)),
            // The event queue only ends after a `StreamClosed`; an early error means it has stopped.
            Err(_) if asked.elapsed() < left => {
                self.closed = true;
                Err("closed".into())
            }
            Err(_) => Ok(None),
        }
    }

    fn account(&self, stats: &Stats, ev: &GuestEvent) {
        if let GuestEvent::Message(m) = ev {
            let me = self.guest.member_id();
            if is_own(me, m) {
                Stats::bump(&stats.echoed);
            } else if is_answer(me, m) {
                Stats::bump(&stats.received);
            }
        }
    }

    fn hit(&self, ev: &GuestEvent, what: WaitFor, sent: &SentChat) -> Option<Hit> {
        let GuestEvent::Message(m) = ev else {
            return None;
        };
        let me = self.guest.member_id();
        let done = match what {
            WaitFor::Answer => is_answer(me, m),
            WaitFor::Echo => is_own(me, m) && if sent.id.is_empty() { m.body == sent.text } else { m.id == sent.id },
        };
        done.then_some(Hit::Done)
    }

    async fn close(self) {
        let _ = self.guest.leave().await;
    }
}
