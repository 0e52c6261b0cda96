//! The bodies of the exported functions, generic over the author's [`Plugin`]. `export_plugin!` generates thin
//! `extern "C"` wrappers that call these; every one catches panics so nothing unwinds into the host, and a panic is
//! also logged through the host.
//!
//! Every asynchronous call runs as one task on the plugin's runtime, remembered by its request id until it ends:
//! `herald_plugin_cancel` aborts it (the adapter's future is dropped, so its HTTP requests stop), and a delivery
//! or check is also stopped at the attempt's deadline by the SDK itself.

use std::any::Any;
use std::collections::HashMap;
use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use futures::FutureExt;
use herald_core::{ChannelError, Delivery, Health};
use parking_lot::Mutex;
use tokio::task::AbortHandle;

use super::runtime::runtime;
use super::{CreateContext, EventPublisher, HostLink, HostLog, Plugin, PluginAdapter};
use crate::abi::{borrow_bytes, Buf, HostVtable, ABI_VERSION};
use crate::wire::{
    CreateRequest, HttpRequest, HttpResponse, InstanceInfo, PluginInfo, Reply, WireDelivery, WireError, WireProblem,
};

/// Which asynchronous call an export stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `herald_plugin_start`.
    Start,
    /// `herald_plugin_deliver`.
    Deliver,
    /// `herald_plugin_health`.
    Health,
    /// `herald_plugin_shutdown`.
    Shutdown,
    /// `herald_plugin_confirm_delivery` (ABI 2).
    ConfirmDelivery,
    /// `herald_plugin_http` (ABI 2).
    Http,
    /// `herald_plugin_presence_stats` (ABI 2).
    PresenceStats,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Deliver => "deliver",
            Op::Health => "health",
            Op::Shutdown => "shutdown",
            Op::ConfirmDelivery => "confirm_delivery",
            Op::Http => "http",
            Op::PresenceStats => "presence_stats",
        }
    }
}

/// One instance behind a handle.
struct Instance<A> {
    adapter: Arc<A>,
    host: Arc<HostLink>,
    /// Calls under way, by request id, so the host can cancel them.
    running: Arc<Mutex<HashMap<u64, AbortHandle>>>,
}

pub use herald_core::tasks::panic_message;

fn panicked(op: &str, payload: &(dyn Any + Send)) -> WireError {
    WireError::Permanent {
        reason: format!("the plugin panicked in {op}: {}", panic_message(payload)),
        correlation_id: None,
    }
}

fn encode<T: serde::Serialize>(reply: &Reply<T>) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_else(|e| {
        format!("{{\"error\":{{\"class\":\"permanent\",\"reason\":\"the plugin could not encode its reply: {e}\"}}}}")
            .into_bytes()
    })
}

/// `herald_plugin_abi_version`.
pub fn abi_version() -> u32 {
    ABI_VERSION
}

/// `herald_plugin_describe`: JSON [`PluginInfo`]; `version` is the plugin crate's version.
pub fn describe<P: Plugin>(version: &str) -> Buf {
    let json = catch_unwind(|| {
        serde_json::to_vec(&PluginInfo {
            kind: P::KIND.to_string(),
            description: P::DESCRIPTION.to_string(),
            version: version.to_string(),
            abi_version: ABI_VERSION,
            sdk_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            delivery_guarantee: Some(P::DELIVERY_GUARANTEE),
            inbound_http: P::INBOUND_HTTP,
            presence: P::PRESENCE,
            path: Default::default(),
        })
        .unwrap_or_default()
    })
    .unwrap_or_default();
    Buf::from_vec(json)
}

