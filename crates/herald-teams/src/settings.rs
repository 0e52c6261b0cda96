//! `[integration.settings]` of a `kind = "teams"` integration.
//!
//! Unknown keys are errors; secrets are [`Secret`]s (never printed). Every URL has the production default, so a
//! real deployment sets ids and secrets only, and a development setup points `login_base`, `openid_metadata_url`
//! and `graph_base` at the emulator.

use std::collections::BTreeMap;
use std::path::PathBuf;

use herald_core::ConfigProblem;
use herald_genesys::{ClientConfig, Secret};
use serde::Deserialize;

/// The whole settings table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsSettings {
    /// The bot's Microsoft App ID (the audience of inbound tokens, the client id of outbound ones).
    pub app_id: String,
    /// The bot's client secret.
    pub app_password: Secret,
    /// The customer tenant id (Graph tokens, 1:1 conversation creation).
    pub tenant_id: String,
    /// Entra login base URL.
    #[serde(default = "defaults::login_base")]
    pub login_base: String,
    /// Tenant segment of the bot token URL (`botframework.com` for multi-tenant bots, the tenant id otherwise).
    #[serde(default = "defaults::bot_token_tenant")]
    pub bot_token_tenant: String,
    /// OpenID metadata document naming the JWKS of the Bot Connector.
    #[serde(default = "defaults::openid_metadata_url")]
    pub openid_metadata_url: String,
    /// Path of the bot endpoint on herald's server.
    #[serde(default = "defaults::bot_path")]
    pub bot_path: String,
    /// `serviceUrl` used when none was ever received for a user.
    #[serde(default = "defaults::default_service_url")]
    pub default_service_url: String,
    /// JSON file an older herald kept conversation references and bot-made links in: imported once into the
    /// store at start, never written (references and links now live in herald's store).
    #[serde(default)]
    pub state_path: Option<PathBuf>,
    /// HTTP timeout of upstream calls, seconds.
    #[serde(default = "defaults::timeout_secs")]
    pub timeout_secs: u64,
    /// Retries of a proactive send after 412/429/502/503/504.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// Longest `Retry-After` honoured in place; longer ones are handed to the dispatcher.
    #[serde(default = "defaults::max_retry_after_secs")]
    pub max_retry_after_secs: u64,
    /// Sends per second per tenant (Teams: 50 per app per tenant; kept a little below).
    #[serde(default = "defaults::tenant_rps")]
    pub tenant_rps: u32,
    /// Microsoft Graph.
    #[serde(default)]
    pub graph: GraphSettings,
    /// The Genesys Cloud client (needed for presence sync and for checking `link` commands).
    #[serde(default)]
    pub genesys: Option<ClientConfig>,
    /// Presence sync.
    #[serde(default)]
    pub presence: PresenceSettings,
    /// Agent links known up front (more are made with the bot's `link` command).
    #[serde(default)]
    pub links: Vec<LinkSetting>,
}

/// A Genesys user ↔ Teams user link.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LinkSetting {
    /// Genesys user id.
    pub genesys_user_id: String,
    /// Entra object id of the Teams user.
    pub teams_aad_id: String,
}

/// Graph access.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    /// Graph base URL (without `/v1.0`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// App id for Graph (default: the bot's app id).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Its secret (default: the bot's secret).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// A service user for delegated tokens (presence subscriptions need them).
    #[serde(default)]
    pub delegated: Option<DelegatedUser>,
}

/// Credentials of a service user (password grant).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegatedUser {
    /// User principal name.
    pub username: String,
    /// Password.
    pub password: Secret,
}

/// How herald writes Teams presence.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum TeamsWriteMode {
    /// `setUserPreferredPresence` (beta), as Genesys' blueprint does.
    #[default]
    Preferred,
    /// `setPresence` with the app id as `sessionId`.
    Session,
}

/// Presence sync settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceSettings {
    /// Copy Teams presence changes to Genesys.
    pub teams_to_genesys: bool,
    /// Copy Genesys presence changes to Teams.
    pub genesys_to_teams: bool,
    /// Never change a Genesys agent who is On Queue.
    pub guard_on_queue: bool,
    /// Seconds between polls of `getPresencesByUserId` (a full resync when subscriptions are active).
    pub poll_interval_secs: u64,
    /// Ids per `getPresencesByUserId` request (Graph: at most 650).
    pub batch_size: usize,
    /// Graph presence budget: requests per window (Graph: 1,500 per 30 s per app per tenant).
    pub budget_requests: u32,
    /// The budget window, seconds.
    pub budget_window_secs: u64,
    /// Share of the budget herald may spend (the rest is left for other apps of the tenant).
    pub budget_share: f64,
    /// How Genesys → Teams writes are made.
    pub write_mode: TeamsWriteMode,
    /// `expirationDuration` of `setPresence` sessions / preferred presence (ISO-8601), if any.
    pub expiration: Option<String>,
    /// How long a write is remembered to recognise its echo, seconds.
    pub echo_ttl_secs: u64,
    /// Public URL of herald's Graph notification endpoint; enables subscriptions (with delegated credentials).
    pub notification_url: Option<String>,
    /// Path of the notification endpoint on herald's server.
    pub notification_path: String,
    /// The `clientState` secret of subscriptions (random per start when absent).
    pub client_state: Option<Secret>,
    /// Subscription lifetime in minutes (at most 60 for presence).
    pub subscription_minutes: i64,
    /// Renew this many seconds before expiry.
    pub renew_before_secs: u64,
    /// Teams availability or activity → Genesys presence definition id (activity entries win).
    pub teams_to_genesys_map: BTreeMap<String, String>,
    /// Genesys system presence → Teams `Availability/Activity`.
    pub genesys_to_teams_map: BTreeMap<String, String>,
}

