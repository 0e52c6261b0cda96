//! Conversation bodies → [`Session`] changes.
//!
//! Pure functions: [`apply_conversation`] takes a conversation body — a notification event body of the
//! `v2.routing.queues.{id}.conversations[.messages|.chats]` / `v2.users.{id}.conversations[…]` topics, or the answer
//! of `GET /api/v2/conversations/{id}` — and the session the caller already knows, and returns a
//! [`SessionChange`] telling the adapter which event to publish.
//!
//! ## Where the ids live (checked against the SDK models)
//!
//! - **Generic shapes** (`GET /api/v2/conversations/{id}` → `Participant`, and the generic
//!   `…conversations` topics → `QueueConversationEventTopicParticipant`): the participant carries flat `userId`,
//!   `queueId`, `externalContactId`, and its communications in `messages[]` / `chats[]`, each with `id` (**the
//!   communication id**) and `state`. There is no participant-level `state`; it is derived from the communications.
//! - **Message media topics** (`…conversations.messages` → `QueueConversationMessageEventTopicMessageMediaParticipant`):
//!   the participant carries `state`, `user{id}`, `queue{id}`, `externalContact{id}`, `journeyContext`, `type`,
//!   and `messages[]` are *individual messages* (`MessageDetails`: `message{id}`, `messageStatus`, …). **No
//!   communication id is present.** The mapper keeps communication ids already known for the participant and
//!   [`needs_communication_lookup`] tells the adapter to `GET /api/v2/conversations/{id}` when an agent is connected
//!   without one.
//! - **Chat media topics** (`…conversations.chats` → `…ChatMediaParticipant`): like the message media participant,
//!   with `roomId`, and no communication id either.
//! - **Customer ids**: `externalContactId` / `externalContact.id`; the guest token of a web messaging guest is the
//!   journey context customer id when its `idType` is `cookie` (what Messenger sends); a chat guest's id is its
//!   chat communication id (member id). A configured participant attribute gives the customer key.
//! - **Deployment**: no SDK model has a deployment id field on a conversation or participant; it is read from the
//!   participant attributes named in [`MapperConfig::deployment_attributes`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use herald_core::{Communication, EventKind, MediaKind, Participant, Session, SessionState};
use serde_json::Value;

/// How bodies are mapped for one integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapperConfig {
    /// The integration name written into new sessions.
    pub integration: String,
    /// Participant attribute holding the customer key (e.g. a CRM id), if the integration uses one.
    pub customer_key_attribute: Option<String>,
    /// Participant attributes that may hold the deployment id, tried in order.
    pub deployment_attributes: Vec<String>,
    /// Media assumed when the body does not reveal it (and no previous session says).
    pub default_media: MediaKind,
}

impl MapperConfig {
    /// Defaults for `integration`: no customer key, deployment from `deploymentId`/`context.deploymentId`,
    /// web messaging.
    pub fn new(integration: impl Into<String>) -> Self {
        MapperConfig {
            integration: integration.into(),
            customer_key_attribute: None,
            deployment_attributes: vec!["deploymentId".into(), "context.deploymentId".into()],
            default_media: MediaKind::WebMessaging,
        }
    }
}

/// What a body changed, relative to the session known before.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionChange {
    /// First sight of an open conversation → `SessionOpened`.
    Opened(Session),
    /// A known conversation changed → `SessionUpdated`.
    Updated(Session),
    /// The conversation has closed (every participant left) → `SessionClosed`.
    Closed(Session),
    /// Nothing herald tracks changed (a duplicate or message-only event); no event to publish.
    Unchanged(Session),
}

impl SessionChange {
    /// The session as now known.
    pub fn session(&self) -> &Session {
        match self {
            SessionChange::Opened(s)
            | SessionChange::Updated(s)
            | SessionChange::Closed(s)
            | SessionChange::Unchanged(s) => s,
        }
    }

