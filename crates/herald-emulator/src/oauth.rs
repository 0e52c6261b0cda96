//! OAuth client credentials (`POST /oauth/token`, the login host's role) and the token store.
//!
//! API handlers authenticate with the [`Authed`] extractor, which also charges the token's
//! rate budget. Tokens are opaque random strings; expiry follows the virtual clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use dashmap::DashMap;
use serde_json::json;

use crate::api_error::ApiError;
use crate::ratelimit::RateWindow;
use crate::state::{AppState, Counters};

/// One issued token.
#[derive(Debug)]
pub struct TokenEntry {
    /// The OAuth client it was issued to.
    pub client_id: String,
    /// Expiry in virtual epoch milliseconds.
    pub expires_at_ms: i64,
    /// Revoked through the control API.
    pub revoked: AtomicBool,
    /// The token's rate window.
    pub window: RateWindow,
}

/// All issued tokens.
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: DashMap<String, Arc<TokenEntry>>,
}

impl TokenStore {
    /// Issues a token.
    pub fn issue(&self, client_id: &str, expires_at_ms: i64, rpm: u32) -> String {
        let bytes: [u8; 48] = rand::random();
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        self.tokens.insert(
            token.clone(),
            Arc::new(TokenEntry {
                client_id: client_id.to_string(),
                expires_at_ms,
                revoked: AtomicBool::new(false),
                window: RateWindow::new(rpm),
            }),
        );
        token
    }

    /// Looks a token up.
    pub fn get(&self, token: &str) -> Option<Arc<TokenEntry>> {
        self.tokens.get(token).map(|e| Arc::clone(e.value()))
    }

    /// Revokes every token, or those of one client; returns how many.
    pub fn revoke(&self, client_id: Option<&str>) -> usize {
        let mut n = 0;
        for e in self.tokens.iter() {
            if client_id.is_none_or(|c| c == e.client_id) && !e.revoked.swap(true, Ordering::Relaxed) {
                n += 1;
            }
        }
        n
    }

    /// Drops tokens that expired before `now_ms` (housekeeping).
    pub fn purge_expired(&self, now_ms: i64) {
        self.tokens.retain(|_, e| e.expires_at_ms > now_ms && !e.revoked.load(Ordering::Relaxed));
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "description": description, "error_description": description})))
        .into_response()
}

/// `POST /oauth/token` — client-credentials grant.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match field("grant_type").as_deref() {
        Some("client_credentials") => {}
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant type not supported"),
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required"),
    }
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())));
    let creds = basic.or_else(|| Some((field("client_id")?, field("client_secret")?)));
    let Some((id, secret)) = creds else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client credentials are required");
    };
    let Some(client) = state.config.oauth.clients.iter().find(|c| c.id == id) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "client not found: invalid_client");
    };
    if client.secret != secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "authentication failed: invalid_client");
    }
    let lifetime = client.token_lifetime_seconds.unwrap_or(state.config.oauth.token_lifetime_seconds);
    let rpm = client.requests_per_minute.unwrap_or(state.config.limits.requests_per_minute);
    let expires = state.clock.now_ms() + (lifetime as i64) * 1000;
    let token = state.tokens.issue(&client.id, expires, rpm);
    Counters::bump(&state.counters.tokens_issued);
    Json(json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime})).into_response()
}

/// An authenticated API caller (OAuth bearer token), already charged against its rate budget.
#[derive(Debug, Clone)]
pub struct Authed {
    /// The OAuth client id.
    pub client_id: String,
    /// The bearer token.
    pub token: String,
}

/// Extracts a bearer token from the `Authorization` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(str::trim)
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(&parts.headers) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ));
        };
        let now = state.clock.now_ms();
        let entry = state
            .tokens
            .get(token)
            .filter(|e| e.expires_at_ms > now && !e.revoked.load(Ordering::Relaxed))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    &state.config.behaviour.bad_token_code,
                    "Invalid login credentials.",
                )
            })?;
        if let Err(retry) = entry.window.check(now) {
            Counters::bump(&state.counters.too_many_requests);
            return Err(ApiError::too_many_requests(retry));
        }
        Ok(Authed { client_id: entry.client_id.clone(), token: token.to_string() })
    }
}
