//! Ingestion: notification stream frames → session events on `ctx.events`.
//!
//! - A frame of a `….conversations.messages` topic is mapped onto the session known before (cache, else store)
//!   by the herald-genesys session mapper; when an agent is connected but the body carries no communication id
//!   (message-media bodies never do), the conversation is fetched once so the published session can be sent to.
//! - New inbound messages of the customer participant become `MessageReceived` (the stream carries message ids
//!   only, so `text` is `None`).
//! - On `Gap` (first connection, reconnect after a drop, a token revocation or `socket_closing`) every session the
//!   store (and cache) believes open is fetched again, a page at a time, and the open conversations of each
//!   watched queue are paged through in analytics (all of them, not one page) so conversations that started while
//!   herald was down or the stream was away are known; the results are published. The first pass makes the
//!   integration ready.
//! - Malformed frames are logged and skipped; nothing in a frame can stop the loop.
//!
//! The loop, the mapping and the re-fetch are the shared ones of [`herald_genesys::channel::ingest`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use herald_core::{EventKind, Sender, SessionState};
use herald_genesys::channel::discovery::Discovered;
use herald_genesys::channel::{ingest, ChannelState, StreamSink};
use herald_genesys::models::analytics::OpenConversationsQuery;
use herald_genesys::sessions::needs_communication_lookup;
use herald_genesys::NotificationStream;
use serde_json::Value;

use crate::adapter::Inner;
use crate::seen::SeenMessages;

/// Runs until the stream stops or the integration shuts down.
pub(crate) async fn run(inner: Arc<Inner>, stream: NotificationStream) {
    ingest::run(MessagingSink { inner, seen: SeenMessages::default() }, stream).await;
}

/// The web messaging side of the stream loop: the shared state and the inbound messages already reported.
struct MessagingSink {
    inner: Arc<Inner>,
    seen: SeenMessages,
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
async fn handle_frame(inner: &Inner, seen: &mut SeenMessages, topic: &str, body: &Value) {
    let channel = &inner.channel;
    let Some((id, change)) = channel.map_frame(topic, body).await else { return };
    let change = channel.complete(change, needs_communication_lookup).await;
    let closed = change.session().state == SessionState::Closed;
    let new_messages = seen.record(&id, inbound_message_ids(body));
    channel.publish(change).await;
    if let Some(rt) = channel.runtime.get() {
        for _ in 0..new_messages {
            let ev = EventKind::MessageReceived { conversation_id: id.clone(), sender: Sender::Customer, text: None };
            let _ = rt.ctx.events.publish(ev).await;
        }
    }
    if closed {
        seen.forget(&id);
    }
}

/// The ids of the customer's messages in a conversation body.
fn inbound_message_ids(body: &Value) -> impl Iterator<Item = &str> {
    let parts = body.get("participants").and_then(Value::as_array).into_iter().flatten();
    parts.filter(|p| p.get("purpose").and_then(Value::as_str) == Some("customer")).flat_map(|p| {
        p.get("messages").and_then(Value::as_array).into_iter().flatten().filter_map(|m| {
            m.pointer("/message/id").or_else(|| m.get("messageId")).and_then(Value::as_str).filter(|s| !s.is_empty())
        })
    })
}

/// Re-reads every session believed open (paged by the store's cursor) and pages through the open conversations
/// of every watched queue (analytics); then the integration is ready (see `ChannelState::ready`).
async fn resync(inner: &Inner, reason: &str) {
    let channel = &inner.channel;
    let reread = channel.refetch_open().await;
    let mut found = Discovered::default();
    for queue in &inner.settings.genesys.queue_ids {
        let query =
            OpenConversationsQuery::webmessaging(Utc::now(), inner.settings.lookback_hours).queue(queue.clone());
        match channel.discover(query).await {
            Ok(d) => {
                found.pages += d.pages;
                found.open += d.open;
                found.fetched += d.fetched;
            }
            Err(e) => {
                tracing::warn!(queue = %queue, error = %e, "resync could not list the queue's open conversations")
            }
        }
    }
    tracing::info!(
        reason,
        reread,
        open = found.open,
        fetched = found.fetched,
        pages = found.pages,
        "resynchronised sessions after a gap in the stream"
    );
    channel.mark_discovered();
}
