//! The settings of a `kind = "webmessaging"` integration (`[integration.settings]`).
//!
//! Decoded with `IntegrationSpec::decode` (unknown keys are errors). [`Settings::problems`] checks every value
//! without touching the network, so `herald config check` and service start-up report all problems at once.

use std::time::Duration;

use herald_genesys::{ClientConfig, Environment, Secret, StreamConfig};
use serde::Deserialize;

/// Settings of one web messaging integration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Genesys Cloud region key (`eu_west_1`) or domain (`mypurecloud.ie`). Exactly one of `region`/`base_url`.
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
    /// Request budget of the OAuth client per minute (Genesys default 300). Shared by every integration in the
    /// process that uses the same client id.
    #[serde(default = "defaults::requests_per_minute")]
    pub requests_per_minute: u32,
    /// Requests that may leave back to back before pacing starts (the steady rate is lowered by the same amount).
    #[serde(default = "defaults::burst")]
    pub burst: u32,
    /// Timeout of one HTTP request, in seconds.
    #[serde(default = "defaults::timeout_secs")]
    pub timeout_secs: u64,
    /// Retries of one request after a 429, 5xx or connection error before the dispatcher takes over.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// The web messaging deployment id: `fromAddress` of agentless messages, and the deployment assumed for
    /// conversations whose participant data does not name one.
    pub deployment_id: String,
    /// Queues whose web messaging conversations are watched (`v2.routing.queues.{id}.conversations.messages`).
    #[serde(default)]
    pub queue_ids: Vec<String>,
    /// Agents whose web messaging conversations are watched (`v2.users.{id}.conversations.messages`).
    #[serde(default)]
    pub user_ids: Vec<String>,
    /// Participant attribute carrying a CRM customer key; lets callers target customers by that key.
    #[serde(default)]
    pub customer_key_attribute: Option<String>,
    /// How far back the analytics fallback looks for a customer's open conversation, in hours.
    #[serde(default = "defaults::lookback_hours")]
    pub lookback_hours: u32,
    /// How long a fetched canned response is reused before it is fetched again, in seconds.
    #[serde(default = "defaults::canned_cache_secs")]
    pub canned_cache_secs: u64,
    /// Notification stream tuning.
    #[serde(default)]
    pub stream: StreamSettings,
}

/// Tuning of the notification stream (`[integration.settings.stream]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    /// How often to ping the socket, in seconds.
    #[serde(default = "defaults::ping_interval_secs")]
    pub ping_interval_secs: u64,
    /// A socket silent (no heartbeat, pong or event) for this long is replaced, in seconds.
    #[serde(default = "defaults::dead_after_secs")]
    pub dead_after_secs: u64,
    /// First reconnect delay, in milliseconds (doubles per failed attempt, with jitter).
    #[serde(default = "defaults::reconnect_base_ms")]
    pub reconnect_base_ms: u64,
    /// Longest reconnect delay, in seconds.
    #[serde(default = "defaults::reconnect_max_secs")]
    pub reconnect_max_secs: u64,
    /// Frames buffered between the socket and the session mapper.
    #[serde(default = "defaults::buffer")]
    pub buffer: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            ping_interval_secs: defaults::ping_interval_secs(),
            dead_after_secs: defaults::dead_after_secs(),
            reconnect_base_ms: defaults::reconnect_base_ms(),
            reconnect_max_secs: defaults::reconnect_max_secs(),
            buffer: defaults::buffer(),
        }
    }
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
    pub fn lookback_hours() -> u32 {
        24
    }
    pub fn canned_cache_secs() -> u64 {
        300
    }
    pub fn ping_interval_secs() -> u64 {
        30
    }
    pub fn dead_after_secs() -> u64 {
        75
    }
    pub fn reconnect_base_ms() -> u64 {
        500
    }
    pub fn reconnect_max_secs() -> u64 {
        60
    }
    pub fn buffer() -> usize {
        1024
    }
}

/// Longest analytics look-back accepted, in hours (31 days).
pub const MAX_LOOKBACK_HOURS: u32 = 744;

