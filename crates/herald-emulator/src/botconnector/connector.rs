//! The Connector REST API a bot calls on its `serviceUrl`: create a 1:1 conversation, send and reply.
//!
//! Every call needs a Bot Connector token from [`super::login`]. Errors use the Teams `ErrorResponse` shape
//! `{"error":{"code","message"}}` with the Teams codes (`BadArgument`, `ConversationNotFound`,
//! `ConversationBlockedByUser`, `MessageSizeTooBig`, `Throttled` + `Retry-After`, …). Sends and creates are
//! throttled per thread (the configured `[count, seconds]` windows) and per tenant (requests per second). What each
//! user received is kept as a transcript.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::login::Audience;
use super::{TeamsUser, TeamsWorld};

/// One activity a user received from the bot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedActivity {
    /// The conversation it was posted in.
    pub conversation_id: String,
    /// The id the connector gave it.
    pub activity_id: String,
    /// Its text.
    pub text: String,
    /// The activity it replied to, for replies.
    pub reply_to_id: Option<String>,
    /// When it arrived.
    pub at: DateTime<Utc>,
}

/// Counters of the connector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConnectorCounters {
    /// Conversations created by `POST /v3/conversations`.
    pub conversations_created: u64,
    /// Activities accepted.
    pub activities_sent: u64,
    /// 429 answers.
    pub throttled: u64,
    /// 403 `ConversationBlockedByUser` answers.
    pub blocked_refusals: u64,
    /// Injected faults answered.
    pub faults: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Conversation {
    pub(crate) user_aad: String,
}

/// Mutable connector state.
#[derive(Debug, Default)]
pub struct ConnectorState {
    pub(crate) conversations: HashMap<String, Conversation>,
    pub(crate) blocked: HashSet<String>,
    pub(crate) transcripts: HashMap<String, Vec<ReceivedActivity>>,
    thread_hits: HashMap<String, VecDeque<Instant>>,
    tenant_hits: VecDeque<Instant>,
    pub(crate) faults: VecDeque<(u16, Option<u64>)>,
    pub(crate) counters: ConnectorCounters,
    next_activity: u64,
}

impl ConnectorState {
    /// The personal conversation id of a user (stable), registering it.
    pub(crate) fn personal_conversation(&mut self, user: &TeamsUser) -> String {
        let id = format!("a:1{}", user.aad_id.replace('-', ""));
        self.conversations.entry(id.clone()).or_insert(Conversation { user_aad: user.aad_id.clone() });
        id
    }

    /// Records a call on `thread`; `Some(wait)` when a limit is exceeded (nothing recorded then).
    fn throttle(&mut self, thread: &str, limits: &[[u64; 2]], tenant_rps: u64) -> Option<Duration> {
        let now = Instant::now();
        let longest = limits.iter().map(|l| l[1]).max().unwrap_or(1).max(1);
        while self.tenant_hits.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
            self.tenant_hits.pop_front();
        }
        if tenant_rps > 0 && self.tenant_hits.len() as u64 >= tenant_rps {
            let oldest = self.tenant_hits.front().copied().unwrap_or(now);
            return Some(Duration::from_secs(1).saturating_sub(now.duration_since(oldest)));
        }
        let hits = self.thread_hits.entry(thread.to_string()).or_default();
        while hits.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(longest)) {
            hits.pop_front();
        }
        for [count, secs] in limits {
            let window = Duration::from_secs(*secs);
            let inside: Vec<&Instant> = hits.iter().filter(|t| now.duration_since(**t) < window).collect();
            if inside.len() as u64 >= *count {
                let oldest = inside.first().map(|t| **t).unwrap_or(now);
                return Some(window.saturating_sub(now.duration_since(oldest)));
            }
        }
        hits.push_back(now);
        self.tenant_hits.push_back(now);
        None
    }
}

/// Routes of the connector.
pub fn router() -> Router<TeamsWorld> {
    Router::new()
        .route("/v3/conversations", post(create_conversation))
        .route("/v3/conversations/{id}/activities", post(send_activity))
        .route("/v3/conversations/{id}/activities/{activity_id}", post(reply_activity))
}

/// A Teams `ErrorResponse`.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut resp = (status, Json(json!({"error": {"code": code, "message": message}}))).into_response();
    resp.headers_mut().insert("x-correlating-operationid", op_id());
    resp
}

fn op_id() -> HeaderValue {
    HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string()).unwrap_or(HeaderValue::from_static("0"))
}

fn throttled(wait: Duration) -> Response {
    let mut resp = error(StatusCode::TOO_MANY_REQUESTS, "Throttled", "Too many requests; retry after the given delay.");
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert("retry-after", v);
    }
    resp
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "Unauthorized", "Authorization has been denied for this request.")
}

fn parse(body: &Bytes) -> Result<Value, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(error(StatusCode::BAD_REQUEST, "BadArgument", "The request body is not a JSON object.")),
    }
}

fn created(v: Value) -> Response {
    let mut resp = (StatusCode::CREATED, Json(v)).into_response();
    resp.headers_mut().insert("x-correlating-operationid", op_id());
    resp
}

