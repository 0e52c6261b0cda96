//! The Microsoft Graph client for presence: bulk reads (`getPresencesByUserId`), writes (`setUserPreferredPresence`
//! on `/beta`, or `setPresence` with the app id as `sessionId`) and change-notification subscriptions.
//!
//! Every presence call spends the shared presence budget first (a GCRA limiter sized from the configured
//! 1,500 req / 30 s and the share herald may use), so herald stays under Graph's limit instead of collecting 429s.
//! A 429 is still honoured (`Retry-After`, fractional seconds allowed); 5xx are retried with backoff; a 401 refreshes
//! the token once. Subscriptions use the delegated token (Graph refuses application tokens for presence).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use herald_core::ChannelError;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::tokens::TokenSource;

/// One presence as Graph returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// User object id.
    pub id: String,
    /// Availability.
    #[serde(default)]
    pub availability: String,
    /// Activity.
    #[serde(default)]
    pub activity: String,
}

/// A created or renewed subscription.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionInfo {
    /// Id.
    pub id: String,
    /// Expiry as Graph wrote it.
    #[serde(default)]
    pub expiration_date_time: String,
}

/// The client.
pub struct GraphClient {
    http: reqwest::Client,
    base: String,
    app_token: TokenSource,
    delegated: Option<TokenSource>,
    budget: DefaultDirectRateLimiter,
    app_id: String,
    max_retries: u32,
}

/// The `Retry-After` of a Graph answer through the one shared parser (seconds, decimals or an HTTP date; clamped
/// to [`MAX_RETRY_AFTER`](herald_core::retry::MAX_RETRY_AFTER); negative, NaN and garbage give `None`).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    herald_core::retry::parse_retry_after(headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?)
}

