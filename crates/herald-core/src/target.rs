//! Targets: what a caller may name as the recipient of a notification.
//!
//! Callers never need a communication id: they name a conversation, a customer, a guest or an agent, and the adapter
//! resolves that to upstream ids through the session store (asking the upstream API when the store does not know).

use serde::{Deserialize, Serialize};

/// The recipient of a notification, as the caller names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A conversation, by its Genesys conversation id.
    Conversation {
        /// The conversation id.
        id: String,
    },
    /// A customer, by external contact id or a configured customer key; the adapter finds their open conversation.
    Customer {
        /// External contact id or customer key.
        id: String,
    },
    /// A web messaging guest, by guest token (or a web chat guest member id).
    Guest {
        /// The guest token.
        id: String,
    },
    /// An agent, by Genesys user id (delivered through Teams).
    Agent {
        /// The Genesys user id.
        id: String,
    },
}

impl Target {
    /// The id named, whatever the kind.
    pub fn id(&self) -> &str {
        match self {
            Target::Conversation { id } | Target::Customer { id } | Target::Guest { id } | Target::Agent { id } => id,
        }
    }

    /// The kind as a lower-case word.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Conversation { .. } => "conversation",
            Target::Customer { .. } => "customer",
            Target::Guest { .. } => "guest",
            Target::Agent { .. } => "agent",
        }
    }

    /// The key that orders deliveries: notifications with the same key are delivered in order, one at a time.
    pub fn ordering_key(&self, integration: &str) -> String {
        format!("{integration}/{}/{}", self.kind(), self.id())
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`", self.kind(), self.id())
    }
}
