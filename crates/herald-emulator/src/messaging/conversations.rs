//! Conversation GETs and the disconnect PATCHes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::http::json::ApiJson;
use crate::messaging::{flow, views};
use crate::oauth::Authed;
use crate::state::AppState;
use crate::world::conversation::{Media, State as PState};

/// `GET /api/v2/conversations/{id}` — generic Conversation (messaging and chat).
pub async fn get_generic(State(state): State<AppState>, _a: Authed, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let world = state.world.lock();
    let conv = world.conversations.get(&id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    Ok(Json(views::generic(conv)))
}

/// `GET /api/v2/conversations/messages/{id}` — MessageConversation.
pub async fn get_message_conversation(
    State(state): State<AppState>,
    _a: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let world = state.world.lock();
    let conv = world
        .conversations
        .get(&id)
        .filter(|c| c.media == Media::Message)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    Ok(Json(views::media_conversation(conv)))
}

/// Reads an optional `state` of a PATCH body; only `disconnected` (and `connected`, a no-op) are accepted.
pub fn requested_state(body: &Value) -> ApiResult<Option<bool>> {
    match body.get("state").and_then(Value::as_str) {
        None | Some("") => Ok(None),
        Some("disconnected") => Ok(Some(true)),
        Some("connected") => Ok(Some(false)),
        Some(other) => Err(ApiError::field(
            "invalid.value",
            "state",
            format!("state {other:?} cannot be set; use \"disconnected\""),
        )),
    }
}

/// `PATCH /api/v2/conversations/messages/{id}` — `{"state":"disconnected"}` ends the conversation.
pub async fn patch_conversation(
    State(state): State<AppState>,
    _a: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    patch_any(&state, &id, Media::Message, &body)
}

/// Shared PATCH of a conversation for messaging and chat.
pub fn patch_any(state: &AppState, id: &str, media: Media, body: &Value) -> ApiResult<Json<Value>> {
    let wanted = requested_state(body)?;
    let mut world = state.world.lock();
    let conv =
        world.conversations.get(id).filter(|c| c.media == media).ok_or_else(|| ApiError::not_found("Conversation"))?;
    if wanted == Some(true) && !conv.ended() {
        flow::disconnect_conversation(state, &mut world, id, "client");
    }
    let conv = world.conversations.get(id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    Ok(Json(views::generic(conv)))
}

/// `PATCH …/participants/{pId}` — `{"state":"disconnected"}` → 202, no body.
pub async fn patch_participant(
    State(state): State<AppState>,
    _a: Authed,
    Path((id, pid)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    patch_participant_any(&state, &id, &pid, Media::Message, &body)?;
    Ok(StatusCode::ACCEPTED)
}

/// `PATCH /api/v2/conversations/{id}/participants/{pId}` — the media-independent participant PATCH
/// (`ConversationsApi.patch_conversation_participant`); same body and effect as the media ones → 202, no body.
pub async fn patch_participant_generic(
    State(state): State<AppState>,
    _a: Authed,
    Path((id, pid)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    let media = state
        .world
        .lock()
        .conversations
        .get(&id)
        .map(|c| c.media)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    patch_participant_any(&state, &id, &pid, media, &body)?;
    Ok(StatusCode::ACCEPTED)
}

/// Shared participant PATCH for messaging and chat.
pub fn patch_participant_any(state: &AppState, id: &str, pid: &str, media: Media, body: &Value) -> ApiResult<()> {
    let wanted = requested_state(body)?;
    let mut world = state.world.lock();
    let conv =
        world.conversations.get(id).filter(|c| c.media == media).ok_or_else(|| ApiError::not_found("Conversation"))?;
    let p = conv.participants.iter().find(|p| p.id == pid).ok_or_else(|| ApiError::not_found("Participant"))?;
    if wanted == Some(true) && p.state != PState::Disconnected {
        flow::disconnect_participant(state, &mut world, id, pid).map_err(ApiError::not_found)?;
    }
    Ok(())
}

/// `PATCH …/participants/{pId}/communications/{commId}` — disconnects that communication's participant; `{}`.
pub async fn patch_communication(
    State(state): State<AppState>,
    _a: Authed,
    Path((id, pid, cid)): Path<(String, String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    {
        let world = state.world.lock();
        let conv = world
            .conversations
            .get(&id)
            .filter(|c| c.media == Media::Message)
            .ok_or_else(|| ApiError::not_found("Conversation"))?;
        let owner = conv.by_communication(&cid).map(|(p, _)| p.id.clone());
        if owner.as_deref() != Some(pid.as_str()) {
            return Err(ApiError::not_found("Communication"));
        }
    }
    patch_participant_any(&state, &id, &pid, Media::Message, &body)?;
    Ok(Json(json!({})))
}

/// `POST /api/v2/conversations/{id}/disconnect` — emergency teardown → 202.
pub async fn emergency_disconnect(
    State(state): State<AppState>,
    _a: Authed,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut world = state.world.lock();
    if !world.conversations.contains_key(&id) {
        return Err(ApiError::not_found("Conversation"));
    }
    flow::disconnect_conversation(&state, &mut world, &id, "system");
    Ok((StatusCode::ACCEPTED, Json(json!(""))))
}
