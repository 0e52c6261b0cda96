//! `GET /v1/sessions` and `GET /v1/sessions/{id}`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::{SessionQuery, SessionState};
use serde::Deserialize;

use super::body::query;
use super::problem::Problem;
use super::AppState;

/// Query of `GET /v1/sessions`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SessionsQuery {
    /// Only sessions of this customer (external contact id, customer key or guest id).
    pub customer: Option<String>,
    /// Only sessions this agent (Genesys user id) handled.
    pub agent: Option<String>,
    /// Only sessions with activity since this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only this integration.
    pub integration: Option<String>,
    /// Only this state: `queued`, `connected` or `closed`.
    pub state: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<usize>,
}

/// Sessions matching the query, most recent activity first.
#[utoipa::path(get, path = "/v1/sessions", params(SessionsQuery),
    responses((status = 200, description = "sessions, most recent first"), (status = 400, body = Problem)), security(("api_key" = [])))]
pub async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let q: SessionsQuery = match query(raw.as_deref()) {
        Ok(q) => q,
        Err(p) => return p.into_response(),
    };
    let session_state = match q.state.as_deref() {
        None => None,
        Some("queued") => Some(SessionState::Queued),
        Some("connected") => Some(SessionState::Connected),
        Some("closed") => Some(SessionState::Closed),
        Some(other) => {
            return Problem::field(
                StatusCode::BAD_REQUEST,
                "state",
                format!("`{other}` is not one of queued, connected, closed"),
            )
            .into_response()
        }
    };
    let sq = SessionQuery {
        integration: q.integration,
        customer: q.customer,
        agent: q.agent,
        since: q.since,
        state: session_state,
        after: None,
        limit: q.limit.unwrap_or(100).min(10_000),
    };
    match state.sessions.query(&sq).await {
        Ok(sessions) => Json(sessions).into_response(),
        Err(e) => Problem::store(&e).into_response(),
    }
}

/// One session with every id.
#[utoipa::path(get, path = "/v1/sessions/{id}", params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, description = "the session"), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.sessions.get(&id).await {
        Ok(Some(s)) => Json(s).into_response(),
        Ok(None) => Problem::not_found("session", &id).into_response(),
        Err(e) => Problem::store(&e).into_response(),
    }
}
