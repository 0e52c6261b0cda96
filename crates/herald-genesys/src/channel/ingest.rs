//! Stream ingestion shared by the conversation adapters: the loop over [`StreamEvent`]s, frame → session change
//! mapping, the communication-id look-up and the re-fetch of open sessions after a gap.
//!
//! - A frame of the adapter's topics is mapped onto the session known before (cache, else store) by the
//!   herald-genesys session mapper; a frame of another topic is ignored.
//! - When the mapped session lacks ids a delivery needs, the conversation is fetched once and the change keeps
//!   its kind ([`ChannelState::complete`]).
//! - On `Gap` the adapter re-reads every session believed open ([`ChannelState::refetch_open`], paged by the
//!   store's cursor) and looks up open conversations upstream; a conversation Genesys no longer knows is closed.
//! - Malformed frames are logged and skipped; nothing in a frame can stop the loop.

use async_trait::async_trait;
use chrono::Utc;
use herald_core::{ChannelError, Session, SessionState};
use serde_json::Value;

use super::ChannelState;
use crate::sessions::{apply_conversation, conversation_id, SessionChange};
use crate::stream::{NotificationStream, StreamEvent};

/// What an adapter does with the stream's events; [`run`] drives it.
#[async_trait]
pub trait StreamSink: Send {
    /// The shared state (its cancellation token ends the loop).
    fn channel(&self) -> &ChannelState;

    /// Handles one event frame; never fails (problems are logged).
    async fn frame(&mut self, topic: &str, body: &Value);

    /// Resynchronises after a gap in the stream.
    async fn gap(&mut self, reason: &str);
}

/// Feeds `stream` to `sink` until the stream stops or the integration shuts down.
pub async fn run(mut sink: impl StreamSink, mut stream: NotificationStream) {
    let cancel = sink.channel().cancel.clone();
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break,
            e = stream.recv() => e,
        };
        match event {
            Some(StreamEvent::Frame { topic, body, .. }) => sink.frame(&topic, &body).await,
            Some(StreamEvent::Gap { reason }) => sink.gap(&reason).await,
            Some(StreamEvent::Connected { channel_id }) => tracing::debug!(%channel_id, "stream connected"),
            Some(StreamEvent::Stopped) | None => break,
        }
    }
    stream.stop();
    tracing::info!("{} ingestion stopped", sink.channel().profile.label);
}

impl ChannelState {
    /// Maps one frame onto the known session: `(conversation id, change)`, or `None` for a frame of another
    /// topic, without an id or malformed (logged).
    pub async fn map_frame(&self, topic: &str, body: &Value) -> Option<(String, SessionChange)> {
        let noun = self.profile.noun;
        if !topic.ends_with(self.profile.topic_suffix) {
            tracing::debug!(%topic, "ignored a frame of an unexpected topic");
            return None;
        }
        let Some(id) = conversation_id(body).map(str::to_string) else {
            tracing::warn!(%topic, "skipped a {noun} frame without an `id`");
            return None;
        };
        let previous = match self.known_session(&id).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(conversation = %id, error = %e, "could not read the known session; mapping without it");
                self.cache.get(&id)
            }
        };
        match apply_conversation(previous.as_ref(), body, &self.mapper, Utc::now()) {
            Ok(change) => Some((id, change)),
            Err(e) => {
                tracing::warn!(%topic, conversation = %id, error = %e, "skipped a malformed {noun} frame");
                None
            }
        }
    }

    /// Fetches the conversation when `lacks_ids` says the mapped session misses ids a delivery needs (the
    /// communication ids, which some event bodies never carry), keeping the change's kind.
    pub async fn complete(&self, change: SessionChange, lacks_ids: impl Fn(&Session) -> bool) -> SessionChange {
        if !lacks_ids(change.session()) {
            return change;
        }
        let id = change.session().conversation_id.clone();
        match self.fetch_change(&id, Some(change.session())).await {
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
                tracing::warn!(conversation = %id, error = %e, "{}", self.profile.lookup_failed);
                change
            }
        }
    }

    /// Fetches every conversation of `ids` again and publishes what changed; one Genesys no longer knows is
    /// published closed. Stops early on shutdown.
    pub async fn refetch(&self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            if self.cancel.is_cancelled() {
                return;
            }
            let previous = self.known_session(&id).await.ok().flatten();
            match self.fetch_change(&id, previous.as_ref()).await {
                Ok(change) => {
                    self.publish(change).await;
                }
                Err(ChannelError::NotFound { .. }) => {
                    if let Some(mut s) = previous.filter(Session::is_open) {
                        s.state = SessionState::Closed;
                        s.closed_at = Some(Utc::now());
                        s.updated_at = Utc::now();
                        self.publish(SessionChange::Closed(s)).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(conversation = %id, error = %e, "resync could not fetch a {}", self.profile.noun)
                }
            }
        }
    }
}
