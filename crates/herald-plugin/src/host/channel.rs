//! [`PluginChannel`]: a plugin instance behind the `MessagingChannel` trait.
//!
//! Each call sends JSON to the plugin with a fresh request id and awaits the reply that the plugin posts to the
//! host callback, with a timeout. Whatever comes back is untrusted: malformed JSON becomes a permanent error naming
//! the plugin, silence becomes a transient error, and neither affects anything but this one call.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herald_core::{ChannelContext, ChannelError, Delivery, Health, HealthStatus, MessagingChannel, Receipt};
use serde::de::DeserializeOwned;

use super::context::HostContext;
use super::library::PluginLibrary;
use super::PluginOptions;
use crate::abi::CallFn;
use crate::wire::{Reply, WireDelivery, WireError};

/// An instance handle. Only passed back to the plugin that made it.
pub(crate) struct Handle(pub(crate) *mut c_void);

// SAFETY: the handle is an opaque token for the plugin, which accepts calls on it from any thread (the SDK's
// instance is `Send + Sync`); the host never dereferences it.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

/// A plugin instance, indistinguishable from a built-in adapter to the registry, dispatcher and rules.
pub struct PluginChannel {
    library: Arc<PluginLibrary>,
    handle: Handle,
    context: Arc<HostContext>,
    kind: String,
    name: String,
    options: PluginOptions,
    next_id: AtomicU64,
}

/// Forgets a pending request when its caller stops waiting (timeout, or the caller's future was dropped).
struct Pending<'a> {
    context: &'a HostContext,
    id: u64,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.context.forget(self.id);
    }
}

impl PluginChannel {
    pub(crate) fn new(
        library: Arc<PluginLibrary>,
        handle: Handle,
        context: Arc<HostContext>,
        kind: String,
        name: String,
        options: PluginOptions,
    ) -> Self {
        PluginChannel { library, handle, context, kind, name, options, next_id: AtomicU64::new(1) }
    }

    fn plugin(&self) -> &str {
        &self.context.plugin
    }

    /// Send one request and await its reply.
    async fn call<T: DeserializeOwned>(
        &self,
        op: &str,
        export: CallFn,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<T, ChannelError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let reply = self.context.expect(id);
        let _pending = Pending { context: &self.context, id };
        // SAFETY: the handle is live (destroyed only in Drop, which cannot run while `&self` is borrowed) and the
        // payload is valid for the duration of the call; the plugin copies it before returning.
        unsafe { export(self.handle.0, id, payload.as_ptr(), payload.len()) };
        let bytes = match tokio::time::timeout(timeout, reply).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                return Err(ChannelError::transient(format!(
                    "plugin `{}` dropped the {op} request without answering",
                    self.plugin()
                )))
            }
            Err(_) => {
                return Err(ChannelError::transient(format!(
                    "plugin `{}` did not answer {op} within {:.1}s (hung?); the request is abandoned",
                    self.plugin(),
                    timeout.as_secs_f64()
                )))
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
        self.context.set_events(ctx.events);
        self.call::<()>("start", self.library.api.start, b"{}", self.options.control_timeout).await
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let payload = serde_json::to_vec(&WireDelivery::from(delivery))
            .map_err(|e| ChannelError::permanent(format!("cannot encode the delivery for the plugin: {e}")))?;
        self.call("deliver", self.library.api.deliver, &payload, self.options.deliver_timeout).await
    }

    async fn health(&self) -> Health {
        match self.call::<Health>("health", self.library.api.health, b"{}", self.options.control_timeout).await {
            Ok(h) => h,
            Err(e) => Health::with(HealthStatus::Unhealthy, "plugin", e.to_string()),
        }
    }

    async fn shutdown(&self) {
        if let Err(e) =
            self.call::<()>("shutdown", self.library.api.shutdown, b"{}", self.options.control_timeout).await
        {
            tracing::warn!(plugin = %self.plugin(), integration = %self.name, error = %e, "Plugin shutdown failed.");
        }
    }
}

impl Drop for PluginChannel {
    fn drop(&mut self) {
        // SAFETY: the handle came from this library's create and is destroyed exactly once, here; no call can be
        // in progress since Drop has exclusive access. Tasks the plugin spawned keep their own references.
        unsafe { (self.library.api.destroy)(self.handle.0) };
    }
}
