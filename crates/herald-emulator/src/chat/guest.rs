//! Guest chat (`/api/v2/webchat/guest/...`): no OAuth; the guest JWT from the create call
//! authorises everything else. Routing starts only once the event stream socket attaches.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::chat::agent::chat_body;
use crate::chat::events;
use crate::guest_ws::jwt;
use crate::http::json::ApiJson;
use crate::messaging::flow;
use crate::notifications::host;
use crate::oauth::bearer;
use crate::routing;
use crate::state::AppState;
use crate::world::conversation::{ChatGuest, Conversation, Media, Participant, State as PState};

fn field<'a>(body: &'a Value, ptr: &str, name: &str) -> ApiResult<&'a str> {
    body.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("constraint.validation", name, format!("{name} is required")))
}

/// `POST /api/v2/webchat/guest/conversations` → `{id, jwt, eventStreamUri, member{id}}`.
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let org = field(&body, "/organizationId", "organizationId")?;
    if org != s.config.org.id {
        return Err(ApiError::field("invalid.value", "organizationId", "organizationId names no organization"));
    }
    let dep = field(&body, "/deploymentId", "deploymentId")?.to_string();
    if !s.config.chat_deployments.iter().any(|d| d.id == dep) {
        return Err(ApiError::field("invalid.value", "deploymentId", "deploymentId names no chat deployment"));
    }
    let tt = field(&body, "/routingTarget/targetType", "routingTarget.targetType")?;
    if tt != "QUEUE" {
        return Err(ApiError::field(
            "invalid.value",
            "routingTarget.targetType",
            "routingTarget.targetType must be QUEUE",
        ));
    }
    let addr = field(&body, "/routingTarget/targetAddress", "routingTarget.targetAddress")?;
    let queue = s
        .config
        .queues
        .iter()
        .find(|q| q.name == addr || q.id == addr)
        .ok_or_else(|| {
            ApiError::field(
                "invalid.value",
                "routingTarget.targetAddress",
                "routingTarget.targetAddress names no queue",
            )
        })?
        .id
        .clone();
    let name = field(&body, "/memberInfo/displayName", "memberInfo.displayName")?.to_string();
    let now = s.clock.now();
    let mut conv = Conversation::new(Media::Chat, "chat", now);
    conv.deployment_id = Some(dep.clone());
    conv.queue_id = Some(queue);
    let mut customer = Participant::new("customer", PState::Connected, now);
    customer.name = Some(name.clone());
    let member_id = customer.current_comm().map(|c| c.id.clone()).unwrap_or_default();
    conv.participants.push(customer);
    let lifetime = chrono::Duration::seconds(s.config.limits.channel_lifetime_seconds as i64);
    let ch = s.hub.create("guest-chat", now, lifetime, usize::MAX, Some(conv.id.clone()));
    let topics = vec![
        format!("v2.conversations.chats.{}.messages", conv.id),
        format!("v2.conversations.chats.{}.members", conv.id),
    ];
    let _ = s.hub.subscribe(&ch.id, &topics, true, now, lifetime, usize::MAX);
    conv.chat_guest = Some(ChatGuest {
        member_id: member_id.clone(),
        channel_id: ch.id.clone(),
        display_name: name,
        attached: false,
    });
    let conv_id = conv.id.clone();
    s.world.lock().conversations.insert(conv_id.clone(), conv);
    let (token, _) = jwt::issue(&s, &format!("{conv_id}:{member_id}"), &dep, 86_400);
    Ok(Json(json!({
        "id": conv_id,
        "jwt": token,
        "eventStreamUri": format!("ws://{}/channels/{}", host(&headers), ch.id),
        "member": {"id": member_id},
    })))
}

/// Called when the guest's event stream attaches: member-join, then routing.
pub fn stream_attached(s: &AppState, conv_id: &str) {
    let mut w = s.world.lock();
    let Some(conv) = w.conversations.get_mut(conv_id) else {
        return;
    };
    let Some(g) = conv.chat_guest.as_mut() else {
        return;
    };
    if g.attached || conv.end.is_some() {
        return;
    }
    g.attached = true;
    if let Some(c) = conv.customer() {
        events::member(s, conv, c);
    }
    let queue = conv.queue_id.clone();
    if let Some(q) = queue {
        routing::enqueue(s, &mut w, conv_id, &q);
    }
}

