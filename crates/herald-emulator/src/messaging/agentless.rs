//! `POST /api/v2/conversations/messages/agentless` (`SendAgentlessOutboundMessageRequest`).
//!
//! Web messaging delivery (UNCONFIRMED upstream, see docs/emulator.md): the external contact's
//! guest session on the deployment receives the message as an Outbound StructuredMessage; the
//! conversation is the live one (with `useExistingActiveConversation`), the last one if still
//! inside the threading window, or a new one with an `api` and a `customer` participant.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::clock::iso;
use crate::guest_ws::session;
use crate::http::json::{reject_unknown, ApiJson};
use crate::messaging::{flow, send, views};
use crate::oauth::Authed;
use crate::state::{AppState, Counters};
use crate::world::conversation::{Conversation, Media, Participant, Sender, State as PState};
use crate::world::World;

const FIELDS: &[&str] = &[
    "fromAddress",
    "toAddress",
    "toAddressMessengerType",
    "textBody",
    "messagingTemplate",
    "useExistingActiveConversation",
    "externalContactId",
];
const TYPES: &[&str] = &["sms", "whatsapp", "open", "webmessaging", "apple"];

fn str_field<'a>(body: &'a Value, name: &str) -> ApiResult<Option<&'a str>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(ApiError::field("invalid.value", name, format!("{name} must be a string"))),
    }
}

fn required<'a>(body: &'a Value, name: &str) -> ApiResult<&'a str> {
    str_field(body, name)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::field("constraint.validation", name, format!("{name} is required")))
}

/// The handler.
pub async fn send(
    State(state): State<AppState>,
    _a: Authed,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !body.is_object() {
        return Err(ApiError::bad_request("The body must be a SendAgentlessOutboundMessageRequest"));
    }
    if state.config.behaviour.reject_unknown_fields {
        reject_unknown(&body, FIELDS, "")?;
    }
    let kind = required(&body, "toAddressMessengerType")?;
    if !TYPES.contains(&kind) {
        return Err(ApiError::field(
            "invalid.value",
            "toAddressMessengerType",
            format!("toAddressMessengerType must be one of {}", TYPES.join(", ")),
        ));
    }
    let from = required(&body, "fromAddress")?.to_string();
    let to = str_field(&body, "toAddress")?.map(str::to_string);
    let contact = str_field(&body, "externalContactId")?.map(str::to_string);
    let use_existing = match body.get("useExistingActiveConversation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::field(
                "invalid.value",
                "useExistingActiveConversation",
                "useExistingActiveConversation must be a boolean",
            ))
        }
    };
    match kind {
        "webmessaging" => {
            if to.is_some() {
                return Err(ApiError::field(
                    "invalid.property",
                    "toAddress",
                    "toAddress is not allowed for webmessaging; address the guest with externalContactId",
                ));
            }
            if !state.config.deployments.iter().any(|d| d.id == from) {
                return Err(ApiError::field(
                    "invalid.value",
                    "fromAddress",
                    "fromAddress must be the id of a web messaging deployment",
                ));
            }
            if contact.is_none() {
                return Err(ApiError::field(
                    "constraint.validation",
                    "externalContactId",
                    "externalContactId is required for webmessaging",
                ));
            }
        }
        "sms" if body.get("textBody").is_none() => {
            return Err(ApiError::field("constraint.validation", "textBody", "textBody is required for sms"));
        }
        "whatsapp" if body.get("messagingTemplate").is_none() => {
            return Err(ApiError::field(
                "constraint.validation",
                "messagingTemplate",
                "messagingTemplate is required for whatsapp",
            ));
        }
        _ => {
            if to.is_none() {
                return Err(ApiError::field("constraint.validation", "toAddress", "toAddress is required"));
            }
        }
    }
    let mut world = state.world.lock();
    let customer_name = contact.as_ref().and_then(|c| world.contacts.get(c)).map(|c| c.display_name());
    let msg = send::validate_body(&state, &body, kind, None, customer_name.as_deref())?;
    let (conv_id, api_pid, api_comm) = if kind == "webmessaging" {
        let contact = contact.unwrap_or_default();
        webmessaging_target(&state, &mut world, &from, &contact, use_existing)?
    } else {
        other_target(&state, &mut world, kind, &from, to.as_deref().unwrap_or_default(), contact.as_deref())
    };
    let entry = flow::record_outbound(&state, &mut world, &conv_id, &api_pid, &api_comm, Sender::Api, &msg.text)
        .ok_or_else(|| ApiError::not_found("Conversation"))?;
    Counters::bump(&state.counters.agentless_messages);
    let conv = world.conversations.get(&conv_id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    let status = StatusCode::from_u16(state.config.behaviour.agentless_success_status).unwrap_or(StatusCode::ACCEPTED);
    Ok((
        status,
        Json(json!({
            "id": entry.id,
            "conversationId": conv_id,
            "fromAddress": from,
            "toAddress": to.unwrap_or_default(),
            "messengerType": kind,
            "useExistingActiveConversation": use_existing,
            "message": views::message_data(conv, &entry),
            "timestamp": iso(entry.time),
            "selfUri": format!("/api/v2/conversations/messages/{conv_id}/messages/{}", entry.id),
        })),
    ))
}

