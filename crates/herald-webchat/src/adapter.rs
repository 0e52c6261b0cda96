//! [`WebChatAdapter`]: the `MessagingChannel` of one legacy web chat integration, and the state its parts share
//! ([`Inner`]): the Genesys client, the session mapper (chat media by default), a cache of sessions the stream
//! showed more recently than the host may have stored, the canned response cache and delivery counters.
//!
//! The session store is the source of truth for look-ups; the cache bridges the moment between an event being
//! published and the host writing it. The newer of the two (by `updated_at`) wins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chrono::Utc;
use herald_core::{
    ChannelContext, ChannelError, Delivery, EventKind, Health, HealthStatus, MediaKind, MessagingChannel, Receipt,
    Session, SessionState,
};
use herald_genesys::sessions::{apply_conversation, SessionChange};
use herald_genesys::stream::StreamHealthHandle;
use herald_genesys::{GenesysClient, MapperConfig, NotificationStream};
use herald_webmessaging::canned::CannedCache;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::settings::Settings;

/// State that exists once the integration has started.
pub(crate) struct Runtime {
    /// Events and the session store.
    pub ctx: ChannelContext,
    /// The notification stream's health.
    pub stream: StreamHealthHandle,
}

/// State shared by ingestion, delivery and health.
pub(crate) struct Inner {
    /// The integration name.
    pub name: String,
    /// Decoded settings.
    pub settings: Settings,
    /// The Genesys client (shared token and budget).
    pub client: GenesysClient,
    /// How conversation bodies become sessions (chat media by default).
    pub mapper: MapperConfig,
    /// Set by `start`.
    pub runtime: OnceLock<Runtime>,
    /// Latest open sessions seen on the stream.
    pub cache: Mutex<HashMap<String, Session>>,
    /// Canned responses (the web messaging cache and renderer: one implementation for both adapters).
    pub canned: CannedCache,
    /// Deliveries that reached Genesys.
    pub delivered: AtomicU64,
    /// Failed delivery attempts, and the last error.
    pub failed: AtomicU64,
    /// The last delivery error, for health.
    pub last_error: Mutex<Option<String>>,
    /// Stops background work.
    pub cancel: CancellationToken,
}

impl Inner {
    /// The runtime, or `Transient` when `start` has not run yet (the dispatcher retries).
    pub fn runtime(&self) -> Result<&Runtime, ChannelError> {
        self.runtime.get().ok_or_else(|| {
            ChannelError::transient(format!("integration `{}` has not started yet; retrying", self.name))
        })
    }

    /// The session of `conversation_id` known to the store or the cache, whichever is newer.
    pub async fn known_session(&self, conversation_id: &str) -> Result<Option<Session>, ChannelError> {
        let rt = self.runtime()?;
        let stored = rt.ctx.sessions.get(conversation_id).await?;
        let cached = self.cache.lock().get(conversation_id).cloned();
        Ok(Session::newest(stored, cached))
    }

    /// Remembers an open `session` unless the cache holds something newer; closed sessions leave the cache.
    pub fn remember(&self, session: &Session) {
        let mut cache = self.cache.lock();
        if session.state == SessionState::Closed {
            cache.remove(&session.conversation_id);
        } else if cache.get(&session.conversation_id).is_none_or(|c| c.updated_at <= session.updated_at) {
            cache.insert(session.conversation_id.clone(), session.clone());
        }
    }

    /// Publishes a mapped change (if it changed anything) and updates the cache.
    pub async fn publish(&self, change: SessionChange) {
        self.remember(change.session());
        if let (Some(event), Some(rt)) = (change.into_event(), self.runtime.get()) {
            if !rt.ctx.events.publish(event).await {
                tracing::debug!("the host stopped listening to events (shutdown)");
            }
        }
    }

    /// `GET /api/v2/conversations/{id}` mapped onto `previous` (not yet published).
    pub async fn fetch_change(&self, id: &str, previous: Option<&Session>) -> Result<SessionChange, ChannelError> {
        let body = self.client.get_conversation_json(id).await.map_err(|e| match e {
            ChannelError::NotFound { .. } => ChannelError::not_found(
                "conversation",
                id,
                "Genesys does not know this chat; check the id and that the integration points at the right region",
            ),
            other => other,
        })?;
        apply_conversation(previous, &body.body, &self.mapper, Utc::now()).map_err(|e| ChannelError::Transient {
            reason: format!("conversation `{id}` could not be read: {e}"),
            correlation_id: body.correlation_id.clone(),
        })
    }

