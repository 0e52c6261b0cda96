//! Stream ingestion shared by the conversation adapters: the loop over [`StreamEvent`]s, frame → session change
//! mapping, the communication-id look-up and the re-fetch of open sessions after a gap.
//!
//! - A frame of the adapter's topics is mapped onto the session known before (cache, else store) by the
//!   herald-genesys session mapper; a frame of another topic is ignored.
//! - When the mapped session lacks ids a delivery needs, the conversation is fetched once and the change keeps
//!   its kind ([`ChannelState::complete`]).
//! - On `Gap` the adapter re-reads every session believed open ([`ChannelState::refetch_open`], paged by the
//!   store's cursor) and looks up open conversations upstream; a conversation Genesys no longer knows is closed.
//! - Malformed frames are logged and skipped; nothing in a frame can stop the loop: a panic while handling one
//!   frame or gap (a bug met by an unexpected body) is caught, logged, counted in `herald_ingest_panics_total` and
//!   the loop goes on with the next event — the ingest task never dies with the frame.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use futures::FutureExt;
use herald_core::{ChannelError, Session, SessionState};
use serde_json::Value;
use tracing::Instrument;

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

/// Start a conversation adapter: [`ChannelState::start`], then its ingestion as the host's supervised task
/// `{kind}-ingest:{name}` (see `herald_core::tasks`). Each incarnation opens a new stream
/// ([`ChannelState::open_stream`]) and runs `ingest(owner, stream)` until it ends; once the integration is shutting
/// down, an incarnation waits for its stop instead of returning (returning earlier would look like a failure).
pub fn start_supervised<T, F, Fut>(
    owner: Arc<T>,
    channel: fn(&T) -> &ChannelState,
    ctx: herald_core::ChannelContext,
    config: crate::stream::StreamConfig,
    kind: &'static str,
    ingest: F,
) -> Result<(), ChannelError>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>, NotificationStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let state = channel(&owner);
    if !state.start(ctx.clone(), &config)? {
        return Ok(());
    }
    let name = format!("{kind}-ingest:{}", state.name);
    let ingest = Arc::new(ingest);
    ctx.spawn_task(name, move |stop| {
        let (owner, config, ingest) = (owner.clone(), config.clone(), ingest.clone());
        let span = tracing::info_span!("ingest", kind, integration = %channel(&owner).name);
        async move {
            let state = channel(&owner);
            if !state.cancel.is_cancelled() {
                match state.open_stream(config) {
                    Ok(stream) => ingest(owner.clone(), stream).await,
                    Err(e) => {
                        tracing::error!(integration = %state.name, error = %e, "cannot open the notification stream")
                    }
                }
            }
            if channel(&owner).cancel.is_cancelled() {
                stop.cancelled().await;
            }
        }
        .instrument(span)
    });
    Ok(())
}

/// Feeds `stream` to `sink` until the stream stops or the integration shuts down.
pub async fn run(mut sink: impl StreamSink, mut stream: NotificationStream) {
    let cancel = sink.channel().cancel.clone();
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break,
            e = stream.recv() => e,
        };
        let handled = match event {
            Some(StreamEvent::Frame { topic, body, .. }) => {
                AssertUnwindSafe(sink.frame(&topic, &body)).catch_unwind().await
            }
            Some(StreamEvent::Gap { reason }) => AssertUnwindSafe(sink.gap(&reason)).catch_unwind().await,
            Some(StreamEvent::Connected { channel_id }) => {
                tracing::debug!(%channel_id, "stream connected");
                Ok(())
            }
            Some(StreamEvent::Stopped) | None => break,
        };
        if let Err(payload) = handled {
            let message = herald_core::tasks::panic_message(payload.as_ref());
            let integration = sink.channel().name.clone();
            metrics::counter!("herald_ingest_panics_total", "integration" => integration.clone()).increment(1);
            tracing::error!(%integration, panic = %message, "handling a stream event panicked; skipped it and carrying on");
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::channel::Profile;
    use crate::config::ClientConfig;
    use crate::sessions::MapperConfig;
    use crate::GenesysClient;

    struct Panicky {
        state: ChannelState,
        handled: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl StreamSink for Panicky {
        fn channel(&self) -> &ChannelState {
            &self.state
        }
        async fn frame(&mut self, topic: &str, _body: &Value) {
            if topic == "boom" {
                panic!("a frame nobody expected");
            }
            self.handled.fetch_add(1, Ordering::SeqCst);
        }
        async fn gap(&mut self, _reason: &str) {
            panic!("a gap nobody expected");
        }
    }

    #[tokio::test]
    async fn a_panicking_frame_or_gap_does_not_stop_ingestion() {
        let environment = "http://127.0.0.1:9".parse().expect("environment");
        let client = GenesysClient::new(ClientConfig::new(environment, "cid", "secret")).expect("client");
        let profile = Profile {
            label: "test",
            noun: "conversation",
            topic_suffix: ".conversations.messages",
            not_found_hint: "",
            lookup_failed: "",
        };
        let state = ChannelState::new("wm".into(), client, MapperConfig::new("wm"), profile);
        let handled = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let frame = |topic: &str| StreamEvent::Frame {
            topic: topic.to_string(),
            body: serde_json::json!({}),
            received_at: Utc::now(),
        };
        for event in [frame("a"), frame("boom"), StreamEvent::Gap { reason: "reconnect".into() }, frame("b")] {
            tx.send(event).await.expect("send");
        }
        tx.send(StreamEvent::Stopped).await.expect("send");
        run(Panicky { state, handled: handled.clone() }, NotificationStream::from_events(rx)).await;
        assert_eq!(handled.load(Ordering::SeqCst), 2, "the frames after the panics were still handled");
    }
}
