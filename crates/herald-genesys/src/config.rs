//! Client configuration: where to connect, which OAuth client, and how hard to push.
//!
//! [`ClientConfig`] is serde-deserialisable with unknown keys refused, so an adapter can embed it in its own
//! settings table. The client secret is a [`Secret`]: it never appears in `Debug`, `Display` or serialised output.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::region::Environment;

/// A secret string (OAuth client secret, token) that never prints itself.
///
/// `Debug`/`Display` show `***`; serialising writes `"<redacted>"`. Use [`Secret::expose`] at the one place the
/// value is needed (building the `Authorization` header).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (a missing environment variable, usually).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// How the client connects to Genesys Cloud and how it spends its request budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// A region key (`eu_west_1`), a domain (`mypurecloud.ie`) or a base URL (`http://127.0.0.1:8089`).
    pub environment: Environment,
    /// OAuth client id (client credentials grant).
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: Secret,
    /// Request budget of this OAuth client per minute, shared by every client instance in the process using the
    /// same client id and environment. Genesys' default is 300 per token.
    #[serde(default = "defaults::requests_per_minute")]
    pub requests_per_minute: u32,
    /// Requests that may go out back to back before pacing starts. The steady rate is lowered by the same amount, so
    /// no 60-second window ever holds more than `requests_per_minute` requests.
    #[serde(default = "defaults::burst")]
    pub burst: u32,
    /// Timeout of one HTTP request, in seconds.
    #[serde(default = "defaults::timeout_secs")]
    pub timeout_secs: u64,
    /// Retries after the first attempt for 429, 5xx, timeouts and connection errors.
    #[serde(default = "defaults::max_retries")]
    pub max_retries: u32,
    /// First backoff step for 5xx/timeouts, in milliseconds (doubles per attempt, full jitter).
    #[serde(default = "defaults::backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// Upper bound of one backoff sleep, in milliseconds.
    #[serde(default = "defaults::backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// Longest `Retry-After` honoured in place; a longer one is returned as `RateLimited` for the dispatcher.
    #[serde(default = "defaults::max_retry_after_secs")]
    pub max_retry_after_secs: u64,
    /// 5xx statuses that, on a request that is not retry-safe (a send), mean "may have been applied": the client
    /// answers `OutcomeUnknown` instead of sending again (see [`crate::outcome`]). Default 500, 502, 504.
    #[serde(default = "crate::outcome::default_outcome_unknown_statuses")]
    pub outcome_unknown_statuses: Vec<u16>,
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
    pub fn backoff_base_ms() -> u64 {
        250
    }
    pub fn backoff_max_ms() -> u64 {
        10_000
    }
    pub fn max_retry_after_secs() -> u64 {
        120
    }
}

impl ClientConfig {
    /// A configuration with every tuning value at its default.
    pub fn new(environment: Environment, client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        ClientConfig {
            environment,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            requests_per_minute: defaults::requests_per_minute(),
            burst: defaults::burst(),
            timeout_secs: defaults::timeout_secs(),
            max_retries: defaults::max_retries(),
            backoff_base_ms: defaults::backoff_base_ms(),
            backoff_max_ms: defaults::backoff_max_ms(),
            max_retry_after_secs: defaults::max_retry_after_secs(),
            outcome_unknown_statuses: crate::outcome::default_outcome_unknown_statuses(),
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }

    /// Every problem with the values, as `(key, message)` pairs; empty when the configuration is usable.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.client_id.trim().is_empty() {
            out.push(("client_id".into(), "is empty: set the OAuth client id (Admin > OAuth)".into()));
        }
        if self.client_secret.is_empty() {
            out.push((
                "client_secret".into(),
                "is empty: set the OAuth client secret, e.g. from an environment variable".into(),
            ));
        }
        if self.requests_per_minute == 0 {
            out.push(("requests_per_minute".into(), "must be at least 1 (Genesys default: 300)".into()));
        }
        if self.burst >= self.requests_per_minute.max(1) {
            out.push((
                "burst".into(),
                format!(
                    "must be below requests_per_minute ({}); a few (default 3) is enough",
                    self.requests_per_minute
                ),
            ));
        }
        if let Some(s) = self.outcome_unknown_statuses.iter().find(|s| !(500..=599).contains(*s)) {
            out.push((
                "outcome_unknown_statuses".into(),
                format!("holds {s}, which is not a 5xx status; list only 5xx statuses (default [500, 502, 504])"),
            ));
        }
        if self.backoff_base_ms > self.backoff_max_ms {
            out.push(("backoff_base_ms".into(), "must not exceed backoff_max_ms".into()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let c = ClientConfig::new("us_east_1".parse().unwrap(), "cid", "s3cr3t-value");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("s3cr3t"), "{json}");
        assert_eq!(c.client_secret.expose(), "s3cr3t-value");
    }

    #[test]
    fn defaults_and_unknown_keys() {
        let c: ClientConfig = serde_json::from_value(serde_json::json!({
            "environment": "http://127.0.0.1:9000", "client_id": "a", "client_secret": "b"
        }))
        .unwrap();
        assert_eq!(c.requests_per_minute, 300);
        assert!(c.problems().is_empty());
        let e = serde_json::from_value::<ClientConfig>(serde_json::json!({
            "environment": "eu_west_1", "client_id": "a", "client_secret": "b", "rpm": 5
        }))
        .unwrap_err();
        assert!(e.to_string().contains("rpm"), "{e}");
    }
}