/// Checks the guest JWT against the conversation (and member, when given).
fn authorize(s: &AppState, headers: &HeaderMap, conv_id: &str, member: Option<&str>) -> ApiResult<String> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "bad.credentials", "Invalid login credentials.");
    let claims = bearer(headers).and_then(|t| jwt::verify(s, t)).ok_or_else(unauthorized)?;
    let (c, m) = claims.sub.split_once(':').ok_or_else(unauthorized)?;
    if c != conv_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not.authorized",
            "The token does not grant access to this conversation",
        ));
    }
    if member.is_some_and(|x| x != m) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "not.authorized", "The token does not belong to this member"));
    }
    Ok(m.to_string())
}

fn conv_members(s: &AppState, conv_id: &str) -> ApiResult<Vec<Value>> {
    let w = s.world.lock();
    let conv = w.conversations.get(conv_id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    Ok(conv.participants.iter().filter(|p| p.purpose != "acd").map(|p| events::member_json(conv, p)).collect())
}

/// `GET …/members`.
pub async fn members(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    authorize(&s, &headers, &id, None)?;
    let e = conv_members(&s, &id)?;
    let n = e.len();
    Ok(Json(json!({"entities": e, "pageSize": 25, "pageNumber": 1, "total": n, "pageCount": 1})))
}

/// `GET …/members/{memberId}`.
pub async fn member(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    authorize(&s, &headers, &id, None)?;
    conv_members(&s, &id)?
        .into_iter()
        .find(|m| m["id"] == mid.as_str())
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Member"))
}

/// `DELETE …/members/{memberId}` — the guest leaves; the chat ends.
pub async fn leave(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    authorize(&s, &headers, &id, Some(&mid))?;
    let mut w = s.world.lock();
    let pid = w
        .conversations
        .get(&id)
        .and_then(|c| c.customer())
        .map(|p| p.id.clone())
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    let _ = flow::disconnect_participant(&s, &mut w, &id, &pid);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/members/{memberId}/messages` → WebChatMessage.
pub async fn send(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, mid)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    authorize(&s, &headers, &id, Some(&mid))?;
    let (text, _) = chat_body(&s, &body)?;
    let mut w = s.world.lock();
    let conv = w.conversations.get(&id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    if conv.ended() {
        let b = &s.config.behaviour;
        let status = StatusCode::from_u16(b.disconnected_send_status).unwrap_or(StatusCode::BAD_REQUEST);
        return Err(ApiError::new(status, &b.disconnected_send_code, "The chat has ended"));
    }
    let entry =
        flow::record_inbound(&s, &mut w, &id, &text, None).ok_or_else(|| ApiError::not_found("Conversation"))?;
    let conv = w.conversations.get(&id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    Ok(Json(events::message_json(conv, &entry)))
}

/// `POST …/members/{memberId}/typing` → WebChatTyping.
pub async fn typing(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, mid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    authorize(&s, &headers, &id, Some(&mid))?;
    let now = crate::clock::iso(s.clock.now());
    Ok(Json(json!({"id": crate::state::new_id(), "conversation": {"id": id}, "sender": {"id": mid}, "timestamp": now})))
}

/// `GET …/messages`.
pub async fn messages(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    authorize(&s, &headers, &id, None)?;
    let w = s.world.lock();
    let conv = w.conversations.get(&id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    let e: Vec<Value> = conv.transcript.iter().map(|m| events::message_json(conv, m)).collect();
    // WebChatMessageEntityList: {pageSize, entities, previousPage, next, selfUri} (no page numbers or totals).
    let n = e.len();
    let self_uri = format!("/api/v2/webchat/guest/conversations/{id}/messages");
    Ok(Json(json!({"entities": e, "pageSize": n.max(25), "selfUri": self_uri})))
}

/// `GET …/messages/{messageId}`.
pub async fn message(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, msg)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    authorize(&s, &headers, &id, None)?;
    let w = s.world.lock();
    let conv = w.conversations.get(&id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    let m = conv.transcript.iter().find(|m| m.id == msg).ok_or_else(|| ApiError::not_found("Message"))?;
    Ok(Json(events::message_json(conv, m)))
}
