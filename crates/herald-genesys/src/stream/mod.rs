//! The notification stream: a supervised WebSocket subscription to Genesys topics.
//!
//! [`NotificationStream::spawn`] splits the topics over channels (at most 1,000 topics per channel, 20 channels per
//! OAuth client), and runs one supervised task per channel that:
//!
//! - creates the channel, connects its WebSocket (`connectUri` as-is: `ws://` for the emulator, `wss://` in
//!   production) and PUTs the subscriptions;
//! - forwards every event frame as [`StreamEvent::Frame`]; records heartbeats; logs and skips malformed frames;
//! - sends `{"message":"ping"}` every `ping_interval` and declares the socket dead when nothing (heartbeat, pong,
//!   event) arrived within `dead_after`;
//! - on `v2.system.socket_closing`, creates and connects a new channel **before** dropping the old socket (reading
//!   the old one meanwhile), so no gap opens;
//! - re-PUTs the subscriptions `renew_before` the channel's 24 h expiry (which extends it);
//! - reconnects with exponential backoff and full jitter after a drop, an error or a token revocation, and then
//!   emits [`StreamEvent::Gap`]: events may have been missed, so the caller should GET every session it believes
//!   open. A `Gap` is also emitted after the first connection (state from before the start is unknown).
//!
//! Output is a bounded channel of [`StreamEvent`]s (a slow consumer slows ingestion, nothing is dropped) and a
//! [`StreamHealth`] snapshot for health checks. Cancelling the token stops every task; the last event is
//! [`StreamEvent::Stopped`].

pub mod frame;
mod supervisor;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::ChannelError;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::GenesysClient;

/// Topics one channel may hold.
pub const MAX_TOPICS_PER_CHANNEL: usize = 1000;
/// Channels one OAuth client may hold (a 21st evicts the oldest).
pub const MAX_CHANNELS: usize = 20;

/// Tuning of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    /// The topics to subscribe (`v2.routing.queues.{id}.conversations.messages`, `v2.users.{id}.presence`, ...).
    pub topics: Vec<String>,
    /// How often to send `{"message":"ping"}`.
    pub ping_interval: Duration,
    /// A socket with no frame at all for this long is dead (Genesys heartbeats come about every 30 s).
    pub dead_after: Duration,
    /// Renew subscriptions this long before the channel expires.
    pub renew_before: Duration,
    /// Channel lifetime assumed when the channel does not say (`expires`), and after a renewal.
    pub channel_lifetime: Duration,
    /// First reconnect backoff step (doubles per failed attempt, full jitter).
    pub reconnect_base: Duration,
    /// Longest reconnect backoff.
    pub reconnect_max: Duration,
    /// Capacity of the event channel.
    pub buffer: usize,
    /// Topics per channel (at most [`MAX_TOPICS_PER_CHANNEL`]).
    pub topics_per_channel: usize,
}

impl StreamConfig {
    /// Defaults for `topics`: ping every 30 s, dead after 75 s silence, renew 1 h before the 24 h expiry,
    /// reconnect backoff 500 ms … 60 s.
    pub fn new(topics: Vec<String>) -> Self {
        StreamConfig {
            topics,
            ping_interval: Duration::from_secs(30),
            dead_after: Duration::from_secs(75),
            renew_before: Duration::from_secs(3600),
            channel_lifetime: Duration::from_secs(24 * 3600),
            reconnect_base: Duration::from_millis(500),
            reconnect_max: Duration::from_secs(60),
            buffer: 1024,
            topics_per_channel: MAX_TOPICS_PER_CHANNEL,
        }
    }

    /// The topics, de-duplicated and split into per-channel chunks; `Invalid` when empty or over the limits.
    pub fn chunks(&self) -> Result<Vec<Vec<String>>, ChannelError> {
        let mut topics: Vec<String> = Vec::with_capacity(self.topics.len());
        for t in &self.topics {
            let t = t.trim();
            if !t.is_empty() && !topics.iter().any(|x| x == t) {
                topics.push(t.to_string());
            }
        }
        if topics.is_empty() {
            return Err(ChannelError::invalid(
                "topics",
                "is empty",
                "subscribe at least one topic, e.g. v2.routing.queues.{queueId}.conversations.messages",
            ));
        }
        let per = self.topics_per_channel.clamp(1, MAX_TOPICS_PER_CHANNEL);
        let chunks: Vec<Vec<String>> = topics.chunks(per).map(<[String]>::to_vec).collect();
        if chunks.len() > MAX_CHANNELS {
            return Err(ChannelError::invalid(
                "topics",
                format!(
                    "needs {} channels for {} topics, over the limit of {MAX_CHANNELS} channels of \
                     {MAX_TOPICS_PER_CHANNEL} topics per OAuth client",
                    chunks.len(),
                    topics.len()
                ),
                "subscribe fewer topics (queue-level topics instead of per-user ones) or split them over several OAuth clients",
            ));
        }
        Ok(chunks)
    }
}

/// What the stream reports.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// An event of a subscribed topic.
    Frame {
        /// The topic name.
        topic: String,
        /// The event body.
        body: Value,
        /// When herald received it.
        received_at: DateTime<Utc>,
    },
    /// A channel's socket is connected and subscribed.
    Connected {
        /// The channel id.
        channel_id: String,
    },
    /// Events may have been missed: GET every session believed open.
    Gap {
        /// Why (reconnect after a drop, first connection, ...).
        reason: String,
    },
    /// The stream has stopped (cancelled, or the receiver went away).
    Stopped,
}