    /// Fetches a conversation for a delivery and tells the store with `SessionUpdated` (never `SessionOpened`:
    /// rules reacting to new chats must not fire for one herald merely looked up).
    pub async fn fetch_for_delivery(&self, id: &str, previous: Option<&Session>) -> Result<Session, ChannelError> {
        let change = self.fetch_change(id, previous).await?;
        let session = change.session().clone();
        if !matches!(change, SessionChange::Unchanged(_)) {
            self.remember(&session);
            if let Some(rt) = self.runtime.get() {
                let _ = rt.ctx.events.publish(EventKind::SessionUpdated { session: session.clone() }).await;
            }
        }
        Ok(session)
    }

    /// Records a delivery outcome for health.
    pub fn record(&self, outcome: &Result<Receipt, ChannelError>) {
        match outcome {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                *self.last_error.lock() = Some(e.to_string());
            }
        }
    }
}

/// The legacy web chat adapter of one integration (see the crate docs).
pub struct WebChatAdapter {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for WebChatAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebChatAdapter").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

impl WebChatAdapter {
    /// An adapter for integration `name` (no network until [`start`](MessagingChannel::start)).
    pub fn new(name: impl Into<String>, settings: Settings) -> Result<Self, ChannelError> {
        let name = name.into();
        let config = settings
            .client_config()
            .map_err(|(field, msg)| ChannelError::invalid(field, msg, "correct the integration settings"))?;
        let client = GenesysClient::new(config)?;
        let mut mapper = MapperConfig::new(name.clone());
        mapper.customer_key_attribute = settings.customer_key_attribute.clone();
        mapper.default_media = MediaKind::WebChat;
        let canned = CannedCache::new(settings.canned_ttl());
        Ok(WebChatAdapter {
            inner: Arc::new(Inner {
                name,
                settings,
                client,
                mapper,
                runtime: OnceLock::new(),
                cache: Mutex::new(HashMap::new()),
                canned,
                delivered: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                last_error: Mutex::new(None),
                cancel: CancellationToken::new(),
            }),
        })
    }
}

#[async_trait]
impl MessagingChannel for WebChatAdapter {
    fn kind(&self) -> &str {
        crate::KIND
    }

    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn start(&self, ctx: ChannelContext) -> Result<(), ChannelError> {
        let inner = &self.inner;
        if inner.runtime.get().is_some() {
            return Ok(());
        }
        let stop = inner.cancel.clone();
        let outer = ctx.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = outer.cancelled() => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        });
        let stream =
            NotificationStream::spawn(inner.client.clone(), inner.settings.stream_config(), inner.cancel.clone())?;
        let handle = stream.health_handle();
        if inner.runtime.set(Runtime { ctx, stream: handle }).is_err() {
            return Ok(());
        }
        let span = tracing::info_span!("webchat_ingest", integration = %inner.name);
        tokio::spawn(crate::ingest::run(inner.clone(), stream).instrument(span));
        tracing::info!(integration = %inner.name, topics = inner.settings.topics().len(), "web chat integration started");
        Ok(())
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let outcome = crate::deliver::deliver(&self.inner, delivery).await;
        self.inner.record(&outcome);
        outcome
    }

    async fn confirm_delivery(&self, delivery: &Delivery) -> Result<Option<Receipt>, ChannelError> {
        crate::confirm::confirm(&self.inner, delivery).await
    }

    async fn health(&self) -> Health {
        let inner = &self.inner;
        let Some(rt) = inner.runtime.get() else {
            return Health::with(HealthStatus::Starting, "stream", "not started");
        };
        let h = rt.stream.get();
        let mut health = Health::with(
            if h.connected {
                HealthStatus::Healthy
            } else if h.reconnects == 0 && h.last_error.is_none() {
                HealthStatus::Starting
            } else {
                HealthStatus::Degraded
            },
            "stream",
            format!(
                "{} ({}/{} channels), {} frames, {} reconnects{}",
                if h.connected { "connected" } else { "reconnecting" },
                h.connected_channels,
                h.channels,
                h.frames,
                h.reconnects,
                h.last_error.map(|e| format!("; last error: {e}")).unwrap_or_default()
            ),
        );
        if !h.rejected_topics.is_empty() {
            health.status = HealthStatus::Unhealthy;
            health.checks.insert("topics".into(), format!("rejected: {}", h.rejected_topics.join("; ")));
        }
        let last = inner.last_error.lock().clone().map(|e| format!("; last error: {e}")).unwrap_or_default();
        health.checks.insert(
            "deliveries".into(),
            format!(
                "delivered {}, failed attempts {}{last}",
                inner.delivered.load(Ordering::Relaxed),
                inner.failed.load(Ordering::Relaxed)
            ),
        );
        health
    }

    async fn shutdown(&self) {
        self.inner.cancel.cancel();
    }
}
