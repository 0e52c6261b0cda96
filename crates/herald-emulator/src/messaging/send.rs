//! Agent-side messaging: send (`AdditionalMessage` → `MessageData`), typing, message GET.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::Value;

use crate::api_error::{ApiError, ApiResult};
use crate::http::json::{reject_unknown, ApiJson};
use crate::messaging::{flow, views};
use crate::oauth::Authed;
use crate::responses;
use crate::state::{AppState, Counters};
use crate::world::conversation::{Media, Sender, State as PState};

const ADDITIONAL_MESSAGE_FIELDS: &[&str] = &["textBody", "mediaIds", "messagingTemplate"];
const TEMPLATE_FIELDS: &[&str] =
    &["responseId", "parameters", "bodyParameters", "headerParameters", "buttonUrlParameters", "carouselParameters"];

/// The text a validated AdditionalMessage (or agentless body) sends.
pub struct MessageBody {
    /// The text to deliver.
    pub text: String,
}

/// Validates `textBody` / `mediaIds` / `messagingTemplate` (exactly one) and renders the text.
pub fn validate_body(
    state: &AppState,
    body: &Value,
    messenger_type: &str,
    agent_alias: Option<(&str, &str)>,
    customer_name: Option<&str>,
) -> ApiResult<MessageBody> {
    let text = match body.get("textBody") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::field("invalid.value", "textBody", "textBody must be a string")),
    };
    let media = match body.get("mediaIds") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => return Err(ApiError::field("invalid.value", "mediaIds", "mediaIds must be an array of strings")),
    };
    let template = match body.get("messagingTemplate") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            return Err(ApiError::field("invalid.value", "messagingTemplate", "messagingTemplate must be an object"))
        }
    };
    let present = [
        text.as_ref().is_some_and(|t| !t.is_empty()),
        media.as_ref().is_some_and(|m| !m.is_empty()),
        template.is_some(),
    ];
    match present.iter().filter(|x| **x).count() {
        0 => {
            return Err(ApiError::field(
                "constraint.validation",
                "textBody",
                "One of textBody, mediaIds or messagingTemplate is required",
            ))
        }
        1 => {}
        _ => {
            return Err(ApiError::bad_request(
                "Only one of textBody, mediaIds or messagingTemplate may be sent in one request",
            )
            .with_field("constraint.validation", "textBody"))
        }
    }
    let limit =
        if messenger_type == "sms" { state.config.limits.sms_text_max } else { state.config.limits.message_text_max };
    if let Some(t) = text.filter(|t| !t.is_empty()) {
        let n = t.chars().count();
        if n > limit {
            return Err(ApiError::field(
                "invalid.value",
                "textBody",
                format!("textBody is {n} characters long; the maximum for {messenger_type} is {limit}"),
            ));
        }
        return Ok(MessageBody { text: t });
    }
    if let Some(m) = media {
        let ids: Vec<String> = m.iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
        if ids.len() != m.len() {
            return Err(ApiError::field("invalid.value", "mediaIds", "mediaIds must be strings"));
        }
        return Ok(MessageBody { text: format!("[media: {}]", ids.join(", ")) });
    }
    let template = template.unwrap_or_default();
    if state.config.behaviour.reject_unknown_fields {
        reject_unknown(&template, TEMPLATE_FIELDS, "messagingTemplate.")?;
    }
    let rendered = responses::render_template(state, &template, agent_alias, customer_name)?;
    if rendered.chars().count() > limit {
        return Err(ApiError::field(
            "invalid.value",
            "messagingTemplate.responseId",
            format!("The rendered response exceeds the maximum of {limit} characters"),
        ));
    }
    Ok(MessageBody { text: rendered })
}

