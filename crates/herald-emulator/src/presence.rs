//! Presence definitions, user presence and routing status.

use axum::extract::{Path, Query, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::clock::iso;
use crate::http::json::ApiJson;
use crate::oauth::Authed;
use crate::publish;
use crate::routing;
use crate::state::AppState;
use crate::world::agent::{Agent, RoutingStatus};
use crate::world::presence::{resolve_definition, SystemPresence};
use crate::world::World;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/presencedefinitions", get(old_definitions))
        .route("/api/v2/presencedefinitions/{id}", get(old_definition))
        .route("/api/v2/presence/definitions", get(new_definitions))
        .route("/api/v2/presence/definitions/{id}", get(new_definition))
        .route("/api/v2/systempresences", get(system_presences))
        .route("/api/v2/users/{id}/presences/purecloud", patch(patch_presence).get(get_presence))
        .route("/api/v2/users/{id}/presences/PURECLOUD", patch(patch_presence).get(get_presence))
        .route("/api/v2/users/presences/purecloud/bulk", get(bulk))
        .route("/api/v2/users/{id}/routingstatus", get(get_routing).put(put_routing))
}

fn sys(def: &crate::config::PresenceDefinitionConfig) -> SystemPresence {
    SystemPresence::parse(&def.system_presence).unwrap_or(SystemPresence::Offline)
}

fn old_json(d: &crate::config::PresenceDefinitionConfig) -> Value {
    json!({
        "id": d.id, "name": d.label,
        "languageLabels": {"en_US": d.label},
        "systemPresence": sys(d).legacy_name(),
        "deactivated": false, "primary": d.primary,
        "selfUri": format!("/api/v2/presencedefinitions/{}", d.id),
    })
}

fn new_json(d: &crate::config::PresenceDefinitionConfig) -> Value {
    json!({
        "id": d.id,
        "languageLabels": {"en_US": d.label},
        "systemPresence": sys(d).definition_name(),
        "type": if d.primary { "System" } else { "User" },
        "deactivated": false,
        "selfUri": format!("/api/v2/presence/definitions/{}", d.id),
    })
}

async fn old_definitions(State(s): State<AppState>, _a: Authed) -> Json<Value> {
    let e: Vec<Value> = s.config.presence_definitions.iter().map(old_json).collect();
    let n = e.len();
    Json(json!({"entities": e, "pageSize": n.max(25), "pageNumber": 1, "total": n, "pageCount": 1}))
}

async fn old_definition(State(s): State<AppState>, _a: Authed, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let d = s.config.presence_definitions.iter().find(|d| d.id == id);
    d.map(|d| Json(old_json(d))).ok_or_else(|| ApiError::not_found("Presence definition"))
}

async fn new_definitions(State(s): State<AppState>, _a: Authed) -> Json<Value> {
    let e: Vec<Value> = s.config.presence_definitions.iter().map(new_json).collect();
    Json(json!({"total": e.len(), "entities": e}))
}

async fn new_definition(State(s): State<AppState>, _a: Authed, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let d = s.config.presence_definitions.iter().find(|d| d.id == id);
    d.map(|d| Json(new_json(d))).ok_or_else(|| ApiError::not_found("Presence definition"))
}

async fn system_presences(_a: Authed) -> Json<Value> {
    let v: Vec<Value> = SystemPresence::all()
        .map(|p| json!({"id": p.event_name(), "name": p.legacy_name(), "selfUri": format!("/api/v2/systempresences/{}", p.event_name())}))
        .collect();
    Json(Value::Array(v))
}

/// `UserPresence` JSON.
pub fn user_presence(agent: &Agent) -> Value {
    json!({
        "id": agent.presence.definition_id,
        "source": "PURECLOUD",
        "sourceId": "PURECLOUD",
        "primary": agent.presence.primary,
        "presenceDefinition": {
            "id": agent.presence.definition_id,
            "systemPresence": agent.presence.system.legacy_name(),
            "selfUri": format!("/api/v2/presencedefinitions/{}", agent.presence.definition_id),
        },
        "message": agent.presence.message,
        "modifiedDate": iso(agent.presence.modified),
        "selfUri": format!("/api/v2/users/{}/presences/PURECLOUD", agent.config.id),
    })
}

/// `RoutingStatus` JSON.
pub fn routing_status(agent: &Agent) -> Value {
    json!({"userId": agent.config.id, "status": agent.routing.as_str(), "startTime": iso(agent.routing_since)})
}

async fn get_presence(State(s): State<AppState>, _a: Authed, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let w = s.world.lock();
    let a = w.agents.get(&id).ok_or_else(|| ApiError::not_found("User"))?;
    Ok(Json(user_presence(a)))
}

