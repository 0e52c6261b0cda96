//! The adapter contract: [`MessagingChannel`] and its optional capabilities.
//!
//! Every bridge (web messaging, web chat, Teams, a dynamic plugin) implements [`MessagingChannel`]. Optional
//! abilities are separate small traits reached through `as_*` methods, so an adapter implements only what it can
//! do and the host asks for a capability instead of calling a method that might not work.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ChannelError;
use crate::event::EventSink;
use crate::notification::{Notification, Receipt};
use crate::store::SessionStore;

/// What an adapter gets when it starts.
#[derive(Clone)]
pub struct ChannelContext {
    /// Where to publish events.
    pub events: EventSink,
    /// The session store, for resolving targets (read) — the host writes sessions from events.
    pub sessions: Arc<dyn SessionStore>,
    /// The host's state store, for what an adapter keeps between restarts (Teams references and links, ...).
    pub state: Arc<dyn crate::store::StateStore>,
    /// Cancelled when the service shuts down; background tasks should stop.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Where the adapter starts its background tasks, so the host supervises them (see [`crate::tasks`]).
    pub tasks: Arc<dyn crate::tasks::TaskSpawner>,
}

impl ChannelContext {
    /// Start a supervised background task `name`: `make` builds one incarnation from its stop token and is called
    /// again after an unexpected end (see [`crate::tasks`]).
    pub fn spawn_task<F, Fut>(&self, name: impl Into<String>, make: F)
    where
        F: Fn(tokio_util::sync::CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(name.into(), Arc::new(move |stop| Box::pin(make(stop))));
    }
}

/// How a delivery is to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Into the target's open conversation, as the agent.
    #[default]
    Normal,
    /// As an agentless message (the closed-session policy `agentless`).
    Agentless,
}

/// One delivery attempt handed to an adapter.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The notification to deliver.
    pub notification: Notification,
    /// How to deliver it.
    pub mode: DeliveryMode,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When an earlier attempt may have reached the upstream without its outcome being known (a crash, a timeout,
    /// a reset after the request was written), that attempt's start.
    pub previous_attempt_at: Option<DateTime<Utc>>,
    /// The attempt's deadline. An adapter must stop at it (every inner wait — rate budget, retries, `Retry-After` —
    /// ends by then) and answer [`ChannelError::OutcomeUnknown`] if its request may have reached the upstream.
    /// The dispatcher abandons the attempt at this instant in any case and then treats its outcome as unknown.
    pub deadline: tokio::time::Instant,
}

impl Delivery {
    /// An attempt of `notification` in `mode`, numbered `attempt`, that must be over within `timeout`.
    pub fn new(notification: Notification, mode: DeliveryMode, attempt: u32, timeout: std::time::Duration) -> Self {
        Delivery {
            notification,
            mode,
            attempt,
            previous_attempt_at: None,
            deadline: tokio::time::Instant::from_std(crate::retry::instant_after(std::time::Instant::now(), timeout)),
        }
    }

    /// Time left until [`deadline`](Self::deadline) (zero once it has passed).
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(tokio::time::Instant::now())
    }
}

/// What an adapter can promise about one notification reaching its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryGuarantee {
    /// The adapter can ask its upstream whether an attempt with an unknown outcome landed
    /// ([`MessagingChannel::confirm_delivery`]), so no notification is sent twice or lost.
    ExactlyOnce,
    /// The adapter cannot check: after a timeout or a crash at the wrong moment, the notification is sent again
    /// (never lost, possibly duplicated).
    AtLeastOnce,
}

impl DeliveryGuarantee {
    /// Lower-case name (`exactly_once`, `at_least_once`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryGuarantee::ExactlyOnce => "exactly_once",
            DeliveryGuarantee::AtLeastOnce => "at_least_once",
        }
    }
}

/// Health of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Starting up; not yet connected.
    Starting,
    /// Everything works.
    Healthy,
    /// Works, with problems (stream reconnecting, recent failures).
    Degraded,
    /// Does not work (credentials refused, upstream unreachable).
    Unhealthy,
}