/// `herald_plugin_create`.
///
/// # Safety
/// `config` must be valid for `len` bytes (or null), `host` must point to a valid [`HostVtable`] (or be null) and
/// `out` must be writable (or null), all for the duration of the call.
pub unsafe fn create<P: Plugin>(config: *const u8, len: usize, host: *const HostVtable, out: *mut *mut c_void) -> Buf {
    if !out.is_null() {
        // SAFETY: `out` is writable per the contract.
        unsafe { *out = std::ptr::null_mut() };
    }
    if host.is_null() {
        return Buf::from_vec(encode::<()>(&Reply::Error(WireError::permanent_reason("the host vtable is null"))));
    }
    // SAFETY: non-null and valid per the contract; the vtable is plain data copied out.
    let vt = unsafe { *host };
    // From here on the link owns the host's context reference and releases it when dropped (even on panic).
    let link = Arc::new(HostLink::new(vt));
    // SAFETY: valid for `len` bytes during this call per the contract; copied before it returns.
    let bytes = unsafe { borrow_bytes(config, len) };
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<(*mut c_void, InstanceInfo), WireError> {
        let request: CreateRequest = serde_json::from_slice(bytes)
            .map_err(|e| WireError::permanent_reason(format!("the host sent a malformed create request: {e}")))?;
        let rt = runtime().map_err(WireError::permanent_reason)?;
        let _entered = rt.enter();
        let ctx = CreateContext { name: request.name, log: HostLog::new(link.clone()) };
        let adapter = P::create(ctx, request.settings)
            .map_err(|problems| WireError::Config { problems: problems.iter().map(WireProblem::from).collect() })?;
        let info = InstanceInfo { routes: if P::INBOUND_HTTP { adapter.routes() } else { Vec::new() } };
        let instance = Box::new(Instance { adapter: Arc::new(adapter), host: link.clone(), running: Arc::default() });
        Ok((Box::into_raw(instance) as *mut c_void, info))
    }));
    let reply = match result {
        Ok(Ok((handle, info))) => {
            if out.is_null() {
                // Nobody can ever destroy it: free it now.
                // SAFETY: `handle` was just made by Box::into_raw above and given to nobody.
                drop(unsafe { Box::from_raw(handle as *mut Instance<P::Adapter>) });
                Reply::Error(WireError::permanent_reason("the host gave no place for the handle"))
            } else {
                // SAFETY: `out` is writable per the contract.
                unsafe { *out = handle };
                Reply::Ok(info)
            }
        }
        Ok(Err(e)) => Reply::Error(e),
        Err(payload) => Reply::Error(panicked_logged(&link, "create", payload.as_ref())),
    };
    Buf::from_vec(encode(&reply))
}

/// A panic as an error reply, also logged through the host (the plugin's stderr is usually nobody's).
fn panicked_logged(host: &Arc<HostLink>, op: &str, payload: &(dyn Any + Send)) -> WireError {
    let error = panicked(op, payload);
    if let WireError::Permanent { reason, .. } = &error {
        HostLog::new(host.clone()).error(reason.clone());
    }
    error
}

/// `herald_plugin_{start,deliver,health,shutdown,confirm_delivery,http,presence_stats}`: schedule the call on
/// the plugin's runtime and return; the reply goes to the host's `on_delivery_result` with `request_id`.
///
/// # Safety
/// `handle` must come from [`create`] of the same plugin and not be destroyed; `json` must be valid for `len`
/// bytes (or null) for the duration of the call.
pub unsafe fn call<P: Plugin>(op: Op, handle: *mut c_void, request_id: u64, json: *const u8, len: usize) {
    if handle.is_null() {
        return;
    }
    // SAFETY: a live handle from `create` of this plugin, so it points to an Instance<P::Adapter>; shared access
    // only (the host never destroys a handle while calling it).
    let instance = unsafe { &*(handle as *const Instance<P::Adapter>) };
    // SAFETY: valid for `len` bytes during this call; copied before it returns.
    let payload = unsafe { borrow_bytes(json, len) }.to_vec();
    let host = instance.host.clone();
    let adapter = instance.adapter.clone();
    let running = instance.running.clone();
    let scheduled = catch_unwind(AssertUnwindSafe(|| -> Result<(), WireError> {
        let rt = runtime().map_err(WireError::permanent_reason)?;
        let (host, done) = (host.clone(), running.clone());
        // Registered under the lock the task's own removal takes, so a fast task cannot finish before it is known.
        let mut tasks = running.lock();
        let task = rt.spawn(async move {
            let reply = run(op, adapter, host.clone(), payload).await;
            done.lock().remove(&request_id);
            if let Some(reply) = reply {
                host.complete(request_id, &reply);
            }
        });
        tasks.insert(request_id, task.abort_handle());
        Ok(())
    }));
    let failed = match scheduled {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(payload) => panicked_logged(&host, op.name(), payload.as_ref()),
    };
    host.complete(request_id, &encode::<()>(&Reply::Error(failed)));
}

