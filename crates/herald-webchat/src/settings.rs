//! The settings of a `kind = "webchat"` integration (`[integration.settings]`).
//!
//! Decoded with `IntegrationSpec::decode` (unknown keys are errors). [`Settings::problems`] checks every value
//! without touching the network, so `herald config check` and service start-up report every problem at once.
//! The stream tuning table is the one web messaging uses (same notification stream, same knobs).

use std::time::Duration;

use herald_genesys::models::chat::ChatBodyType;
use herald_genesys::{ClientConfig, Environment, Secret, StreamConfig};
pub use herald_webmessaging::settings::StreamSettings;
use serde::Deserialize;

/// The `bodyType` herald sends chat messages with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyType {
    /// A normal chat line (`standard`), shown as written by the agent.
    #[default]
    Standard,
    /// A notice (`notice`), shown by chat widgets as a system line rather than an agent line.
    Notice,
}

impl BodyType {
    /// The upstream `bodyType`.
    pub fn upstream(self) -> ChatBodyType {
        match self {
            BodyType::Standard => ChatBodyType::Standard,
            BodyType::Notice => ChatBodyType::Notice,
        }
    }
}

/// Settings of one legacy web chat integration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Genesys Cloud region key (`eu_west_1`) or domain. Exactly one of `region`/`base_url`.
    #[serde(default)]
    pub region: Option<String>,
    /// One base URL serving every role (the emulator, e.g. `http://127.0.0.1:8089`). Exactly one of
    /// `region`/`base_url`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// OAuth client id (client credentials grant).
    pub client_id: String,
    /// OAuth client secret; write `${VAR}` so it comes from the environment. Never logged.
    pub client_secret: Secret,
    /// Request budget of the OAuth client per minute (Genesys default 300), shared process-wide per client id.
    #[serde(default = "defaults::requests_per_minute")]
    pub requests_per_minute: u32,
    /// Requests that may leave back to back before pacing starts.
    #[serde(default = "defaults::burst")]
    pub burst: u32,
    /// Timeout of one HTTP request, in seconds.
    #[serde(default = "defaults::timeout_secs")]
    pub timeout_secs: u64,
    /// Retries of one request after a 429, 5xx or connection error before the dispatcher takes over.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// Queues whose chats are watched (`v2.routing.queues.{id}.conversations.chats`).
    #[serde(default)]
    pub queue_ids: Vec<String>,
    /// Agents whose chats are watched (`v2.users.{id}.conversations.chats`).
    #[serde(default)]
    pub user_ids: Vec<String>,
    /// Participant attribute carrying a customer key (e.g. a CRM id sent as chat custom field); lets callers
    /// target customers by it and lets a deferred notification follow the customer into the next chat.
    #[serde(default)]
    pub customer_key_attribute: Option<String>,
    /// `bodyType` of the messages herald sends: `standard` (default) or `notice`.
    #[serde(default)]
    pub body_type: BodyType,
    /// How long a fetched canned response is reused before it is fetched again, in seconds.
    #[serde(default = "defaults::canned_cache_secs")]
    pub canned_cache_secs: u64,
    /// Notification stream tuning.
    #[serde(default)]
    pub stream: StreamSettings,
}

mod defaults {
    pub fn requests_per_minute() -> u32 {
        300
    }
    pub fn burst() -> u32 {
        3
    }
    pub fn timeout_secs() -> u64 {
        30
    }
    pub fn max_retries() -> u32 {
        3
    }
    pub fn canned_cache_secs() -> u64 {
        300
    }
}

impl Settings {
    /// The Genesys environment named by `region` or `base_url`, or `(key, message)`.
    pub fn environment(&self) -> Result<Environment, (String, String)> {
        match (&self.region, &self.base_url) {
            (Some(r), None) => r.parse::<Environment>().map_err(|_| {
                ("region".into(), format!("`{r}` is not a Genesys Cloud region; use a region key such as eu_west_1"))
            }),
            (None, Some(u)) => u.parse::<Environment>().map_err(|_| {
                ("base_url".into(), format!("`{u}` is not an http(s) URL; write e.g. http://127.0.0.1:8089"))
            }),
            (Some(_), Some(_)) => {
                Err(("base_url".into(), "is set together with `region`; keep only one of them".into()))
            }
            (None, None) => Err((
                "region".into(),
                "is missing: set `region` (e.g. eu_west_1) or `base_url` (the emulator's URL)".into(),
            )),
        }
    }

