//! [`WebMessagingAdapter`]: the `MessagingChannel` of one web messaging integration, and the state its parts
//! share ([`Inner`]): the Genesys client, the session mapper, the cache of sessions seen on the stream, the canned
//! response cache and the health counters.
//!
//! The session store is the source of truth for look-ups; the cache only holds what the stream showed more
//! recently than the host may have written (the host applies events asynchronously), and the newer of the two
//! (by `updated_at`) wins.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chrono::Utc;
use herald_core::{
    ChannelContext, ChannelError, Delivery, EventKind, Health, MessagingChannel, Receipt, Session, SessionState,
};
use herald_genesys::sessions::{apply_conversation, SessionChange};
use herald_genesys::stream::StreamHealthHandle;
use herald_genesys::{GenesysClient, MapperConfig, NotificationStream};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::canned::CannedCache;
use crate::health::DeliveryStats;
use crate::settings::Settings;

/// Runtime state that exists once the integration has started.
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
    /// How conversation bodies become sessions.
    pub mapper: MapperConfig,
    /// Set by `start`.
    pub runtime: OnceLock<Runtime>,
    /// Latest sessions seen on the stream (see the module docs).
    pub cache: Mutex<HashMap<String, Session>>,
    /// Canned responses.
    pub canned: CannedCache,
    /// Recent delivery outcomes.
    pub stats: DeliveryStats,
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

    /// Remembers `session` in the cache unless the cache holds something newer; closed sessions leave it.
    pub fn remember(&self, session: &Session) {
        let mut cache = self.cache.lock();
        if session.state == SessionState::Closed {
            cache.remove(&session.conversation_id);
            return;
        }
        let newer = cache.get(&session.conversation_id).is_none_or(|c| c.updated_at <= session.updated_at);
        if newer {
            cache.insert(session.conversation_id.clone(), session.clone());
        }
    }

    /// Publishes a mapped change (if it changed anything) and updates the cache. Returns the session.
    pub async fn publish(&self, change: SessionChange) -> Session {
        let session = change.session().clone();
        self.remember(&session);
        if let (Some(event), Some(rt)) = (change.into_event(), self.runtime.get()) {
            if !rt.ctx.events.publish(event).await {
                tracing::debug!("the host stopped listening to events (shutdown)");
            }
        }
        session
    }

    /// `GET /api/v2/conversations/{id}`, mapped onto `previous`. Returns the change (not yet published).
    pub async fn fetch_change(
        &self,
        conversation_id: &str,
        previous: Option<&Session>,
    ) -> Result<SessionChange, ChannelError> {
        let body = self.client.get_conversation_json(conversation_id).await.map_err(|e| match e {
            ChannelError::NotFound { .. } => ChannelError::not_found(
                "conversation",
                conversation_id,
                "Genesys does not know this conversation; check the id and that the integration points at the right \
                 region and org",
            ),
            other => other,
        })?;
        apply_conversation(previous, &body.body, &self.mapper, Utc::now()).map_err(|e| ChannelError::Transient {
            reason: format!("conversation `{conversation_id}` could not be read: {e}"),
            correlation_id: body.correlation_id.clone(),
        })
    }

    /// Fetches a conversation for a delivery and tells the store with a `SessionUpdated` (never `SessionOpened`:
    /// rules reacting to new conversations must not fire for an old one herald merely looked up).
    pub async fn fetch_for_delivery(
        &self,
        conversation_id: &str,
        previous: Option<&Session>,
    ) -> Result<Session, ChannelError> {
        let change = self.fetch_change(conversation_id, previous).await?;
        let session = change.session().clone();
        if !matches!(change, SessionChange::Unchanged(_)) {
            self.remember(&session);
            if let Some(rt) = self.runtime.get() {
                let _ = rt.ctx.events.publish(EventKind::SessionUpdated { session: session.clone() }).await;
            }
        }
        Ok(session)
    }
}

/// The web messaging adapter of one integration (see the crate docs).
pub struct WebMessagingAdapter {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for WebMessagingAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebMessagingAdapter").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

impl WebMessagingAdapter {
    /// An adapter for integration `name` (no network until [`start`](MessagingChannel::start)).
    pub fn new(name: impl Into<String>, settings: Settings) -> Result<Self, ChannelError> {
        let name = name.into();
        let config = settings
            .client_config()
            .map_err(|(field, msg)| ChannelError::invalid(field, msg, "correct the integration settings"))?;
        let client = GenesysClient::new(config)?;
        let mut mapper = MapperConfig::new(name.clone());
        mapper.customer_key_attribute = settings.customer_key_attribute.clone();
        let canned = CannedCache::new(settings.canned_ttl());
        Ok(WebMessagingAdapter {
            inner: Arc::new(Inner {
                name,
                settings,
                client,
                mapper,
                runtime: OnceLock::new(),
                cache: Mutex::new(HashMap::new()),
                canned,
                stats: DeliveryStats::default(),
                cancel: CancellationToken::new(),
            }),
        })
    }

    /// The Genesys client this adapter uses (benchmarks read its budget statistics).
    pub fn client(&self) -> &GenesysClient {
        &self.inner.client
    }
}

#[async_trait]
impl MessagingChannel for WebMessagingAdapter {
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
        let cancel = inner.cancel.clone();
        let outer = ctx.shutdown.clone();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = outer.cancelled() => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        });
        let stream = NotificationStream::spawn(inner.client.clone(), inner.settings.stream_config(), cancel.clone())?;
        let handle = stream.health_handle();
        if inner.runtime.set(Runtime { ctx, stream: handle }).is_err() {
            return Ok(());
        }
        let span = tracing::info_span!("webmessaging_ingest", integration = %inner.name);
        tokio::spawn(crate::ingest::run(inner.clone(), stream).instrument(span));
        tracing::info!(integration = %inner.name, topics = inner.settings.topics().len(), "web messaging integration started");
        Ok(())
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        crate::deliver::deliver(&self.inner, delivery).await
    }

    async fn confirm_delivery(&self, delivery: &Delivery) -> Result<Option<Receipt>, ChannelError> {
        crate::confirm::confirm(&self.inner, delivery).await
    }

    async fn health(&self) -> Health {
        crate::health::health(&self.inner)
    }

    async fn shutdown(&self) {
        self.inner.cancel.cancel();
    }

    fn supports_agentless(&self) -> bool {
        true
    }
}
