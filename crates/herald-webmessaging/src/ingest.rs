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
//!
//! The loop, the mapping and the re-fetch are the shared ones of [`herald_genesys::channel::ingest`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use herald_core::{EventKind, Sender, SessionState};
use herald_genesys::channel::{ingest, ChannelState, StreamSink};
use herald_genesys::models::analytics::OpenConversationsQuery;
use herald_genesys::sessions::needs_communication_lookup;
use herald_genesys::NotificationStream;
use serde_json::Value;

use crate::adapter::Inner;

/// Inbound message ids already reported, per conversation.
type Seen = HashMap<String, HashSet<String>>;

/// Runs until the stream stops or the integration shuts down.
pub(crate) async fn run(inner: Arc<Inner>, stream: NotificationStream) {
    ingest::run(MessagingSink { inner, seen: HashMap::new() }, stream).await;
}

/// The web messaging side of the stream loop: the shared state and the inbound messages already reported.
struct MessagingSink {
    inner: Arc<Inner>,
    seen: Seen,
}

#[async_trait]
impl StreamSink for MessagingSink {
    fn channel(&self) -> &ChannelState {
        &self.inner.channel
    }

    async fn frame(&mut self, topic: &str, body: &Value) {
        handle_frame(&self.inner, &mut self.seen, topic, body).await;
    }

    async fn gap(&mut self, reason: &str) {
        resync(&self.inner, reason).await;
    }
}

/// Maps and publishes one frame, then reports its new inbound messages; never fails (problems are logged).
async fn handle_frame(inner: &Inner, seen: &mut Seen, topic: &str, body: &Value) {
    let channel = &inner.channel;
    let Some((id, change)) = channel.map_frame(topic, body).await else { return };
    let change = channel.complete(change, needs_communication_lookup).await;
    let closed = change.session().state == SessionState::Closed;
    let new_messages = inbound_messages(body, seen.entry(id.clone()).or_default());
    channel.publish(change).await;
    if let Some(rt) = channel.runtime.get() {
        for _ in 0..new_messages {
            let ev = EventKind::MessageReceived { conversation_id: id.clone(), sender: Sender::Customer, text: None };
            let _ = rt.ctx.events.publish(ev).await;
        }
    }
    if closed {
        seen.remove(&id);
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
async fn resync(inner: &Inner, reason: &str) {
    let Some(mut ids) = inner.channel.open_ids().await else { return };
    let known = ids.len();
    ids.extend(analytics_open(inner).await);
    tracing::info!(reason, known, total = ids.len(), "resynchronising sessions after a gap in the stream");
    inner.channel.refetch(ids).await;
}

/// Open web messaging conversations of the watched queues according to analytics (best effort).
async fn analytics_open(inner: &Inner) -> Vec<String> {
    let mut out = Vec::new();
    for queue in &inner.settings.genesys.queue_ids {
        let query = OpenConversationsQuery::webmessaging(Utc::now(), inner.settings.lookback_hours)
            .queue(queue.clone())
            .page_size(100)
            .build();
        match inner.channel.client.query_conversations(&query).await {
            Ok(r) => out.extend(
                r.body.conversations.into_iter().filter(|c| c.conversation_end.is_none()).map(|c| c.conversation_id),
            ),
            Err(e) => tracing::warn!(queue = %queue, error = %e, "resync could not query analytics for the queue"),
        }
    }
    out
}