/// An integration's health with the checks behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Overall status.
    pub status: HealthStatus,
    /// Named checks (`token`, `stream`, `deliveries`) and what each found.
    pub checks: BTreeMap<String, String>,
}

impl Health {
    /// Healthy with no details.
    pub fn healthy() -> Self {
        Health { status: HealthStatus::Healthy, checks: BTreeMap::new() }
    }

    /// A status with one check.
    pub fn with(status: HealthStatus, check: &str, detail: impl Into<String>) -> Self {
        let mut checks = BTreeMap::new();
        checks.insert(check.to_string(), detail.into());
        Health { status, checks }
    }
}

/// A bridge to one upstream messaging system.
#[async_trait]
pub trait MessagingChannel: Send + Sync + 'static {
    /// The adapter kind (`webmessaging`, `webchat`, `teams`, or a plugin's kind).
    fn kind(&self) -> &str;

    /// The integration name from the config.
    fn name(&self) -> &str;

    /// Begin ingesting: connect streams, spawn background tasks that publish events. Returns once started.
    async fn start(&self, ctx: ChannelContext) -> Result<(), ChannelError>;

    /// Deliver one notification to its resolved target; the receipt names the upstream message.
    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError>;

    /// Whether this adapter can check past attempts ([`confirm_delivery`](Self::confirm_delivery)). Shown per
    /// integration in `/healthz` and `herald plugins list`; the dispatcher relies on it.
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }

    /// An earlier attempt of `delivery` (started at `delivery.previous_attempt_at`) may have reached the upstream
    /// without herald knowing: a crash, a timeout, a reset after the request was written. The adapter looks for it
    /// upstream and returns **every** upstream message that could be it, oldest first (an empty list: it
    /// certainly did not happen). The dispatcher takes the first candidate not already attributed to another
    /// notification (by `Receipt::upstream_message_id`), so two notifications with the same text are never
    /// mistaken for each other.
    ///
    /// An error means the check could not run now (integration starting, upstream down, rate limited): the
    /// dispatcher tries the check again later and never turns a failed check into a second send. Adapters whose
    /// [`delivery_guarantee`](Self::delivery_guarantee) is at-least-once are not asked.
    async fn confirm_delivery(&self, delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
        let _ = delivery;
        Err(ChannelError::permanent(format!("adapter `{}` cannot check past deliveries", self.kind())))
    }

    /// Whether the adapter can accept deliveries now (started, connected). Recovery after a restart waits for it
    /// before checking interrupted attempts. The default is true once `start` has returned.
    async fn ready(&self) -> bool {
        true
    }

    /// Current health.
    async fn health(&self) -> Health;

    /// Stop background work; in-flight deliveries are finished by the dispatcher before this is called.
    async fn shutdown(&self);

    /// Whether [`DeliveryMode::Agentless`] is supported (the closed-session policy `agentless`).
    fn supports_agentless(&self) -> bool {
        false
    }

    /// The HTTP endpoints this adapter serves on herald's server (e.g. the Teams bot endpoint), if any.
    fn as_http_inbound(&self) -> Option<&dyn HttpInbound> {
        None
    }

    /// Presence sync, if this adapter does it.
    fn as_presence(&self) -> Option<&dyn PresenceSync> {
        None
    }
}

/// An adapter that receives HTTP calls from its upstream (bot activities, webhooks, Graph notifications).
pub trait HttpInbound: Send + Sync {
    /// The routes, mounted at the root of herald's server. Paths must not collide with `/v1`, `/healthz`, `/metrics`.
    fn routes(&self) -> axum::Router;
}

/// An adapter that keeps presence in sync between two systems.
#[async_trait]
pub trait PresenceSync: Send + Sync {
    /// Counters of writes made and echoes suppressed, for health and tests.
    async fn sync_stats(&self) -> BTreeMap<String, u64>;
}
