//! Normalised events: what adapters make of upstream traffic.
//!
//! Adapters turn notification-stream frames, bot activities and presence changes into [`Event`]s. The host applies
//! session events to the session store and hands every event to the rules engine.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::session::Session;

/// Which system a presence value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceSource {
    /// Genesys Cloud presence (system presence, e.g. `Available`, `On Queue`).
    Genesys,
    /// Microsoft Teams presence (Graph availability, e.g. `Available`, `Busy`).
    Teams,
}

/// Who sent a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    /// The customer / guest.
    Customer,
    /// An agent.
    Agent,
    /// A bot, flow or API participant.
    System,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A conversation was seen for the first time.
    SessionOpened {
        /// The session as now known.
        session: Session,
    },
    /// A known conversation changed (agent connected, new communication, ...).
    SessionUpdated {
        /// The session as now known.
        session: Session,
    },
    /// Every participant has disconnected.
    SessionClosed {
        /// The session as last known.
        session: Session,
    },
    /// A message was received in a conversation.
    MessageReceived {
        /// The conversation.
        conversation_id: String,
        /// Who sent it.
        sender: Sender,
        /// Its text, when it has one.
        text: Option<String>,
    },
    /// A customer has waited in a queue longer than a rule's threshold without an agent connecting.
    QueueWaitExceeded {
        /// The waiting session.
        session: Session,
        /// How long they have waited, in seconds.
        waited_secs: u64,
    },
    /// An agent's presence changed in one of the systems.
    AgentPresenceChanged {
        /// Genesys user id.
        agent_id: String,
        /// Which system changed.
        source: PresenceSource,
        /// The new presence, as the source spells it.
        presence: String,
        /// The previous presence, when known.
        previous: Option<String>,
    },
    /// An agent became available (Genesys system presence Available or On Queue, from something else).
    AgentBecameAvailable {
        /// Genesys user id.
        agent_id: String,
    },
    /// A named business event posted by another system (`POST /v1/events`).
    Named {
        /// The event name.
        name: String,
        /// Its attributes (customer id, order id, ...).
        attributes: BTreeMap<String, String>,
    },
}

impl EventKind {
    /// The event's name as rules spell it in `when`.
    pub fn name(&self) -> &str {
        match self {
            EventKind::SessionOpened { .. } => "session_opened",
            EventKind::SessionUpdated { .. } => "session_updated",
            EventKind::SessionClosed { .. } => "session_closed",
            EventKind::MessageReceived { .. } => "message_received",
            EventKind::QueueWaitExceeded { .. } => "queue_wait_exceeded",
            EventKind::AgentPresenceChanged { .. } => "agent_presence_changed",
            EventKind::AgentBecameAvailable { .. } => "agent_became_available",
            EventKind::Named { name, .. } => name,
        }
    }

    /// The session the event carries, if it carries one.
    pub fn session(&self) -> Option<&Session> {
        match self {
            EventKind::SessionOpened { session }
            | EventKind::SessionUpdated { session }
            | EventKind::SessionClosed { session }
            | EventKind::QueueWaitExceeded { session, .. } => Some(session),
            _ => None,
        }
    }
}

/// An event with where and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id.
    pub id: Uuid,
    /// The integration that produced it (or `api` for posted events).
    pub integration: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// A new event happening now.
    pub fn now(integration: impl Into<String>, kind: EventKind) -> Self {
        Event { id: Uuid::new_v4(), integration: integration.into(), at: Utc::now(), kind }
    }
}

/// Where adapters publish events. Cloneable; bounded, so a slow host slows ingestion rather than losing events.
#[derive(Debug, Clone)]
pub struct EventSink {
    integration: String,
    tx: tokio::sync::mpsc::Sender<Event>,
}

impl EventSink {
    /// A sink publishing as `integration` into `tx`.
    pub fn new(integration: impl Into<String>, tx: tokio::sync::mpsc::Sender<Event>) -> Self {
        EventSink { integration: integration.into(), tx }
    }

    /// A sink and its receiving end, for tests.
    pub fn channel(integration: impl Into<String>, capacity: usize) -> (Self, tokio::sync::mpsc::Receiver<Event>) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity);
        (EventSink::new(integration, tx), rx)
    }

    /// The integration this sink publishes as.
    pub fn integration(&self) -> &str {
        &self.integration
    }

    /// Publish an event happening now. Returns false when the host has stopped listening (shutdown).
    pub async fn publish(&self, kind: EventKind) -> bool {
        self.tx.send(Event::now(self.integration.clone(), kind)).await.is_ok()
    }

    /// Publish a fully formed event.
    pub async fn publish_event(&self, event: Event) -> bool {
        self.tx.send(event).await.is_ok()
    }
}
