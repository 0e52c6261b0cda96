//! [`WebMessagingAdapter`]: the `MessagingChannel` of one web messaging integration, and the state its parts
//! share ([`Inner`]): the shared Genesys channel state ([`ChannelState`]: client, session mapper, session cache),
//! the settings, the canned response cache and the health counters.

use std::sync::Arc;

use async_trait::async_trait;
use herald_core::{ChannelContext, ChannelError, Delivery, Health, MediaKind, MessagingChannel, Receipt};
use herald_genesys::channel::{ingest, ChannelState, Profile};
use herald_genesys::{deadline, GenesysClient};

use crate::canned::CannedCache;
use crate::health::DeliveryStats;
use crate::settings::Settings;

/// The web messaging facts the shared channel code needs (topics, wording of logs and errors).
pub(crate) const PROFILE: Profile = Profile {
    label: "web messaging",
    noun: "conversation",
    topic_suffix: ".conversations.messages",
    not_found_hint: "Genesys does not know this conversation; check the id and that the integration points at the \
                     right region and org",
    lookup_failed: "could not fetch communication ids; deliveries will ask again",
};

/// State shared by ingestion, delivery and health.
pub(crate) struct Inner {
    /// Name, client, session mapper, runtime, session cache and cancellation, as every Genesys conversation
    /// adapter has them.
    pub channel: ChannelState,
    /// Decoded settings.
    pub settings: Settings,
    /// Canned responses.
    pub canned: CannedCache,
    /// Recent delivery outcomes.
    pub stats: DeliveryStats,
}

/// The web messaging adapter of one integration (see the crate docs).
pub struct WebMessagingAdapter {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for WebMessagingAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebMessagingAdapter").field("name", &self.inner.channel.name).finish_non_exhaustive()
    }
}

impl WebMessagingAdapter {
    /// An adapter for integration `name` (no network until [`start`](MessagingChannel::start)).
    pub fn new(name: impl Into<String>, settings: Settings) -> Result<Self, ChannelError> {
        let channel = ChannelState::connect(name.into(), &settings.genesys, PROFILE, MediaKind::WebMessaging)?;
        let canned = CannedCache::new(settings.genesys.canned_ttl());
        Ok(WebMessagingAdapter {
            inner: Arc::new(Inner { channel, settings, canned, stats: DeliveryStats::default() }),
        })
    }

    /// The Genesys client this adapter uses (benchmarks read its budget statistics).
    pub fn client(&self) -> &GenesysClient {
        &self.inner.channel.client
    }
}

#[async_trait]
impl MessagingChannel for WebMessagingAdapter {
    fn kind(&self) -> &str {
        crate::KIND
    }

    fn name(&self) -> &str {
        &self.inner.channel.name
    }

    /// Starts the integration; its ingestion runs as a supervised task of the host (a new stream per incarnation).
    async fn start(&self, ctx: ChannelContext) -> Result<(), ChannelError> {
        let config = self.inner.settings.genesys.stream_config();
        ingest::start_supervised(self.inner.clone(), |i| &i.channel, ctx, config, "webmessaging", crate::ingest::run)
    }

    /// Every Genesys request of the delivery (look-ups, canned responses, the send) ends by `delivery.deadline`.
    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        deadline::scope(delivery.deadline, crate::deliver::deliver(&self.inner, delivery)).await
    }

    /// Every message that could be this delivery, oldest first (see `confirm`); bounded by `delivery.deadline`.
    async fn confirm_delivery(&self, delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
        deadline::scope(delivery.deadline, crate::confirm::confirm(&self.inner, delivery)).await
    }

    fn delivery_guarantee(&self) -> herald_core::DeliveryGuarantee {
        herald_core::DeliveryGuarantee::ExactlyOnce
    }

    /// Started, and the first discovery pass (re-read of stored open sessions, open conversations of the watched
    /// queues from analytics) has finished.
    async fn ready(&self) -> bool {
        self.inner.channel.ready()
    }

    async fn health(&self) -> Health {
        crate::health::health(&self.inner)
    }

    async fn shutdown(&self) {
        self.inner.channel.cancel.cancel();
    }

    fn supports_agentless(&self) -> bool {
        true
    }
}
