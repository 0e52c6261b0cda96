//! The control API over HTTP, under `/emulator/v1/` (no auth; loopback tooling only).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

use crate::control::{Control, DropTarget};
use crate::error::EmulatorError;
use crate::state::AppState;

/// Routes (nested under `/emulator/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/conversations", get(list))
        .route("/conversations/close-all", post(close_all))
        .route("/conversations/{id}", get(one))
        .route("/conversations/{id}/transcript", get(transcript))
        .route("/conversations/{id}/disconnect", post(disconnect))
        .route("/conversations/{id}/messages", post(agent_send))
        .route("/conversations/{id}/agents/{uid}/connect", post(connect))
        .route("/conversations/{id}/agents/{uid}/disconnect", post(disconnect_agent))
        .route("/agents/{id}/presence", put(presence))
        .route("/agents/{id}/routingstatus", put(routing_status))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/sockets/drop", post(drop_sockets))
        .route("/notifications/socket-closing", post(socket_closing))
        .route("/tokens/revoke", post(revoke))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/counters", get(counters))
        .merge(crate::control::faults_http::router())
}

pub(super) fn ctl(s: AppState) -> Control {
    Control::new(s)
}

pub(super) fn err(e: EmulatorError) -> Response {
    let status = match e {
        EmulatorError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::BAD_REQUEST,
    };
    (status, Json(json!({"message": e.to_string()}))).into_response()
}

fn done(r: Result<(), EmulatorError>) -> Response {
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(e),
    }
}

async fn list(State(s): State<AppState>) -> Response {
    Json(json!({"entities": ctl(s).conversations()})).into_response()
}

async fn one(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match ctl(s).conversation(&id) {
        Ok(c) => Json(c).into_response(),
        Err(e) => err(e),
    }
}

async fn transcript(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match ctl(s).transcript(&id) {
        Ok(t) => Json(json!({"entities": t})).into_response(),
        Err(e) => err(e),
    }
}

async fn disconnect(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    done(ctl(s).disconnect_conversation(&id))
}

async fn close_all(State(s): State<AppState>) -> Response {
    Json(json!({"closed": ctl(s).close_all_conversations()})).into_response()
}

/// `{text, userId?}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendBody {
    text: String,
    user_id: Option<String>,
}

async fn agent_send(State(s): State<AppState>, Path(id): Path<String>, Json(b): Json<SendBody>) -> Response {
    match ctl(s).agent_send(&id, b.user_id.as_deref(), &b.text) {
        Ok(mid) => Json(json!({"id": mid})).into_response(),
        Err(e) => err(e),
    }
}

async fn connect(State(s): State<AppState>, Path((id, uid)): Path<(String, String)>) -> Response {
    done(ctl(s).connect_agent(&id, &uid))
}

async fn disconnect_agent(State(s): State<AppState>, Path((id, uid)): Path<(String, String)>) -> Response {
    done(ctl(s).disconnect_agent(&id, &uid))
}

async fn presence(State(s): State<AppState>, Path(id): Path<String>, Json(b): Json<Value>) -> Response {
    let p = b.get("presence").and_then(Value::as_str).unwrap_or_default();
    done(ctl(s).set_presence(&id, p))
}

async fn routing_status(State(s): State<AppState>, Path(id): Path<String>, Json(b): Json<Value>) -> Response {
    let st = b.get("status").and_then(Value::as_str).unwrap_or_default();
    done(ctl(s).set_routing_status(&id, st))
}

async fn clock(State(s): State<AppState>) -> Response {
    let offset = ctl(s.clone()).clock_offset();
    Json(json!({"now": crate::clock::iso(s.clock.now()), "offsetMs": offset.as_millis() as u64})).into_response()
}

/// `{seconds?, ms?}`.
#[derive(Deserialize)]
struct Advance {
    seconds: Option<u64>,
    ms: Option<u64>,
}

async fn advance(State(s): State<AppState>, Json(b): Json<Advance>) -> Response {
    let d = Duration::from_secs(b.seconds.unwrap_or(0)) + Duration::from_millis(b.ms.unwrap_or(0));
    ctl(s).advance_clock(d);
    StatusCode::NO_CONTENT.into_response()
}

async fn drop_sockets(State(s): State<AppState>, Json(b): Json<Value>) -> Response {
    let target = match b.get("kind").and_then(Value::as_str).unwrap_or("all") {
        "guest" | "guests" => DropTarget::Guests,
        "notification" | "notifications" => DropTarget::Notifications,
        "all" => DropTarget::All,
        other => return err(EmulatorError::Invalid(format!("kind {other:?}"))),
    };
    ctl(s).drop_sockets(target);
    StatusCode::NO_CONTENT.into_response()
}

async fn socket_closing(State(s): State<AppState>) -> Response {
    Json(json!({"channels": ctl(s).socket_closing()})).into_response()
}

async fn revoke(State(s): State<AppState>, body: Option<Json<Value>>) -> Response {
    let client = body.as_ref().and_then(|b| b.get("clientId")).and_then(Value::as_str).map(str::to_string);
    Json(json!({"revoked": ctl(s).revoke_tokens(client.as_deref())})).into_response()
}

async fn requests(State(s): State<AppState>) -> Response {
    Json(json!({"entities": ctl(s).request_log()})).into_response()
}

async fn clear_requests(State(s): State<AppState>) -> Response {
    ctl(s).clear_request_log();
    StatusCode::NO_CONTENT.into_response()
}

async fn counters(State(s): State<AppState>) -> Response {
    Json(ctl(s).counters()).into_response()
}
