//! The settings of a `kind = "webchat"` integration (`[integration.settings]`).
//!
//! Decoded with `IntegrationSpec::decode` (unknown keys are errors): the keys both Genesys conversation adapters
//! have (connection, budget, watched queues and agents, stream tuning…) are read by [`herald_genesys::settings`],
//! the web chat ones here. [`Settings::problems`] checks every value without touching the network, so
//! `herald config check` and service start-up report every problem at once.

use herald_genesys::models::chat::ChatBodyType;
pub use herald_genesys::settings::StreamSettings;
use herald_genesys::settings::{decode, ConversationSettings, SettingsProfile};
use serde::{Deserialize, Deserializer};

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

/// How the shared settings word web chat: `….conversations.chats` topics.
const PROFILE: SettingsProfile = SettingsProfile {
    topic_media: "chats",
    tracked: "chats",
    region_example: "eu_west_1",
    base_url_example: "http://127.0.0.1:8089",
};

/// Settings of one legacy web chat integration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The keys every Genesys conversation adapter has: `region`/`base_url`, the OAuth client and its budget,
    /// `queue_ids`/`user_ids` (watched `….conversations.chats` topics), `customer_key_attribute` (e.g. a CRM id
    /// sent as chat custom field, which lets a deferred notification follow the customer into the next chat),
    /// `canned_cache_secs` and `[stream]`.
    pub genesys: ConversationSettings,
    /// `bodyType` of the messages herald sends: `standard` (default) or `notice`.
    pub body_type: BodyType,
}

/// The keys only web chat has (the shared ones are taken out by [`decode`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnSettings {
    #[serde(default)]
    body_type: BodyType,
}

impl<'de> Deserialize<'de> for Settings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (genesys, own) = decode::<D, OwnSettings>(deserializer, PROFILE)?;
        Ok(Settings { genesys, body_type: own.body_type })
    }
}

impl Settings {
    /// Every problem as `(key, message)`, keys relative to the settings table; empty when usable. No network.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = self.genesys.connection_problems();
        out.extend(self.genesys.tracking_problems());
        out.extend(self.genesys.stream_problems());
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
        assert_eq!(s.genesys.topics(), vec!["v2.routing.queues.q1.conversations.chats"]);
        assert_eq!(s.body_type, BodyType::Standard);
        let notice = parse(&format!("{OK}body_type = \"notice\"\nuser_ids = [\"u1\"]")).expect("parse");
        assert_eq!(notice.body_type.upstream(), ChatBodyType::Notice);
        assert_eq!(notice.genesys.topics()[1], "v2.users.u1.conversations.chats");
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
