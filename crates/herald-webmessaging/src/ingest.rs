//! Ingestion: notification stream frames → session events on `ctx.events`.
//!
//! - A frame of a `….conversations.messages` topic is mapped onto the session known before (cache, else store)
//!   by the herald-genesys session mapper; when an agent is connected but the body carries no communication id
//!   (message-media bodies never do), the conversation is fetched once so the published session can be sent to.
//! - New inbound messages of the customer participant become `MessageReceived` (the stream carries message ids
//!   only, so `text` is `None`).
//! - On `Gap` (first connection, reconnect after a drop, a token revocation or `socket_closing`) every session the
//!   store (and cache) believes open is fetched again, and an analytics query per watched queue finds conversations
//!   that started while the stream was down; the results are published.
//! - Malformed frames are logged and skipped; nothing in a frame can stop the loop.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use herald_core::{EventKind, Sender, Session, SessionQuery, SessionState};
use herald_genesys::models::analytics::OpenConversationsQuery;
use herald_genesys::sessions::{apply_conversation, conversation_id, needs_communication_lookup, SessionChange};
use herald_genesys::{NotificationStream, StreamEvent};
use serde_json::Value;

use crate::adapter::Inner;

/// Inbound message ids already reported, per conversation.
type Seen = HashMap<String, HashSet<String>>;

/// Runs until the stream stops or the integration shuts down.
pub(crate) async fn run(inner: Arc<Inner>, mut stream: NotificationStream) {
    let mut seen: Seen = HashMap::new();
    loop {
        let event = tokio::select! {
            _ = inner.cancel.cancelled() => break,
            e = stream.recv() => e,
        };
        match event {
            Some(StreamEvent::Frame { topic, body, .. }) => handle_frame(&inner, &mut seen, &topic, &body).await,
            Some(StreamEvent::Gap { reason }) => resync(&inner, &reason).await,
            Some(StreamEvent::Connected { channel_id }) => tracing::debug!(%channel_id, "stream connected"),
            Some(StreamEvent::Stopped) | None => break,
        }
    }
    stream.stop();
    tracing::info!("web messaging ingestion stopped");
}

/// Maps and publishes one frame; never fails (problems are logged).
pub(crate) async fn handle_frame(inner: &Inner, seen: &mut Seen, topic: &str, body: &Value) {
    if !topic.ends_with(".conversations.messages") {
        tracing::debug!(%topic, "ignored a frame of an unexpected topic");
        return;
    }
    let Some(id) = conversation_id(body).map(str::to_string) else {
        tracing::warn!(%topic, "skipped a conversation frame without an `id`");
        return;
    };
    let previous = match inner.known_session(&id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(conversation = %id, error = %e, "could not read the known session; mapping without it");
            inner.cache.lock().get(&id).cloned()
        }
    };
    let change = match apply_conversation(previous.as_ref(), body, &inner.mapper, Utc::now()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%topic, conversation = %id, error = %e, "skipped a malformed conversation frame");
            return;
        }
    };
    let change = complete(inner, change).await;
    let closed = change.session().state == SessionState::Closed;
    let new_messages = inbound_messages(body, seen.entry(id.clone()).or_default());
    inner.publish(change).await;
    if let Some(rt) = inner.runtime.get() {
        for _ in 0..new_messages {
            let ev = EventKind::MessageReceived { conversation_id: id.clone(), sender: Sender::Customer, text: None };
            let _ = rt.ctx.events.publish(ev).await;
        }
    }
    if closed {
        seen.remove(&id);
    }
}

/// Fetches the communication ids a message-media body lacks, keeping the change's kind.
async fn complete(inner: &Inner, change: SessionChange) -> SessionChange {
    if !needs_communication_lookup(change.session()) {
        return change;
    }
    let id = change.session().conversation_id.clone();
    match inner.fetch_change(&id, Some(change.session())).await {
        Ok(fetched) => {
            let session = fetched.session().clone();
            match change {
                SessionChange::Opened(_) => SessionChange::Opened(session),
                SessionChange::Closed(_) => SessionChange::Closed(session),
                _ if session.state == SessionState::Closed => SessionChange::Closed(session),
                _ => SessionChange::Updated(session),
            }
        }
        Err(e) => {
            tracing::warn!(conversation = %id, error = %e, "could not fetch communication ids; deliveries will ask again");
            change
        }
    }
}

/// Counts customer messages not reported before, remembering them.
fn inbound_messages(body: &Value, seen: &mut HashSet<String>) -> usize {
    let mut new = 0;
    let parts = body.get("participants").and_then(Value::as_array).into_iter().flatten();
    for p in parts.filter(|p| p.get("purpose").and_then(Value::as_str) == Some("customer")) {
        for m in p.get("messages").and_then(Value::as_array).into_iter().flatten() {
            let mid = m
                .pointer("/message/id")
                .or_else(|| m.get("messageId"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            if let Some(mid) = mid {
                if seen.insert(mid.to_string()) {
                    new += 1;
                }
            }
        }
    }
    new
}

/// Re-reads every session believed open and looks for conversations started during a gap.
pub(crate) async fn resync(inner: &Inner, reason: &str) {
    let Some(rt) = inner.runtime.get() else { return };
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for state in [SessionState::Queued, SessionState::Connected] {
        let q = SessionQuery { integration: Some(inner.name.clone()), state: Some(state), ..Default::default() };
        match rt.ctx.sessions.query(&q).await {
            Ok(found) => ids.extend(found.into_iter().map(|s| s.conversation_id)),
            Err(e) => tracing::warn!(error = %e, "resync could not query the session store"),
        }
    }
    ids.extend(inner.cache.lock().keys().cloned());
    let known = ids.len();
    ids.extend(analytics_open(inner).await);
    tracing::info!(reason, known, total = ids.len(), "resynchronising sessions after a gap in the stream");
    for id in ids {
        if inner.cancel.is_cancelled() {
            return;
        }
        let previous = inner.known_session(&id).await.ok().flatten();
        match inner.fetch_change(&id, previous.as_ref()).await {
            Ok(change) => {
                inner.publish(change).await;
            }
            Err(herald_core::ChannelError::NotFound { .. }) => {
                if let Some(mut s) = previous.filter(Session::is_open) {
                    s.state = SessionState::Closed;
                    s.closed_at = Some(Utc::now());
                    s.updated_at = Utc::now();
                    inner.publish(SessionChange::Closed(s)).await;
                }
            }
            Err(e) => tracing::warn!(conversation = %id, error = %e, "resync could not fetch a conversation"),
        }
    }
}

/// Open web messaging conversations of the watched queues according to analytics (best effort).
async fn analytics_open(inner: &Inner) -> Vec<String> {
    let mut out = Vec::new();
    for queue in &inner.settings.queue_ids {
        let query = OpenConversationsQuery::webmessaging(Utc::now(), inner.settings.lookback_hours)
            .queue(queue.clone())
            .page_size(100)
            .build();
        match inner.client.query_conversations(&query).await {
            Ok(r) => out.extend(
                r.body.conversations.into_iter().filter(|c| c.conversation_end.is_none()).map(|c| c.conversation_id),
            ),
            Err(e) => tracing::warn!(queue = %queue, error = %e, "resync could not query analytics for the queue"),
        }
    }
    out
}