/// `id` as one URL path segment (an object id is a GUID; anything else is percent-encoded, never a path).
fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A presence budget limiter: at most `share × requests` in any `window`.
pub fn budget_limiter(requests: u32, window: Duration, share: f64) -> DefaultDirectRateLimiter {
    let allowed = ((requests as f64) * share).floor().max(1.0) as u32;
    let burst = (allowed / 20).clamp(1, 50);
    let steady = allowed.saturating_sub(burst).max(1);
    let period = window / steady;
    let quota = Quota::with_period(period.max(Duration::from_micros(1)))
        .map(|q| q.allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
    RateLimiter::direct(quota)
}

impl GraphClient {
    /// A client. `app_id` is used as the `sessionId` of `setPresence`.
    pub fn new(
        http: reqwest::Client,
        base: String,
        app_token: TokenSource,
        delegated: Option<TokenSource>,
        budget: DefaultDirectRateLimiter,
        app_id: String,
    ) -> Self {
        GraphClient { http, base, app_token, delegated, budget, app_id, max_retries: 4 }
    }

    /// The app token source (health).
    pub fn app_token(&self) -> &TokenSource {
        &self.app_token
    }

    /// Whether delegated credentials are configured.
    pub fn has_delegated(&self) -> bool {
        self.delegated.is_some()
    }

    /// `POST /v1.0/communications/getPresencesByUserId` for up to 650 ids.
    pub async fn get_presences(&self, ids: &[String]) -> Result<Vec<Presence>, ChannelError> {
        let url = format!("{}/v1.0/communications/getPresencesByUserId", self.base);
        let v = self.request(Method::POST, &url, Some(json!({"ids": ids})), false, true).await?;
        let list = v.get("value").cloned().unwrap_or(Value::Array(Vec::new()));
        serde_json::from_value(list).map_err(|e| ChannelError::transient(format!("unreadable presence list: {e}")))
    }

    /// `POST /beta/users/{id}/presence/setUserPreferredPresence`.
    pub async fn set_preferred(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        expiration: Option<&str>,
    ) -> Result<(), ChannelError> {
        let url = format!("{}/beta/users/{user}/presence/setUserPreferredPresence", self.base);
        let mut body = json!({"availability": availability, "activity": activity});
        if let Some(e) = expiration {
            body["expirationDuration"] = json!(e);
        }
        self.request(Method::POST, &url, Some(body), false, true).await.map(|_| ())
    }

    /// `POST /v1.0/users/{id}/presence/setPresence` with the app id as session.
    pub async fn set_session(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        expiration: Option<&str>,
    ) -> Result<(), ChannelError> {
        let url = format!("{}/v1.0/users/{user}/presence/setPresence", self.base);
        let body = json!({
            "sessionId": self.app_id, "availability": availability, "activity": activity,
            "expirationDuration": expiration.unwrap_or("PT4H"),
        });
        self.request(Method::POST, &url, Some(body), false, true).await.map(|_| ())
    }

    /// `GET /v1.0/users/{id}?$select=mail,userPrincipalName` (application `User.Read.All`): the directory
    /// addresses of a Teams user, lower-cased, empty ones left out. Not charged to the presence budget.
    pub async fn user_addresses(&self, aad_id: &str) -> Result<Vec<String>, ChannelError> {
        let url = format!("{}/v1.0/users/{}?$select=mail,userPrincipalName", self.base, path_segment(aad_id));
        let v = self.request(Method::GET, &url, None, false, false).await?;
        Ok(["mail", "userPrincipalName"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(Value::as_str))
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect())
    }

    /// `POST /v1.0/subscriptions` (delegated).
    pub async fn create_subscription(&self, body: Value) -> Result<SubscriptionInfo, ChannelError> {
        let url = format!("{}/v1.0/subscriptions", self.base);
        let v = self.request(Method::POST, &url, Some(body), true, false).await?;
        serde_json::from_value(v).map_err(|e| ChannelError::transient(format!("unreadable subscription: {e}")))
    }

    /// `PATCH /v1.0/subscriptions/{id}` with a new expiry (delegated).
    pub async fn renew_subscription(&self, id: &str, expiration: &str) -> Result<SubscriptionInfo, ChannelError> {
        let url = format!("{}/v1.0/subscriptions/{id}", self.base);
        let v = self.request(Method::PATCH, &url, Some(json!({"expirationDateTime": expiration})), true, false).await?;
        serde_json::from_value(v).map_err(|e| ChannelError::transient(format!("unreadable subscription: {e}")))
    }

    /// `DELETE /v1.0/subscriptions/{id}` (delegated); a 404 counts as done.
    pub async fn delete_subscription(&self, id: &str) -> Result<(), ChannelError> {
        let url = format!("{}/v1.0/subscriptions/{id}", self.base);
        match self.request(Method::DELETE, &url, None, true, false).await {
            Ok(_) | Err(ChannelError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<Value>,
        delegated: bool,
        presence_budget: bool,
    ) -> Result<Value, ChannelError> {
        let source = match (delegated, &self.delegated) {
            (true, Some(d)) => d,
            (true, None) => {
                return Err(ChannelError::permanent("Graph subscriptions need [graph.delegated] credentials"))
            }
            _ => &self.app_token,
        };
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            if presence_budget {
                self.budget.until_ready().await;
            }
            let token = source.token().await?;
            let mut req = self.http.request(method.clone(), url).bearer_auth(token.expose());
            if let Some(b) = &body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if attempt < self.max_retries => {
                    attempt += 1;
                    tracing::debug!(error = %e.without_url(), "Graph request failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    continue;
                }
                Err(e) => return Err(ChannelError::transient(format!("Graph unreachable: {}", e.without_url()))),
            };
            let status = resp.status();
            let rid = resp.headers().get("request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
            let retry_after = retry_after(resp.headers());
            if status.is_success() {
                let text = resp.text().await.unwrap_or_default();
                return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
            }
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            let code = v.pointer("/error/code").and_then(Value::as_str).unwrap_or("unknown").to_string();
            let message = v.pointer("/error/message").and_then(Value::as_str).unwrap_or_default().to_string();
            match status.as_u16() {
                401 if !refreshed => {
                    refreshed = true;
                    source.invalidate();
                    continue;
                }
                429 | 500..=599 if attempt < self.max_retries => {
                    attempt += 1;
                    let wait = retry_after.unwrap_or(Duration::from_millis(250 << attempt));
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                    continue;
                }
                429 => return Err(ChannelError::RateLimited { retry_after, correlation_id: rid }),
                500..=599 => {
                    return Err(ChannelError::Transient {
                        reason: format!("Graph answered {status} {code}"),
                        correlation_id: rid,
                    })
                }
                401 | 403 => {
                    return Err(ChannelError::Unauthorized {
                        reason: format!(
                            "Graph refused the call ({status} {code}: {message}); check the app's Presence permissions"
                        ),
                        correlation_id: rid,
                    })
                }
                404 => {
                    return Err(ChannelError::not_found(
                        "Graph resource",
                        url.rsplit('/').next().unwrap_or(url),
                        message,
                    ))
                }
                _ => {
                    return Err(ChannelError::Permanent {
                        reason: format!("Graph answered {status} {code}: {message}"),
                        correlation_id: rid,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &'static str) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, reqwest::header::HeaderValue::from_static(value));
        h
    }

    #[test]
    fn retry_after_never_panics_and_is_clamped() {
        assert_eq!(retry_after(&headers("2.5")), Some(Duration::from_millis(2500)));
        assert_eq!(retry_after(&headers("-1")), None);
        assert_eq!(retry_after(&headers("NaN")), None);
        assert_eq!(retry_after(&headers("1e300")), Some(herald_core::retry::MAX_RETRY_AFTER));
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
    }
}
