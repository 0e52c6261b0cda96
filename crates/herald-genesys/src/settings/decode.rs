//! [`decode`]: one pass over an adapter's settings table that keeps the shared keys for
//! [`ConversationSettings`] and hands every other key to the adapter's own serde-derived struct.
//!
//! The adapter's struct sees a map without the shared keys (it may use `deny_unknown_fields`); a key neither
//! side knows is refused with serde's "unknown field" message listing both sides' keys. Values are read straight
//! from the caller's map, so error paths (`stream.buffer`, `queue_ids[0]`) and the format's own error context are
//! kept exactly as a derived struct would report them.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{ConversationSettings, SettingsProfile, StreamSettings};
use crate::config::Secret;

/// The keys [`ConversationSettings`] owns.
const SHARED_KEYS: [&str; 14] = [
    "region",
    "base_url",
    "client_id",
    "client_secret",
    "requests_per_minute",
    "burst",
    "timeout_secs",
    "max_retries",
    "outcome_unknown_statuses",
    "queue_ids",
    "user_ids",
    "customer_key_attribute",
    "canned_cache_secs",
    "stream",
];

/// Decodes a settings table into the shared settings (worded by `profile`) and the adapter's own part `E`.
pub fn decode<'de, D, E>(deserializer: D, profile: SettingsProfile) -> Result<(ConversationSettings, E), D::Error>
where
    D: Deserializer<'de>,
    E: Deserialize<'de>,
{
    deserializer.deserialize_map(SplitVisitor { profile, own: PhantomData })
}

/// The shared values read so far.
#[derive(Default)]
struct Partial {
    region: Option<String>,
    base_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    requests_per_minute: Option<u32>,
    burst: Option<u32>,
    timeout_secs: Option<u64>,
    max_retries: Option<u32>,
    outcome_unknown_statuses: Option<Vec<u16>>,
    queue_ids: Option<Vec<String>>,
    user_ids: Option<Vec<String>>,
    customer_key_attribute: Option<String>,
    canned_cache_secs: Option<u64>,
    stream: Option<StreamSettings>,
}

impl Partial {
    /// Reads the value of shared `key` from `map`.
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "region" => self.region = map.next_value()?,
            "base_url" => self.base_url = map.next_value()?,
            "client_id" => self.client_id = Some(map.next_value()?),
            "client_secret" => self.client_secret = Some(map.next_value()?),
            "requests_per_minute" => self.requests_per_minute = Some(map.next_value()?),
            "burst" => self.burst = Some(map.next_value()?),
            "timeout_secs" => self.timeout_secs = Some(map.next_value()?),
            "max_retries" => self.max_retries = Some(map.next_value()?),
            "outcome_unknown_statuses" => self.outcome_unknown_statuses = Some(map.next_value()?),
            "queue_ids" => self.queue_ids = Some(map.next_value()?),
            "user_ids" => self.user_ids = Some(map.next_value()?),
            "customer_key_attribute" => self.customer_key_attribute = map.next_value()?,
            "canned_cache_secs" => self.canned_cache_secs = Some(map.next_value()?),
            "stream" => self.stream = Some(map.next_value()?),
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    /// The settings, defaults filled in; `missing field` for a required key that was absent.
    fn finish<Err: de::Error>(self, profile: SettingsProfile) -> Result<ConversationSettings, Err> {
        Ok(ConversationSettings {
            region: self.region,
            base_url: self.base_url,
            client_id: self.client_id.ok_or_else(|| Err::missing_field("client_id"))?,
            client_secret: self.client_secret.ok_or_else(|| Err::missing_field("client_secret"))?,
            requests_per_minute: self.requests_per_minute.unwrap_or(300),
            burst: self.burst.unwrap_or(3),
            timeout_secs: self.timeout_secs.unwrap_or(30),
            max_retries: self.max_retries.unwrap_or(3),
            outcome_unknown_statuses: self
                .outcome_unknown_statuses
                .unwrap_or_else(crate::outcome::default_outcome_unknown_statuses),
            queue_ids: self.queue_ids.unwrap_or_default(),
            user_ids: self.user_ids.unwrap_or_default(),
            customer_key_attribute: self.customer_key_attribute,
            canned_cache_secs: self.canned_cache_secs.unwrap_or(300),
            stream: self.stream.unwrap_or_default(),
            profile,
        })
    }
}

/// Visits the whole table: the adapter's part first (which drives the walk), then the shared part.
struct SplitVisitor<E> {
    profile: SettingsProfile,
    own: PhantomData<E>,
}

