//! The host's side of one plugin instance's callbacks: pending requests, abandoned requests and their late answers,
//! the ordered event queue, logging.
//!
//! The plugin calls these `extern "C"` functions from its own threads. Each catches panics (unwinding out of an
//! `extern "C"` function aborts the process) and treats everything the plugin sends as untrusted input.
//!
//! Events go through one bounded queue per instance, drained in order by one task into the service's
//! `EventSink`: a plugin thread blocks while the queue is full (back-pressure); a call made on one of the host's
//! runtime threads (which must never block) drops the event when the queue is full and counts it
//! (`herald_plugin_events_dropped_total{integration}`). Nothing spawns a task per event.

use std::collections::{HashMap, VecDeque};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use herald_core::{EventKind, EventSink};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::abi::{borrow_bytes, level, HostVtable};
use crate::wire::{LogRecord, Reply, WireError};

/// Events queued per instance between the plugin's threads and the service's event loop.
pub(crate) const EVENT_QUEUE: usize = 1024;

/// Abandoned request ids remembered to recognise their late answers.
const REMEMBERED_ABANDONED: usize = 4096;

/// Per-instance host state, shared with the plugin through the vtable's context pointer.
pub(crate) struct HostContext {
    /// `kind (path)`, for messages and logs.
    pub(crate) plugin: String,
    /// The integration name.
    pub(crate) integration: String,
    pending: Mutex<HashMap<u64, oneshot::Sender<Vec<u8>>>>,
    /// Requests the host stopped waiting for (id, operation), oldest first.
    abandoned: Mutex<VecDeque<(u64, &'static str)>>,
    events: Mutex<Option<mpsc::Sender<EventKind>>>,
    late_answers: AtomicU64,
    events_dropped: AtomicU64,
}

impl HostContext {
    pub(crate) fn new(plugin: String, integration: String) -> Arc<Self> {
        Arc::new(HostContext {
            plugin,
            integration,
            pending: Mutex::default(),
            abandoned: Mutex::default(),
            events: Mutex::default(),
            late_answers: AtomicU64::new(0),
            events_dropped: AtomicU64::new(0),
        })
    }

    /// A vtable for the plugin. It owns one strong reference to `self`, given back through `release`.
    pub(crate) fn vtable(self: &Arc<Self>) -> HostVtable {
        HostVtable { ctx: Arc::into_raw(self.clone()) as *const c_void, on_event, on_delivery_result, log, release }
    }

    /// Where events go from now on (set in `start`, on the host's runtime): one task drains the instance's
    /// bounded queue into `sink`, in order, until the sink closes.
    pub(crate) fn set_events(&self, sink: EventSink) {
        let (tx, mut rx) = mpsc::channel::<EventKind>(EVENT_QUEUE);
        tokio::spawn(async move {
            while let Some(kind) = rx.recv().await {
                if !sink.publish(kind).await {
                    break;
                }
            }
        });
        *self.events.lock() = Some(tx);
    }

    /// Register request `id`; its reply arrives on the receiver.
    pub(crate) fn expect(&self, id: u64) -> oneshot::Receiver<Vec<u8>> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        rx
    }

    /// Stop waiting for request `id` of operation `op` (deadline passed, or the caller went away). A reply that
    /// arrives later is logged and counted as a late answer.
    pub(crate) fn abandon(&self, id: u64, op: &'static str) {
        if self.pending.lock().remove(&id).is_none() {
            return;
        }
        let mut abandoned = self.abandoned.lock();
        abandoned.push_back((id, op));
        if abandoned.len() > REMEMBERED_ABANDONED {
            abandoned.pop_front();
        }
    }

    /// Answers that arrived after their request was abandoned.
    pub(crate) fn late_answers(&self) -> u64 {
        self.late_answers.load(Ordering::Relaxed)
    }

    /// Events dropped because the queue was full on a thread that could not wait.
    pub(crate) fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }

    fn complete(&self, id: u64, bytes: Vec<u8>) {
        let waiting = self.pending.lock().remove(&id);
        if let Some(tx) = waiting {
            let _ = tx.send(bytes);
            return;
        }
        let late = {
            let mut abandoned = self.abandoned.lock();
            abandoned.iter().position(|(i, _)| *i == id).and_then(|at| abandoned.remove(at))
        };
        match late {
            Some((_, op)) => {
                self.late_answers.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("herald_plugin_late_answers_total", "integration" => self.integration.clone())
                    .increment(1);
                tracing::warn!(
                    plugin = %self.plugin, integration = %self.integration, request_id = id, operation = op,
                    answer = %summary(&bytes),
                    "A plugin answered after herald had abandoned the request at its deadline; the answer is ignored \
                     (the attempt's outcome was recorded as unknown and is checked before any resend)."
                );
            }
            None => tracing::debug!(
                plugin = %self.plugin, integration = %self.integration, request_id = id,
                "Unknown plugin reply ignored."
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
        let Some(tx) = self.events.lock().clone() else {
            tracing::warn!(plugin = %self.plugin, integration = %self.integration, "The plugin published an event before start; it is dropped.");
            return true;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            // The normal case: a plugin thread, which may wait while the queue is full (back-pressure).
            return tx.blocking_send(kind).is_ok();
        }
        // One of the host's runtime threads (a plugin calling back synchronously): never block it.
        match tx.try_send(kind) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.events_dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("herald_plugin_events_dropped_total", "integration" => self.integration.clone())
                    .increment(1);
                tracing::warn!(
                    plugin = %self.plugin, integration = %self.integration,
                    "The plugin's event queue is full and the event was published from a thread that cannot wait; \
                     it is dropped. Publish events from the plugin's own threads."
                );
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
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

/// What a late answer said, without its payload (a receipt's ids are fine to log; a body is not).
fn summary(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Reply<serde_json::Value, WireError>>(bytes) {
        Ok(Reply::Ok(_)) => "ok".to_string(),
        Ok(Reply::Error(e)) => format!("error: {}", e.into_channel_error()),
        Err(_) => "malformed".to_string(),
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
