//! `GET /api/v2/users/{id}` and `GET /api/v2/users` (paged).

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::oauth::Authed;
use crate::presence::{routing_status, user_presence};
use crate::state::AppState;
use crate::world::agent::Agent;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v2/users", get(list)).route("/api/v2/users/{id}", get(one))
}

/// Query parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserQuery {
    page_size: Option<usize>,
    page_number: Option<usize>,
    expand: Option<String>,
}

fn user_json(a: &Agent, expand: &str) -> Value {
    let mut v = json!({
        "id": a.config.id,
        "name": a.config.name,
        "email": a.config.email,
        "username": a.config.email,
        "state": "active",
        "division": {"id": "default", "name": "Home"},
        "version": 1,
        "acdAutoAnswer": a.config.auto_answer,
        "selfUri": format!("/api/v2/users/{}", a.config.id),
    });
    if expand.contains("presence") {
        v["presence"] = user_presence(a);
    }
    if expand.contains("routingStatus") {
        v["routingStatus"] = routing_status(a);
    }
    v
}

async fn one(
    State(s): State<AppState>,
    _a: Authed,
    Path(id): Path<String>,
    Query(q): Query<UserQuery>,
) -> ApiResult<Json<Value>> {
    let w = s.world.lock();
    let a = w.agents.get(&id).ok_or_else(|| ApiError::not_found("User"))?;
    Ok(Json(user_json(a, q.expand.as_deref().unwrap_or(""))))
}

async fn list(State(s): State<AppState>, _a: Authed, Query(q): Query<UserQuery>) -> Json<Value> {
    let size = q.page_size.unwrap_or(25).clamp(1, 500);
    let number = q.page_number.unwrap_or(1).max(1);
    let expand = q.expand.unwrap_or_default();
    let w = s.world.lock();
    let total = w.agent_order.len();
    let entities: Vec<Value> = w
        .agent_order
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .filter_map(|id| w.agents.get(id))
        .map(|a| user_json(a, &expand))
        .collect();
    let pages = total.div_ceil(size);
    Json(json!({
        "entities": entities,
        "pageSize": size,
        "pageNumber": number,
        "total": total,
        "pageCount": pages,
        "firstUri": format!("/api/v2/users?pageSize={size}&pageNumber=1"),
        "lastUri": format!("/api/v2/users?pageSize={size}&pageNumber={}", pages.max(1)),
        "selfUri": format!("/api/v2/users?pageSize={size}&pageNumber={number}"),
    }))
}