impl Settings {
    /// The Genesys environment named by `region` or `base_url`.
    pub fn environment(&self) -> Result<Environment, (String, String)> {
        match (&self.region, &self.base_url) {
            (Some(r), None) => r.parse::<Environment>().map_err(|_| {
                (
                    "region".into(),
                    format!("`{r}` is not a Genesys Cloud region; use a region key such as us_east_1 or eu_west_1"),
                )
            }),
            (None, Some(u)) => match u.parse::<Environment>() {
                Ok(e @ Environment::BaseUrl(_)) | Ok(e @ Environment::Region(_)) => Ok(e),
                Err(_) => Err((
                    "base_url".into(),
                    format!("`{u}` is not an http(s) URL; write e.g. http://127.0.0.1:8089 for the emulator"),
                )),
            },
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
        let env = self.environment()?;
        let mut c = ClientConfig::new(env, self.client_id.clone(), self.client_secret.clone());
        c.requests_per_minute = self.requests_per_minute;
        c.burst = self.burst;
        c.timeout_secs = self.timeout_secs;
        c.max_retries = self.max_retries;
        Ok(c)
    }

    /// The topics to subscribe, in configuration order.
    pub fn topics(&self) -> Vec<String> {
        let queues = self.queue_ids.iter().map(|q| format!("v2.routing.queues.{}.conversations.messages", q.trim()));
        let users = self.user_ids.iter().map(|u| format!("v2.users.{}.conversations.messages", u.trim()));
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
        if self.deployment_id.trim().is_empty() {
            out.push((
                "deployment_id".into(),
                "is empty: set the web messaging deployment id (Admin > Message > Messenger Deployments)".into(),
            ));
        }
        if self.queue_ids.is_empty() && self.user_ids.is_empty() {
            out.push((
                "queue_ids".into(),
                "no queue_ids or user_ids: list at least one queue (or agent) whose conversations herald should track"
                    .into(),
            ));
        }
        for (key, ids) in [("queue_ids", &self.queue_ids), ("user_ids", &self.user_ids)] {
            for (i, id) in ids.iter().enumerate() {
                if id.trim().is_empty() || id.contains('.') || id.contains(char::is_whitespace) {
                    out.push((format!("{key}[{i}]"), format!("`{id}` is not an id (no dots or spaces allowed)")));
                }
            }
        }
        if let Some(a) = &self.customer_key_attribute {
            if a.trim().is_empty() {
                out.push((
                    "customer_key_attribute".into(),
                    "is empty: name a participant attribute or remove the key".into(),
                ));
            }
        }
        if self.lookback_hours == 0 || self.lookback_hours > MAX_LOOKBACK_HOURS {
            out.push(("lookback_hours".into(), format!("must be between 1 and {MAX_LOOKBACK_HOURS} (default 24)")));
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

    fn parse(s: &str) -> Result<Settings, toml::de::Error> {
        toml::from_str(s)
    }

    const OK: &str = r#"
base_url = "http://127.0.0.1:9"
client_id = "c"
client_secret = "s"
deployment_id = "d"
queue_ids = ["q1"]
"#;

    #[test]
    fn valid_settings_have_no_problems() {
        let s = parse(OK).expect("parse");
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        assert_eq!(s.lookback_hours, 24);
        assert_eq!(s.topics(), vec!["v2.routing.queues.q1.conversations.messages"]);
    }

    #[test]
    fn problems_name_their_keys() {
        let s = parse(
            r#"
region = "mars_1"
client_id = ""
client_secret = ""
deployment_id = " "
lookback_hours = 0
[stream]
ping_interval_secs = 80
"#,
        )
        .expect("parse");
        let keys: Vec<String> = s.problems().into_iter().map(|p| p.0).collect();
        for k in ["region", "deployment_id", "queue_ids", "lookback_hours", "stream.dead_after_secs"] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
        assert!(parse(&format!("{OK}\nbogus = 1")).is_err());
    }

    #[test]
    fn secret_is_not_printed() {
        let s = parse(OK).expect("parse");
        assert!(!format!("{s:?}").contains("\"s\""));
    }
}
