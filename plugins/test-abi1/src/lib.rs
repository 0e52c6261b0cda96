//! A plugin built for ABI 1 (start, deliver, health, shutdown; no cancel, no confirm, no inbound), with
//! hand-written exports as a plugin from an older herald or another language would have. `deliver` answers after
//! `delay_ms` (setting) from a thread of its own and nothing can stop it: past herald's deadline its answer is a
//! late one, which herald logs and counts.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use herald_plugin::abi::{borrow_bytes, Buf, HostVtable, ABI_V1};

/// Reports ABI version 1.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_abi_version() -> u32 {
    ABI_V1
}

/// An ABI 1 description (no guarantee, no inbound fields).
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_describe() -> Buf {
    let json = format!(
        r#"{{"kind":"test_abi1","description":"an ABI 1 plugin answering after a delay","version":"0.1.0","abi_version":{ABI_V1}}}"#
    );
    Buf::from_vec(json.into_bytes())
}

/// The host's callbacks; gives the context back when the last holder drops it.
struct Link(HostVtable);

// SAFETY: the ABI lets a plugin call the host's callbacks from any thread.
unsafe impl Send for Link {}
// SAFETY: as above.
unsafe impl Sync for Link {}

impl Link {
    fn reply(&self, id: u64, json: &[u8]) {
        (self.0.on_delivery_result)(self.0.ctx, id, json.as_ptr(), json.len());
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        (self.0.release)(self.0.ctx);
    }
}

/// One instance.
struct Instance {
    link: Arc<Link>,
    delay: Duration,
    sent: AtomicU64,
}

/// Creates an instance; settings `{"delay_ms": n}`.
///
/// # Safety
/// The host's `CreateFn` contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_create(
    config: *const u8,
    len: usize,
    host: *const HostVtable,
    out: *mut *mut c_void,
) -> Buf {
    if host.is_null() || out.is_null() {
        return Buf::from_vec(br#"{"error":{"class":"permanent","reason":"null pointer"}}"#.to_vec());
    }
    // SAFETY: valid for the call per the contract.
    let request: serde_json::Value = serde_json::from_slice(unsafe { borrow_bytes(config, len) }).unwrap_or_default();
    let delay = Duration::from_millis(request["settings"]["delay_ms"].as_u64().unwrap_or(0));
    // SAFETY: both pointers are valid per the contract (checked non-null above).
    let link = Arc::new(Link(unsafe { *host }));
    let instance = Instance { link, delay, sent: AtomicU64::new(0) };
    // SAFETY: as above.
    unsafe { *out = Box::into_raw(Box::new(instance)) as *mut c_void };
    Buf::from_vec(br#"{"ok":null}"#.to_vec())
}

/// The instance behind a handle.
///
/// # Safety
/// `h` must be a live handle from `herald_plugin_create`.
unsafe fn instance<'a>(h: *mut c_void) -> Option<&'a Instance> {
    // SAFETY: per the contract.
    unsafe { (h as *const Instance).as_ref() }
}

/// Starts (nothing to do).
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_start(h: *mut c_void, id: u64, _: *const u8, _: usize) {
    // SAFETY: forwarded contract.
    if let Some(i) = unsafe { instance(h) } {
        i.link.reply(id, br#"{"ok":null}"#);
    }
}

/// Answers a receipt after the configured delay, from a thread of its own.
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_deliver(h: *mut c_void, id: u64, _: *const u8, _: usize) {
    // SAFETY: forwarded contract.
    let Some(i) = (unsafe { instance(h) }) else { return };
    let n = i.sent.fetch_add(1, Ordering::SeqCst) + 1;
    let (link, delay) = (i.link.clone(), i.delay);
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let receipt = serde_json::json!({"ok": {
            "upstream_message_id": format!("abi1-{n}"),
            "conversation_id": null,
            "route": "test_abi1",
            "delivered_at": chrono::Utc::now(),
        }});
        link.reply(id, receipt.to_string().as_bytes());
    });
}

/// Healthy.
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_health(h: *mut c_void, id: u64, _: *const u8, _: usize) {
    // SAFETY: forwarded contract.
    if let Some(i) = unsafe { instance(h) } {
        i.link.reply(id, br#"{"ok":{"status":"healthy","checks":{}}}"#);
    }
}

/// Stops (nothing to do).
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_shutdown(h: *mut c_void, id: u64, _: *const u8, _: usize) {
    // SAFETY: forwarded contract.
    if let Some(i) = unsafe { instance(h) } {
        i.link.reply(id, br#"{"ok":null}"#);
    }
}

/// Frees the instance (threads still answering keep the host context alive until they finish).
///
/// # Safety
/// `h` must be a live handle, destroyed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_destroy(h: *mut c_void) {
    if !h.is_null() {
        // SAFETY: made by Box::into_raw in herald_plugin_create, destroyed once.
        drop(unsafe { Box::from_raw(h as *mut Instance) });
    }
}

/// Frees a buffer this library returned.
///
/// # Safety
/// `buf` must come from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_free_buf(buf: Buf) {
    // SAFETY: per the contract the buffer was made by Buf::from_vec in this library.
    unsafe { buf.free() }
}
