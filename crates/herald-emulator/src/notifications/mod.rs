//! The Notifications API: channels, subscriptions and the channel WebSocket.

pub mod hub;
pub mod socket;
pub mod topics;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, head, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::api_error::{ApiError, ApiResult};
use crate::clock::iso;
use crate::http::json::ApiJson;
use crate::oauth::Authed;
use crate::state::AppState;
use hub::{Channel, SubscribeError};

/// Routes of the notifications API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/notifications/channels", post(create).get(list))
        .route("/api/v2/notifications/channels/{id}", head(exists))
        .route(
            "/api/v2/notifications/channels/{id}/subscriptions",
            get(subscriptions).put(replace).post(add).delete(remove_all),
        )
        .route("/api/v2/notifications/availabletopics", get(available))
}

/// The channel WebSocket route (`connectUri`), outside the API middleware.
pub fn socket_router() -> Router<AppState> {
    Router::new().route("/channels/{id}", get(socket::upgrade))
}

/// Host of the request, for `connectUri`.
pub fn host(headers: &HeaderMap) -> String {
    headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_string()
}

fn channel_json(ch: &Channel, host: &str) -> Value {
    json!({"connectUri": format!("ws://{host}/channels/{}", ch.id), "id": ch.id, "expires": iso(ch.expires)})
}

fn lifetime(state: &AppState) -> chrono::Duration {
    chrono::Duration::seconds(state.config.limits.channel_lifetime_seconds as i64)
}

async fn create(State(state): State<AppState>, a: Authed, headers: HeaderMap) -> Json<Value> {
    let ch = state.hub.create(
        &a.client_id,
        state.clock.now(),
        lifetime(&state),
        state.config.limits.max_channels_per_client,
        None,
    );
    Json(channel_json(&ch, &host(&headers)))
}

async fn list(State(state): State<AppState>, a: Authed, headers: HeaderMap) -> Json<Value> {
    let h = host(&headers);
    let entities: Vec<Value> =
        state.hub.list(&a.client_id, state.clock.now()).iter().map(|c| channel_json(c, &h)).collect();
    Json(json!({"entities": entities}))
}

async fn exists(State(state): State<AppState>, _a: Authed, Path(id): Path<String>) -> StatusCode {
    if state.hub.get(&id, state.clock.now()).is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

fn listing(topics: &[String]) -> Value {
    let entities: Vec<Value> = topics
        .iter()
        .map(|t| {
            if topics::is_known(t) {
                json!({"id": t, "state": "Permitted", "selfUri": format!("/api/v2/notifications/availabletopics/{t}")})
            } else {
                json!({"id": t, "state": "Rejected", "rejectionReason": "Topic not recognized"})
            }
        })
        .collect();
    json!({"entities": entities})
}

fn channel_of(state: &AppState, a: &Authed, id: &str) -> ApiResult<Channel> {
    state
        .hub
        .get(id, state.clock.now())
        .filter(|c| c.owner == a.client_id)
        .ok_or_else(|| ApiError::not_found("Channel"))
}

async fn subscriptions(State(state): State<AppState>, a: Authed, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let ch = channel_of(&state, &a, &id)?;
    Ok(Json(listing(&ch.topics)))
}

fn parse_topics(body: &Value) -> ApiResult<Vec<String>> {
    let arr = body.as_array().ok_or_else(|| ApiError::bad_request("The body must be an array of {\"id\": topic}"))?;
    arr.iter()
        .enumerate()
        .map(|(i, t)| {
            t.get("id").and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
                ApiError::field("constraint.validation", &format!("[{i}].id"), "Every topic needs an id")
            })
        })
        .collect()
}

fn subscribe(
    state: &AppState,
    a: &Authed,
    id: &str,
    body: &Value,
    replace: bool,
    q: &HashMap<String, String>,
) -> ApiResult<Json<Value>> {
    channel_of(state, a, id)?;
    let requested = parse_topics(body)?;
    let ignore_errors = q.get("ignoreErrors").is_some_and(|v| v == "true");
    // Unknown topics are not subscribed: listed as Rejected (dropped from the listing with ignoreErrors).
    let (known, rejected): (Vec<String>, Vec<String>) = requested.into_iter().partition(|t| topics::is_known(t));
    let limit = state.config.limits.max_topics_per_channel;
    let all = state
        .hub
        .subscribe(id, &known, replace, state.clock.now(), lifetime(state), limit)
        .map_err(|e| match e {
            SubscribeError::NoChannel => ApiError::not_found("Channel"),
            SubscribeError::TooManyTopics(n) => ApiError::bad_request(format!(
                "A channel may subscribe to at most {n} topics (max.topics.per.channel); split the topics over several channels"
            ))
            .with_field("max.topics.per.channel", "topics"),
        })?;
    let mut shown = all;
    if !ignore_errors {
        shown.extend(rejected);
    }
    Ok(Json(listing(&shown)))
}

async fn replace(
    State(state): State<AppState>,
    a: Authed,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    subscribe(&state, &a, &id, &body, true, &q)
}

async fn add(
    State(state): State<AppState>,
    a: Authed,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    subscribe(&state, &a, &id, &body, false, &q)
}

async fn remove_all(State(state): State<AppState>, a: Authed, Path(id): Path<String>) -> ApiResult<StatusCode> {
    channel_of(&state, &a, &id)?;
    state
        .hub
        .subscribe(&id, &[], true, state.clock.now(), lifetime(&state), usize::MAX)
        .map_err(|_| ApiError::not_found("Channel"))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn available(_a: Authed) -> Json<Value> {
    let ids = [
        "v2.users.{id}.presence",
        "v2.users.{id}.routingStatus",
        "v2.users.{id}.activity",
        "v2.users.{id}.conversations.messages",
        "v2.users.{id}.conversations.chats",
        "v2.routing.queues.{id}.conversations.messages",
        "v2.routing.queues.{id}.conversations.chats",
        "v2.conversations.chats.{id}.messages",
        "v2.conversations.chats.{id}.members",
    ];
    let entities: Vec<Value> = ids.iter().map(|i| json!({"id": i, "description": i})).collect();
    Json(json!({"entities": entities}))
}