/// A health snapshot of the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamHealth {
    /// Whether every channel is connected.
    pub connected: bool,
    /// Channels connected now.
    pub connected_channels: usize,
    /// Channels the stream runs.
    pub channels: usize,
    /// When the last frame of any kind arrived.
    pub last_frame_at: Option<DateTime<Utc>>,
    /// When the last heartbeat arrived.
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// Reconnects (after the first connection) so far.
    pub reconnects: u64,
    /// Event frames forwarded so far.
    pub frames: u64,
    /// Malformed or unexpected frames skipped so far.
    pub skipped_frames: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// Topics Genesys rejected (missing permissions), with the reason.
    pub rejected_topics: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct HealthState {
    inner: Mutex<StreamHealth>,
    frames: AtomicU64,
    skipped: AtomicU64,
}

impl HealthState {
    pub(crate) fn update(&self, f: impl FnOnce(&mut StreamHealth)) {
        f(&mut self.inner.lock());
    }

    pub(crate) fn frame(&self, now: DateTime<Utc>) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.inner.lock().last_frame_at = Some(now);
    }

    pub(crate) fn skipped(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> StreamHealth {
        let mut h = self.inner.lock().clone();
        h.frames = self.frames.load(Ordering::Relaxed);
        h.skipped_frames = self.skipped.load(Ordering::Relaxed);
        h.connected = h.channels > 0 && h.connected_channels == h.channels;
        h
    }
}

/// A running notification stream (see the module docs).
#[derive(Debug)]
pub struct NotificationStream {
    events: mpsc::Receiver<StreamEvent>,
    health: Arc<HealthState>,
    cancel: CancellationToken,
}

impl NotificationStream {
    /// Starts the stream on the current tokio runtime. Fails at once (`Invalid`) when the topics are empty or need
    /// more than 20 channels; connection problems are retried in the background and visible in [`health`](Self::health).
    pub fn spawn(client: GenesysClient, config: StreamConfig, cancel: CancellationToken) -> Result<Self, ChannelError> {
        Self::spawn_reporting(client, config, cancel, StreamHealthHandle::new())
    }

    /// [`spawn`](Self::spawn), reporting into an existing health: a stream opened again (the ingestion task
    /// restarted) keeps one health record, which readers already hold.
    pub fn spawn_reporting(
        client: GenesysClient,
        config: StreamConfig,
        cancel: CancellationToken,
        health: StreamHealthHandle,
    ) -> Result<Self, ChannelError> {
        let chunks = config.chunks()?;
        crate::client::install_crypto_provider();
        let (tx, rx) = mpsc::channel(config.buffer.max(1));
        let health = health.0;
        health.update(|h| h.channels = chunks.len());
        let cancel = cancel.child_token();
        supervisor::start(client, config, chunks, tx, health.clone(), cancel.clone());
        Ok(NotificationStream { events: rx, health, cancel })
    }

    /// A stream fed by the caller instead of a Genesys channel: replays of recorded frames, and tests of what an
    /// ingest loop does with given events.
    pub fn from_events(events: mpsc::Receiver<StreamEvent>) -> Self {
        NotificationStream { events, health: Arc::new(HealthState::default()), cancel: CancellationToken::new() }
    }

    /// The next event; `None` after [`StreamEvent::Stopped`].
    pub async fn recv(&mut self) -> Option<StreamEvent> {
        self.events.recv().await
    }

    /// The event receiver, for callers that select over several sources.
    pub fn events(&mut self) -> &mut mpsc::Receiver<StreamEvent> {
        &mut self.events
    }

    /// A health snapshot.
    pub fn health(&self) -> StreamHealth {
        self.health.snapshot()
    }

    /// A handle that reads health without owning the stream.
    pub fn health_handle(&self) -> StreamHealthHandle {
        StreamHealthHandle(self.health.clone())
    }

    /// Stops the stream (same as cancelling the token it was started with).
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

/// A stream that is dropped stops (its channel sockets close): an ingestion task that dies leaves nothing behind.
impl Drop for NotificationStream {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A cloneable reader of a stream's health.
#[derive(Debug, Clone)]
pub struct StreamHealthHandle(Arc<HealthState>);

impl Default for StreamHealthHandle {
    fn default() -> Self {
        StreamHealthHandle::new()
    }
}

impl StreamHealthHandle {
    /// A fresh health record (no stream has reported yet).
    pub fn new() -> Self {
        StreamHealthHandle(Arc::new(HealthState::default()))
    }

    /// A health snapshot.
    pub fn get(&self) -> StreamHealth {
        self.0.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_split_and_limit() {
        let cfg = StreamConfig::new((0..2500).map(|i| format!("v2.users.{i}.presence")).collect());
        let chunks = cfg.chunks().unwrap();
        assert_eq!(chunks.iter().map(Vec::len).collect::<Vec<_>>(), vec![1000, 1000, 500]);
        let too_many = StreamConfig::new((0..20_001).map(|i| format!("t.{i}")).collect());
        let e = too_many.chunks().unwrap_err();
        assert!(e.to_string().contains("20 channels"), "{e}");
        let dup = StreamConfig::new(vec!["a".into(), "a".into(), " ".into()]);
        assert_eq!(dup.chunks().unwrap(), vec![vec!["a".to_string()]]);
        assert!(StreamConfig::new(vec![]).chunks().is_err());
    }
}
