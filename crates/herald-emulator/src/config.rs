//! The emulator's configuration: the seeded org plus every limit and behaviour knob.
//!
//! The documented default is `config/emulator.toml`, embedded at compile time so that
//! [`EmulatorConfig::default_org`] never touches the file system. Every table rejects unknown keys
//! so that a typo in a test fixture is an error rather than a silently ignored setting.

use serde::Deserialize;
use std::path::Path;

use crate::error::EmulatorError;

/// The default org, identical to `config/emulator.toml` in the repository.
const DEFAULT_ORG_TOML: &str = include_str!("../../../config/emulator.toml");

/// The complete emulator configuration (seeded org, limits and knobs), read from TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorConfig {
    /// The organization every seeded entity belongs to.
    pub org: OrgConfig,
    /// OAuth clients and token lifetime.
    pub oauth: OAuthConfig,
    /// Platform limits (rate limit, body size, notification limits, text lengths).
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Knobs for behaviour the reference marks UNCONFIRMED.
    #[serde(default)]
    pub behaviour: BehaviourConfig,
    /// Diagnostics (request log).
    #[serde(default)]
    pub diagnostics: DiagnosticsConfig,
    /// Routing queues.
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    /// Web messaging deployments (Messenger).
    #[serde(default)]
    pub deployments: Vec<DeploymentConfig>,
    /// Legacy web chat deployments.
    #[serde(default)]
    pub chat_deployments: Vec<ChatDeploymentConfig>,
    /// Presence definitions of the org.
    #[serde(default)]
    pub presence_definitions: Vec<PresenceDefinitionConfig>,
    /// Agents (users) with their automatic behaviour.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// External contacts known up front.
    #[serde(default)]
    pub external_contacts: Vec<ExternalContactConfig>,
    /// Canned responses (Response Management).
    #[serde(default)]
    pub responses: Vec<ResponseConfig>,
}

/// The organization.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// Organization id (used by guest chat's `organizationId`).
    pub id: String,
    /// Display name.
    pub name: String,
}

/// OAuth client-credentials configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// Default token lifetime in seconds (`expires_in`).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_seconds: u64,
    /// The registered clients.
    pub clients: Vec<OAuthClientConfig>,
}

fn default_token_lifetime() -> u64 {
    86_400
}

/// One OAuth client (client-credentials grant).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientConfig {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Overrides `oauth.token_lifetime_seconds` for this client.
    #[serde(default)]
    pub token_lifetime_seconds: Option<u64>,
    /// Overrides `limits.requests_per_minute` for tokens of this client.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
}

/// Platform limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per token per fixed 60-second window (`client.credentials.token.rate.per.minute`).
    pub requests_per_minute: u32,
    /// Maximum request body in bytes (`request.bytes.max`).
    pub request_bytes_max: usize,
    /// Maximum text of an agent-side web messaging / open message (`textBody`).
    pub message_text_max: usize,
    /// Maximum text of an SMS `textBody`.
    pub sms_text_max: usize,
    /// Maximum text a guest may send over the web messaging WebSocket (error 4011 above it).
    pub guest_text_max: usize,
    /// Maximum legacy chat `body`.
    pub chat_body_max: usize,
    /// Maximum topics per notification channel.
    pub max_topics_per_channel: usize,
    /// Maximum channels per OAuth client; creating one more evicts the oldest.
    pub max_channels_per_client: usize,
    /// Channel lifetime in seconds; re-subscribing extends it.
    pub channel_lifetime_seconds: u64,
    /// Heartbeat interval on notification sockets, in milliseconds (0 disables).
    pub heartbeat_interval_ms: u64,
    /// Guest messages allowed per session per `guest_rate_window_seconds` (error 4029 above it).
    pub guest_messages_per_window: u32,
    /// The guest rate window, in seconds.
    pub guest_rate_window_seconds: u64,
    /// The `retryAfter` reported in a guest 4029 frame, in seconds.
    pub guest_retry_after_seconds: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            requests_per_minute: 300,
            request_bytes_max: 512_000,
            message_text_max: 2000,
            sms_text_max: 765,
            guest_text_max: 4000,
            chat_body_max: 4000,
            max_topics_per_channel: 1000,
            max_channels_per_client: 20,
            channel_lifetime_seconds: 86_400,
            heartbeat_interval_ms: 30_000,
            guest_messages_per_window: 30,
            guest_rate_window_seconds: 10,
            guest_retry_after_seconds: 3,
        }
    }
}