    /// The Genesys client configuration.
    pub fn client_config(&self) -> Result<ClientConfig, (String, String)> {
        let mut c = ClientConfig::new(self.environment()?, self.client_id.clone(), self.client_secret.clone());
        c.requests_per_minute = self.requests_per_minute;
        c.burst = self.burst;
        c.timeout_secs = self.timeout_secs;
        c.max_retries = self.max_retries;
        Ok(c)
    }

    /// The chat topics to subscribe, in configuration order.
    pub fn topics(&self) -> Vec<String> {
        let queues = self.queue_ids.iter().map(|q| format!("v2.routing.queues.{}.conversations.chats", q.trim()));
        let users = self.user_ids.iter().map(|u| format!("v2.users.{}.conversations.chats", u.trim()));
        queues.chain(users).collect()
    }

    /// The notification stream configuration.
    pub fn stream_config(&self) -> StreamConfig {
        let s = &self.stream;
        let mut c = StreamConfig::new(self.topics());
        c.ping_interval = Duration::from_secs(s.ping_interval_secs.max(1));
        c.dead_after = Duration::from_secs(s.dead_after_secs.max(2));
        c.reconnect_base = Duration::from_millis(s.reconnect_base_ms.max(1));
        c.reconnect_max = Duration::from_secs(s.reconnect_max_secs.max(1));
        c.buffer = s.buffer.max(1);
        c
    }

    /// How long a canned response stays cached.
    pub fn canned_ttl(&self) -> Duration {
        Duration::from_secs(self.canned_cache_secs)
    }

    /// Every problem as `(key, message)`, keys relative to the settings table; empty when usable. No network.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match self.client_config() {
            Ok(c) => out.extend(c.problems()),
            Err(p) => out.push(p),
        }
        if self.queue_ids.is_empty() && self.user_ids.is_empty() {
            out.push((
                "queue_ids".into(),
                "no queue_ids or user_ids: list at least one queue (or agent) whose chats herald should track".into(),
            ));
        }
        for (key, ids) in [("queue_ids", &self.queue_ids), ("user_ids", &self.user_ids)] {
            for (i, id) in ids.iter().enumerate() {
                if id.trim().is_empty() || id.contains('.') || id.contains(char::is_whitespace) {
                    out.push((format!("{key}[{i}]"), format!("`{id}` is not an id (no dots or spaces allowed)")));
                }
            }
        }
        if self.customer_key_attribute.as_deref().is_some_and(|a| a.trim().is_empty()) {
            out.push((
                "customer_key_attribute".into(),
                "is empty: name a participant attribute or remove the key".into(),
            ));
        }
        let s = &self.stream;
        if s.dead_after_secs <= s.ping_interval_secs {
            out.push((
                "stream.dead_after_secs".into(),
                format!("must be longer than stream.ping_interval_secs ({})", s.ping_interval_secs),
            ));
        }
        if s.reconnect_base_ms > s.reconnect_max_secs.saturating_mul(1000) {
            out.push(("stream.reconnect_base_ms".into(), "must not exceed stream.reconnect_max_secs".into()));
        }
        if let Err(e) = self.stream_config().chunks() {
            out.push(("queue_ids".into(), e.to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str =
        "base_url = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\nqueue_ids = [\"q1\"]\n";

    fn parse(s: &str) -> Result<Settings, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn valid_settings_subscribe_chat_topics() {
        let s = parse(OK).expect("parse");
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        assert_eq!(s.topics(), vec!["v2.routing.queues.q1.conversations.chats"]);
        assert_eq!(s.body_type, BodyType::Standard);
        let notice = parse(&format!("{OK}body_type = \"notice\"\nuser_ids = [\"u1\"]")).expect("parse");
        assert_eq!(notice.body_type.upstream(), ChatBodyType::Notice);
        assert_eq!(notice.topics()[1], "v2.users.u1.conversations.chats");
    }

    #[test]
    fn problems_name_their_keys() {
        let s = parse("region = \"mars_1\"\nclient_id = \"c\"\nclient_secret = \"s\"\nuser_ids = [\"a.b\"]")
            .expect("parse");
        let keys: Vec<String> = s.problems().into_iter().map(|p| p.0).collect();
        assert!(keys.contains(&"region".to_string()), "{keys:?}");
        assert!(keys.contains(&"user_ids[0]".to_string()), "{keys:?}");
        assert!(parse(&format!("{OK}bogus = 1")).is_err());
        assert!(parse(&format!("{OK}body_type = \"loud\"")).is_err());
        assert!(!format!("{:?}", parse(OK).expect("parse")).contains("\"s\""));
    }
}