async fn create_conversation(State(world): State<TeamsWorld>, headers: HeaderMap, body: Bytes) -> Response {
    if world.inner.tokens.check(&headers, Audience::BotFramework).is_none() {
        return unauthorized();
    }
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cfg = &world.inner.config;
    let bot_id = v.pointer("/bot/id").and_then(Value::as_str).unwrap_or_default();
    if bot_id != format!("28:{}", cfg.bot_app_id) && bot_id != cfg.bot_app_id {
        return error(StatusCode::BAD_REQUEST, "BadArgument", "Bot id is missing or does not match the calling bot.");
    }
    let tenant = v
        .get("tenantId")
        .and_then(Value::as_str)
        .or_else(|| v.pointer("/channelData/tenant/id").and_then(Value::as_str))
        .unwrap_or_default();
    if tenant.is_empty() {
        return error(StatusCode::BAD_REQUEST, "BadArgument", "Tenant id is required for a 1:1 conversation.");
    }
    if tenant != cfg.tenant_id {
        return error(StatusCode::FORBIDDEN, "ForbiddenOperationException", "The bot is not installed in this tenant.");
    }
    if v.get("isGroup").and_then(Value::as_bool).unwrap_or(false) {
        return error(StatusCode::BAD_REQUEST, "BadArgument", "Bots cannot create group chats.");
    }
    let members = v.get("members").and_then(Value::as_array).cloned().unwrap_or_default();
    let [member] = members.as_slice() else {
        return error(StatusCode::BAD_REQUEST, "BadArgument", "A 1:1 conversation needs exactly one member.");
    };
    let member_id = member.get("id").and_then(Value::as_str).unwrap_or_default();
    let Some(user) = world.user(member_id) else {
        return error(StatusCode::BAD_REQUEST, "BadArgument", "Invalid user identity in provided tenant.");
    };
    let mut st = world.inner.connector.lock();
    let id = format!("a:1{}", user.aad_id.replace('-', ""));
    if let Some(wait) = st.throttle(&id, &cfg.thread_limits, cfg.tenant_rps) {
        st.counters.throttled += 1;
        return throttled(wait);
    }
    st.personal_conversation(&user);
    st.counters.conversations_created += 1;
    created(json!({"id": id}))
}

async fn send_activity(
    State(world): State<TeamsWorld>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post_activity(world, id, None, headers, body).await
}

async fn reply_activity(
    State(world): State<TeamsWorld>,
    Path((id, activity_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post_activity(world, id, Some(activity_id), headers, body).await
}

async fn post_activity(
    world: TeamsWorld,
    conv_id: String,
    reply_to: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if world.inner.tokens.check(&headers, Audience::BotFramework).is_none() {
        return unauthorized();
    }
    let v = match parse(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cfg = &world.inner.config;
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
    if !["message", "typing", "event"].contains(&kind) {
        return error(StatusCode::BAD_REQUEST, "BadArgument", "Activity type is missing or not supported.");
    }
    let text = v.get("text").and_then(Value::as_str).unwrap_or_default().to_string();
    if body.len() > cfg.max_activity_bytes {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "MessageSizeTooBig", "Message size too large.");
    }
    let mut st = world.inner.connector.lock();
    if let Some((status, retry_after)) = st.faults.pop_front() {
        st.counters.faults += 1;
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let name = match status {
            412 => "PreconditionFailed",
            429 => "Throttled",
            403 => "BotNotInConversationRoster",
            _ => "ServiceError",
        };
        let mut resp = error(code, name, "Injected fault.");
        if let Some(secs) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            resp.headers_mut().insert("retry-after", secs);
        }
        return resp;
    }
    let Some(conv) = st.conversations.get(&conv_id).cloned() else {
        return error(StatusCode::NOT_FOUND, "ConversationNotFound", "Conversation not found.");
    };
    if st.blocked.contains(&conv.user_aad) {
        st.counters.blocked_refusals += 1;
        return error(
            StatusCode::FORBIDDEN,
            "ConversationBlockedByUser",
            "User blocked the conversation with the bot.",
        );
    }
    if let Some(wait) = st.throttle(&conv_id, &cfg.thread_limits, cfg.tenant_rps) {
        st.counters.throttled += 1;
        return throttled(wait);
    }
    st.next_activity += 1;
    let activity_id = format!("1{:012}", st.next_activity);
    if kind == "message" {
        let entry = ReceivedActivity {
            conversation_id: conv_id,
            activity_id: activity_id.clone(),
            text,
            reply_to_id: reply_to.or_else(|| v.get("replyToId").and_then(Value::as_str).map(str::to_string)),
            at: Utc::now(),
        };
        st.transcripts.entry(conv.user_aad).or_default().push(entry);
    }
    st.counters.activities_sent += 1;
    created(json!({"id": activity_id}))
}

impl TeamsWorld {
    /// What a user (object id or Teams id) received from the bot, oldest first.
    pub fn transcript(&self, user: &str) -> Vec<ReceivedActivity> {
        let Some(u) = self.user(user) else { return Vec::new() };
        self.inner.connector.lock().transcripts.get(&u.aad_id).cloned().unwrap_or_default()
    }

    /// Makes a user block (or unblock) the bot: sends to them answer 403 `ConversationBlockedByUser`.
    pub fn set_blocked(&self, user: &str, blocked: bool) -> bool {
        let Some(u) = self.user(user) else { return false };
        let mut st = self.inner.connector.lock();
        if blocked {
            st.blocked.insert(u.aad_id);
        } else {
            st.blocked.remove(&u.aad_id);
        }
        true
    }

    /// The next activity sends answer these statuses (with an optional `Retry-After`), in order.
    pub fn inject_connector_faults(&self, faults: &[(u16, Option<u64>)]) {
        self.inner.connector.lock().faults.extend(faults.iter().copied());
    }

    /// Connector counters.
    pub fn connector_counters(&self) -> ConnectorCounters {
        self.inner.connector.lock().counters
    }
}
