//! [`WebChatAdapter`]: the `MessagingChannel` of one legacy web chat integration, and the state its parts share
//! ([`Inner`]): the shared Genesys channel state ([`ChannelState`]: client, session mapper with chat media by
//! default, session cache), the settings, the canned response cache and delivery counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use herald_core::{ChannelContext, ChannelError, Delivery, Health, HealthStatus, MediaKind, MessagingChannel, Receipt};
use herald_genesys::channel::{ingest, ChannelState, Profile};
use herald_genesys::deadline;
use herald_webmessaging::canned::CannedCache;
use parking_lot::Mutex;

use crate::settings::Settings;

/// The web chat facts the shared channel code needs (topics, wording of logs and errors).
pub(crate) const PROFILE: Profile = Profile {
    label: "web chat",
    noun: "chat",
    topic_suffix: ".conversations.chats",
    not_found_hint: "Genesys does not know this chat; check the id and that the integration points at the right \
                     region",
    lookup_failed: "could not fetch chat communication ids; deliveries will ask again",
};

/// State shared by ingestion, delivery and health.
pub(crate) struct Inner {
    /// Name, client, mapper (chat media by default), runtime, session cache and cancellation, as every
    /// Genesys conversation adapter has them.
    pub channel: ChannelState,
    /// Decoded settings.
    pub settings: Settings,
    /// Canned responses (the web messaging cache and renderer: one implementation for both adapters).
    pub canned: CannedCache,
    /// Deliveries that reached Genesys.
    pub delivered: AtomicU64,
    /// Failed delivery attempts, and the last error.
    pub failed: AtomicU64,
    /// The last delivery error, for health.
    pub last_error: Mutex<Option<String>>,
}

impl Inner {
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
        f.debug_struct("WebChatAdapter").field("name", &self.inner.channel.name).finish_non_exhaustive()
    }
}

impl WebChatAdapter {
    /// An adapter for integration `name` (no network until [`start`](MessagingChannel::start)).
    pub fn new(name: impl Into<String>, settings: Settings) -> Result<Self, ChannelError> {
        let channel = ChannelState::connect(name.into(), &settings.genesys, PROFILE, MediaKind::WebChat)?;
        let canned = CannedCache::new(settings.genesys.canned_ttl());
        Ok(WebChatAdapter {
            inner: Arc::new(Inner {
                channel,
                settings,
                canned,
                delivered: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                last_error: Mutex::new(None),
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
        &self.inner.channel.name
    }

    /// Starts the integration; its ingestion runs as a supervised task of the host (a new stream per incarnation).
    async fn start(&self, ctx: ChannelContext) -> Result<(), ChannelError> {
        let config = self.inner.settings.genesys.stream_config();
        ingest::start_supervised(self.inner.clone(), |i| &i.channel, ctx, config, "webchat", crate::ingest::run)
    }

    /// Every Genesys request of the delivery (look-ups, canned responses, the send) ends by `delivery.deadline`.
    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let outcome = deadline::scope(delivery.deadline, crate::deliver::deliver(&self.inner, delivery)).await;
        self.inner.record(&outcome);
        outcome
    }

    /// Every chat message that could be this delivery, oldest first (see `confirm`); bounded by
    /// `delivery.deadline`.
    async fn confirm_delivery(&self, delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
        deadline::scope(delivery.deadline, crate::confirm::confirm(&self.inner, delivery)).await
    }

    fn delivery_guarantee(&self) -> herald_core::DeliveryGuarantee {
        herald_core::DeliveryGuarantee::ExactlyOnce
    }

    /// Started, and the first discovery pass (re-read of stored open chats, open chats of the watched queues
    /// from analytics) has finished.
    async fn ready(&self) -> bool {
        self.inner.channel.ready()
    }

    async fn health(&self) -> Health {
        let inner = &self.inner;
        let Some(rt) = inner.channel.runtime.get() else {
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
        health.checks.insert("discovery".into(), inner.channel.discovery_summary());
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
        self.inner.channel.cancel.cancel();
    }
}
