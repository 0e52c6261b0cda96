//! [`PluginChannel`]: a plugin instance behind the `MessagingChannel` trait.
//!
//! Each call sends JSON to the plugin with a fresh request id and awaits the reply that the plugin posts to the
//! host callback, until a deadline. Whatever comes back is untrusted: malformed JSON becomes a permanent error
//! naming the plugin, and neither it nor silence affects anything but this one call.
//!
//! A delivery is abandoned at its attempt's deadline (`Delivery::deadline`, capped by
//! [`PluginOptions::deliver_timeout`]): the outcome is [`ChannelError::OutcomeUnknown`] (the plugin may have
//! reached its upstream), an ABI 2 plugin is told to cancel the work, and an answer arriving afterwards is logged
//! and counted (`herald_plugin_late_answers_total{integration}`), never taken as the outcome.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herald_core::{
    ChannelContext, ChannelError, Delivery, DeliveryGuarantee, Health, HealthStatus, HttpInbound, MessagingChannel,
    PresenceSync, Receipt,
};
use serde::de::DeserializeOwned;

use super::context::HostContext;
use super::inbound::InboundRoutes;
use super::library::PluginLibrary;
use super::PluginOptions;
use crate::abi::CallFn;
use crate::wire::{Reply, WireDelivery, WireError, WireRoute};

/// An instance handle. Only passed back to the plugin that made it.
pub(crate) struct Handle(pub(crate) *mut c_void);

// SAFETY: the handle is an opaque token for the plugin, which accepts calls on it from any thread (the SDK's
// instance is `Send + Sync`); the host never dereferences it.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

/// What a call does when its time is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnTimeout {
    /// The request may have taken effect upstream (deliver): [`ChannelError::OutcomeUnknown`].
    OutcomeUnknown,
    /// Nothing was changed upstream (control calls, confirm, inbound HTTP): [`ChannelError::Transient`].
    Transient,
}

/// One live plugin instance: the handle and what is needed to call it. Shared by the channel and its inbound
/// routes; the handle is destroyed when the last of them is dropped.
pub(crate) struct Instance {
    pub(crate) library: Arc<PluginLibrary>,
    handle: Handle,
    pub(crate) context: Arc<HostContext>,
    next_id: AtomicU64,
}

/// Abandons a request when its caller stops waiting without an answer (deadline, or the caller's future was
/// dropped): a later answer is counted as late, and an ABI 2 plugin is told to cancel.
struct Pending<'a> {
    instance: &'a Instance,
    id: u64,
    op: &'static str,
    answered: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.instance.abandon(self.id, self.op);
        }
    }
}

impl Instance {
    pub(crate) fn new(library: Arc<PluginLibrary>, handle: Handle, context: Arc<HostContext>) -> Self {
        Instance { library, handle, context, next_id: AtomicU64::new(1) }
    }

    fn plugin(&self) -> &str {
        &self.context.plugin
    }

    fn abandon(&self, id: u64, op: &'static str) {
        self.context.abandon(id, op);
        if let Some(v2) = self.library.api.v2 {
            // SAFETY: the handle is live (destroyed only when the last `Instance` reference drops, and `&self` is
            // one); cancel takes no pointers and returns at once.
            unsafe { (v2.cancel)(self.handle.0, id) };
        }
    }

    /// Send one request and await its reply for at most `timeout`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        op: &'static str,
        export: CallFn,
        payload: &[u8],
        timeout: Duration,
        on_timeout: OnTimeout,
    ) -> Result<T, ChannelError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let reply = self.context.expect(id);
        let mut pending = Pending { instance: self, id, op, answered: false };
        // SAFETY: the handle is live (see `abandon`) and the payload is valid for the duration of the call; the
        // plugin copies it before returning.
        unsafe { export(self.handle.0, id, payload.as_ptr(), payload.len()) };
        let bytes = match tokio::time::timeout(timeout, reply).await {
            Ok(Ok(bytes)) => {
                pending.answered = true;
                bytes
            }
            Ok(Err(_)) => {
                pending.answered = true;
                return Err(ChannelError::transient(format!(
                    "plugin `{}` dropped the {op} request without answering",
                    self.plugin()
                )));
            }
            Err(_) => {
                drop(pending);
                let reason = format!(
                    "plugin `{}` did not answer {op} within {:.1}s (hung?); the request is abandoned",
                    self.plugin(),
                    timeout.as_secs_f64()
                );
                return Err(match on_timeout {
                    OnTimeout::OutcomeUnknown => ChannelError::outcome_unknown(format!(
                        "{reason} at the attempt's deadline and its outcome is unknown"
                    )),
                    OnTimeout::Transient => ChannelError::transient(reason),
                });
            }
        };
        match serde_json::from_slice::<Reply<T, WireError>>(&bytes) {
            Ok(Reply::Ok(v)) => Ok(v),
            Ok(Reply::Error(e)) => Err(e.into_channel_error()),
            Err(e) => Err(ChannelError::permanent(format!(
                "plugin `{}` returned malformed JSON for {op} ({e}): {}; the plugin is broken, report it to its author",
                self.plugin(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ))),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the handle came from this library's create and is destroyed exactly once, here; no call can be
        // in progress since Drop has exclusive access. Tasks the plugin spawned keep their own references.
        unsafe { (self.library.api.destroy)(self.handle.0) };
    }
}

