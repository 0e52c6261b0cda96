//! A small Genesys Cloud client: OAuth client credentials with a cached token, and JSON POSTs with the platform's
//! errors mapped to herald's classes. Deliberately not `herald-genesys`: a plugin should stay light.

use std::time::{Duration, Instant};

use herald_plugin::core::ChannelError;
use herald_plugin::sdk::http::{error_for_status, ErrorAnswer};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::settings::Endpoints;

/// Refresh this long before the token expires.
const EARLY_REFRESH: Duration = Duration::from_secs(60);

/// A Genesys Cloud API client for one OAuth client.
pub struct Genesys {
    http: reqwest::Client,
    endpoints: Endpoints,
    client_id: String,
    client_secret: String,
    token: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: u64,
}

impl Genesys {
    /// A client; no network until the first request.
    pub fn new(http: reqwest::Client, endpoints: Endpoints, client_id: String, client_secret: String) -> Self {
        Genesys { http, endpoints, client_id, client_secret, token: Mutex::new(None) }
    }

    /// A valid access token, fetched (client-credentials grant) when missing, expiring or `refresh` is set.
    async fn token(&self, refresh: bool) -> Result<String, ChannelError> {
        let mut slot = self.token.lock().await;
        if let Some((token, until)) = slot.as_ref() {
            if !refresh && Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let resp = self
            .http
            .post(format!("{}/oauth/token", self.endpoints.login))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| ChannelError::transient(format!("Genesys login request failed: {e}")))?;
        let status = resp.status();
        if status.as_u16() == 400 || status.as_u16() == 401 {
            return Err(ChannelError::Unauthorized {
                reason: format!(
                    "Genesys refused the OAuth client `{}` ({status}); check client_id and client_secret",
                    self.client_id
                ),
                correlation_id: correlation(&resp),
            });
        }
        if !status.is_success() {
            return Err(classify(status, resp, "the login service").await);
        }
        let body: TokenResponse = resp
            .json()
            .await
            .map_err(|e| ChannelError::transient(format!("Genesys login answered an unreadable token: {e}")))?;
        let lifetime = Duration::from_secs(body.expires_in.max(1));
        let until = Instant::now() + lifetime.saturating_sub(EARLY_REFRESH).max(lifetime / 2);
        *slot = Some((body.access_token.clone(), until));
        Ok(body.access_token)
    }

    /// `POST {api}{path}` with a JSON body, over by `deadline`; returns the JSON answer. A 401 refreshes the token
    /// once. A failure before the request could reach Genesys (DNS, refused connection) is transient; a timeout
    /// or reset after it was sent, or an unreadable success answer, leaves the outcome unknown.
    pub async fn post(&self, path: &str, body: &Value, deadline: tokio::time::Instant) -> Result<Value, ChannelError> {
        let mut refreshed = false;
        loop {
            let token = self.token(refreshed).await?;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now()).max(Duration::from_millis(1));
            let resp = self
                .http
                .post(format!("{}{path}", self.endpoints.api))
                .bearer_auth(token)
                .timeout(left)
                .json(body)
                .send()
                .await
                .map_err(|e| transport_error(format!("Genesys request failed: {e}"), !e.is_connect()))?;
            let status = resp.status();
            if status.as_u16() == 401 && !refreshed {
                refreshed = true;
                continue;
            }
            if !status.is_success() {
                return Err(classify(status, resp, "Genesys").await);
            }
            let text = resp.text().await.map_err(|e| {
                ChannelError::outcome_unknown(format!("Genesys accepted the request but its answer was lost: {e}"))
            })?;
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| {
                ChannelError::outcome_unknown(format!("Genesys answered {status} with unreadable JSON: {e}"))
            });
        }
    }

    /// Whether a token can be had right now (for health).
    pub async fn check_token(&self) -> Result<(), ChannelError> {
        self.token(false).await.map(|_| ())
    }
}

fn correlation(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("inin-correlation-id").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Map a platform error answer to herald's classes (the SDK's one mapping of status and `Retry-After`), with the
/// platform's message and the field it blames.
pub async fn classify(status: reqwest::StatusCode, resp: reqwest::Response, who: &str) -> ChannelError {
    let correlation_id = correlation(&resp);
    let retry_after =
        resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let message = body["message"].as_str().unwrap_or("");
    let answer = ErrorAnswer {
        who,
        status: status.as_u16(),
        retry_after: retry_after.as_deref(),
        correlation_id,
        message,
        field: body["details"][0]["fieldName"].as_str(),
    };
    match error_for_status(answer) {
        ChannelError::NotFound { id, .. } => ChannelError::NotFound {
            what: "open messaging integration".into(),
            id,
            hint: "check `integration_id` in the settings".into(),
        },
        other => other,
    }
}

/// A failed exchange: transient when the request never left, else an unknown outcome.
fn transport_error(reason: String, request_sent: bool) -> ChannelError {
    herald_plugin::sdk::deadline::transport_error(reason, request_sent)
}
