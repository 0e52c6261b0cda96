//! The plugin side: what a plugin author implements, and the glue that exports it over the C ABI.
//!
//! An author implements [`Plugin`] (the factory: kind, description, `create` from the integration's settings)
//! and [`PluginAdapter`] (the async adapter, with the semantics of `herald_core::MessagingChannel`), then
//! writes `herald_plugin::export_plugin!(MyPlugin);` once in the crate root of a `cdylib`.
//!
//! The SDK runs the plugin's own tokio runtime on its own threads (tokio cannot be shared across `dlopen`), wraps
//! every export in `catch_unwind` (a panic becomes an error result and a log line in herald, never an abort),
//! moves only JSON across, and stops a delivery at its deadline or when herald cancels it.
//!
//! It also does the common work: [`deadline`] bounds a plugin's own waits by the attempt's deadline, [`http`]
//! maps an upstream's error status and `Retry-After` to the error class herald acts on, [`receipt`] builds
//! receipts, and the crates a plugin's types need are re-exported ([`chrono`] with its serde support,
//! [`serde_json`], [`uuid`], [`async_trait`], and `herald_plugin::core`).

pub mod deadline;
pub mod exports;
mod host_link;
pub mod http;
pub mod receipt;
mod runtime;
pub mod testing;

use std::sync::Arc;

/// `#[async_trait]`, which [`PluginAdapter`] implementations need.
pub use async_trait::async_trait;
/// Date and time (`Receipt::delivered_at`, `Notification::created_at`), with serde support.
pub use chrono;
use herald_core::{ChannelError, ConfigProblem, Delivery, DeliveryGuarantee, EventKind, Health, Receipt};
use serde::de::DeserializeOwned;
/// JSON values (a plugin's settings arrive as `serde_json::Value`).
pub use serde_json;
/// The id type of `Notification::id`, for plugins that build notifications (tests, events).
pub use uuid;

/// Inbound HTTP (ABI 2): a request herald hands over, the plugin's answer, a declared route.
pub use crate::wire::{HttpRequest, HttpResponse, WireRoute};
pub(crate) use host_link::HostLink;

/// The factory of a plugin: who it is and how it builds an adapter from an integration's settings.
///
/// Implemented on a marker type; `export_plugin!(ThatType)` exports it.
pub trait Plugin: 'static {
    /// The adapter this plugin builds.
    type Adapter: PluginAdapter;

    /// The plugin's kind name, e.g. `open_messaging` (shown by `herald plugins list`).
    const KIND: &'static str;

    /// One line saying what the plugin bridges.
    const DESCRIPTION: &'static str;

    /// `ExactlyOnce` when the adapter implements [`PluginAdapter::confirm_delivery`] (herald then checks an
    /// interrupted attempt upstream instead of sending it again); `AtLeastOnce` otherwise.
    const DELIVERY_GUARANTEE: DeliveryGuarantee = DeliveryGuarantee::AtLeastOnce;

    /// Whether instances serve inbound HTTP on herald's server ([`PluginAdapter::routes`] and
    /// [`PluginAdapter::http`]).
    const INBOUND_HTTP: bool = false;

    /// Whether instances keep presence in sync between two systems (publishing `agent_presence_changed` events
    /// and reporting [`PluginAdapter::presence_stats`]); herald then offers them as a presence capability.
    const PRESENCE: bool = false;

    /// Build an adapter from the integration's settings (the `[integration.settings]` table as JSON, `${VAR}`
    /// expanded). No network here: that happens in [`PluginAdapter::start`]. Problems name their key path inside
    /// `settings` (use [`decode_settings`]); the host prefixes `integration[i].settings.`. Runs with the plugin's
    /// runtime entered, so creating tokio or reqwest objects is fine.
    fn create(ctx: CreateContext, settings: serde_json::Value) -> Result<Self::Adapter, Vec<ConfigProblem>>;
}