/// Adds (or reuses) a connected `api` participant; returns (participant id, communication id).
fn api_participant(state: &AppState, conv: &mut Conversation, from: &str) -> (String, String) {
    if let Some(p) = conv.participants.iter().find(|p| p.purpose == "api" && p.state == PState::Connected) {
        return (p.id.clone(), p.current_comm().map(|c| c.id.clone()).unwrap_or_default());
    }
    let mut p = Participant::new("api", PState::Connected, state.clock.now());
    p.direction = "outbound";
    p.address = Some(from.to_string());
    p.name = Some("Agentless".into());
    let ids = (p.id.clone(), p.current_comm().map(|c| c.id.clone()).unwrap_or_default());
    conv.participants.push(p);
    ids
}

fn webmessaging_target(
    state: &AppState,
    world: &mut World,
    deployment: &str,
    contact: &str,
    use_existing: bool,
) -> ApiResult<(String, String, String)> {
    if !world.contacts.contains_key(contact) {
        return Err(ApiError::field(
            "invalid.value",
            "externalContactId",
            format!("External contact {contact} does not exist"),
        ));
    }
    let now = state.clock.now();
    let token = session::token_for_contact(state, world, contact, deployment);
    if token.is_none() && state.config.behaviour.agentless_requires_known_guest {
        return Err(ApiError::field(
            "invalid.value",
            "externalContactId",
            "No web messaging guest is known for this external contact on this deployment",
        ));
    }
    let latest = world
        .latest_conversation_of_contact(contact, "webmessaging")
        .filter(|c| c.deployment_id.as_deref() == Some(deployment))
        .map(|c| (c.id.clone(), c.ended(), world.within_threading_window(c, now)));
    let conv_id = match latest {
        Some((id, false, _)) if use_existing => id,
        Some((_, false, _)) => {
            return Err(ApiError::field(
                "invalid.value",
                "useExistingActiveConversation",
                "The external contact has an active conversation; set useExistingActiveConversation to true to send into it",
            ))
        }
        Some((id, true, true)) => {
            flow::reopen(state, world, &id);
            id
        }
        _ => {
            let mut conv = Conversation::new(Media::Message, "webmessaging", now);
            conv.deployment_id = Some(deployment.to_string());
            conv.external_contact_id = Some(contact.to_string());
            conv.guest_token = token.clone();
            let mut customer = Participant::new("customer", PState::Connected, now);
            customer.external_contact_id = Some(contact.to_string());
            customer.address = Some(deployment.to_string());
            customer.direction = "outbound";
            customer.name = world.contacts.get(contact).map(|c| c.display_name());
            conv.participants.push(customer);
            let id = conv.id.clone();
            world.conversations.insert(id.clone(), conv);
            id
        }
    };
    if let Some(session) = token.as_ref().and_then(|t| world.guests.get_mut(t)) {
        session.conversation_id = Some(conv_id.clone());
        session.read_only = false;
    }
    let conv = world.conversations.get_mut(&conv_id).ok_or_else(|| ApiError::not_found("Conversation"))?;
    if conv.guest_token.is_none() {
        conv.guest_token = token;
    }
    let (pid, cid) = api_participant(state, conv, deployment);
    Ok((conv_id, pid, cid))
}

fn other_target(
    state: &AppState,
    world: &mut World,
    kind: &str,
    from: &str,
    to: &str,
    contact: Option<&str>,
) -> (String, String, String) {
    let now = state.clock.now();
    let mut conv = Conversation::new(Media::Message, kind, now);
    conv.external_contact_id = contact.map(str::to_string);
    let mut customer = Participant::new("customer", PState::Connected, now);
    customer.address = Some(to.to_string());
    customer.direction = "outbound";
    customer.external_contact_id = contact.map(str::to_string);
    conv.participants.push(customer);
    let (pid, cid) = api_participant(state, &mut conv, from);
    let id = conv.id.clone();
    world.conversations.insert(id.clone(), conv);
    (id, pid, cid)
}
