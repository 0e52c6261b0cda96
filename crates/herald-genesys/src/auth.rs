//! OAuth client credentials: fetching, caching and refreshing the access token.
//!
//! The token is cached and refreshed before it expires (at 90 % of its lifetime, and at least 60 s early).
//! Refreshes are single-flight: concurrent callers that find the token stale wait for the one refresh in progress
//! instead of each asking the login host. A 401 on an API call invalidates exactly the token that was refused
//! ([`TokenCache::refresh_after_rejection`]), so many concurrent 401s still cause one refresh.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use herald_core::ChannelError;
use parking_lot::RwLock;
use serde::Deserialize;
use tokio::time::Instant;

use crate::config::Secret;
use crate::errors::{parse_retry_after, ErrorBody, CORRELATION_HEADER};

/// The token response of `POST /oauth/token`.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: Secret,
    /// Usually `bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Lifetime in seconds (300–172800 per OAuth client configuration).
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// OAuth-style failure body of the login host (`error`, `error_description`).
#[derive(Debug, Default, Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// A cached access token.
#[derive(Clone)]
pub struct AccessToken {
    /// The bearer token value.
    pub value: Secret,
    /// When it should be replaced.
    pub refresh_at: Instant,
    /// When Genesys says it expires.
    pub expires_at: Instant,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("value", &self.value).finish_non_exhaustive()
    }
}

/// Fetches and caches the client-credentials token of one OAuth client (see the module docs).
pub struct TokenCache {
    http: reqwest::Client,
    token_url: String,
    login_base: String,
    client_id: String,
    client_secret: Secret,
    current: RwLock<Option<AccessToken>>,
    refresh_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("fetches", &self.fetches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// When to refresh a token of `lifetime`: at 90 % of it, and at least 60 s before expiry (never sooner than half).
pub fn refresh_margin(lifetime: Duration) -> Duration {
    let tenth = lifetime / 10;
    tenth.max(Duration::from_secs(60)).min(lifetime / 2)
}

/// The longest token lifetime herald believes (Genesys allows at most 172800 s; a larger `expires_in` is clamped
/// so a hostile or broken login host cannot make a token live forever).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(172_800);

/// The lifetime of a token from its `expires_in` (3600 s when absent, at least 1 s, at most
/// [`MAX_TOKEN_LIFETIME`]).
pub fn token_lifetime(expires_in: Option<u64>) -> Duration {
    Duration::from_secs(expires_in.unwrap_or(3600).max(1)).min(MAX_TOKEN_LIFETIME)
}

/// `now + wait` on tokio's clock, saturating instead of panicking.
fn later(now: Instant, wait: Duration) -> Instant {
    Instant::from_std(herald_core::retry::instant_after(now.into_std(), wait))
}

impl TokenCache {
    /// A cache for `client_id` against `login_base` (e.g. `https://login.mypurecloud.ie`).
    pub fn new(http: reqwest::Client, login_base: &str, client_id: &str, client_secret: Secret) -> Arc<Self> {
        let login_base = login_base.trim_end_matches('/').to_string();
        Arc::new(TokenCache {
            http,
            token_url: format!("{login_base}/oauth/token"),
            login_base,
            client_id: client_id.to_string(),
            client_secret,
            current: RwLock::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        })
    }

    /// How many times a token was requested from the login host.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn fresh(&self) -> Option<AccessToken> {
        self.current.read().as_ref().filter(|t| Instant::now() < t.refresh_at).cloned()
    }

    /// Whether a token is cached and still usable (for health checks).
    pub fn has_valid_token(&self) -> bool {
        self.current.read().as_ref().is_some_and(|t| Instant::now() < t.expires_at)
    }

    /// A valid token, fetching one if none is cached or the cached one is due for refresh.
    pub async fn token(&self) -> Result<AccessToken, ChannelError> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let _guard = self.refresh_lock.lock().await;
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        self.fetch_and_store().await
    }