/// A plugin adapter: the same contract as `herald_core::MessagingChannel`, run on the plugin's own runtime.
#[async_trait]
pub trait PluginAdapter: Send + Sync + 'static {
    /// Begin ingesting (bind listeners, connect streams); publish events through `events`. Return once started.
    async fn start(&self, events: EventPublisher) -> Result<(), ChannelError>;

    /// Deliver one notification to its target; the receipt names the upstream message. The SDK stops this
    /// future at `delivery.deadline` (herald has abandoned the attempt by then); bound inner waits with
    /// [`deadline::within`] so each one ends in time too.
    async fn deliver(&self, delivery: Delivery) -> Result<Receipt, ChannelError>;

    /// An earlier attempt of `delivery` may have reached the upstream unseen (timeout, crash): look for it and
    /// return every upstream message that could be it, oldest first (empty: certainly not delivered). An error
    /// means "cannot check now" and is retried later, never turned into a resend. Only called when
    /// [`Plugin::DELIVERY_GUARANTEE`] is `ExactlyOnce`.
    async fn confirm_delivery(&self, delivery: Delivery) -> Result<Vec<Receipt>, ChannelError> {
        let _ = delivery;
        Err(ChannelError::permanent("this plugin cannot check past deliveries"))
    }

    /// The inbound routes of this instance (paths may come from its settings), asked once after `create` when
    /// [`Plugin::INBOUND_HTTP`] is set.
    fn routes(&self) -> Vec<WireRoute> {
        Vec::new()
    }

    /// Answer one inbound request on a route from [`routes`](Self::routes). herald has already applied its body
    /// limit; it answers 504 if this takes longer than its inbound timeout.
    async fn http(&self, request: HttpRequest) -> HttpResponse {
        let _ = request;
        HttpResponse::text(404, "no such route")
    }

    /// Presence-sync counters (writes made, echoes suppressed, …) when [`Plugin::PRESENCE`] is set.
    async fn presence_stats(&self) -> std::collections::BTreeMap<String, u64> {
        std::collections::BTreeMap::new()
    }

    /// Current health.
    async fn health(&self) -> Health;

    /// Stop background work.
    async fn shutdown(&self);
}

/// What [`Plugin::create`] gets besides the settings.
#[derive(Clone)]
pub struct CreateContext {
    /// The integration name from the config.
    pub name: String,
    /// Logs through the host's `tracing`, tagged with the plugin and integration.
    pub log: HostLog,
}

impl CreateContext {
    /// A context with no host behind it, for a plugin's own unit tests: its log goes to stderr.
    pub fn detached(name: impl Into<String>) -> Self {
        CreateContext { name: name.into(), log: HostLog { host: None } }
    }
}

/// Publishes events to the host (the equivalent of `herald_core::EventSink`).
#[derive(Clone)]
pub struct EventPublisher {
    host: Arc<HostLink>,
}

impl EventPublisher {
    pub(crate) fn new(host: Arc<HostLink>) -> Self {
        EventPublisher { host }
    }

    /// Publish an event happening now. Waits while the host's queue is full (back-pressure). Returns false when
    /// the host has stopped listening.
    pub async fn publish(&self, kind: EventKind) -> bool {
        let Ok(json) = serde_json::to_vec(&kind) else {
            return false;
        };
        let host = self.host.clone();
        // The host callback may block (bounded queue): keep it off the runtime's worker threads.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => rt.spawn_blocking(move || host.event(&json)).await.unwrap_or(false),
            Err(_) => host.event(&json),
        }
    }
}

/// Logs through the host (which re-emits each record through `tracing` with the plugin's and integration's name).
/// Never log secrets.
#[derive(Clone)]
pub struct HostLog {
    /// `None` for [`CreateContext::detached`]: records go to stderr.
    host: Option<Arc<HostLink>>,
}

impl HostLog {
    pub(crate) fn new(host: Arc<HostLink>) -> Self {
        HostLog { host: Some(host) }
    }

    /// Log `message` with structured `fields` at a [`crate::abi::level`].
    pub fn log(&self, level: u32, message: impl Into<String>, fields: serde_json::Map<String, serde_json::Value>) {
        let record = crate::wire::LogRecord { message: message.into(), fields };
        match &self.host {
            Some(host) => {
                if let Ok(json) = serde_json::to_vec(&record) {
                    host.log(level, &json);
                }
            }
            None => eprintln!("[plugin log {level}] {}", record.message),
        }
    }

    /// Log an error.
    pub fn error(&self, message: impl Into<String>) {
        self.log(crate::abi::level::ERROR, message, Default::default());
    }

    /// Log a warning.
    pub fn warn(&self, message: impl Into<String>) {
        self.log(crate::abi::level::WARN, message, Default::default());
    }

    /// Log information.
    pub fn info(&self, message: impl Into<String>) {
        self.log(crate::abi::level::INFO, message, Default::default());
    }

    /// Log debug detail.
    pub fn debug(&self, message: impl Into<String>) {
        self.log(crate::abi::level::DEBUG, message, Default::default());
    }
}

/// Decode settings into the plugin's typed settings; every problem names its key path inside `settings`.
/// Use `#[serde(deny_unknown_fields)]` so typos are errors.
pub fn decode_settings<T: DeserializeOwned>(settings: serde_json::Value) -> Result<T, Vec<ConfigProblem>> {
    serde_path_to_error::deserialize::<_, T>(settings).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        vec![ConfigProblem::new(path, e.into_inner().to_string())]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct S {
        url: String,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn decode_settings_names_relative_paths() {
        let errs = decode_settings::<S>(serde_json::json!({"url": "x", "inner": {"n": "no"}})).unwrap_err();
        assert_eq!(errs[0].path, "inner.n");
        let errs = decode_settings::<S>(serde_json::json!({"nope": 1})).unwrap_err();
        assert_eq!(errs[0].path, "nope", "an unknown key is reported at its own path");
        assert!(errs[0].message.contains("unknown field"), "{errs:?}");
    }
}
