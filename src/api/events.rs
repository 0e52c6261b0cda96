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

/// The answer: the event was evaluated by the rules before this answer, and every notification it produced is
/// durably in the outbox (as if posted to `POST /v1/notifications`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventProcessed {
    /// The event id (rules derive their notifications' idempotency keys from it).
    pub id: uuid::Uuid,
    /// The notifications the rules produced, durable and scheduled for delivery; empty if no rule matched (or a
    /// matching rule was held back by its cooldown or rate limit, or had already fired for this event).
    pub notifications: Vec<uuid::Uuid>,
}

/// Post a named event; rules with `when = "event:<name>"` turn it into notifications.
///
/// Synchronous: the answer comes after the rules have run, and the notifications it lists are durable (a crash
/// after the answer loses nothing). `Idempotency-Key` makes a repeat safe: the same key is the same event, and a
/// rule never produces two notifications for one event and target.
#[utoipa::path(post, path = "/v1/events", request_body = EventRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "the same key is the same event: a repeat produces no second notification")),
    responses((status = 202, body = EventProcessed, description = "evaluated; the notifications listed are durable and scheduled"),
              (status = 400, body = Problem), (status = 422, body = Problem),
              (status = 503, body = Problem, description = "overloaded or timed out (see Retry-After); repeat with the same Idempotency-Key")),
    security(("api_key" = [])))]
pub async fn post_event(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let key = match headers.get("idempotency-key").map(|v| v.to_str().map(str::trim)) {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => Some(k.to_string()),
        Some(_) => {
            return Problem::field(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
            .into_response()
        }
    };
    let req: EventRequest = match read_json(&headers, body, state.max_body_bytes).await {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    if req.name.trim().is_empty() || req.name.contains(char::is_whitespace) {
        return Problem::field(StatusCode::UNPROCESSABLE_ENTITY, "name", "must be a non-empty name without spaces")
            .into_response();
    }
    let mut event = Event::now("api", EventKind::Named { name: req.name, attributes: req.attributes });
    if let Some(key) = key {
        event.id = event_id(&key);
    }
    let id = event.id;
    // The rules run in their own task: a client that goes away (or a request timeout) does not cut them short.
    let rules = state.rules.clone();
    match tokio::spawn(async move { rules.handle(&event).await }).await {
        Ok(notifications) => (StatusCode::ACCEPTED, Json(EventProcessed { id, notifications })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, event = %id, "Rule evaluation failed for a posted event.");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "rules-failed",
                "the rules could not evaluate this event; notifications it already produced stand; repeat it with \
                 the same Idempotency-Key",
            )
            .into_response()
        }
    }
}

/// The event id of an `Idempotency-Key`: a UUID (version 8) from the key's SHA-256, so a repeated key is the same
/// event and the rules' idempotency keys (derived from the event id) match.
fn event_id(key: &str) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new().chain_update(b"herald event\0").chain_update(key.as_bytes()).finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_key_one_event_id() {
        assert_eq!(super::event_id("order-1"), super::event_id("order-1"));
        assert_ne!(super::event_id("order-1"), super::event_id("order-2"));
        assert_eq!(super::event_id("order-1").get_version_num(), 8);
    }
}