/// Sets an agent's presence (by definition id or name) and publishes the changes.
pub fn set_presence(
    state: &AppState,
    world: &mut World,
    user_id: &str,
    def_key: &str,
    message: Option<String>,
) -> ApiResult<()> {
    let def = resolve_definition(&state.config.presence_definitions, def_key).ok_or_else(|| {
        ApiError::field("invalid.value", "presenceDefinition.id", "presenceDefinition.id names no presence definition")
    })?;
    let now = state.clock.now();
    let agent = world.agents.get_mut(user_id).ok_or_else(|| ApiError::not_found("User"))?;
    agent.presence.definition_id = def.id.clone();
    agent.presence.system = sys(def);
    if let Some(m) = message {
        agent.presence.message = m;
    }
    agent.presence.modified = now;
    publish::agent_changed(state, agent, true, false);
    routing::refresh_routing(state, world, user_id);
    Ok(())
}

async fn patch_presence(
    State(s): State<AppState>,
    _a: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let def = body.pointer("/presenceDefinition/id").and_then(Value::as_str).map(str::to_string);
    let message = body.get("message").and_then(Value::as_str).map(str::to_string);
    let mut w = s.world.lock();
    if !w.agents.contains_key(&id) {
        return Err(ApiError::not_found("User"));
    }
    match def {
        Some(d) => set_presence(&s, &mut w, &id, &d, message)?,
        None if body.get("presenceDefinition").is_some() => {
            return Err(ApiError::field(
                "constraint.validation",
                "presenceDefinition.id",
                "presenceDefinition.id is required",
            ))
        }
        None => {
            if let Some(a) = w.agents.get_mut(&id) {
                if let Some(m) = message {
                    a.presence.message = m;
                    a.presence.modified = s.clock.now();
                    publish::agent_changed(&s, a, true, false);
                }
            }
        }
    }
    let a = w.agents.get(&id).ok_or_else(|| ApiError::not_found("User"))?;
    Ok(Json(user_presence(a)))
}

async fn bulk(State(s): State<AppState>, _a: Authed, Query(q): Query<Vec<(String, String)>>) -> ApiResult<Json<Value>> {
    let ids: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "id")
        .flat_map(|(_, v)| v.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect();
    if ids.len() > 50 {
        return Err(ApiError::field("invalid.query.param.value", "id", "At most 50 ids may be requested"));
    }
    let w = s.world.lock();
    let v: Vec<Value> = ids
        .iter()
        .filter_map(|i| w.agents.get(i))
        .map(|a| {
            // UcUserPresence: UserPresence's fields plus userId, without `primary`.
            let mut p = user_presence(a);
            p["userId"] = json!(a.config.id);
            if let Some(o) = p.as_object_mut() {
                o.remove("primary");
            }
            p
        })
        .collect();
    Ok(Json(Value::Array(v)))
}

async fn get_routing(State(s): State<AppState>, _a: Authed, Path(id): Path<String>) -> Json<Value> {
    let w = s.world.lock();
    match w.agents.get(&id) {
        Some(a) => Json(routing_status(a)),
        None => Json(json!({"userId": id, "status": "OFF_QUEUE"})),
    }
}

/// Sets a routing status: IDLE puts the agent On Queue, OFF_QUEUE takes it off (Available).
pub fn set_routing(state: &AppState, world: &mut World, user_id: &str, status: RoutingStatus) -> ApiResult<()> {
    let agent = world.agents.get(user_id).ok_or_else(|| ApiError::not_found("User"))?;
    match status {
        RoutingStatus::Idle if !agent.on_queue() => set_presence(state, world, user_id, "OnQueue", None)?,
        RoutingStatus::OffQueue if agent.on_queue() => set_presence(state, world, user_id, "Available", None)?,
        RoutingStatus::NotResponding => {
            let now = state.clock.now();
            if let Some(a) = world.agents.get_mut(user_id) {
                a.routing = RoutingStatus::NotResponding;
                a.routing_since = now;
                publish::agent_changed(state, a, false, true);
            }
        }
        RoutingStatus::Idle | RoutingStatus::OffQueue => routing::refresh_routing(state, world, user_id),
        _ => {
            return Err(ApiError::field("invalid.value", "status", "status must be IDLE, OFF_QUEUE or NOT_RESPONDING"))
        }
    }
    Ok(())
}

async fn put_routing(
    State(s): State<AppState>,
    _a: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("constraint.validation", "status", "status is required"))?;
    let status = RoutingStatus::parse(status)
        .ok_or_else(|| ApiError::field("invalid.value", "status", "status is not a routing status"))?;
    let mut w = s.world.lock();
    set_routing(&s, &mut w, &id, status)?;
    let a = w.agents.get(&id).ok_or_else(|| ApiError::not_found("User"))?;
    Ok(Json(routing_status(a)))
}