/// Knobs for behaviour that the reference marks UNCONFIRMED (see `docs/emulator.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehaviourConfig {
    /// HTTP status when sending on a disconnected communication or conversation.
    pub disconnected_send_status: u16,
    /// Error `code` when sending on a disconnected communication or conversation.
    pub disconnected_send_code: String,
    /// HTTP status for a communication id that is not part of the conversation (404 or 400).
    pub foreign_communication_status: u16,
    /// Whether agent-side sends may use the customer's communication id.
    pub allow_send_on_customer_communication: bool,
    /// `code` of the 401 answered for an unknown, expired or revoked token.
    pub bad_token_code: String,
    /// Success status of the agentless endpoint (200 or 202).
    pub agentless_success_status: u16,
    /// Whether an agentless webmessaging send needs a guest session known for the external contact.
    pub agentless_requires_known_guest: bool,
    /// Default threading window for every messenger type, in minutes.
    pub threading_timeline_minutes: u32,
    /// Guest session inactivity lifetime in seconds (`durationSeconds`).
    pub guest_session_seconds: u64,
    /// Lifetime of the guest JWT returned by `getJwt`, in seconds.
    pub guest_jwt_seconds: u64,
    /// Whether disconnecting the agent (or api) participant of a messaging conversation ends it.
    pub agent_disconnect_ends_conversation: bool,
    /// Whether `messagingTemplate.responseId` may name a plain (non-template) canned response.
    pub template_accepts_plain_responses: bool,
    /// Whether unknown fields in AdditionalMessage / agentless bodies are rejected (400 invalid.property).
    pub reject_unknown_fields: bool,
    /// Path prefix under which the guest WebSocket is also served (`{prefix}/v1`).
    pub guest_ws_alias_prefix: String,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        Self {
            disconnected_send_status: 400,
            disconnected_send_code: "conversation.message.communication.disconnected".into(),
            foreign_communication_status: 404,
            allow_send_on_customer_communication: false,
            bad_token_code: "bad.credentials".into(),
            agentless_success_status: 202,
            agentless_requires_known_guest: false,
            threading_timeline_minutes: 4320,
            guest_session_seconds: 259_200,
            guest_jwt_seconds: 3600,
            agent_disconnect_ends_conversation: true,
            template_accepts_plain_responses: true,
            reject_unknown_fields: true,
            guest_ws_alias_prefix: "/webmessaging".into(),
        }
    }
}

/// Diagnostics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnosticsConfig {
    /// Record every API request (method, path, status, correlation id, body).
    pub request_log: bool,
    /// How many entries the request log keeps (oldest dropped first).
    pub request_log_capacity: usize,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        Self { request_log: false, request_log_capacity: 10_000 }
    }
}

/// A routing queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Queue id.
    pub id: String,
    /// Queue name (legacy chat `routingTarget.targetAddress` names it).
    pub name: String,
}

/// A web messaging (Messenger) deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// Deployment id (`deploymentId`, agentless `fromAddress`).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Queue new conversations are routed to.
    pub queue_id: String,
    /// `conversationDisconnect.enabled`.
    #[serde(default = "yes")]
    pub conversation_disconnect_enabled: bool,
    /// `conversationDisconnect.type`: `ReadOnly` or `Send`.
    #[serde(default = "read_only")]
    pub conversation_disconnect_type: String,
    /// `autoStart.enabled`: a conversation starts on `configureSession` of a new session.
    #[serde(default)]
    pub auto_start: bool,
    /// `status` in config.json (`Active` or `Inactive`).
    #[serde(default = "active")]
    pub status: String,
}

fn yes() -> bool {
    true
}
fn read_only() -> String {
    "ReadOnly".into()
}
fn active() -> String {
    "Active".into()
}

/// A legacy web chat deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatDeploymentConfig {
    /// Deployment id (guest chat `deploymentId`).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// A presence definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceDefinitionConfig {
    /// Definition id.
    pub id: String,
    /// Label (`languageLabels.en_US`).
    pub label: String,
    /// System presence: Available, Away, Busy, Offline, Idle, OnQueue, Meal, Training, Meeting, Break.
    pub system_presence: String,
    /// Whether this is the primary definition of its system presence.
    #[serde(default = "yes")]
    pub primary: bool,
}

/// An agent (user).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// User id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Alias shown to customers (`{{AGENT_ALIAS}}`).
    #[serde(default)]
    pub alias: Option<String>,
    /// E-mail / username.
    pub email: String,
    /// Initial presence: a definition id or a system presence / label (case-insensitive).
    #[serde(default = "default_presence")]
    pub presence: String,
    /// Queues the agent is a member of; empty = every queue.
    #[serde(default)]
    pub queues: Vec<String>,
    /// Concurrent conversations the agent accepts while On Queue.
    #[serde(default = "one")]
    pub capacity: u32,
    /// Whether the agent answers routed conversations on its own.
    #[serde(default = "yes")]
    pub auto_answer: bool,
    /// Delay before auto-answer, in milliseconds (0 = at once).
    #[serde(default)]
    pub auto_answer_delay_ms: u64,
    /// Text the agent replies to every guest message with; none = silent.
    #[serde(default)]
    pub auto_reply: Option<String>,
    /// Delay before the auto-reply, in milliseconds.
    #[serde(default)]
    pub auto_reply_delay_ms: u64,
    /// Greeting sent when the agent connects; none = silent.
    #[serde(default)]
    pub greeting: Option<String>,
}

fn default_presence() -> String {
    "Available".into()
}
fn one() -> u32 {
    1
}

