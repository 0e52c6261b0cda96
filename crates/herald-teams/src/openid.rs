//! The Bot Connector's signing keys: the OpenID metadata document names the JWKS; keys are cached with their
//! `endorsements` and refreshed every 24 h, and on an unknown `kid` at most once an hour (so a flood of tokens with
//! random `kid`s cannot make herald hammer the metadata endpoint). A failed refresh keeps the keys already known.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::RwLock;
use serde::Deserialize;

use crate::jwt::AuthError;

/// How often keys are refreshed regardless.
pub const REFRESH_EVERY: Duration = Duration::from_secs(24 * 3600);
/// Least time between refreshes caused by unknown `kid`s.
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(3600);

/// One signing key with what it may sign for.
#[derive(Clone)]
pub struct CachedKey {
    /// The verification key.
    pub key: DecodingKey,
    /// Channel ids the key is endorsed for (empty: no restriction).
    pub endorsements: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    #[serde(default)]
    kty: String,
    #[serde(default)]
    kid: String,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
    #[serde(default)]
    endorsements: Vec<String>,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, CachedKey>,
    algorithms: Vec<Algorithm>,
    fetched_at: Option<Instant>,
    unknown_refresh_at: Option<Instant>,
    refreshes: u64,
    last_error: Option<String>,
}

/// The key cache.
pub struct KeyCache {
    http: reqwest::Client,
    metadata_url: String,
    state: RwLock<State>,
    refresh: tokio::sync::Mutex<()>,
}

/// The algorithms Bot Framework SDKs accept.
pub const ALLOWED_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

impl KeyCache {
    /// A cache reading `metadata_url`.
    pub fn new(http: reqwest::Client, metadata_url: impl Into<String>) -> Self {
        KeyCache { http, metadata_url: metadata_url.into(), state: RwLock::default(), refresh: Default::default() }
    }

    /// The key `kid`, refreshing as the policy allows.
    pub async fn key(&self, kid: &str) -> Result<CachedKey, AuthError> {
        let stale = self.state.read().fetched_at.is_none_or(|t| t.elapsed() >= REFRESH_EVERY);
        if stale {
            self.refresh_once(None).await;
        }
        if let Some(k) = self.state.read().keys.get(kid) {
            return Ok(k.clone());
        }
        let may = self.state.read().unknown_refresh_at.is_none_or(|t| t.elapsed() >= UNKNOWN_KID_INTERVAL);
        if may {
            self.refresh_once(Some(())).await;
            if let Some(k) = self.state.read().keys.get(kid) {
                return Ok(k.clone());
            }
        }
        let st = self.state.read();
        if st.keys.is_empty() {
            return Err(AuthError::KeysUnavailable(st.last_error.clone().unwrap_or_else(|| "no keys".into())));
        }
        Err(AuthError::UnknownKey)
    }

    /// The algorithms accepted: the metadata's, within RS256/RS384/RS512 (all three when it names none).
    pub fn algorithms(&self) -> Vec<Algorithm> {
        let a = self.state.read().algorithms.clone();
        if a.is_empty() {
            ALLOWED_ALGORITHMS.to_vec()
        } else {
            a
        }
    }

    /// Refreshes made so far, and the last error.
    pub fn stats(&self) -> (u64, Option<String>, usize) {
        let st = self.state.read();
        (st.refreshes, st.last_error.clone(), st.keys.len())
    }

    async fn refresh_once(&self, unknown: Option<()>) {
        let _guard = self.refresh.lock().await;
        {
            // Another task may have refreshed while we waited.
            let st = self.state.read();
            let recent = |t: Option<Instant>| t.is_some_and(|t| t.elapsed() < Duration::from_secs(1));
            if (unknown.is_none() && recent(st.fetched_at)) || (unknown.is_some() && recent(st.unknown_refresh_at)) {
                return;
            }
        }
        let result = self.fetch().await;
        let mut st = self.state.write();
        st.refreshes += 1;
        if unknown.is_some() {
            st.unknown_refresh_at = Some(Instant::now());
        }
        match result {
            Ok((keys, algorithms)) => {
                st.keys = keys;
                st.algorithms = algorithms;
                st.fetched_at = Some(Instant::now());
                st.last_error = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not refresh the Bot Connector signing keys; keeping the known ones");
                st.last_error = Some(e);
                if st.fetched_at.is_none() && !st.keys.is_empty() {
                    st.fetched_at = Some(Instant::now());
                }
            }
        }
    }

    async fn fetch(&self) -> Result<(HashMap<String, CachedKey>, Vec<Algorithm>), String> {
        let meta: Metadata = get_json(&self.http, &self.metadata_url).await?;
        let jwks: Jwks = get_json(&self.http, &meta.jwks_uri).await?;
        let mut keys = HashMap::new();
        for k in jwks.keys {
            if k.kty != "RSA" || k.kid.is_empty() {
                continue;
            }
            match DecodingKey::from_rsa_components(&k.n, &k.e) {
                Ok(key) => {
                    keys.insert(k.kid, CachedKey { key, endorsements: k.endorsements });
                }
                Err(e) => tracing::warn!(kid = %k.kid, error = %e, "skipping an unusable JWKS key"),
            }
        }
        if keys.is_empty() {
            return Err("the JWKS holds no usable RSA key".into());
        }
        let algorithms = meta
            .id_token_signing_alg_values_supported
            .iter()
            .filter_map(|a| ALLOWED_ALGORITHMS.iter().find(|x| format!("{x:?}") == *a).copied())
            .collect();
        Ok((keys, algorithms))
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &str) -> Result<T, String> {
    let resp = http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    resp.json::<T>().await.map_err(|e| format!("GET {url}: bad JSON: {e}"))
}
