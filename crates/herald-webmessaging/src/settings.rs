//! The settings of a `kind = "webmessaging"` integration (`[integration.settings]`).
//!
//! Decoded with `IntegrationSpec::decode` (unknown keys are errors): the keys both Genesys conversation adapters
//! have are read by [`herald_genesys::settings`], the web messaging ones here. [`Settings::problems`] checks every
//! value without touching the network, so `herald config check` and service start-up report all problems at once.

pub use herald_genesys::settings::StreamSettings;
use herald_genesys::settings::{decode, ConversationSettings, SettingsProfile};
use serde::{Deserialize, Deserializer};

/// How the shared settings word web messaging: `….conversations.messages` topics.
const PROFILE: SettingsProfile = SettingsProfile {
    topic_media: "messages",
    tracked: "conversations",
    region_example: "us_east_1 or eu_west_1",
    base_url_example: "http://127.0.0.1:8089 for the emulator",
};

/// Settings of one web messaging integration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The keys every Genesys conversation adapter has: `region`/`base_url`, the OAuth client and its budget,
    /// `queue_ids`/`user_ids` (watched `….conversations.messages` topics), `customer_key_attribute`,
    /// `canned_cache_secs` and `[stream]`.
    pub genesys: ConversationSettings,
    /// The web messaging deployment id: `fromAddress` of agentless messages, and the deployment assumed for
    /// conversations whose participant data does not name one.
    pub deployment_id: String,
    /// How far back the analytics fallback looks for a customer's open conversation, in hours.
    pub lookback_hours: u32,
}

/// The keys only web messaging has (the shared ones are taken out by [`decode`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnSettings {
    deployment_id: String,
    #[serde(default = "default_lookback_hours")]
    lookback_hours: u32,
}

fn default_lookback_hours() -> u32 {
    24
}

impl<'de> Deserialize<'de> for Settings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (genesys, own) = decode::<D, OwnSettings>(deserializer, PROFILE)?;
        Ok(Settings { genesys, deployment_id: own.deployment_id, lookback_hours: own.lookback_hours })
    }
}

/// Longest analytics look-back accepted, in hours (31 days).
pub const MAX_LOOKBACK_HOURS: u32 = 744;

impl Settings {
    /// Every problem as `(key, message)`, keys relative to the settings table; empty when usable. No network.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = self.genesys.connection_problems();
        if self.deployment_id.trim().is_empty() {
            out.push((
                "deployment_id".into(),
                "is empty: set the web messaging deployment id (Admin > Message > Messenger Deployments)".into(),
            ));
        }
        out.extend(self.genesys.tracking_problems());
        if self.lookback_hours == 0 || self.lookback_hours > MAX_LOOKBACK_HOURS {
            out.push(("lookback_hours".into(), format!("must be between 1 and {MAX_LOOKBACK_HOURS} (default 24)")));
        }
        out.extend(self.genesys.stream_problems());
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
        assert_eq!(s.genesys.topics(), vec!["v2.routing.queues.q1.conversations.messages"]);
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

#[cfg(test)]
mod decode_paths {
    use super::*;
    use herald_core::{ClosedPolicy, ConfigProblem, IntegrationSpec};

    fn decode(text: &str) -> Vec<ConfigProblem> {
        let spec = IntegrationSpec {
            name: "wm".into(),
            kind: "webmessaging".into(),
            closed_policy: ClosedPolicy::Defer,
            settings: toml::from_str(text).unwrap_or_default(),
            path: "integration[0]".into(),
        };
        spec.decode::<Settings>().err().unwrap_or_default()
    }

    /// Problems name the key path inside shared and own keys alike, as a derived struct would.
    #[test]
    fn problems_keep_their_key_paths() {
        let base =
            "base_url = \"http://127.0.0.1:9\"\nclient_id = \"c\"\nclient_secret = \"s\"\ndeployment_id = \"d\"\n";
        for (extra, path, words) in [
            ("bogus = 1", "integration[0].settings.bogus", "unknown field `bogus`"),
            ("burst = \"x\"", "integration[0].settings.burst", "expected u32"),
            ("lookback_hours = \"x\"", "integration[0].settings.lookback_hours", "expected u32"),
            ("queue_ids = [1]", "integration[0].settings.queue_ids[0]", "expected a string"),
            ("[stream]\nbuffer = \"x\"", "integration[0].settings.stream.buffer", "expected usize"),
            ("[stream]\nbogus = 1", "integration[0].settings.stream.bogus", "unknown field `bogus`"),
        ] {
            let problems = decode(&format!("{base}{extra}"));
            assert_eq!(problems.len(), 1, "{extra}: {problems:?}");
            assert_eq!(problems[0].path, path, "{extra}: {problems:?}");
            assert!(problems[0].message.contains(words), "{extra}: {problems:?}");
        }
        let missing = decode("base_url = \"http://127.0.0.1:9\"\nclient_secret = \"s\"\ndeployment_id = \"d\"\n");
        assert_eq!(missing[0].path, "integration[0].settings", "{missing:?}");
        assert!(missing[0].message.contains("missing field `client_id`"), "{missing:?}");
    }
}
