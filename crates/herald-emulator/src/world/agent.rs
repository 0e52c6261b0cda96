//! Agents (users): presence, routing status and the conversations they handle.

use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

use crate::config::AgentConfig;
use crate::world::presence::SystemPresence;

/// Routing status values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingStatus {
    /// Not on queue.
    OffQueue,
    /// On queue, no interaction.
    Idle,
    /// On queue, handling interactions.
    Interacting,
    /// Did not answer an alert.
    NotResponding,
    /// Communicating (non-ACD).
    Communicating,
}

impl RoutingStatus {
    /// The platform spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingStatus::OffQueue => "OFF_QUEUE",
            RoutingStatus::Idle => "IDLE",
            RoutingStatus::Interacting => "INTERACTING",
            RoutingStatus::NotResponding => "NOT_RESPONDING",
            RoutingStatus::Communicating => "COMMUNICATING",
        }
    }

    /// Parses the platform spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "OFF_QUEUE" => RoutingStatus::OffQueue,
            "IDLE" => RoutingStatus::Idle,
            "INTERACTING" => RoutingStatus::Interacting,
            "NOT_RESPONDING" => RoutingStatus::NotResponding,
            "COMMUNICATING" => RoutingStatus::Communicating,
            _ => return None,
        })
    }
}

/// An agent's user presence.
#[derive(Debug, Clone)]
pub struct Presence {
    /// Presence definition id.
    pub definition_id: String,
    /// Its system presence.
    pub system: SystemPresence,
    /// Status message.
    pub message: String,
    /// Primary source flag.
    pub primary: bool,
    /// Last change.
    pub modified: DateTime<Utc>,
}

/// An agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Seed configuration (name, alias, behaviour).
    pub config: AgentConfig,
    /// Presence.
    pub presence: Presence,
    /// Routing status.
    pub routing: RoutingStatus,
    /// When the routing status last changed.
    pub routing_since: DateTime<Utc>,
    /// Conversations currently assigned (alerting or connected).
    pub active: BTreeSet<String>,
}

impl Agent {
    /// Whether the agent is on queue.
    pub fn on_queue(&self) -> bool {
        self.presence.system == SystemPresence::OnQueue
    }

    /// Whether the agent serves `queue_id`.
    pub fn serves(&self, queue_id: &str) -> bool {
        self.config.queues.is_empty() || self.config.queues.iter().any(|q| q == queue_id)
    }

    /// Whether routing may offer the agent another conversation.
    pub fn routable(&self) -> bool {
        self.on_queue()
            && matches!(self.routing, RoutingStatus::Idle | RoutingStatus::Interacting)
            && (self.active.len() as u32) < self.config.capacity.max(1)
    }

    /// The routing status implied by presence and load.
    pub fn derived_routing(&self) -> RoutingStatus {
        if !self.on_queue() {
            RoutingStatus::OffQueue
        } else if self.active.is_empty() {
            RoutingStatus::Idle
        } else {
            RoutingStatus::Interacting
        }
    }

    /// Display alias (falls back to the name).
    pub fn alias(&self) -> &str {
        self.config.alias.as_deref().unwrap_or(&self.config.name)
    }
}
