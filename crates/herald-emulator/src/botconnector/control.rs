//! Control API of the Microsoft side, under `/emulator/v1/teams`: users, the signer, transcripts, blocking,
//! connector faults, Teams-client presence changes, subscription notifications and counters.
//!
//! | method/path | body → answer |
//! |---|---|
//! | `POST /users` | `{aadId, name}` or `{count, prefix}` → the users made |
//! | `POST /activities` | `{botUrl, user, activity:{type:"message",text}|{type:"conversationUpdate"}|…, forgery?}` → `{status, activity}` |
//! | `GET /users/{id}/transcript` | → what the user received |
//! | `POST /users/{id}/block` | `{blocked}` → 204 |
//! | `POST /users/{id}/presence` | `{availability, activity, kind:"status"|"client"|"signout"}` → the aggregate |
//! | `GET /users/{id}/presence` | → the aggregate |
//! | `POST /connector/faults` | `[{status, retryAfter?}]` → 204 |
//! | `GET /subscriptions` | → live subscriptions |
//! | `POST /subscriptions/{id}/notify` | `{user, clientState?}` → `{acknowledged}` |
//! | `POST /tokens/revoke` | → `{revoked}` |
//! | `GET /counters` | → `{connector, graph, tokensIssued}` |

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::signer::{ActivityKind, Forgery};
use super::TeamsWorld;

/// Control routes (nested under `/emulator/v1/teams`).
pub fn router() -> Router<TeamsWorld> {
    Router::new()
        .route("/users", post(add_users))
        .route("/activities", post(send_activity))
        .route("/users/{id}/transcript", get(transcript))
        .route("/users/{id}/block", post(block))
        .route("/users/{id}/presence", post(set_presence).get(get_presence))
        .route("/connector/faults", post(faults))
        .route("/subscriptions", get(subscriptions))
        .route("/subscriptions/{id}/notify", post(notify))
        .route("/tokens/revoke", post(revoke))
        .route("/counters", get(counters))
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": "BadArgument", "message": msg.into()}}))).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddUsers {
    aad_id: Option<String>,
    name: Option<String>,
    count: Option<usize>,
    prefix: Option<String>,
}

async fn add_users(State(world): State<TeamsWorld>, Json(b): Json<AddUsers>) -> Response {
    let mut made = Vec::new();
    if let Some(id) = b.aad_id {
        made.push(world.add_user(&id, b.name.as_deref().unwrap_or_default()));
    }
    let prefix = b.prefix.unwrap_or_else(|| "00000000-0000-4000-8000-".into());
    for i in 0..b.count.unwrap_or(0) {
        made.push(world.add_user(&format!("{prefix}{i:012}"), &format!("User {i}")));
    }
    let v: Vec<Value> =
        made.iter().map(|u| json!({"aadId": u.aad_id, "teamsId": u.teams_id, "name": u.name})).collect();
    Json(json!({"users": v})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendActivity {
    bot_url: String,
    user: String,
    activity: ActivityKind,
    #[serde(default)]
    forgery: Forgery,
}

async fn send_activity(State(world): State<TeamsWorld>, Json(b): Json<SendActivity>) -> Response {
    let signed = match world.signed_activity(&b.user, &b.activity, b.forgery) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let body = serde_json::to_vec(&signed.activity).unwrap_or_default();
    match world.post_to_bot(&b.bot_url, body, signed.token.as_deref()).await {
        Ok(status) => Json(json!({"status": status, "activity": signed.activity})).into_response(),
        Err(e) => {
            (StatusCode::BAD_GATEWAY, Json(json!({"error": {"code": "BotUnreachable", "message": e}}))).into_response()
        }
    }
}

async fn transcript(State(world): State<TeamsWorld>, Path(id): Path<String>) -> Response {
    Json(json!({"activities": world.transcript(&id)})).into_response()
}

#[derive(Deserialize)]
struct Block {
    blocked: bool,
}

async fn block(State(world): State<TeamsWorld>, Path(id): Path<String>, Json(b): Json<Block>) -> Response {
    if world.set_blocked(&id, b.blocked) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        bad(format!("no Teams user `{id}`"))
    }
}

#[derive(Deserialize)]
struct SetPresence {
    #[serde(default)]
    availability: String,
    #[serde(default)]
    activity: String,
    #[serde(default)]
    kind: Option<String>,
}

async fn set_presence(State(world): State<TeamsWorld>, Path(id): Path<String>, Json(b): Json<SetPresence>) -> Response {
    let ok = match b.kind.as_deref().unwrap_or("status") {
        "status" => world.set_user_status(&id, &b.availability, &b.activity),
        "client" => world.set_client_state(&id, Some((&b.availability, &b.activity))),
        "signout" => world.set_client_state(&id, None),
        other => return bad(format!("kind `{other}` is not status, client or signout")),
    };
    if !ok {
        return bad(format!("no Teams user `{id}`"));
    }
    get_presence(State(world), Path(id)).await
}

async fn get_presence(State(world): State<TeamsWorld>, Path(id): Path<String>) -> Response {
    match world.graph_presence(&id) {
        Some(p) => Json(json!(p)).into_response(),
        None => bad(format!("no Teams user `{id}`")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fault {
    status: u16,
    retry_after: Option<u64>,
}

async fn faults(State(world): State<TeamsWorld>, Json(b): Json<Vec<Fault>>) -> Response {
    let f: Vec<(u16, Option<u64>)> = b.iter().map(|f| (f.status, f.retry_after)).collect();
    world.inject_connector_faults(&f);
    StatusCode::NO_CONTENT.into_response()
}

async fn subscriptions(State(world): State<TeamsWorld>) -> Response {
    let v: Vec<Value> = world
        .subscriptions()
        .iter()
        .map(|s| json!({"id": s.id, "resource": s.resource, "ids": s.ids.len(), "expirationDateTime": s.expires.to_rfc3339()}))
        .collect();
    Json(json!({"value": v})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notify {
    user: String,
    client_state: Option<String>,
}

async fn notify(State(world): State<TeamsWorld>, Path(id): Path<String>, Json(b): Json<Notify>) -> Response {
    let state = match b.client_state {
        Some(s) => s,
        None => match world.subscriptions().into_iter().find(|s| s.id == id) {
            Some(s) => s.client_state,
            None => return bad(format!("no live subscription `{id}`")),
        },
    };
    match world.send_notification(&id, &b.user, &state).await {
        Ok(ack) => Json(json!({"acknowledged": ack})).into_response(),
        Err(e) => bad(e),
    }
}

async fn revoke(State(world): State<TeamsWorld>) -> Response {
    Json(json!({"revoked": world.inner.tokens.revoke_all()})).into_response()
}

async fn counters(State(world): State<TeamsWorld>) -> Response {
    Json(json!({
        "connector": world.connector_counters(),
        "graph": world.graph_counters(),
        "tokensIssued": world.inner.tokens.issued_count(),
    }))
    .into_response()
}