/// A plugin instance, indistinguishable from a built-in adapter to the registry, dispatcher and rules.
pub struct PluginChannel {
    instance: Arc<Instance>,
    kind: String,
    name: String,
    options: PluginOptions,
    inbound: Option<InboundRoutes>,
    presence: Option<Presence>,
}

/// The presence capability of an ABI 2 instance that declared it.
struct Presence {
    instance: Arc<Instance>,
    timeout: Duration,
}

#[async_trait]
impl PresenceSync for Presence {
    async fn sync_stats(&self) -> std::collections::BTreeMap<String, u64> {
        let Some(v2) = self.instance.library.api.v2 else { return Default::default() };
        match self.instance.call("presence_stats", v2.presence_stats, b"{}", self.timeout, OnTimeout::Transient).await {
            Ok(stats) => stats,
            Err(e) => {
                tracing::warn!(plugin = %self.instance.plugin(), error = %e, "Plugin presence counters unavailable.");
                Default::default()
            }
        }
    }
}

impl PluginChannel {
    pub(crate) fn new(
        instance: Instance,
        kind: String,
        name: String,
        options: PluginOptions,
        routes: Vec<WireRoute>,
    ) -> Self {
        let instance = Arc::new(instance);
        let inbound = match instance.library.api.v2 {
            Some(_) if !routes.is_empty() => Some(InboundRoutes::new(instance.clone(), routes, options)),
            _ => None,
        };
        let presence = match instance.library.api.v2 {
            Some(_) if instance.library.info().presence => {
                Some(Presence { instance: instance.clone(), timeout: options.control_timeout })
            }
            _ => None,
        };
        PluginChannel { instance, kind, name, options, inbound, presence }
    }

    /// The ABI version of the plugin's library.
    pub fn abi_version(&self) -> u32 {
        self.instance.library.info().abi_version
    }

    /// Answers that arrived after herald had abandoned their request at its deadline (also the metric
    /// `herald_plugin_late_answers_total{integration}`).
    pub fn late_answers(&self) -> u64 {
        self.instance.context.late_answers()
    }

    /// Events dropped because the instance's queue was full on a thread that could not wait (also the metric
    /// `herald_plugin_events_dropped_total{integration}`).
    pub fn events_dropped(&self) -> u64 {
        self.instance.context.events_dropped()
    }

    /// The inbound routes this instance serves (method and path).
    pub fn routes(&self) -> Vec<WireRoute> {
        self.inbound.as_ref().map(|i| i.routes().to_vec()).unwrap_or_default()
    }

    async fn control<T: DeserializeOwned>(&self, op: &'static str, export: CallFn) -> Result<T, ChannelError> {
        self.instance.call::<T>(op, export, b"{}", self.options.control_timeout, OnTimeout::Transient).await
    }
}

fn encode(delivery: &Delivery) -> Result<Vec<u8>, ChannelError> {
    serde_json::to_vec(&WireDelivery::from(delivery))
        .map_err(|e| ChannelError::permanent(format!("cannot encode the delivery for the plugin: {e}")))
}

#[async_trait]
impl MessagingChannel for PluginChannel {
    fn kind(&self) -> &str {
        &self.kind
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn start(&self, ctx: ChannelContext) -> Result<(), ChannelError> {
        // The session store and shutdown token cannot cross the boundary: the plugin gets events only, and is
        // stopped through `shutdown` (which the service calls).
        self.instance.context.set_events(ctx.events);
        self.control::<()>("start", self.instance.library.api.start).await
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        if delivery.remaining().is_zero() {
            // Never handed to the plugin, so certainly not delivered.
            return Err(ChannelError::transient(format!(
                "the attempt's deadline had passed before plugin `{}` was called",
                self.instance.plugin()
            )));
        }
        let payload = encode(delivery)?;
        let timeout = delivery.remaining().min(self.options.deliver_timeout);
        self.instance
            .call("deliver", self.instance.library.api.deliver, &payload, timeout, OnTimeout::OutcomeUnknown)
            .await
    }

    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        match self.instance.library.api.v2 {
            Some(_) => self.instance.library.info().guarantee(),
            None => DeliveryGuarantee::AtLeastOnce,
        }
    }

    async fn confirm_delivery(&self, delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
        let Some(v2) = self.instance.library.api.v2 else {
            return Err(ChannelError::permanent(format!(
                "plugin `{}` speaks ABI 1 and cannot check past deliveries (at-least-once)",
                self.instance.plugin()
            )));
        };
        let payload = encode(delivery)?;
        let timeout = delivery.remaining().min(self.options.deliver_timeout);
        self.instance.call("confirm_delivery", v2.confirm_delivery, &payload, timeout, OnTimeout::Transient).await
    }

    async fn health(&self) -> Health {
        match self.control::<Health>("health", self.instance.library.api.health).await {
            Ok(h) => h,
            Err(e) => Health::with(HealthStatus::Unhealthy, "plugin", e.to_string()),
        }
    }

    async fn shutdown(&self) {
        if let Err(e) = self.control::<()>("shutdown", self.instance.library.api.shutdown).await {
            tracing::warn!(plugin = %self.instance.plugin(), integration = %self.name, error = %e, "Plugin shutdown failed.");
        }
    }

    fn as_http_inbound(&self) -> Option<&dyn HttpInbound> {
        self.inbound.as_ref().map(|i| i as &dyn HttpInbound)
    }

    fn as_presence(&self) -> Option<&dyn PresenceSync> {
        self.presence.as_ref().map(|p| p as &dyn PresenceSync)
    }
}
