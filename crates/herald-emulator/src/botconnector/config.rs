//! Configuration of the emulated Microsoft side: the tenant, the registered apps (the bot and the Graph app),
//! delegated service users, Teams users, and the limits the Bot Connector and Graph enforce.
//!
//! Every value has a default, so `TeamsConfig::default()` is a working tenant; a `[teams]` table of this shape can
//! be read from TOML (unknown keys are errors).

use serde::Deserialize;

/// One registered app (client credentials).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppCredentials {
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
}

/// A user that can sign in with a password (ROPC grant) and so obtain a delegated Graph token, which presence
/// subscriptions require.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceUser {
    /// User principal name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A Teams user of the tenant.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TeamsUserConfig {
    /// Entra object id (the Graph presence key, `from.aadObjectId` in activities).
    pub aad_id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Teams user id (`29:…`); derived from the object id when empty.
    #[serde(default)]
    pub teams_id: String,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TeamsConfig {
    /// The customer tenant id.
    pub tenant_id: String,
    /// The bot's Microsoft App ID (the audience of the tokens the connector signs).
    pub bot_app_id: String,
    /// The bot's client secret.
    pub bot_app_password: String,
    /// The bot's display name.
    pub bot_name: String,
    /// Further apps (e.g. a separate Graph app); the bot app is always registered too.
    pub apps: Vec<AppCredentials>,
    /// Users that may obtain delegated tokens with the password grant.
    pub service_users: Vec<ServiceUser>,
    /// Teams users known at start (more can be added through the control API).
    pub users: Vec<TeamsUserConfig>,
    /// `expires_in` of issued access tokens.
    pub token_lifetime_seconds: u64,
    /// RSA modulus size of the connector's signing keys.
    pub key_bits: usize,
    /// Bot Connector per-thread send/create limits as `[count, seconds]` windows (Teams: 7/1 s, 8/2 s, 60/30 s,
    /// 1800/3600 s).
    pub thread_limits: Vec<[u64; 2]>,
    /// Bot Connector global limit per app per tenant, requests per second (Teams: 50).
    pub tenant_rps: u64,
    /// Largest activity text accepted (413 `MessageSizeTooBig` above it).
    pub max_activity_bytes: usize,
    /// Graph presence budget: requests per window per app per tenant (Graph: 1,500 per 30 s).
    pub presence_budget: u64,
    /// Length of the presence budget window in seconds.
    pub presence_window_seconds: u64,
    /// Most ids in one `getPresencesByUserId` request or one subscription filter.
    pub max_bulk_ids: usize,
    /// Longest subscription lifetime in minutes (presence: 60).
    pub max_subscription_minutes: i64,
    /// How long the validation handshake may take, in milliseconds (Graph: 10 s).
    pub validation_timeout_ms: u64,
    /// Whether presence subscriptions refuse application tokens (Graph supports delegated permissions only).
    pub subscriptions_require_delegated: bool,
}

impl Default for TeamsConfig {
    fn default() -> Self {
        TeamsConfig {
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            bot_app_id: "5f2a9c1e-0b7d-4e3a-9c2b-1d4e6f8a0b01".into(),
            bot_app_password: "herald-bot-secret".into(),
            bot_name: "herald".into(),
            apps: Vec::new(),
            service_users: vec![ServiceUser {
                username: "presence-sync@contoso.example".into(),
                password: "presence-sync-password".into(),
            }],
            users: Vec::new(),
            token_lifetime_seconds: 3600,
            key_bits: 2048,
            thread_limits: vec![[7, 1], [8, 2], [60, 30], [1800, 3600]],
            tenant_rps: 50,
            max_activity_bytes: 28_000,
            presence_budget: 1500,
            presence_window_seconds: 30,
            max_bulk_ids: 650,
            max_subscription_minutes: 60,
            validation_timeout_ms: 10_000,
            subscriptions_require_delegated: true,
        }
    }
}

impl TeamsConfig {
    /// Whether `client_id`/`secret` names a registered app (the bot app included).
    pub fn app_matches(&self, client_id: &str, secret: &str) -> bool {
        (client_id == self.bot_app_id && secret == self.bot_app_password)
            || self.apps.iter().any(|a| a.client_id == client_id && a.client_secret == secret)
    }

    /// Whether `client_id` is a registered app, whatever the secret.
    pub fn app_known(&self, client_id: &str) -> bool {
        client_id == self.bot_app_id || self.apps.iter().any(|a| a.client_id == client_id)
    }
}

/// The Teams user id the emulator gives an object id that has none configured.
pub fn derive_teams_id(aad_id: &str) -> String {
    format!("29:1{}", aad_id.replace('-', ""))
}