/// `POST /api/v2/conversations/messages/{cId}/communications/{commId}/messages`.
pub async fn send(
    State(state): State<AppState>,
    _auth: Authed,
    Path((conv_id, comm_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    if !body.is_object() {
        return Err(ApiError::bad_request("The request body must be an AdditionalMessage object"));
    }
    if state.config.behaviour.reject_unknown_fields {
        reject_unknown(&body, ADDITIONAL_MESSAGE_FIELDS, "")?;
    }
    let b = &state.config.behaviour;
    let mut world = state.world.lock();
    let conv = world
        .conversations
        .get(&conv_id)
        .filter(|c| c.media == Media::Message)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    let Some((p, c)) = conv.by_communication(&comm_id) else {
        let status = StatusCode::from_u16(b.foreign_communication_status).unwrap_or(StatusCode::NOT_FOUND);
        let code = if status == StatusCode::NOT_FOUND { "not.found" } else { "invalid.value" };
        return Err(ApiError::new(
            status,
            code,
            format!("Communication {comm_id} is not part of conversation {conv_id}"),
        )
        .with_field(code, "communicationId"));
    };
    if p.purpose == "customer" && !b.allow_send_on_customer_communication {
        return Err(ApiError::field(
            "invalid.value",
            "communicationId",
            "Messages are sent on the agent's (or api participant's) communication, not the customer's",
        ));
    }
    if c.state == PState::Disconnected || conv.ended() {
        let status = StatusCode::from_u16(b.disconnected_send_status).unwrap_or(StatusCode::BAD_REQUEST);
        return Err(ApiError::new(
            status,
            &b.disconnected_send_code,
            format!("Communication {comm_id} is disconnected; no more messages can be sent on it"),
        ));
    }
    if c.state != PState::Connected {
        return Err(ApiError::bad_request(format!(
            "Communication {comm_id} is {}; messages can only be sent on a connected communication",
            c.state.as_str()
        )));
    }
    let sender = match (&p.user_id, p.purpose.as_str()) {
        (Some(u), _) => Sender::Agent(u.clone()),
        (None, "api") => Sender::Api,
        _ => Sender::System,
    };
    let alias =
        p.user_id.as_ref().and_then(|u| world.agents.get(u)).map(|a| (a.alias().to_string(), a.config.name.clone()));
    let customer_name = conv.customer().and_then(|c| c.name.clone());
    let messenger_type = conv.messenger_type.clone();
    let pid = p.id.clone();
    let msg = validate_body(
        &state,
        &body,
        &messenger_type,
        alias.as_ref().map(|(a, n)| (a.as_str(), n.as_str())),
        customer_name.as_deref(),
    )?;
    let entry = flow::record_outbound(&state, &mut world, &conv_id, &pid, &comm_id, sender, &msg.text)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    Counters::bump(&state.counters.agent_messages);
    let conv = world.conversations.get(&conv_id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    Ok(Json(views::message_data(conv, &entry)))
}

/// `GET /api/v2/conversations/messages/{cId}/messages/{messageId}`.
pub async fn get_message(
    State(state): State<AppState>,
    _auth: Authed,
    Path((conv_id, msg_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let world = state.world.lock();
    let conv = world
        .conversations
        .get(&conv_id)
        .filter(|c| c.media == Media::Message)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    let m = conv.transcript.iter().find(|m| m.id == msg_id).ok_or_else(|| ApiError::not_found("Message"))?;
    Ok(Json(views::message_data(conv, m)))
}

/// `GET /api/v2/conversations/messages/{messageId}/details`: one message by its id alone (`MessageData`, with its
/// `conversationId`), whichever conversation holds it — how a client maps a guest's message to its conversation.
pub async fn get_message_details(
    State(state): State<AppState>,
    _auth: Authed,
    Path(msg_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let world = state.world.lock();
    world
        .conversations
        .values()
        .filter(|c| c.media == Media::Message)
        .find_map(|c| c.transcript.iter().find(|m| m.id == msg_id).map(|m| views::message_data(c, m)))
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Message"))
}

/// `POST …/communications/{commId}/typing` — `{typing:{type:"On"}}` → 202.
pub async fn typing(
    State(state): State<AppState>,
    _auth: Authed,
    Path((conv_id, comm_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<impl IntoResponse> {
    let Some(typing) = body.get("typing").filter(|t| t.is_object()) else {
        return Err(ApiError::field("constraint.validation", "typing", "typing is required"));
    };
    match typing.get("type").and_then(Value::as_str) {
        Some("On") => {}
        Some(_) => return Err(ApiError::field("invalid.value", "typing.type", "typing.type must be \"On\"")),
        None => return Err(ApiError::field("constraint.validation", "typing.type", "typing.type is required")),
    }
    let world = state.world.lock();
    let conv = world
        .conversations
        .get(&conv_id)
        .filter(|c| c.media == Media::Message)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    let (_, c) = conv.by_communication(&comm_id).ok_or_else(|| ApiError::not_found("Communication"))?;
    if c.state == PState::Disconnected || conv.ended() {
        let b = &state.config.behaviour;
        let status = StatusCode::from_u16(b.disconnected_send_status).unwrap_or(StatusCode::BAD_REQUEST);
        return Err(ApiError::new(status, &b.disconnected_send_code, "The communication is disconnected"));
    }
    if let Some(session) = conv.guest_token.as_ref().and_then(|t| world.guests.get(t)) {
        let body = crate::guest_ws::frames::typing_event(&crate::state::new_id(), state.clock.now());
        session.broadcast(&crate::guest_ws::frames::structured(body, None));
    }
    Ok(StatusCode::ACCEPTED)
}
