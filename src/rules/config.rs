//! The `[[rule]]` section: when an event happens, if conditions hold, then send a notification.

use std::collections::BTreeMap;

use herald_core::ClosedPolicy;
use serde::Deserialize;

/// One `[[rule]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique name; recorded on every notification the rule produces.
    pub name: String,
    /// The event: `session_opened`, `session_closed`, `message_received`, `queue_wait_exceeded`,
    /// `agent_presence_changed`, `agent_became_available`, or `event:<name>` for events posted to `POST /v1/events`.
    pub when: String,
    /// For `queue_wait_exceeded`: how long a customer must wait without an agent, in seconds.
    #[serde(default)]
    pub wait_secs: Option<u64>,
    /// Conditions; all must hold.
    #[serde(default, rename = "if")]
    pub conditions: RuleConditions,
    /// The notification to send.
    #[serde(rename = "then")]
    pub action: RuleAction,
}

/// `[rule.if]`: every field set must match the event.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConditions {
    /// The integration that produced the event.
    #[serde(default)]
    pub integration: Option<String>,
    /// The session's queue id.
    #[serde(default)]
    pub queue: Option<String>,
    /// The agent (Genesys user id) of the event or session.
    #[serde(default)]
    pub agent: Option<String>,
    /// The customer (any of their ids).
    #[serde(default)]
    pub customer: Option<String>,
    /// For presence events: the new presence (case-insensitive).
    #[serde(default)]
    pub presence: Option<String>,
    /// For `message_received`: who sent it (`customer`, `agent`, `system`).
    #[serde(default)]
    pub sender: Option<String>,
    /// Attributes of the session or the posted event that must be equal.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Time of day window, `HH:MM-HH:MM` in UTC (may wrap past midnight).
    #[serde(default)]
    pub between: Option<String>,
}

/// Who receives the rule's notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleTarget {
    /// The event's conversation.
    Conversation,
    /// The event's customer (their open conversation).
    Customer,
    /// Every customer the event's agent served within `since_hours`.
    AgentCustomers,
    /// Every customer of the event's queue within `since_hours`.
    QueueCustomers,
    /// The event's agent (through Teams).
    Agent,
}

/// `[rule.then]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleAction {
    /// The integration that delivers.
    pub integration: String,
    /// Who receives it.
    pub target: RuleTarget,
    /// For `agent_customers` / `queue_customers`: how far back, in hours (default 24).
    #[serde(default)]
    pub since_hours: Option<u64>,
    /// Plain text with `{{variables}}` from the event.
    #[serde(default)]
    pub text: Option<String>,
    /// A canned response id (Response Management).
    #[serde(default)]
    pub canned_response: Option<String>,
    /// Values for the canned response's substitutions; may use `{{variables}}` from the event.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Closed-session policy override.
    #[serde(default)]
    pub closed_policy: Option<ClosedPolicy>,
    /// Notifications expire this many seconds after the event.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// At most this many notifications per minute from this rule (0 = unlimited).
    #[serde(default)]
    pub max_per_minute: u32,
    /// A target gets at most one notification from this rule per this many seconds.
    #[serde(default)]
    pub cooldown_secs: u64,
}
