//! `POST /v1/events`: a named business event from another system, for rules (`when = "event:<name>"`).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_core::{Event, EventKind};
use serde::{Deserialize, Serialize};

use super::body::read_json;
use super::problem::Problem;
use super::AppState;

/// The body of `POST /v1/events`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    /// The event name, as rules name it after `event:` (e.g. `order_shipped`).
    pub name: String,
    /// Attributes: `customer_id`, `conversation_id`, `agent_id` are understood by targets; others are `attr.<name>`.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// The answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventAccepted {
    /// The event id.
    pub id: uuid::Uuid,
}

/// Post a named event; rules with `when = "event:<name>"` turn it into notifications.
#[utoipa::path(post, path = "/v1/events", request_body = EventRequest,
    responses((status = 202, body = EventAccepted), (status = 422, body = Problem)), security(("api_key" = [])))]
pub async fn post_event(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let req: EventRequest = match read_json(&headers, body, state.max_body_bytes).await {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    if req.name.trim().is_empty() || req.name.contains(char::is_whitespace) {
        return Problem::field(StatusCode::UNPROCESSABLE_ENTITY, "name", "must be a non-empty name without spaces")
            .into_response();
    }
    let event = Event::now("api", EventKind::Named { name: req.name, attributes: req.attributes });
    let id = event.id;
    if state.events.send(event).await.is_err() {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting-down",
            "the service is shutting down; retry later",
        )
        .into_response();
    }
    (StatusCode::ACCEPTED, Json(EventAccepted { id })).into_response()
}
