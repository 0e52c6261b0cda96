//! The web messaging guest of a load run: a [`GuestClient`] on its own guest WebSocket.

use std::time::Duration;

use herald_webmessaging::guest::{Direction, GuestClient, GuestConfig, GuestError, GuestEvent};

use super::runner::{Hit, LoadGuest};
use super::script::WaitFor;
use super::stats::Stats;
use super::LoadPlan;

/// A web messaging guest; a sent message is known by its tracing id.
pub(super) struct WebMessagingGuest(GuestClient);

impl LoadGuest for WebMessagingGuest {
    type Event = GuestEvent;
    type Sent = String;

    async fn open(_idx: usize, plan: &LoadPlan) -> Result<Self, String> {
        let mut config = GuestConfig::new(plan.ws_base.clone(), plan.deployment_id.clone());
        config.api_base = plan.api_base.clone();
        config.connect_timeout = plan.connect_timeout;
        GuestClient::connect(config).await.map(WebMessagingGuest).map_err(|e| e.label())
    }

    async fn say(&mut self, text: &str, plan: &LoadPlan, stats: &Stats) -> Result<String, String> {
        let g = &mut self.0;
        let sent = match g.send_text(text).await {
            Err(GuestError::ReadOnly) => {
                g.start_new(plan.connect_timeout).await.map_err(|e| e.label())?;
                Stats::bump(&stats.restarts);
                g.send_text(text).await
            }
            other => other,
        };
        sent.map_err(|e| e.label())
    }

    async fn next_event(&mut self, left: Duration) -> Result<Option<GuestEvent>, String> {
        match self.0.next_event(left).await {
            Ok(ev) => Ok(Some(ev)),
            Err(GuestError::Timeout(..)) => Ok(None),
            Err(e) => Err(e.label()),
        }
    }

    fn account(&self, stats: &Stats, ev: &GuestEvent) {
        match ev {
            GuestEvent::Message(m) if m.direction == Direction::Outbound && m.text.is_some() => {
                Stats::bump(&stats.received)
            }
            GuestEvent::Message(m) if m.tracing_id.is_some() && !m.is_response => Stats::bump(&stats.echoed),
            GuestEvent::Error { code, .. } => stats.error(code.to_string()),
            GuestEvent::RateLimited { .. } => stats.error("4029"),
            GuestEvent::SessionExpired => stats.error("4006"),
            _ => {}
        }
    }

    fn hit(&self, ev: &GuestEvent, what: WaitFor, sent: &String) -> Option<Hit> {
        let done = match what {
            WaitFor::Answer => ev.as_outbound_text().is_some(),
            WaitFor::Echo => ev.is_echo_of(sent),
        };
        if done {
            return Some(Hit::Done);
        }
        matches!(ev, GuestEvent::Error { tracing_id: Some(t), .. } if t == sent).then_some(Hit::Failed)
    }

    async fn close(self) {
        let _ = self.0.close().await;
    }
}
