//! [`ChannelState`]: the state the parts of a Genesys conversation adapter share (ingestion, resolution,
//! delivery, health), and the session look-ups built on it.
//!
//! The session store is the source of truth for look-ups; the cache ([`SessionCache`], bounded and indexed) only
//! holds what the stream showed more recently than the host may have written (the host applies events
//! asynchronously), and the newer of the two (by `updated_at`) wins.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use chrono::Utc;
use herald_core::{ChannelContext, ChannelError, EventKind, MediaKind, Session, SessionQuery, SessionState};
use tokio_util::sync::CancellationToken;

use super::cache::SessionCache;
use super::Profile;
use crate::sessions::{apply_conversation, MapperConfig, SessionChange};
use crate::settings::ConversationSettings;
use crate::stream::{NotificationStream, StreamConfig, StreamHealthHandle};
use crate::GenesysClient;

/// State that exists once the integration has started.
pub struct ChannelRuntime {
    /// Events and the session store.
    pub ctx: ChannelContext,
    /// The notification stream's health.
    pub stream: StreamHealthHandle,
}

/// State shared by ingestion, delivery and health of one integration (see the module docs).
pub struct ChannelState {
    /// The integration name.
    pub name: String,
    /// The Genesys client (shared token and budget).
    pub client: GenesysClient,
    /// How conversation bodies become sessions.
    pub mapper: MapperConfig,
    /// What differs between the adapter kinds.
    pub profile: Profile,
    /// Set by [`start`](ChannelState::start).
    pub runtime: OnceLock<ChannelRuntime>,
    /// Latest open sessions seen on the stream (see the module docs).
    pub cache: SessionCache,
    /// Stops background work.
    pub cancel: CancellationToken,
    /// Set once the first discovery pass after start has finished (see [`ready`](ChannelState::ready)).
    discovered: AtomicBool,
}

impl ChannelState {
    /// The state of integration `name`, not yet started.
    pub fn new(name: String, client: GenesysClient, mapper: MapperConfig, profile: Profile) -> Self {
        ChannelState {
            name,
            client,
            mapper,
            profile,
            runtime: OnceLock::new(),
            cache: SessionCache::default(),
            cancel: CancellationToken::new(),
            discovered: AtomicBool::new(false),
        }
    }

    /// The state of integration `name` built from its shared settings: the Genesys client they configure and a
    /// session mapper with their customer key attribute and `default_media` (the media of bodies that carry no
    /// media marker: chat bodies never do). `Invalid` when the settings name no usable environment.
    pub fn connect(
        name: String,
        settings: &ConversationSettings,
        profile: Profile,
        default_media: MediaKind,
    ) -> Result<Self, ChannelError> {
        let config = settings
            .client_config()
            .map_err(|(field, msg)| ChannelError::invalid(field, msg, "correct the integration settings"))?;
        let client = GenesysClient::new(config)?;
        let mut mapper = MapperConfig::new(name.clone());
        mapper.customer_key_attribute = settings.customer_key_attribute.clone();
        mapper.default_media = default_media;
        Ok(ChannelState::new(name, client, mapper, profile))
    }

