//! Notification channels and subscriptions (`/api/v2/notifications/channels…`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A notification channel: a WebSocket URI and its expiry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// Channel id.
    #[serde(default)]
    pub id: String,
    /// The WebSocket to open, as-is (no auth is added; the URI is the credential).
    #[serde(default)]
    pub connect_uri: String,
    /// When the channel expires (24 h; resubscribing extends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

/// A subscription of a channel: `{id: topic, state, rejectionReason, missingPermissions}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelTopic {
    /// The topic name.
    pub id: String,
    /// `Permitted` or `Rejected` (in answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why the topic was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    /// Permissions the OAuth client lacks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_permissions: Option<Vec<String>>,
    /// Self URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

impl ChannelTopic {
    /// A subscription request for `topic`.
    pub fn topic(topic: impl Into<String>) -> Self {
        ChannelTopic { id: topic.into(), ..Default::default() }
    }

    /// Whether Genesys rejected the topic.
    pub fn is_rejected(&self) -> bool {
        self.state.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("rejected"))
    }
}

/// The WebSocket frame envelope `{topicName, version, eventBody, metadata}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationEnvelope {
    /// The topic (`channel.metadata` for heartbeats and pongs).
    #[serde(default)]
    pub topic_name: Option<String>,
    /// Event schema version (a string upstream; numbers tolerated).
    #[serde(default)]
    pub version: Option<serde_json::Value>,
    /// The event body.
    #[serde(default)]
    pub event_body: Option<serde_json::Value>,
    /// Metadata (`CorrelationId`).
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
}