    /// The event to publish, if any.
    pub fn into_event(self) -> Option<EventKind> {
        match self {
            SessionChange::Opened(session) => Some(EventKind::SessionOpened { session }),
            SessionChange::Updated(session) => Some(EventKind::SessionUpdated { session }),
            SessionChange::Closed(session) => Some(EventKind::SessionClosed { session }),
            SessionChange::Unchanged(_) => None,
        }
    }
}

/// Why a body could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The body has no conversation `id`.
    #[error("the conversation body has no `id`")]
    MissingId,
    /// The body is not a JSON object.
    #[error("the conversation body is not a JSON object")]
    NotAnObject,
    /// The body is about another conversation than the previous session.
    #[error("the body is about conversation `{body}`, not `{expected}`")]
    WrongConversation {
        /// The id in the body.
        body: String,
        /// The previous session's id.
        expected: String,
    },
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|x| !x.is_empty())
}

fn ref_id<'a>(v: &'a Value, flat: &str, nested: &str) -> Option<&'a str> {
    s(v, flat).or_else(|| v.get(nested).and_then(|n| s(n, "id")))
}

fn time(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    s(v, key).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

fn lower(x: &str) -> String {
    x.to_ascii_lowercase()
}

fn ended(state: &str) -> bool {
    matches!(state, "disconnected" | "terminated")
}

fn attributes(v: &Value) -> BTreeMap<String, String> {
    v.get("attributes")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, val)| match val {
                    Value::String(x) => Some((k.clone(), x.clone())),
                    Value::Null => None,
                    other => Some((k.clone(), other.to_string())),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One participant as read from any of the body shapes.
struct Parsed {
    participant: Participant,
    external_contact_id: Option<String>,
    attributes: BTreeMap<String, String>,
    journey_cookie: Option<String>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    connected: Option<DateTime<Utc>>,
    media: Option<MediaKind>,
}

fn media_of(t: &str) -> MediaKind {
    match lower(t).as_str() {
        "webmessaging" => MediaKind::WebMessaging,
        "open" => MediaKind::Open,
        "sms" => MediaKind::Sms,
        other => MediaKind::Other(other.to_string()),
    }
}

fn parse_participant(v: &Value) -> Option<Parsed> {
    let id = s(v, "id")?.to_string();
    let mut comms = Vec::new();
    let mut media = s(v, "type").map(media_of);
    for m in v.get("messages").and_then(Value::as_array).into_iter().flatten() {
        // A communication has its own `id`; a `MessageDetails` entry has `message{id}` / `messageId` instead.
        let is_detail = m.get("message").is_some() || m.get("messageId").is_some() || m.get("messageStatus").is_some();
        if let (Some(cid), false) = (s(m, "id"), is_detail) {
            comms.push(Communication { id: cid.to_string(), state: s(m, "state").map(lower).unwrap_or_default() });
            if media.is_none() {
                media = s(m, "type").map(media_of);
            }
        }
    }
    let chats = v.get("chats").and_then(Value::as_array);
    for c in chats.into_iter().flatten() {
        if let Some(cid) = s(c, "id") {
            comms.push(Communication { id: cid.to_string(), state: s(c, "state").map(lower).unwrap_or_default() });
        }
    }
    if chats.is_some_and(|c| !c.is_empty()) || v.get("roomId").is_some() {
        media = Some(MediaKind::WebChat);
    }
    let end = time(v, "endTime");
    let state = match s(v, "state") {
        Some(st) => lower(st),
        None => derive_state(&comms, end.is_some()),
    };
    for c in comms.iter_mut().filter(|c| c.state.is_empty()) {
        c.state = state.clone();
    }
    let journey_cookie = v
        .get("journeyContext")
        .and_then(|j| j.get("customer"))
        .filter(|c| s(c, "idType").is_some_and(|t| t.eq_ignore_ascii_case("cookie")))
        .and_then(|c| s(c, "id"))
        .map(str::to_string);
    Some(Parsed {
        participant: Participant {
            id,
            purpose: s(v, "purpose").map(lower).unwrap_or_default(),
            state,
            user_id: ref_id(v, "userId", "user").map(str::to_string),
            queue_id: ref_id(v, "queueId", "queue").map(str::to_string),
            name: s(v, "name").map(str::to_string),
            communications: comms,
        },
        external_contact_id: ref_id(v, "externalContactId", "externalContact").map(str::to_string),
        attributes: attributes(v),
        journey_cookie,
        start: time(v, "startTime"),
        end,
        connected: time(v, "connectedTime"),
        media,
    })
}

fn derive_state(comms: &[Communication], has_end: bool) -> String {
    if comms.iter().any(|c| c.state == "connected") {
        return "connected".into();
    }
    if let Some(c) = comms.iter().find(|c| !c.state.is_empty() && !ended(&c.state)) {
        return c.state.clone();
    }
    if (!comms.is_empty() && comms.iter().all(|c| ended(&c.state))) || has_end {
        return "disconnected".into();
    }
    "unknown".into()
}

fn is_agent(p: &Participant) -> bool {
    matches!(p.purpose.as_str(), "agent" | "user")
}

/// Maps `body` onto `previous` (see the module docs). `now` stamps `updated_at` and fills times the body lacks.
pub fn apply_conversation(
    previous: Option<&Session>,
    body: &Value,
    cfg: &MapperConfig,
    now: DateTime<Utc>,
) -> Result<SessionChange, MapError> {
    if !body.is_object() {
        return Err(MapError::NotAnObject);
    }
    let id = s(body, "id").ok_or(MapError::MissingId)?;
    if let Some(p) = previous {
        if p.conversation_id != id {
            return Err(MapError::WrongConversation { body: id.into(), expected: p.conversation_id.clone() });
        }
    }
    let parsed: Vec<Parsed> = body
        .get("participants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(parse_participant)
        .collect();

    let media = parsed
        .iter()
        .find_map(|p| p.media.clone())
        .or_else(|| previous.map(|p| p.media.clone()))
        .unwrap_or_else(|| cfg.default_media.clone());
    let mut session = match previous {
        Some(p) => p.clone(),
        None => Session::new(id, cfg.integration.clone(), media.clone(), now),
    };
    session.media = media;

    // Participants, keeping communication ids the body does not carry (media-specific topics).
    let mut participants = Vec::with_capacity(parsed.len());
    for p in &parsed {
        let mut np = p.participant.clone();
        if np.communications.is_empty() {
            if let Some(old) = previous.and_then(|s| s.participants.iter().find(|o| o.id == np.id)) {
                np.communications = old.communications.clone();
                if ended(&np.state) {
                    for c in &mut np.communications {
                        c.state = np.state.clone();
                    }
                }
            }
        }
        participants.push(np);
    }
    if !parsed.is_empty() {
        session.participants = participants;
    }

    // Customer.
    let customer = parsed
        .iter()
        .find(|p| p.participant.purpose == "customer")
        .or_else(|| parsed.iter().find(|p| p.participant.purpose == "external"));
    if let Some(c) = customer {
        if let Some(x) = &c.external_contact_id {
            session.customer.external_contact_id = Some(x.clone());
        }
        if let Some(n) = &c.participant.name {
            session.customer.name = Some(n.clone());
        }
        if let Some(g) = &c.journey_cookie {
            session.customer.guest_id = Some(g.clone());
        } else if session.media == MediaKind::WebChat {
            if let Some(comm) = c.participant.communications.first() {
                session.customer.guest_id = Some(comm.id.clone());
            }
        }
    }
    if session.customer.external_contact_id.is_none() {
        session.customer.external_contact_id = parsed.iter().find_map(|p| p.external_contact_id.clone());
    }
    let ordered_attrs = parsed
        .iter()
        .filter(|p| customer.is_none_or(|c| c.participant.id != p.participant.id))
        .chain(customer)
        .map(|p| &p.attributes);
    for attrs in ordered_attrs {
        for (k, v) in attrs {
            session.attributes.insert(k.clone(), v.clone());
        }
    }
    if let Some(key) = &cfg.customer_key_attribute {
        let from_customer = customer.and_then(|c| c.attributes.get(key));
        if let Some(v) = from_customer.or_else(|| session.attributes.get(key)).filter(|v| !v.is_empty()) {
            session.customer.customer_key = Some(v.clone());
        }
    }
    if let Some(dep) =
        cfg.deployment_attributes.iter().find_map(|k| session.attributes.get(k)).filter(|v| !v.is_empty())
    {
        session.deployment_id = Some(dep.clone());
    }

    // Queue and agents.
    let acd_queue =
        parsed.iter().rev().filter(|p| p.participant.purpose == "acd").find_map(|p| p.participant.queue_id.clone());
    if let Some(q) = acd_queue.or_else(|| parsed.iter().find_map(|p| p.participant.queue_id.clone())) {
        session.queue_id = Some(q);
    }
    for p in &parsed {
        let was_connected = p.participant.state == "connected" || p.connected.is_some();
        if is_agent(&p.participant) && was_connected {
            if let Some(u) = &p.participant.user_id {
                if !session.agent_ids.contains(u) {
                    session.agent_ids.push(u.clone());
                }
            }
        }
    }

    // State and times.
    let conversation_ended = time(body, "endTime").is_some();
    let all_ended = !session.participants.is_empty() && session.participants.iter().all(|p| !p.is_active());
    let state = if all_ended || conversation_ended {
        SessionState::Closed
    } else if session.participants.iter().any(|p| is_agent(p) && p.state == "connected") {
        SessionState::Connected
    } else {
        SessionState::Queued
    };
    if previous.is_none() {
        let start = parsed.iter().filter_map(|p| p.start).chain(time(body, "startTime")).min();
        session.opened_at = start.unwrap_or(now);
    }
    match state {
        SessionState::Queued => {
            if session.queued_at.is_none() {
                let acd_start = parsed.iter().filter(|p| p.participant.purpose == "acd").filter_map(|p| p.start).max();
                session.queued_at = Some(acd_start.unwrap_or(now));
            }
            session.closed_at = None;
        }
        SessionState::Connected => {
            session.queued_at = None;
            session.closed_at = None;
        }
        SessionState::Closed => {
            session.queued_at = None;
            if session.closed_at.is_none() {
                let end = parsed.iter().filter_map(|p| p.end).chain(time(body, "endTime")).max();
                session.closed_at = Some(end.unwrap_or(now));
            }
        }
    }
    session.state = state;

    let change = match previous {
        None if state == SessionState::Closed => SessionChange::Closed(stamp(session, now)),
        None => SessionChange::Opened(stamp(session, now)),
        Some(prev) => {
            if same_ignoring_time(prev, &session) {
                SessionChange::Unchanged(session)
            } else if state == SessionState::Closed && prev.is_open() {
                SessionChange::Closed(stamp(session, now))
            } else {
                SessionChange::Updated(stamp(session, now))
            }
        }
    };
    Ok(change)
}

fn stamp(mut s: Session, now: DateTime<Utc>) -> Session {
    s.updated_at = now;
    s
}

fn same_ignoring_time(a: &Session, b: &Session) -> bool {
    let mut b2 = b.clone();
    b2.updated_at = a.updated_at;
    *a == b2
}

/// Whether an agent is connected but herald does not know the communication id to send on (the body came from
/// a media-specific topic); the adapter should then `GET /api/v2/conversations/{id}` and apply that body.
pub fn needs_communication_lookup(session: &Session) -> bool {
    session.is_open() && session.connected_agent().is_some() && session.agent_communication_id().is_none()
}

/// The conversation id of a conversation event body, if it has one.
pub fn conversation_id(body: &Value) -> Option<&str> {
    s(body, "id")
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
