//! Entra ID access tokens (client credentials, or the password grant of a service user for delegated Graph
//! access): cached, refreshed five minutes before expiry, one refresh at a time. Tokens and secrets are never
//! logged; refusals become `Unauthorized`, network and 5xx failures `Transient`.

use std::time::{Duration, Instant};

use herald_core::ChannelError;
use herald_genesys::Secret;
use parking_lot::Mutex;
use serde::Deserialize;

/// Refresh this long before expiry (Bot Framework SDKs do the same).
pub const REFRESH_EARLY: Duration = Duration::from_secs(300);

/// What grant to use.
#[derive(Clone)]
pub enum Grant {
    /// `client_credentials`.
    ClientCredentials,
    /// `password` with a service user.
    Password {
        /// User principal name.
        username: String,
        /// Password.
        password: Secret,
    },
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// A cached token source.
pub struct TokenSource {
    http: reqwest::Client,
    url: String,
    client_id: String,
    secret: Secret,
    scope: String,
    grant: Grant,
    cached: Mutex<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
    last_error: Mutex<Option<String>>,
    fetched: Mutex<u64>,
}

impl TokenSource {
    /// A source for `{login_base}/{tenant}/oauth2/v2.0/token`.
    pub fn new(
        http: reqwest::Client,
        login_base: &str,
        tenant: &str,
        client_id: &str,
        secret: Secret,
        scope: &str,
        grant: Grant,
    ) -> Self {
        TokenSource {
            http,
            url: format!("{}/{}/oauth2/v2.0/token", login_base.trim_end_matches('/'), tenant),
            client_id: client_id.into(),
            secret,
            scope: scope.into(),
            grant,
            cached: Mutex::new(None),
            refresh: Default::default(),
            last_error: Mutex::new(None),
            fetched: Mutex::new(0),
        }
    }

    /// A valid token (cached or fresh).
    pub async fn token(&self) -> Result<Secret, ChannelError> {
        if let Some(c) = self.cached.lock().clone().filter(|c| c.refresh_at > Instant::now()) {
            return Ok(c.token);
        }
        let _guard = self.refresh.lock().await;
        if let Some(c) = self.cached.lock().clone().filter(|c| c.refresh_at > Instant::now()) {
            return Ok(c.token);
        }
        match self.fetch().await {
            Ok(c) => {
                *self.cached.lock() = Some(c.clone());
                *self.last_error.lock() = None;
                *self.fetched.lock() += 1;
                Ok(c.token)
            }
            Err(e) => {
                *self.last_error.lock() = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Forgets the cached token (after a 401).
    pub fn invalidate(&self) {
        *self.cached.lock() = None;
    }

    /// `(tokens fetched, last error)` for health.
    pub fn status(&self) -> (u64, Option<String>) {
        (*self.fetched.lock(), self.last_error.lock().clone())
    }

    async fn fetch(&self) -> Result<Cached, ChannelError> {
        let mut form: Vec<(&str, &str)> =
            vec![("client_id", &self.client_id), ("client_secret", self.secret.expose()), ("scope", &self.scope)];
        match &self.grant {
            Grant::ClientCredentials => form.push(("grant_type", "client_credentials")),
            Grant::Password { username, password } => {
                form.push(("grant_type", "password"));
                form.push(("username", username));
                form.push(("password", password.expose()));
            }
        }
        let started = Instant::now();
        let resp = self
            .http
            .post(&self.url)
            .form(&form)
            .send()
            .await
            .map_err(|e| ChannelError::transient(format!("token request to Entra failed: {}", e.without_url())))?;
        let status = resp.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(ChannelError::transient(format!("Entra token endpoint answered HTTP {status}")));
        }
        if !status.is_success() {
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            let code = body.get("error").and_then(|v| v.as_str()).unwrap_or("unknown").to_string();
            return Err(ChannelError::Unauthorized {
                reason: format!(
                    "Entra refused the token request for app `{}` (HTTP {status}, `{code}`); check the app id, secret and tenant",
                    self.client_id
                ),
                correlation_id: None,
            });
        }
        let t: TokenResponse = resp
            .json()
            .await
            .map_err(|e| ChannelError::transient(format!("unreadable token response: {}", e.without_url())))?;
        let life = Duration::from_secs(t.expires_in.unwrap_or(3600));
        let early = if life > REFRESH_EARLY * 2 { REFRESH_EARLY } else { life / 2 };
        Ok(Cached { token: Secret::new(t.access_token), refresh_at: started + life - early })
    }
}
