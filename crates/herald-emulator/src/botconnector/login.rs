//! The Entra ID token endpoint (`POST /{tenant}/oauth2/v2.0/token`) and the tokens it issued.
//!
//! `client_credentials` with scope `https://api.botframework.com/.default` gives a Bot Connector token, with
//! `https://graph.microsoft.com/.default` an application Graph token; the `password` grant of a configured service
//! user gives a delegated Graph token. Errors use the Entra shape `{error, error_description, error_codes, …}`.
//! Tokens are opaque random strings remembered with their audience, app and expiry.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::json;

use super::TeamsWorld;

/// Who a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The Bot Connector (`https://api.botframework.com`).
    BotFramework,
    /// Microsoft Graph.
    Graph,
}

/// A token the endpoint issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Audience.
    pub audience: Audience,
    /// The app (client id) it was issued to.
    pub app_id: String,
    /// The signed-in user for a delegated token.
    pub user: Option<String>,
    /// Expiry.
    pub expires: Instant,
}

/// Issued tokens.
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: Mutex<HashMap<String, Issued>>,
    issued: Mutex<u64>,
}

impl TokenStore {
    /// Remembers and returns a new token.
    pub fn issue(&self, audience: Audience, app_id: &str, user: Option<String>, lifetime: Duration) -> String {
        let token = format!("emu.{}.{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let issued = Issued { audience, app_id: app_id.into(), user, expires: Instant::now() + lifetime };
        self.tokens.lock().insert(token.clone(), issued);
        *self.issued.lock() += 1;
        token
    }

    /// The token in a `Authorization: Bearer …` header, if valid for `audience`.
    pub fn check(&self, headers: &HeaderMap, audience: Audience) -> Option<Issued> {
        let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
        let token = value.strip_prefix("Bearer ")?;
        let issued = self.tokens.lock().get(token).cloned()?;
        (issued.audience == audience && issued.expires > Instant::now()).then_some(issued)
    }

    /// Forgets every token (all callers must fetch new ones). Returns how many were revoked.
    pub fn revoke_all(&self) -> usize {
        let mut t = self.tokens.lock();
        let n = t.len();
        t.clear();
        n
    }

    /// Tokens issued so far.
    pub fn issued_count(&self) -> u64 {
        *self.issued.lock()
    }
}

/// Routes of the login host role.
pub fn router() -> Router<TeamsWorld> {
    Router::new().route("/{tenant}/oauth2/v2.0/token", post(token))
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

fn entra_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}"),
        "error_codes": [code],
        "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": uuid::Uuid::new_v4().to_string(),
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    });
    (status, Json(body)).into_response()
}

async fn token(State(world): State<TeamsWorld>, Path(tenant): Path<String>, Form(form): Form<TokenForm>) -> Response {
    let cfg = &world.inner.config;
    let tenant_ok =
        ["botframework.com", "common", "organizations"].contains(&tenant.as_str()) || tenant == cfg.tenant_id;
    if !tenant_ok {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."),
        );
    }
    let client_id = form.client_id.unwrap_or_default();
    let scope = form.scope.unwrap_or_default();
    let audience = if scope.contains("api.botframework.com") {
        Audience::BotFramework
    } else if scope.contains("graph.microsoft.com") || scope.contains("Presence.") {
        Audience::Graph
    } else {
        return entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    };
    let lifetime = Duration::from_secs(cfg.token_lifetime_seconds.max(1));
    let grant = form.grant_type.unwrap_or_default();
    let user = match grant.as_str() {
        "client_credentials" => {
            if !cfg.app_known(&client_id) {
                return entra_error(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    700016,
                    &format!("Application with identifier '{client_id}' was not found in the directory."),
                );
            }
            if !cfg.app_matches(&client_id, form.client_secret.as_deref().unwrap_or_default()) {
                return entra_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                );
            }
            None
        }
        "password" if audience == Audience::Graph => {
            let (u, p) = (form.username.unwrap_or_default(), form.password.unwrap_or_default());
            if !cfg.app_known(&client_id) {
                return entra_error(StatusCode::BAD_REQUEST, "unauthorized_client", 700016, "Unknown application.");
            }
            if !cfg.service_users.iter().any(|s| s.username.eq_ignore_ascii_case(&u) && s.password == p) {
                return entra_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50126,
                    "Error validating credentials due to invalid username or password.",
                );
            }
            Some(u)
        }
        _ => {
            return entra_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{grant}'."),
            )
        }
    };
    let access_token = world.inner.tokens.issue(audience, &client_id, user, lifetime);
    let secs = lifetime.as_secs();
    Json(json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": access_token}))
        .into_response()
}
