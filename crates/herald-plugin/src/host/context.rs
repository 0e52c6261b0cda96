//! The host's side of one plugin instance's callbacks: pending requests, the event sink, logging.
//!
//! The plugin calls these `extern "C"` functions from its own threads. Each catches panics (unwinding out of an
//! `extern "C"` function aborts the process) and treats everything the plugin sends as untrusted input.

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use herald_core::{EventKind, EventSink};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::abi::{borrow_bytes, level, HostVtable};
use crate::wire::LogRecord;

/// Per-instance host state, shared with the plugin through the vtable's context pointer.
pub(crate) struct HostContext {
    /// `kind (path)`, for messages and logs.
    pub(crate) plugin: String,
    /// The integration name.
    pub(crate) integration: String,
    pending: Mutex<HashMap<u64, oneshot::Sender<Vec<u8>>>>,
    events: Mutex<Option<EventSink>>,
}

impl HostContext {
    pub(crate) fn new(plugin: String, integration: String) -> Arc<Self> {
        Arc::new(HostContext { plugin, integration, pending: Mutex::default(), events: Mutex::default() })
    }

    /// A vtable for the plugin. It owns one strong reference to `self`, given back through `release`.
    pub(crate) fn vtable(self: &Arc<Self>) -> HostVtable {
        HostVtable { ctx: Arc::into_raw(self.clone()) as *const c_void, on_event, on_delivery_result, log, release }
    }

    /// Where events go from now on (set before `start`).
    pub(crate) fn set_events(&self, sink: EventSink) {
        *self.events.lock() = Some(sink);
    }

    /// Register request `id`; its reply arrives on the receiver.
    pub(crate) fn expect(&self, id: u64) -> oneshot::Receiver<Vec<u8>> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        rx
    }

    /// Forget request `id` (timed out or abandoned); a late reply is dropped.
    pub(crate) fn forget(&self, id: u64) {
        self.pending.lock().remove(&id);
    }

    fn complete(&self, id: u64, bytes: Vec<u8>) {
        match self.pending.lock().remove(&id) {
            Some(tx) => {
                let _ = tx.send(bytes);
            }
            None => tracing::debug!(
                plugin = %self.plugin, integration = %self.integration, request_id = id,
                "Late or unknown plugin reply ignored (the request had timed out)."
            ),
        }
    }

    fn event(&self, bytes: &[u8]) -> bool {
        let kind: EventKind = match serde_json::from_slice(bytes) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(plugin = %self.plugin, integration = %self.integration, error = %e, "The plugin sent a malformed event; it is dropped.");
                return true;
            }
        };
        let Some(sink) = self.events.lock().clone() else {
            tracing::warn!(plugin = %self.plugin, integration = %self.integration, "The plugin published an event before start; it is dropped.");
            return true;
        };
        match tokio::runtime::Handle::try_current() {
            // Called on one of the host's runtime threads (a plugin calling back synchronously): never block it.
            Ok(rt) => {
                rt.spawn(async move { sink.publish(kind).await });
                true
            }
            // The normal case: a plugin thread that may block while the host's queue is full (back-pressure).
            Err(_) => futures::executor::block_on(sink.publish(kind)),
        }
    }

    fn log(&self, lvl: u32, bytes: &[u8]) {
        let record: LogRecord = serde_json::from_slice(bytes).unwrap_or_else(|_| LogRecord {
            message: String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]).into_owned(),
            fields: Default::default(),
        });
        let fields =
            if record.fields.is_empty() { String::new() } else { serde_json::Value::Object(record.fields).to_string() };
        let (plugin, integration, message) = (&self.plugin, &self.integration, &record.message);
        match lvl {
            level::ERROR => tracing::error!(%plugin, %integration, %fields, "{message}"),
            level::WARN => tracing::warn!(%plugin, %integration, %fields, "{message}"),
            level::INFO => tracing::info!(%plugin, %integration, %fields, "{message}"),
            level::DEBUG => tracing::debug!(%plugin, %integration, %fields, "{message}"),
            _ => tracing::trace!(%plugin, %integration, %fields, "{message}"),
        }
    }
}

/// Borrow the context behind a vtable pointer.
///
/// # Safety
/// `ctx` must come from [`HostContext::vtable`] and not have been released.
unsafe fn context<'a>(ctx: *const c_void) -> Option<&'a HostContext> {
    // SAFETY: per the contract the pointer is a live Arc<HostContext> the plugin still holds.
    unsafe { (ctx as *const HostContext).as_ref() }
}

extern "C" fn on_event(ctx: *const c_void, json: *const u8, len: usize) -> u32 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the plugin calls back only with the context it was given, before releasing it, and with bytes
        // valid for the duration of the call.
        let (ctx, bytes) = unsafe { (context(ctx), borrow_bytes(json, len)) };
        ctx.map(|c| c.event(bytes)).unwrap_or(false)
    }))
    .map(u32::from)
    .unwrap_or(0)
}

extern "C" fn on_delivery_result(ctx: *const c_void, request_id: u64, json: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `on_event`.
        let (ctx, bytes) = unsafe { (context(ctx), borrow_bytes(json, len)) };
        if let Some(c) = ctx {
            c.complete(request_id, bytes.to_vec());
        }
    }));
}

extern "C" fn log(ctx: *const c_void, lvl: u32, json: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `on_event`.
        let (ctx, bytes) = unsafe { (context(ctx), borrow_bytes(json, len)) };
        if let Some(c) = ctx {
            c.log(lvl, bytes);
        }
    }));
}

extern "C" fn release(ctx: *const c_void) {
    if ctx.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `ctx` is the strong reference made by Arc::into_raw in `vtable`; the plugin gives it back once.
        drop(unsafe { Arc::from_raw(ctx as *const HostContext) });
    }));
}
