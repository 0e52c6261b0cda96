//! The settings every Genesys conversation adapter (web chat, web messaging) has in its `[integration.settings]`
//! table: where to connect, which OAuth client, the request budget, the watched queues and agents, the customer
//! key attribute, the canned response cache and the notification stream tuning.
//!
//! [`ConversationSettings`] holds them and derives the client and stream configurations and the problems of
//! those values; [`decode`] reads them out of an adapter's table while the adapter's own keys go to its own
//! (serde-derived) struct, so both adapters declare, default and check the shared keys in one place and unknown
//! keys stay errors naming the key (serde's `flatten` cannot be combined with `deny_unknown_fields`). What the
//! adapters word differently (topic media, examples in messages) is a [`SettingsProfile`].

mod decode;

use std::time::Duration;

use herald_core::{ConfigProblem, IntegrationSpec};
use serde::Deserialize;

use crate::config::{ClientConfig, Secret};
use crate::region::Environment;
use crate::stream::StreamConfig;

pub use decode::decode;

/// `(key, message)` problems of `spec`'s settings table as config problems at their full key path
/// (`integration[i].settings.{key}`), as `herald config check` reports them.
pub fn config_problems(spec: &IntegrationSpec, problems: Vec<(String, String)>) -> Vec<ConfigProblem> {
    problems.into_iter().map(|(key, msg)| ConfigProblem::new(format!("{}.settings.{key}", spec.path), msg)).collect()
}

/// What differs between the adapters' shared settings: the media of their topics and the wording of problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingsProfile {
    /// The last segment of the watched topics: `chats` → `v2.routing.queues.{id}.conversations.chats`.
    pub topic_media: &'static str,
    /// What the integration tracks, in the "no queue_ids or user_ids" problem, e.g. `chats`.
    pub tracked: &'static str,
    /// Region keys given as examples when `region` is not one.
    pub region_example: &'static str,
    /// The example given when `base_url` is not an http(s) URL.
    pub base_url_example: &'static str,
}

/// The shared settings of one conversation integration (see the module docs).
#[derive(Debug, Clone)]
pub struct ConversationSettings {
    /// Genesys Cloud region key (`eu_west_1`) or domain (`mypurecloud.ie`). Exactly one of `region`/`base_url`.
    pub region: Option<String>,
    /// One base URL serving every role (the emulator, e.g. `http://127.0.0.1:8089`). Exactly one of
    /// `region`/`base_url`.
    pub base_url: Option<String>,
    /// OAuth client id (client credentials grant).
    pub client_id: String,
    /// OAuth client secret; write `${VAR}` so it comes from the environment. Never logged.
    pub client_secret: Secret,
    /// Request budget of the OAuth client per minute (Genesys default 300). Shared by every integration in the
    /// process that uses the same client id.
    pub requests_per_minute: u32,
    /// Requests that may leave back to back before pacing starts (the steady rate is lowered by the same amount).
    pub burst: u32,
    /// Timeout of one HTTP request, in seconds.
    pub timeout_secs: u64,
    /// Retries of one request after a 429, 5xx or connection error before the dispatcher takes over.
    pub max_retries: u32,
    /// 5xx statuses that mean "the send may have been applied" (`outcome_unknown`, never re-sent by the client);
    /// default `[500, 502, 504]`. See [`crate::outcome`].
    pub outcome_unknown_statuses: Vec<u16>,
    /// Queues whose conversations are watched (`v2.routing.queues.{id}.conversations.{media}`).
    pub queue_ids: Vec<String>,
    /// Agents whose conversations are watched (`v2.users.{id}.conversations.{media}`).
    pub user_ids: Vec<String>,
    /// Participant attribute carrying a customer key (e.g. a CRM id); lets callers target customers by it.
    pub customer_key_attribute: Option<String>,
    /// How long a fetched canned response is reused before it is fetched again, in seconds.
    pub canned_cache_secs: u64,
    /// Notification stream tuning.
    pub stream: StreamSettings,
    /// The adapter's wording and topic media.
    pub profile: SettingsProfile,
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

impl ConversationSettings {
    /// The Genesys environment named by `region` or `base_url`, or `(key, message)`.
    pub fn environment(&self) -> Result<Environment, (String, String)> {
        let p = &self.profile;
        match (&self.region, &self.base_url) {
            (Some(r), None) => r.parse::<Environment>().map_err(|_| {
                (
                    "region".into(),
                    format!("`{r}` is not a Genesys Cloud region; use a region key such as {}", p.region_example),
                )
            }),
            (None, Some(u)) => u.parse::<Environment>().map_err(|_| {
                ("base_url".into(), format!("`{u}` is not an http(s) URL; write e.g. {}", p.base_url_example))
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

    /// The Genesys client configuration, or the `(key, message)` of an unusable environment.
    pub fn client_config(&self) -> Result<ClientConfig, (String, String)> {
        let mut c = ClientConfig::new(self.environment()?, self.client_id.clone(), self.client_secret.clone());
        c.requests_per_minute = self.requests_per_minute;
        c.burst = self.burst;
        c.timeout_secs = self.timeout_secs;
        c.max_retries = self.max_retries;
        c.outcome_unknown_statuses = self.outcome_unknown_statuses.clone();
        Ok(c)
    }

    /// The topics to subscribe, in configuration order: the queues', then the agents'.
    pub fn topics(&self) -> Vec<String> {
        let media = self.profile.topic_media;
        let queues = self.queue_ids.iter().map(|q| format!("v2.routing.queues.{}.conversations.{media}", q.trim()));
        let users = self.user_ids.iter().map(|u| format!("v2.users.{}.conversations.{media}", u.trim()));
        queues.chain(users).collect()
    }

    /// The notification stream configuration (tuning values clamped to workable minimums).
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

    /// Problems of the connection (environment, OAuth client, budget) as `(key, message)`. No network.
    pub fn connection_problems(&self) -> Vec<(String, String)> {
        match self.client_config() {
            Ok(c) => c.problems(),
            Err(p) => vec![p],
        }
    }

    /// Problems of what is tracked (queue and agent ids, the customer key attribute) as `(key, message)`.
    pub fn tracking_problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.queue_ids.is_empty() && self.user_ids.is_empty() {
            out.push((
                "queue_ids".into(),
                format!(
                    "no queue_ids or user_ids: list at least one queue (or agent) whose {} herald should track",
                    self.profile.tracked
                ),
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
        out
    }

    /// Problems of the stream tuning and of the topics' limits as `(key, message)`.
    pub fn stream_problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
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