    /// Called after the API refused `rejected` with 401: refreshes once, unless another caller already replaced
    /// that token, in which case the replacement is returned.
    pub async fn refresh_after_rejection(&self, rejected: &Secret) -> Result<AccessToken, ChannelError> {
        let _guard = self.refresh_lock.lock().await;
        if let Some(t) = self.current.read().as_ref() {
            if &t.value != rejected && Instant::now() < t.refresh_at {
                return Ok(t.clone());
            }
        }
        *self.current.write() = None;
        self.fetch_and_store().await
    }

    /// Forgets the cached token (e.g. after a revocation notice), so the next call fetches a new one.
    pub fn invalidate(&self) {
        *self.current.write() = None;
    }

    async fn fetch_and_store(&self) -> Result<AccessToken, ChannelError> {
        let t = self.fetch().await?;
        *self.current.write() = Some(t.clone());
        Ok(t)
    }

    async fn fetch(&self) -> Result<AccessToken, ChannelError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose()
        ));
        let resp = self
            .http
            .post(&self.token_url)
            .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| ChannelError::Transient {
                reason: format!("could not reach the login host {}: {}", self.login_base, transport_reason(&e)),
                correlation_id: None,
            })?;
        let status = resp.status().as_u16();
        let corr = resp.headers().get(CORRELATION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let retry_after =
            resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let bytes = resp.bytes().await.map_err(|e| ChannelError::Transient {
            reason: format!("the login host {} dropped the token response: {}", self.login_base, transport_reason(&e)),
            correlation_id: corr.clone(),
        })?;
        if (200..300).contains(&status) {
            let tr: TokenResponse = serde_json::from_slice(&bytes).map_err(|e| ChannelError::Permanent {
                reason: format!("the login host {} sent a token response herald cannot read: {e}", self.login_base),
                correlation_id: corr.clone(),
            })?;
            let lifetime = token_lifetime(tr.expires_in);
            let now = Instant::now();
            tracing::debug!(client_id = %self.client_id, lifetime_secs = lifetime.as_secs(), "obtained access token");
            let expires_at = later(now, lifetime);
            return Ok(AccessToken {
                value: tr.access_token,
                refresh_at: later(now, lifetime.saturating_sub(refresh_margin(lifetime))),
                expires_at,
            });
        }
        let oauth: OAuthError = serde_json::from_slice(&bytes).unwrap_or_default();
        let body = ErrorBody::parse(&bytes);
        let detail = match (oauth.error, oauth.error_description) {
            (Some(e), Some(d)) => format!("{e}: {d}"),
            (Some(e), None) => e,
            (None, Some(d)) => d,
            (None, None) => body.describe(),
        };
        tracing::warn!(client_id = %self.client_id, status, correlation_id = ?corr, "token request refused");
        match status {
            429 => Err(ChannelError::RateLimited { retry_after, correlation_id: corr }),
            500..=599 => Err(ChannelError::Transient {
                reason: format!("the login host {} answered {status} to the token request: {detail}", self.login_base),
                correlation_id: corr,
            }),
            _ => Err(ChannelError::Unauthorized {
                reason: format!(
                    "the login host {} refused OAuth client `{}` ({status} {detail}); check the client id and secret, \
                     that the client uses the Client Credentials grant, and that it belongs to this region",
                    self.login_base, self.client_id
                ),
                correlation_id: corr,
            }),
        }
    }
}

/// A short description of a transport error that never includes URLs with credentials (there are none) or bodies.
///
/// `timed out` and `connection failed` for those two; otherwise the error with its chain of sources. Public so that
/// callers outside this crate that reach the Genesys hosts directly describe transport failures the same way.
pub fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s.push_str(": ");
            s.push_str(&inner.to_string());
            src = inner.source();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margin_is_ten_percent_or_a_minute() {
        assert_eq!(refresh_margin(Duration::from_secs(86400)), Duration::from_secs(8640));
        assert_eq!(refresh_margin(Duration::from_secs(300)), Duration::from_secs(60));
        assert_eq!(refresh_margin(Duration::from_secs(60)), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn hostile_lifetimes_never_overflow() {
        assert_eq!(token_lifetime(Some(u64::MAX)), MAX_TOKEN_LIFETIME);
        assert_eq!(token_lifetime(Some(0)), Duration::from_secs(1));
        assert_eq!(token_lifetime(None), Duration::from_secs(3600));
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
    }
}
