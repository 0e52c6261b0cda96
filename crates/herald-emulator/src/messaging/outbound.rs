//! `POST /api/v2/conversations/messages` — agent-side outbound conversation (sms, open, whatsapp).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::http::json::ApiJson;
use crate::messaging::flow;
use crate::oauth::Authed;
use crate::routing;
use crate::state::AppState;
use crate::world::conversation::{Conversation, Media, Participant, State as PState};

/// The handler: creates (or, within the threading window with `useExistingConversation`,
/// re-opens) a conversation and queues it on `queueId`.
pub async fn create(
    State(state): State<AppState>,
    _a: Authed,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let get = |k: &str| body.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let kind = get("toAddressMessengerType").ok_or_else(|| {
        ApiError::field("constraint.validation", "toAddressMessengerType", "toAddressMessengerType is required")
    })?;
    if !["sms", "open", "whatsapp"].contains(&kind) {
        return Err(ApiError::field(
            "invalid.value",
            "toAddressMessengerType",
            "toAddressMessengerType must be sms, open or whatsapp (web messaging conversations are started by the guest or by the agentless API)",
        ));
    }
    let queue =
        get("queueId").ok_or_else(|| ApiError::field("constraint.validation", "queueId", "queueId is required"))?;
    if !state.config.queues.iter().any(|q| q.id == queue) {
        return Err(ApiError::field("invalid.value", "queueId", "queueId names no queue"));
    }
    let to = get("toAddress")
        .ok_or_else(|| ApiError::field("constraint.validation", "toAddress", "toAddress is required"))?;
    let use_existing = body.get("useExistingConversation").and_then(Value::as_bool).unwrap_or(false);
    let contact = get("externalContactId").map(str::to_string);
    let now = state.clock.now();
    let mut world = state.world.lock();
    let existing = world
        .conversations
        .values()
        .filter(|c| c.messenger_type == kind && c.customer().and_then(|p| p.address.as_deref()) == Some(to))
        .max_by_key(|c| c.start)
        .map(|c| (c.id.clone(), c.ended(), world.within_threading_window(c, now)));
    let id = match existing {
        Some((_, false, _)) => {
            return Err(ApiError::bad_request("A conversation with this address is already alerting or connected"))
        }
        Some((id, true, true)) if use_existing => {
            flow::reopen(&state, &mut world, &id);
            id
        }
        Some((_, true, true)) => return Err(ApiError::field(
            "invalid.value",
            "useExistingConversation",
            "A conversation with this address ended inside the threading window; set useExistingConversation to true",
        )),
        _ => {
            let mut conv = Conversation::new(Media::Message, kind, now);
            conv.external_contact_id = contact.clone();
            let mut customer = Participant::new("customer", PState::Connected, now);
            customer.address = Some(to.to_string());
            customer.direction = "outbound";
            customer.external_contact_id = contact;
            conv.participants.push(customer);
            let id = conv.id.clone();
            world.conversations.insert(id.clone(), conv);
            id
        }
    };
    routing::enqueue(&state, &mut world, &id, queue);
    Ok(Json(json!({"id": id, "selfUri": format!("/api/v2/conversations/messages/{id}")})))
}