impl Default for PresenceSettings {
    fn default() -> Self {
        PresenceSettings {
            teams_to_genesys: true,
            genesys_to_teams: true,
            guard_on_queue: true,
            poll_interval_secs: 30,
            batch_size: 650,
            budget_requests: 1500,
            budget_window_secs: 30,
            budget_share: 0.9,
            write_mode: TeamsWriteMode::Preferred,
            expiration: None,
            echo_ttl_secs: 120,
            notification_url: None,
            notification_path: "/api/graph/notifications".into(),
            client_state: None,
            subscription_minutes: 55,
            renew_before_secs: 300,
            teams_to_genesys_map: crate::presence::map::default_teams_to_genesys(),
            genesys_to_teams_map: crate::presence::map::default_genesys_to_teams(),
        }
    }
}

mod defaults {
    pub fn login_base() -> String {
        "https://login.microsoftonline.com".into()
    }
    pub fn bot_token_tenant() -> String {
        "botframework.com".into()
    }
    pub fn openid_metadata_url() -> String {
        "https://login.botframework.com/v1/.well-known/openidconfiguration".into()
    }
    pub fn bot_path() -> String {
        "/api/messages".into()
    }
    pub fn default_service_url() -> String {
        "https://smba.trafficmanager.net/teams/".into()
    }
    pub fn timeout_secs() -> u64 {
        15
    }
    pub fn max_retries() -> u32 {
        4
    }
    pub fn max_retry_after_secs() -> u64 {
        30
    }
    pub fn tenant_rps() -> u32 {
        45
    }
}

impl TeamsSettings {
    /// The Graph base URL (no trailing slash).
    pub fn graph_base(&self) -> String {
        self.graph.base_url.clone().unwrap_or_else(|| "https://graph.microsoft.com".into()).trim_end_matches('/').into()
    }

    /// Every problem, with its key path under `prefix` (e.g. `integration[2].settings`).
    pub fn problems(&self, prefix: &str) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut p = |k: &str, m: &str| out.push(ConfigProblem::new(format!("{prefix}.{k}"), m));
        if self.app_id.trim().is_empty() {
            p("app_id", "is empty: set the bot's Microsoft App ID");
        }
        if self.app_password.is_empty() {
            p("app_password", "is empty: set the bot's client secret (e.g. ${TEAMS_APP_PASSWORD})");
        }
        if self.tenant_id.trim().is_empty() {
            p("tenant_id", "is empty: set the Entra tenant id");
        }
        for (k, v) in [
            ("login_base", &self.login_base),
            ("openid_metadata_url", &self.openid_metadata_url),
            ("default_service_url", &self.default_service_url),
        ] {
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                p(k, "must be an http(s) URL");
            }
        }
        if !self.bot_path.starts_with('/') || self.bot_path.starts_with("/v1/") {
            p("bot_path", "must start with `/` and not collide with herald's `/v1` API");
        }
        let pr = &self.presence;
        if pr.batch_size == 0 || pr.batch_size > 650 {
            p("presence.batch_size", "must be between 1 and 650 (Graph's limit per getPresencesByUserId)");
        }
        if pr.budget_requests == 0 || pr.budget_window_secs == 0 {
            p("presence.budget_requests", "budget_requests and budget_window_secs must be at least 1");
        }
        if !(0.05..=1.0).contains(&pr.budget_share) {
            p("presence.budget_share", "must be between 0.05 and 1.0");
        }
        if !(1..=60).contains(&pr.subscription_minutes) {
            p("presence.subscription_minutes", "must be between 1 and 60 (presence subscriptions last at most 1 h)");
        }
        if !pr.notification_path.starts_with('/') || pr.notification_path == self.bot_path {
            p("presence.notification_path", "must start with `/` and differ from bot_path");
        }
        if pr.notification_url.is_some() && self.graph.delegated.is_none() {
            p("presence.notification_url", "subscriptions need delegated credentials: add [graph.delegated]");
        }
        for (k, v) in &pr.genesys_to_teams_map {
            if crate::presence::map::parse_pair(v).is_none() {
                p(&format!("presence.genesys_to_teams_map.{k}"), "must be `Availability/Activity`, e.g. `Busy/Busy`");
            }
        }
        if let Some(g) = &self.genesys {
            for (k, m) in g.problems() {
                p(&format!("genesys.{k}"), &m);
            }
        }
        out
    }
}