/// An external contact.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalContactConfig {
    /// External contact id.
    pub id: String,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// Guest token of the web messaging session that belongs to this contact.
    #[serde(default)]
    pub guest_token: Option<String>,
    /// `journeyContext.customer.id` that identifies this contact.
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// A canned response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseConfig {
    /// Response id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Library id.
    pub library_id: String,
    /// Library name.
    #[serde(default)]
    pub library_name: String,
    /// `interactionType` (chat, email, twitter).
    #[serde(default = "chat")]
    pub interaction_type: String,
    /// `responseType`, absent for plain canned responses.
    #[serde(default)]
    pub response_type: Option<String>,
    /// Texts.
    pub texts: Vec<ResponseTextConfig>,
    /// Substitutions.
    #[serde(default)]
    pub substitutions: Vec<SubstitutionConfig>,
}

fn chat() -> String {
    "chat".into()
}

/// A text of a canned response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseTextConfig {
    /// Content with `{{ID}}` placeholders.
    pub content: String,
    /// `text/plain` or `text/html`.
    #[serde(default = "text_plain")]
    pub content_type: String,
    /// `body` or `subject`.
    #[serde(default = "body")]
    pub r#type: String,
}

fn text_plain() -> String {
    "text/plain".into()
}
fn body() -> String {
    "body".into()
}

/// A substitution of a canned response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstitutionConfig {
    /// Placeholder id (`{{ID}}`).
    pub id: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Value used when the caller gives none.
    #[serde(default)]
    pub default_value: Option<String>,
}

impl EmulatorConfig {
    /// The documented default org (`config/emulator.toml`).
    pub fn default_org() -> EmulatorConfig {
        // The embedded file is validated by a unit test; fall back to a minimal org if it ever breaks.
        Self::from_toml_str(DEFAULT_ORG_TOML).unwrap_or_else(|_| Self::minimal())
    }

    /// Parses and validates a configuration.
    pub fn from_toml_str(s: &str) -> Result<Self, EmulatorError> {
        let cfg: EmulatorConfig = toml::from_str(s).map_err(|e| EmulatorError::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, parses and validates a configuration file.
    pub fn from_file(path: &Path) -> Result<Self, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|e| EmulatorError::Io(format!("{}: {e}", path.display())))?;
        Self::from_toml_str(&text)
    }

    fn minimal() -> Self {
        EmulatorConfig {
            org: OrgConfig { id: "00000000-0000-4000-8000-000000000000".into(), name: "Emulated org".into() },
            oauth: OAuthConfig { token_lifetime_seconds: default_token_lifetime(), clients: Vec::new() },
            limits: LimitsConfig::default(),
            behaviour: BehaviourConfig::default(),
            diagnostics: DiagnosticsConfig::default(),
            queues: Vec::new(),
            deployments: Vec::new(),
            chat_deployments: Vec::new(),
            presence_definitions: Vec::new(),
            agents: Vec::new(),
            external_contacts: Vec::new(),
            responses: Vec::new(),
        }
    }

    /// Cross-reference checks that serde cannot express.
    fn validate(&self) -> Result<(), EmulatorError> {
        let bad = |m: String| Err(EmulatorError::Config(m));
        for d in &self.deployments {
            if !self.queues.iter().any(|q| q.id == d.queue_id) {
                return bad(format!("deployments[{}].queue_id {:?} names no queue", d.id, d.queue_id));
            }
            if d.conversation_disconnect_type != "ReadOnly" && d.conversation_disconnect_type != "Send" {
                return bad(format!("deployments[{}].conversation_disconnect_type must be ReadOnly or Send", d.id));
            }
        }
        for a in &self.agents {
            for q in &a.queues {
                if !self.queues.iter().any(|x| &x.id == q) {
                    return bad(format!("agents[{}].queues names unknown queue {q:?}", a.id));
                }
            }
            if crate::world::presence::resolve_definition(&self.presence_definitions, &a.presence).is_none() {
                return bad(format!("agents[{}].presence {:?} names no presence definition", a.id, a.presence));
            }
        }
        for p in &self.presence_definitions {
            if crate::world::presence::SystemPresence::parse(&p.system_presence).is_none() {
                return bad(format!(
                    "presence_definitions[{}].system_presence {:?} is not a system presence",
                    p.id, p.system_presence
                ));
            }
        }
        if self.limits.requests_per_minute == 0 {
            return bad("limits.requests_per_minute must be > 0".into());
        }
        if ![200, 202].contains(&self.behaviour.agentless_success_status) {
            return bad("behaviour.agentless_success_status must be 200 or 202".into());
        }
        if !(400..500).contains(&self.behaviour.disconnected_send_status) {
            return bad("behaviour.disconnected_send_status must be a 4xx".into());
        }
        if ![400, 404].contains(&self.behaviour.foreign_communication_status) {
            return bad("behaviour.foreign_communication_status must be 400 or 404".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_org_parses() {
        let cfg = EmulatorConfig::from_toml_str(DEFAULT_ORG_TOML);
        assert!(cfg.is_ok(), "{cfg:?}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let s = format!("{DEFAULT_ORG_TOML}\n[bogus]\nx = 1\n");
        assert!(EmulatorConfig::from_toml_str(&s).is_err());
    }
}
