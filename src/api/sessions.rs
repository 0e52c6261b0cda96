//! `GET /v1/sessions` and `GET /v1/sessions/{id}`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::{SessionQuery, SessionState};
use serde::Deserialize;

use super::body::query;
use super::paging;
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
    /// At most this many: 1 to 1000 (default 100).
    pub limit: Option<usize>,
    /// The next page: the cursor a previous answer gave in `X-Next-Cursor` (opaque).
    pub after: Option<String>,
}

/// Sessions matching the query, most recent activity first, a page at a time.
#[utoipa::path(get, path = "/v1/sessions", params(SessionsQuery),
    responses((status = 200, description = "sessions, most recent first; when the page is full, `X-Next-Cursor` (and \
        `Link: <…>; rel=\"next\"`) give the `after` of the next page",
        headers(("X-Next-Cursor" = String, description = "the `after` cursor of the next page, when there may be one"),
                ("Link" = String, description = "`<next page URL>; rel=\"next\"`, when there may be one"))),
        (status = 400, body = Problem, description = "a bad parameter, named in `field` (e.g. `limit` outside 1..=1000)")),
    security(("api_key" = [])))]
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
    let limit = match paging::limit(q.limit) {
        Ok(l) => l,
        Err(p) => return p.into_response(),
    };
    let after = match q.after.as_deref().map(|c| paging::decode_session_cursor(c, "after")).transpose() {
        Ok(a) => a,
        Err(p) => return p.into_response(),
    };
    let sq = SessionQuery {
        integration: q.integration,
        customer: q.customer,
        agent: q.agent,
        since: q.since,
        state: session_state,
        after,
        limit,
    };
    match state.sessions.query(&sq).await {
        Ok(sessions) => {
            let next = (sessions.len() >= limit)
                .then(|| sessions.last().map(|s| paging::encode_session_cursor(s.updated_at, &s.conversation_id)))
                .flatten();
            paging::page(sessions, "/v1/sessions", raw.as_deref(), "after", next)
        }
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