impl<'de, E: Deserialize<'de>> Visitor<'de> for SplitVisitor<E> {
    type Value = (ConversationSettings, E);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of integration settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut shared = Partial::default();
        let own = E::deserialize(OwnKeys { map, shared: &mut shared })?;
        Ok((shared.finish(self.profile)?, own))
    }
}

/// The table as the adapter's struct sees it: a map of its own keys only.
struct OwnKeys<'a, A> {
    map: A,
    shared: &'a mut Partial,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for OwnKeys<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(Filter { map: self.map, shared: self.shared, fields: None })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(Filter { map: self.map, shared: self.shared, fields: Some(fields) })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// The caller's map with the shared keys taken out (their values go to [`Partial`]).
struct Filter<'a, A> {
    map: A,
    shared: &'a mut Partial,
    /// The adapter struct's own keys, when it said (for the "unknown field" message).
    fields: Option<&'static [&'static str]>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Filter<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let mut seed = Some(seed);
        loop {
            match self.map.next_key_seed(KeySeed { seed: &mut seed, fields: self.fields })? {
                None => return Ok(None),
                Some(Key::Own(key)) => return Ok(Some(key)),
                Some(Key::Shared(name)) => self.shared.take(name, &mut self.map)?,
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A key of the table: shared, or the adapter's (already decoded by its seed).
enum Key<K> {
    Shared(&'static str),
    Own(K),
}

/// Reads one key, sorting it to its side. Decoding it inside the caller's key seed keeps the key in error paths.
struct KeySeed<'a, K> {
    seed: &'a mut Option<K>,
    fields: Option<&'static [&'static str]>,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, K> {
    type Value = Key<K::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        let key = String::deserialize(deserializer)?;
        if let Some(name) = SHARED_KEYS.iter().find(|k| **k == key) {
            return Ok(Key::Shared(name));
        }
        if let Some(fields) = self.fields.filter(|f| !f.contains(&key.as_str())) {
            let expected: Vec<String> = SHARED_KEYS.iter().chain(fields).map(|k| format!("`{k}`")).collect();
            return Err(de::Error::custom(format_args!(
                "unknown field `{key}`, expected one of {}",
                expected.join(", ")
            )));
        }
        let seed = self.seed.take().ok_or_else(|| de::Error::custom("a settings key was read twice"))?;
        seed.deserialize(key.into_deserializer()).map(Key::Own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: SettingsProfile = SettingsProfile {
        topic_media: "messages",
        tracked: "conversations",
        region_example: "eu_west_1",
        base_url_example: "http://127.0.0.1:8089",
    };

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Own {
        deployment_id: String,
        #[serde(default)]
        lookback_hours: u32,
    }

    fn split(v: serde_json::Value) -> Result<(ConversationSettings, Own), serde_json::Error> {
        decode(v, PROFILE)
    }

    #[test]
    fn shared_and_own_keys_go_to_their_side() {
        let (shared, own) = split(serde_json::json!({
            "base_url": "http://127.0.0.1:9", "client_id": "c", "client_secret": "s", "deployment_id": "d",
            "queue_ids": ["q1"], "lookback_hours": 5, "stream": {"buffer": 7}
        }))
        .expect("decode");
        assert_eq!((shared.client_id.as_str(), shared.queue_ids.len(), shared.stream.buffer), ("c", 1, 7));
        assert_eq!((shared.requests_per_minute, shared.burst, shared.canned_cache_secs), (300, 3, 300));
        assert_eq!((own.deployment_id.as_str(), own.lookback_hours), ("d", 5));
        assert_eq!(shared.topics(), vec!["v2.routing.queues.q1.conversations.messages"]);
    }

    #[test]
    fn unknown_and_missing_keys_are_named() {
        let e = split(serde_json::json!({"client_id": "c", "client_secret": "s", "deployment_id": "d", "bogus": 1}))
            .expect_err("unknown key");
        let msg = e.to_string();
        assert!(msg.contains("unknown field `bogus`") && msg.contains("`deployment_id`"), "{msg}");
        assert!(msg.contains("`client_id`"), "{msg}");
        let e = split(serde_json::json!({"client_secret": "s", "deployment_id": "d"})).expect_err("missing");
        assert!(e.to_string().contains("missing field `client_id`"), "{e}");
        let e = split(serde_json::json!({"client_id": "c", "client_secret": "s"})).expect_err("missing own");
        assert!(e.to_string().contains("missing field `deployment_id`"), "{e}");
        let e = split(
            serde_json::json!({"client_id": "c", "client_secret": "s", "deployment_id": "d", "stream": {"x": 1}}),
        )
        .expect_err("unknown nested key");
        assert!(e.to_string().contains("unknown field `x`"), "{e}");
    }
}