    /// Links the host's shutdown to [`cancel`](ChannelState::cancel), checks the stream's topics, stores the
    /// runtime and logs the start. Returns `true` the first time: the caller then starts its ingestion task, which
    /// opens the stream with [`open_stream`](ChannelState::open_stream) in each incarnation (starting twice is
    /// harmless).
    pub fn start(&self, ctx: ChannelContext, config: &StreamConfig) -> Result<bool, ChannelError> {
        if self.runtime.get().is_some() {
            return Ok(false);
        }
        config.chunks()?;
        let stop = self.cancel.clone();
        let outer = ctx.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = outer.cancelled() => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        });
        if self.runtime.set(ChannelRuntime { ctx, stream: StreamHealthHandle::new() }).is_err() {
            return Ok(false);
        }
        tracing::info!(integration = %self.name, topics = config.topics.len(), "{} integration started", self.profile.label);
        Ok(true)
    }

    /// Open the notification stream for one incarnation of the ingestion task; it reports into the runtime's
    /// stream health, so health readers see the current stream whichever incarnation runs.
    pub fn open_stream(&self, config: StreamConfig) -> Result<NotificationStream, ChannelError> {
        let rt = self.runtime()?;
        NotificationStream::spawn_reporting(self.client.clone(), config, self.cancel.clone(), rt.stream.clone())
    }

    /// The runtime, or `Transient` when `start` has not run yet (the dispatcher retries).
    pub fn runtime(&self) -> Result<&ChannelRuntime, ChannelError> {
        self.runtime.get().ok_or_else(|| {
            ChannelError::transient(format!("integration `{}` has not started yet; retrying", self.name))
        })
    }

    /// The session of `conversation_id` known to the store or the cache, whichever is newer.
    pub async fn known_session(&self, conversation_id: &str) -> Result<Option<Session>, ChannelError> {
        let rt = self.runtime()?;
        let stored = rt.ctx.sessions.get(conversation_id).await?;
        let cached = self.cache.get(conversation_id);
        Ok(Session::newest(stored, cached))
    }

    /// Remembers an open `session` unless the cache holds something newer; closed sessions leave the cache.
    pub fn remember(&self, session: &Session) {
        self.cache.remember(session);
    }

    /// Whether the integration has started and finished its first discovery pass (the re-read of the sessions
    /// the store believes open and the look-up of open conversations upstream), so that deliveries and the
    /// after-restart check of interrupted attempts see every open conversation.
    pub fn ready(&self) -> bool {
        self.runtime.get().is_some() && self.discovered.load(Ordering::Acquire)
    }

    /// One line for health: whether the first discovery pass is done, and the cache's size against its bound.
    pub fn discovery_summary(&self) -> String {
        format!(
            "{}; {} sessions cached (at most {})",
            if self.ready() { "first pass done, ready" } else { "first pass pending" },
            self.cache.len(),
            self.cache.capacity()
        )
    }

    /// Records that a discovery pass has finished (see [`ready`](Self::ready)).
    pub fn mark_discovered(&self) {
        if !self.discovered.swap(true, Ordering::AcqRel) {
            tracing::info!(integration = %self.name, "first discovery pass done; {} integration ready", self.profile.label);
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

    /// `GET /api/v2/conversations/{id}` mapped onto `previous`. Returns the change (not yet published).
    pub async fn fetch_change(&self, id: &str, previous: Option<&Session>) -> Result<SessionChange, ChannelError> {
        let hint = self.profile.not_found_hint;
        let body = self.client.get_conversation_json(id).await.map_err(|e| match e {
            ChannelError::NotFound { .. } => ChannelError::not_found("conversation", id, hint),
            other => other,
        })?;
        apply_conversation(previous, &body.body, &self.mapper, Utc::now()).map_err(|e| ChannelError::Transient {
            reason: format!("conversation `{id}` could not be read: {e}"),
            correlation_id: body.correlation_id.clone(),
        })
    }

    /// Fetches a conversation for a delivery and tells the store with a `SessionUpdated` (never `SessionOpened`:
    /// rules reacting to new conversations must not fire for an old one herald merely looked up).
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

    /// A conversation by id for a delivery: the store or the cache first, else Genesys.
    pub async fn conversation(&self, id: &str) -> Result<Session, ChannelError> {
        match self.known_session(id).await? {
            Some(s) => Ok(s),
            None => self.fetch_for_delivery(id, None).await,
        }
    }

    /// The refusal of an `agent` target: conversation adapters reach customers; agents are reached through a
    /// teams integration.
    pub fn agent_unreachable(&self) -> ChannelError {
        ChannelError::invalid(
            "target.type",
            format!("is `agent`, which a {} integration cannot reach", self.profile.label),
            "send messages to agents through a teams integration, or target a conversation, customer or guest",
        )
    }

    /// Sessions of `key` (any customer id) from the store and the cache whose media `keep` accepts, most recent
    /// activity first.
    pub async fn sessions_of(&self, key: &str, keep: impl Fn(&Session) -> bool) -> Result<Vec<Session>, ChannelError> {
        let rt = self.runtime()?;
        let query = SessionQuery {
            integration: Some(self.name.clone()),
            customer: Some(key.to_string()),
            limit: 50,
            ..Default::default()
        };
        let mut found = rt.ctx.sessions.query(&query).await?;
        let cached = self.cache.of_customer(key);
        Session::merge_newest(&mut found, cached);
        found.retain(keep);
        Ok(found)
    }

    /// The sessions of guest `id` (those whose `customer.guest_id` is `id`) among those `keep` accepts: the
    /// open one, else the latest (so the closed-session policy applies), else `None`.
    pub async fn guest_session(
        &self,
        id: &str,
        keep: impl Fn(&Session) -> bool,
    ) -> Result<Option<Session>, ChannelError> {
        let known: Vec<Session> = self
            .sessions_of(id, keep)
            .await?
            .into_iter()
            .filter(|s| s.customer.guest_id.as_deref() == Some(id))
            .collect();
        Ok(open_or_latest(known))
    }

    /// Re-reads every session the store (queued or connected) and the cache believe open and publishes what
    /// changed, a page of [`RESYNC_PAGE`] at a time with the store's cursor: memory stays bounded by the page
    /// whatever the number of open sessions, and the store is never listed whole. Returns how many were re-read.
    pub async fn refetch_open(&self) -> usize {
        let Some(rt) = self.runtime.get() else { return 0 };
        let mut total = 0;
        for state in [SessionState::Queued, SessionState::Connected] {
            let mut after = None;
            loop {
                if self.cancel.is_cancelled() {
                    return total;
                }
                let q = SessionQuery {
                    integration: Some(self.name.clone()),
                    state: Some(state),
                    after: after.clone(),
                    limit: RESYNC_PAGE,
                    ..Default::default()
                };
                let page = match rt.ctx.sessions.query(&q).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::warn!(error = %e, "resync could not query the session store");
                        break;
                    }
                };
                let Some(last) = page.last() else { break };
                after = Some((last.updated_at, last.conversation_id.clone()));
                let full = page.len() >= RESYNC_PAGE;
                total += page.len();
                self.refetch(page.into_iter().map(|s| s.conversation_id)).await;
                if !full {
                    break;
                }
            }
        }
        // Sessions only the cache knows (the host has not stored them yet): bounded by the cache's capacity.
        let mut unstored = Vec::new();
        for id in self.cache.ids() {
            if matches!(rt.ctx.sessions.get(&id).await, Ok(None)) {
                unstored.push(id);
            }
        }
        total += unstored.len();
        self.refetch(unstored).await;
        total
    }
}

/// Sessions re-read per page of a resync.
pub const RESYNC_PAGE: usize = 200;

/// The first open session of `sessions` (most recent first), else the first one.
pub fn open_or_latest(sessions: Vec<Session>) -> Option<Session> {
    if let Some(open) = sessions.iter().find(|s| s.is_open()) {
        return Some(open.clone());
    }
    sessions.into_iter().next()
}
