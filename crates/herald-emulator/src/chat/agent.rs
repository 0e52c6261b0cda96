//! Agent-side chat endpoints (`/api/v2/conversations/chats/...`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

use crate::api_error::{ApiError, ApiResult};
use crate::chat::events;
use crate::clock::iso;
use crate::http::json::ApiJson;
use crate::messaging::conversations::{patch_any, patch_participant_any};
use crate::messaging::{flow, views};
use crate::oauth::Authed;
use crate::state::AppState;
use crate::world::conversation::{Media, Sender, State as PState};

const BODY_TYPES: &[&str] = &["standard", "notice", "member-join", "member-leave", "media-request"];

/// `GET /api/v2/conversations/chats/{id}` — ChatConversation.
pub async fn get(State(s): State<AppState>, _a: Authed, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let w = s.world.lock();
    let c = w
        .conversations
        .get(&id)
        .filter(|c| c.media == Media::Chat)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    Ok(Json(views::media_conversation(c)))
}

/// `GET /api/v2/conversations/chats` — active chats.
pub async fn list(State(s): State<AppState>, _a: Authed) -> Json<Value> {
    let w = s.world.lock();
    let e: Vec<Value> = w
        .conversations
        .values()
        .filter(|c| c.media == Media::Chat && !c.ended())
        .map(views::media_conversation)
        .collect();
    Json(json!({"entities": e}))
}

/// `PATCH /api/v2/conversations/chats/{id}`.
pub async fn patch_conversation(
    State(s): State<AppState>,
    _a: Authed,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    patch_any(&s, &id, Media::Chat, &body)
}

/// `PATCH /api/v2/conversations/chats/{id}/participants/{pid}` → 202.
pub async fn patch_participant(
    State(s): State<AppState>,
    _a: Authed,
    Path((id, pid)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    patch_participant_any(&s, &id, &pid, Media::Chat, &body)?;
    Ok(StatusCode::ACCEPTED)
}

/// Validates `{body, bodyType}`; returns (text, bodyType).
pub fn chat_body(s: &AppState, body: &Value) -> ApiResult<(String, &'static str)> {
    let text = body
        .get("body")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::field("constraint.validation", "body", "body is required"))?;
    let max = s.config.limits.chat_body_max;
    if text.chars().count() > max {
        return Err(ApiError::field("invalid.value", "body", format!("body exceeds the maximum of {max} characters")));
    }
    let bt = match body.get("bodyType").and_then(Value::as_str) {
        None => "standard",
        Some(t) => BODY_TYPES.iter().copied().find(|x| *x == t).ok_or_else(|| {
            ApiError::field("invalid.value", "bodyType", format!("bodyType must be one of {}", BODY_TYPES.join(", ")))
        })?,
    };
    Ok((text.to_string(), bt))
}

/// `POST …/chats/{id}/communications/{cid}/messages` → WebChatMessage.
pub async fn send(
    State(s): State<AppState>,
    _a: Authed,
    Path((id, cid)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let (text, body_type) = chat_body(&s, &body)?;
    let mut w = s.world.lock();
    let conv = w
        .conversations
        .get(&id)
        .filter(|c| c.media == Media::Chat)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    let (p, c) = conv.by_communication(&cid).ok_or_else(|| ApiError::not_found("Communication"))?;
    if c.state == PState::Disconnected || conv.ended() {
        let b = &s.config.behaviour;
        let status = StatusCode::from_u16(b.disconnected_send_status).unwrap_or(StatusCode::BAD_REQUEST);
        return Err(ApiError::new(status, &b.disconnected_send_code, "The communication is disconnected"));
    }
    let sender = p.user_id.clone().map(Sender::Agent).unwrap_or(Sender::System);
    let pid = p.id.clone();
    let mut entry = flow::record_outbound(&s, &mut w, &id, &pid, &cid, sender, &text)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    if body_type != "standard" {
        if let Some(m) = w.conversations.get_mut(&id).and_then(|c| c.transcript.last_mut()) {
            m.body_type = body_type;
        }
        entry.body_type = body_type;
    }
    let conv = w.conversations.get(&id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    Ok(Json(events::message_json(conv, &entry)))
}

/// `POST …/chats/{id}/communications/{cid}/typing` → WebChatTyping.
pub async fn typing(
    State(s): State<AppState>,
    _a: Authed,
    Path((id, cid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let w = s.world.lock();
    let conv = w
        .conversations
        .get(&id)
        .filter(|c| c.media == Media::Chat)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    conv.by_communication(&cid).ok_or_else(|| ApiError::not_found("Communication"))?;
    let now = iso(s.clock.now());
    let body =
        json!({"id": crate::state::new_id(), "conversation": {"id": id}, "sender": {"id": cid}, "timestamp": now});
    crate::publish::chat_event(
        &s,
        &id,
        "messages",
        json!({"conversation": {"id": id}, "sender": {"id": cid}, "bodyType": "typing-indicator", "timestamp": now}),
    );
    Ok(Json(body))
}

/// `GET …/chats/{id}/messages?maxResults&sortOrder&before&after`.
pub async fn messages(
    State(s): State<AppState>,
    _a: Authed,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let max = q.get("maxResults").and_then(|v| v.parse::<usize>().ok()).unwrap_or(100);
    if max > 100 {
        return Err(ApiError::field("invalid.query.param.value", "maxResults", "maxResults must be at most 100"));
    }
    let desc = q.get("sortOrder").is_some_and(|v| v.eq_ignore_ascii_case("descending"));
    let w = s.world.lock();
    let conv = w
        .conversations
        .get(&id)
        .filter(|c| c.media == Media::Chat)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    // `before` / `after` name a message id: only messages older / newer than it (the SDK's paging).
    let position = |key: &str| -> ApiResult<Option<usize>> {
        match q.get(key) {
            None => Ok(None),
            Some(id) => conv.transcript.iter().position(|m| &m.id == id).map(Some).ok_or_else(|| {
                ApiError::field("invalid.query.param.value", key, format!("{key} names no message of this chat"))
            }),
        }
    };
    let end = position("before")?.unwrap_or(conv.transcript.len());
    let start = position("after")?.map_or(0, |i| i + 1);
    let window = conv.transcript.get(start..end.max(start)).unwrap_or_default();
    let mut e: Vec<Value> = window.iter().map(|m| events::message_json(conv, m)).collect();
    if desc {
        e.reverse();
    }
    e.truncate(max);
    // WebChatMessageEntityList: {pageSize, entities, previousPage, next, selfUri}.
    Ok(Json(json!({"entities": e, "pageSize": max, "selfUri": format!("/api/v2/conversations/chats/{id}/messages")})))
}
