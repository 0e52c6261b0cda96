//! Ingestion: `…conversations.chats` frames of the notification stream → session events.
//!
//! - A frame of a `v2.routing.queues.{id}.conversations.chats` or `v2.users.{id}.conversations.chats` topic is
//!   mapped onto the session known before (cache, else store) by the herald-genesys session mapper, with chat as
//!   the default media (chat event bodies carry no media marker).
//! - Chat event bodies carry no communication ids. When an agent is connected and herald does not know the
//!   agent's chat communication id, the conversation is fetched once (`GET /api/v2/conversations/{id}`, whose
//!   `participants[].chats[].id` are the communication ids) and that session is published, so the store holds
//!   everything a delivery needs. The customer's chat communication id (the guest's member id) is learned the
//!   same way and becomes `customer.guest_id`.
//! - On `Gap` (first connection, reconnect after a drop, token revocation, `socket_closing`) every session the
//!   store and the cache believe open is fetched again (a page at a time) and published; a chat Genesys no longer
//!   knows is closed. Then the open chats of each watched queue are paged through in analytics (media `chat`),
//!   so chats that started while herald was down or the stream was away are known. Chats that started *and*
//!   ended inside a gap are not recovered. The first pass makes the integration ready.
//! - Malformed frames are logged and skipped; nothing in a frame can stop the loop.
//!
//! The loop, the mapping and the re-fetch are the shared ones of [`herald_genesys::channel::ingest`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use herald_core::Session;
use herald_genesys::channel::discovery::Discovered;
use herald_genesys::channel::{ingest, ChannelState, StreamSink};
use herald_genesys::models::analytics::OpenConversationsQuery;
use herald_genesys::NotificationStream;
use serde_json::Value;

use crate::adapter::Inner;

/// Runs until the stream stops or the integration shuts down.
pub(crate) async fn run(inner: Arc<Inner>, stream: NotificationStream) {
    ingest::run(ChatSink(inner), stream).await;
}

/// The web chat side of the stream loop.
struct ChatSink(Arc<Inner>);

#[async_trait]
impl StreamSink for ChatSink {
    fn channel(&self) -> &ChannelState {
        &self.0.channel
    }

    async fn frame(&mut self, topic: &str, body: &Value) {
        handle_frame(&self.0, topic, body).await;
    }

    async fn gap(&mut self, reason: &str) {
        resync(&self.0, reason).await;
    }
}

/// Maps and publishes one frame; never fails (problems are logged).
async fn handle_frame(inner: &Inner, topic: &str, body: &Value) {
    let channel = &inner.channel;
    let Some((_, change)) = channel.map_frame(topic, body).await else { return };
    let change = channel.complete(change, lacks_ids).await;
    channel.publish(change).await;
}

/// Whether the session lacks an id a delivery needs: the connected agent's communication, or the customer's
/// communication (the guest member id).
fn lacks_ids(session: &Session) -> bool {
    if !session.is_open() {
        return false;
    }
    let agent_missing = session.connected_agent().is_some() && session.agent_communication_id().is_none();
    let guest_missing = session.customer.guest_id.is_none();
    agent_missing || guest_missing
}

/// Re-reads every chat believed open (store and cache, paged by the store's cursor) and pages through the open
/// chats of every watched queue (analytics); then the integration is ready (see `ChannelState::ready`).
async fn resync(inner: &Inner, reason: &str) {
    let channel = &inner.channel;
    let reread = channel.refetch_open().await;
    let mut found = Discovered::default();
    for queue in &inner.settings.genesys.queue_ids {
        let query = OpenConversationsQuery::webmessaging(Utc::now(), LOOKBACK_HOURS).chat().queue(queue.clone());
        match channel.discover(query).await {
            Ok(d) => {
                found.pages += d.pages;
                found.open += d.open;
                found.fetched += d.fetched;
            }
            Err(e) => tracing::warn!(queue = %queue, error = %e, "resync could not list the queue's open chats"),
        }
    }
    tracing::info!(
        reason,
        reread,
        open = found.open,
        fetched = found.fetched,
        pages = found.pages,
        "resynchronised chats after a gap in the stream"
    );
    channel.mark_discovered();
}

/// How far back discovery looks for open chats, in hours (chats are short-lived; a day covers any open one).
const LOOKBACK_HOURS: u32 = 24;
