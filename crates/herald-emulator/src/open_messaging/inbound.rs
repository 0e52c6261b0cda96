//! The inbound endpoints: `…/{integrationId}/inbound/open/{message,event,receipt}`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use super::{respond, OpenMessagingState, TranscriptEntry};
use crate::api_error::ApiError;
use crate::clock::iso;
use crate::http::json::parse;
use crate::http::CorrelationId;

const ID_TYPES: [&str; 3] = ["Email", "Phone", "Opaque"];
const RECEIPT_STATUSES: [&str; 5] = ["Sent", "Delivered", "Failed", "Published", "Removed"];

/// Query of the message endpoint.
#[derive(Debug, serde::Deserialize)]
pub struct MessageQuery {
    /// Answer the conversation id too.
    #[serde(default, rename = "prefetchConversationId")]
    pub prefetch_conversation_id: bool,
}

fn required<'a>(body: &'a Value, path: &[&str]) -> Result<&'a Value, ApiError> {
    let mut v = body;
    for p in path {
        v = &v[*p];
    }
    if v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()) {
        let name = path.join(".");
        return Err(ApiError::field("invalid.value", &name, format!("{name} is required")));
    }
    Ok(v)
}

fn known_integration(state: &OpenMessagingState, id: &str) -> Result<(), ApiError> {
    match state.integration(id) {
        Some(_) => Ok(()),
        None => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "not.found", format!("Open messaging integration {id} not found")))
        }
    }
}

/// `POST …/inbound/open/message`: a customer's message; opens or continues their conversation.
pub async fn message(
    State(state): State<OpenMessagingState>,
    corr: Option<Extension<CorrelationId>>,
    headers: HeaderMap,
    Path(integration): Path<String>,
    Query(query): Query<MessageQuery>,
    body: axum::body::Bytes,
) -> Response {
    let result = (|| {
        state.authorize(&headers)?;
        let body: Value = parse(&body)?;
        known_integration(&state, &integration)?;
        let from = required(&body, &["channel", "from"])?;
        let customer = required(&body, &["channel", "from", "id"])?.as_str().unwrap_or_default().to_string();
        let id_type = required(&body, &["channel", "from", "idType"])?.as_str().unwrap_or_default();
        if !ID_TYPES.contains(&id_type) {
            return Err(ApiError::field(
                "invalid.value",
                "channel.from.idType",
                format!("idType must be one of {}", ID_TYPES.join(", ")),
            ));
        }
        required(&body, &["channel", "time"])?;
        let text = body["text"].as_str().unwrap_or("");
        let has_content = body["content"].as_array().is_some_and(|c| !c.is_empty());
        if text.trim().is_empty() && !has_content {
            return Err(ApiError::field("invalid.value", "text", "text or content is required"));
        }
        let max = state.inner.app.config.limits.message_text_max;
        if text.chars().count() > max {
            return Err(ApiError::field("invalid.value", "text", format!("text is longer than {max} characters")));
        }
        let message_id = body["channel"]["messageId"].as_str().map(str::to_string);
        let mut world = state.inner.world.lock();
        if let Some(earlier) = message_id.as_ref().and_then(|m| world.answered.get(&(integration.clone(), m.clone()))) {
            return Ok((StatusCode::ACCEPTED, earlier.clone()));
        }
        let conversation = world
            .conversations
            .entry((integration.clone(), customer.clone()))
            .or_insert_with(crate::state::new_id)
            .clone();
        let mut answer = json!({
            "id": crate::state::new_id(),
            "channel": {
                "id": integration,
                "platform": "Open",
                "type": "Private",
                "messageId": message_id,
                "to": {"id": integration},
                "from": from,
                "time": body["channel"]["time"],
            },
            "type": "Text",
            "text": text,
            "content": body["content"].as_array().cloned().unwrap_or_default(),
            "direction": "Inbound",
            "metadata": body["metadata"],
        });
        if query.prefetch_conversation_id {
            answer["conversationId"] = json!(conversation);
        }
        if let Some(m) = message_id {
            world.answered.insert((integration.clone(), m), answer.clone());
        }
        world.transcripts.entry(integration.clone()).or_default().push(TranscriptEntry::InboundMessage {
            message: json!({"conversationId": conversation, "message": answer.clone()}),
        });
        Ok((StatusCode::ACCEPTED, answer))
    })();
    respond(result, corr.as_deref())
}

/// `POST …/inbound/open/event`: typing events.
pub async fn event(
    State(state): State<OpenMessagingState>,
    corr: Option<Extension<CorrelationId>>,
    headers: HeaderMap,
    Path(integration): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = (|| {
        state.authorize(&headers)?;
        let body: Value = parse(&body)?;
        known_integration(&state, &integration)?;
        required(&body, &["channel", "from", "id"])?;
        if body["events"].as_array().is_none_or(|e| e.is_empty()) {
            return Err(ApiError::field("invalid.value", "events", "events is required"));
        }
        state.record(&integration, TranscriptEntry::InboundEvent { body: body.clone() });
        Ok((
            StatusCode::ACCEPTED,
            json!({"id": crate::state::new_id(), "channel": body["channel"], "events": body["events"], "direction": "Inbound", "time": iso(state.inner.app.clock.now())}),
        ))
    })();
    respond(result, corr.as_deref())
}

/// `POST …/inbound/open/receipt`: the third party's receipt for an agent message.
pub async fn receipt(
    State(state): State<OpenMessagingState>,
    corr: Option<Extension<CorrelationId>>,
    headers: HeaderMap,
    Path(integration): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = (|| {
        state.authorize(&headers)?;
        let body: Value = parse(&body)?;
        known_integration(&state, &integration)?;
        let id = required(&body, &["id"])?.clone();
        required(&body, &["channel", "to", "id"])?;
        let status = required(&body, &["status"])?.as_str().unwrap_or_default();
        if !RECEIPT_STATUSES.contains(&status) {
            return Err(ApiError::field(
                "invalid.value",
                "status",
                format!("status must be one of {}", RECEIPT_STATUSES.join(", ")),
            ));
        }
        state.record(&integration, TranscriptEntry::Receipt { body: body.clone() });
        Ok((
            StatusCode::ACCEPTED,
            json!({"id": id, "channel": body["channel"], "type": "Receipt", "status": status, "direction": "Inbound", "isFinalReceipt": body["isFinalReceipt"]}),
        ))
    })();
    respond(result, corr.as_deref())
}
