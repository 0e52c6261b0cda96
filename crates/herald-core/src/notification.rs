//! Notifications and their life in the outbox.
//!
//! A [`Notification`] is what a caller (HTTP API or a rule) asks herald to deliver. Once accepted it lives in the
//! outbox as an [`OutboxRecord`] whose every state change is kept in its history with a reason, so an operator can
//! always answer "what happened to this message?".

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::channel::DeliveryMode;
use crate::target::Target;

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Content {
    /// Plain text, sent as is.
    Text {
        /// The text.
        text: String,
    },
    /// A herald template: `{{name}}` placeholders filled from `variables` and the session.
    Template {
        /// The template text.
        template: String,
        /// Values for the placeholders.
        #[serde(default)]
        variables: BTreeMap<String, String>,
    },
    /// A Genesys Response Management canned response, rendered with its substitutions.
    CannedResponse {
        /// The response id.
        response_id: String,
        /// Values for custom substitutions (built-ins like `AGENT_NAME` come from the session).
        #[serde(default)]
        variables: BTreeMap<String, String>,
    },
}

/// What to do when the target conversation has closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClosedPolicy {
    /// Keep the notification and deliver it into the same customer's next conversation, until it expires.
    #[default]
    Defer,
    /// Send it as an agentless message (web messaging: needs the external contact id and the deployment).
    Agentless,
    /// Fail the notification with the reason.
    Fail,
}

impl ClosedPolicy {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedPolicy::Defer => "defer",
            ClosedPolicy::Agentless => "agentless",
            ClosedPolicy::Fail => "fail",
        }
    }
}

/// A request to deliver content to a target through an integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// herald's id for it.
    pub id: Uuid,
    /// The caller's idempotency key: the same key never creates a second notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The integration (config `[[integration]] name`) that delivers it.
    pub integration: String,
    /// The recipient.
    pub target: Target,
    /// What to send.
    pub content: Content,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// After this instant it is not delivered any more (status `expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Overrides the integration's closed-session policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_policy: Option<ClosedPolicy>,
    /// The rule that produced it, if a rule did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Notification {
    /// The key that orders its delivery relative to others.
    pub fn ordering_key(&self) -> String {
        self.target.ordering_key(&self.integration)
    }

    /// The key upstream sends are made idempotent with: the caller's key if given, else herald's id.
    pub fn delivery_key(&self) -> String {
        self.idempotency_key.clone().unwrap_or_else(|| self.id.to_string())
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Accepted and durable; waiting for its turn (or for its next attempt).
    Pending,
    /// An attempt is in flight (durably recorded before the upstream request leaves).
    Attempting,
    /// Delivered upstream; the receipt names the upstream message.
    Delivered,
    /// Waiting for the customer's next conversation (closed-session policy `defer`).
    Deferred,
    /// Given up: the reason says why and what to do.
    Failed,
    /// Not delivered before `expires_at`.
    Expired,
}

impl NotificationStatus {
    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, NotificationStatus::Delivered | NotificationStatus::Failed | NotificationStatus::Expired)
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Attempting => "attempting",
            NotificationStatus::Delivered => "delivered",
            NotificationStatus::Deferred => "deferred",
            NotificationStatus::Failed => "failed",
            NotificationStatus::Expired => "expired",
        }
    }
}

impl std::str::FromStr for NotificationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => NotificationStatus::Pending,
            "attempting" => NotificationStatus::Attempting,
            "delivered" => NotificationStatus::Delivered,
            "deferred" => NotificationStatus::Deferred,
            "failed" => NotificationStatus::Failed,
            "expired" => NotificationStatus::Expired,
            other => {
                return Err(format!(
                    "unknown status `{other}`; use pending, attempting, delivered, deferred, failed or expired"
                ))
            }
        })
    }
}

