//! Presence and routing status of users.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::string_enum;

/// `presenceDefinition` inside a user presence: `{id, systemPresence}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceDefinitionRef {
    /// Presence definition id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// System presence (`Available`, `AVAILABLE`, `On Queue`, ...; compare case-insensitively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_presence: Option<String>,
}

/// `UserPresence` of `GET/PATCH /api/v2/users/{userId}/presences/purecloud`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPresence {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Source (`PURECLOUD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Source id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// Whether this is the primary source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    /// The presence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_definition: Option<PresenceDefinitionRef>,
    /// Status message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<DateTime<Utc>>,
}

impl UserPresence {
    /// A PATCH body setting the presence definition by id (the only form the PATCH accepts for the definition).
    pub fn set_definition(definition_id: impl Into<String>) -> Self {
        UserPresence {
            presence_definition: Some(PresenceDefinitionRef { id: Some(definition_id.into()), system_presence: None }),
            ..Default::default()
        }
    }
}

/// `OrganizationPresence` of the deprecated `GET /api/v2/presencedefinitions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPresence {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Labels per locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_labels: Option<BTreeMap<String, String>>,
    /// System presence (old spelling, e.g. `On Queue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_presence: Option<String>,
    /// Deactivated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated: Option<bool>,
    /// Primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

/// `OrganizationPresenceDefinition` of `GET /api/v2/presence/definitions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationPresenceDefinition {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `System` or `User`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub definition_type: Option<String>,
    /// Labels per locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_labels: Option<BTreeMap<String, String>>,
    /// Available | Away | Busy | Offline | Idle | OnQueue | Meal | Training | Meeting | Break.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_presence: Option<String>,
    /// Division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division_id: Option<String>,
    /// Deactivated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deactivated: Option<bool>,
}

/// Normalises a system presence for comparison: `On Queue`, `ON_QUEUE`, `OnQueue` → `onqueue`.
pub fn normalize_system_presence(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

string_enum! {
    /// A user's routing status.
    RoutingStatusValue {
        /// Off queue.
        OffQueue = "OFF_QUEUE",
        /// Idle (available for routing).
        Idle = "IDLE",
        /// Interacting.
        Interacting = "INTERACTING",
        /// Not responding.
        NotResponding = "NOT_RESPONDING",
        /// Communicating.
        Communicating = "COMMUNICATING",
    }
}

/// `RoutingStatus` of `GET/PUT /api/v2/users/{userId}/routingstatus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingStatus {
    /// User id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RoutingStatusValue>,
    /// Since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
}