/// `herald_plugin_cancel`: the host stopped waiting for `request_id`; abort its task (no reply is sent).
///
/// # Safety
/// `handle` must come from [`create`] of the same plugin and not be destroyed.
pub unsafe fn cancel<P: Plugin>(handle: *mut c_void, request_id: u64) {
    if handle.is_null() {
        return;
    }
    // SAFETY: as in `call`.
    let instance = unsafe { &*(handle as *const Instance<P::Adapter>) };
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if let Some(task) = instance.running.lock().remove(&request_id) {
            task.abort();
        }
    }));
}

/// Decode the delivery the host sent.
fn delivery(payload: &[u8]) -> Result<Delivery, Vec<u8>> {
    serde_json::from_slice::<WireDelivery>(payload).map(Delivery::from).map_err(|e| {
        encode::<()>(&Reply::Error(WireError::permanent_reason(format!(
            "the plugin could not read the delivery the host sent (ABI mismatch?): {e}"
        ))))
    })
}

/// Run one call to completion on the plugin's runtime; a panic in the adapter becomes an error reply. `None`:
/// the attempt's deadline passed first, the work was stopped, and the host (which abandoned it at that deadline)
/// gets no reply.
async fn run<A: PluginAdapter>(op: Op, adapter: Arc<A>, host: Arc<HostLink>, payload: Vec<u8>) -> Option<Vec<u8>> {
    let log = HostLog::new(host.clone());
    Some(match op {
        Op::Start => encode(&guarded(op, &log, async { adapter.start(EventPublisher::new(host)).await }).await),
        Op::Deliver | Op::ConfirmDelivery => {
            let delivery = match delivery(&payload) {
                Ok(d) => d,
                Err(reply) => return Some(reply),
            };
            let deadline = delivery.deadline;
            let work = async {
                if op == Op::Deliver {
                    encode(&guarded(op, &log, adapter.deliver(delivery)).await)
                } else {
                    encode(&guarded(op, &log, adapter.confirm_delivery(delivery)).await)
                }
            };
            match tokio::time::timeout_at(deadline, work).await {
                Ok(reply) => reply,
                Err(_) => {
                    log.warn(format!("{} stopped at the attempt's deadline", op.name()));
                    return None;
                }
            }
        }
        Op::Http => {
            let request: HttpRequest = match serde_json::from_slice(&payload) {
                Ok(r) => r,
                Err(e) => {
                    return Some(encode::<()>(&Reply::Error(WireError::permanent_reason(format!(
                        "the plugin could not read the HTTP request the host sent: {e}"
                    )))))
                }
            };
            encode::<HttpResponse>(&guarded(op, &log, async { Ok(adapter.http(request).await) }).await)
        }
        Op::PresenceStats => encode(&guarded(op, &log, async { Ok(adapter.presence_stats().await) }).await),
        Op::Health => encode::<Health>(&guarded(op, &log, async { Ok(adapter.health().await) }).await),
        Op::Shutdown => encode::<()>(
            &guarded(op, &log, async {
                adapter.shutdown().await;
                Ok(())
            })
            .await,
        ),
    })
}

/// Await `fut`, turning a panic while polling it into an error reply (the runtime thread survives) that is also
/// logged through the host.
async fn guarded<T>(op: Op, log: &HostLog, fut: impl Future<Output = Result<T, ChannelError>>) -> Reply<T> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r.map_err(WireError::from).into(),
        Err(payload) => {
            let error = panicked(op.name(), payload.as_ref());
            if let WireError::Permanent { reason, .. } = &error {
                log.error(reason.clone());
            }
            Reply::Error(error)
        }
    }
}

/// `herald_plugin_destroy`.
///
/// # Safety
/// `handle` must come from [`create`] of the same plugin and is invalid afterwards.
pub unsafe fn destroy<P: Plugin>(handle: *mut c_void) {
    if handle.is_null() {
        return;
    }
    // SAFETY: per the contract, a live handle made by Box::into_raw in `create`, destroyed once.
    let instance = unsafe { Box::from_raw(handle as *mut Instance<P::Adapter>) };
    // Dropping runs the adapter's Drop: keep a panic there from unwinding into the host.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(instance)));
}

/// `herald_plugin_free_buf`.
///
/// # Safety
/// `buf` must have been returned by an export of this library and not freed yet.
pub unsafe fn free_buf(buf: Buf) {
    // SAFETY: per the contract, the buffer was made by Buf::from_vec in this library.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe { buf.free() }));
}