/// The proof of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The upstream message id (Genesys `MessageData.id`, Teams activity id, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_message_id: Option<String>,
    /// The conversation it landed in (may differ from the one targeted, e.g. after `defer` or `agentless`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// How it was sent: `agent`, `agentless`, `chat`, `teams`, ...
    pub route: String,
    /// When the upstream accepted it.
    pub delivered_at: DateTime<Utc>,
}

/// One entry of a notification's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    /// When.
    pub at: DateTime<Utc>,
    /// The new status.
    pub status: NotificationStatus,
    /// Why (error text, policy applied, receipt summary).
    pub reason: String,
}

/// A notification in the outbox with its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// The notification.
    pub notification: Notification,
    /// Current status.
    pub status: NotificationStatus,
    /// Every status change, oldest first.
    pub history: Vec<StatusChange>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this instant (backoff, retry-after).
    pub next_attempt_at: DateTime<Utc>,
    /// For `deferred`: the customer whose next conversation it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_for: Option<String>,
    /// Set once delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Monotonic sequence assigned at enqueue; orders records with the same ordering key.
    pub seq: u64,
    /// How the next (or interrupted) attempt is made: `agentless` once the closed-session policy switched to it,
    /// so an attempt interrupted by a crash is checked and resumed in the same mode.
    #[serde(default, skip_serializing_if = "is_normal")]
    pub mode: DeliveryMode,
}

fn is_normal(mode: &DeliveryMode) -> bool {
    *mode == DeliveryMode::Normal
}

impl OutboxRecord {
    /// A fresh pending record.
    pub fn new(notification: Notification, seq: u64) -> Self {
        let at = notification.created_at;
        OutboxRecord {
            notification,
            status: NotificationStatus::Pending,
            history: vec![StatusChange { at, status: NotificationStatus::Pending, reason: "accepted".into() }],
            attempts: 0,
            next_attempt_at: at,
            deferred_for: None,
            receipt: None,
            seq,
            mode: DeliveryMode::Normal,
        }
    }

    /// The notification id.
    pub fn id(&self) -> Uuid {
        self.notification.id
    }

    /// Apply a transition in memory (the outbox persists the result).
    pub fn apply(&mut self, t: &Transition) {
        self.status = t.status;
        if t.count_attempt {
            self.attempts += 1;
        }
        if let Some(at) = t.next_attempt_at {
            self.next_attempt_at = at;
        }
        if t.status != NotificationStatus::Deferred {
            self.deferred_for = None;
        }
        if let Some(c) = &t.deferred_for {
            self.deferred_for = Some(c.clone());
        }
        if let Some(r) = &t.receipt {
            self.receipt = Some(r.clone());
        }
        if let Some(target) = &t.retarget {
            self.notification.target = target.clone();
        }
        if let Some(mode) = t.mode {
            self.mode = mode;
        }
        self.history.push(StatusChange { at: t.at, status: t.status, reason: t.reason.clone() });
    }
}

/// A change of state of an outbox record.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// When.
    pub at: DateTime<Utc>,
    /// The new status.
    pub status: NotificationStatus,
    /// Why.
    pub reason: String,
    /// Count this as an attempt.
    pub count_attempt: bool,
    /// New earliest time for the next attempt.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// For `deferred`: the customer to wait for.
    pub deferred_for: Option<String>,
    /// For `delivered`: the receipt.
    pub receipt: Option<Receipt>,
    /// Point the notification at a new target (e.g. the customer's new conversation).
    pub retarget: Option<Target>,
    /// Switch the delivery mode (the closed-session policy `agentless`; back to normal when released).
    pub mode: Option<DeliveryMode>,
}

impl Transition {
    /// A transition to `status` at `at` for `reason`, with nothing else changed.
    pub fn to(status: NotificationStatus, at: DateTime<Utc>, reason: impl Into<String>) -> Self {
        Transition {
            at,
            status,
            reason: reason.into(),
            count_attempt: false,
            next_attempt_at: None,
            deferred_for: None,
            receipt: None,
            retarget: None,
            mode: None,
        }
    }
}
