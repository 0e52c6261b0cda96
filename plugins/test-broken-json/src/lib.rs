//! A deliberately broken plugin: it loads and creates fine, but answers every delivery with text that is not
//! JSON. The host must turn that into a failed delivery (permanent, naming the plugin) and keep running.
//! Hand-written exports (no SDK), as a plugin in another language would be.

use std::ffi::c_void;

use herald_plugin::abi::{Buf, HostVtable, ABI_V1 as ABI_VERSION};

/// Reports ABI version 1 (a hand-written plugin of the first ABI).
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_abi_version() -> u32 {
    ABI_VERSION
}

/// A valid description.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_describe() -> Buf {
    let json = format!(
        r#"{{"kind":"broken_json","description":"answers deliveries with malformed JSON","version":"0.0.0","abi_version":{ABI_VERSION}}}"#
    );
    Buf::from_vec(json.into_bytes())
}

/// The instance: just the host's callbacks.
struct Instance {
    host: HostVtable,
}

/// Creates an instance whatever the settings.
///
/// # Safety
/// `host` must point to a valid vtable and `out` must be writable (the host's `CreateFn` contract).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_create(
    _config: *const u8,
    _len: usize,
    host: *const HostVtable,
    out: *mut *mut c_void,
) -> Buf {
    if host.is_null() || out.is_null() {
        return Buf::from_vec(br#"{"error":{"class":"permanent","reason":"null pointer"}}"#.to_vec());
    }
    // SAFETY: both pointers are valid per the contract (checked non-null above).
    unsafe { *out = Box::into_raw(Box::new(Instance { host: *host })) as *mut c_void };
    Buf::from_vec(br#"{"ok":null}"#.to_vec())
}

/// Answer `json` to request `id` of instance `h`.
///
/// # Safety
/// `h` must be a live handle from `herald_plugin_create`.
unsafe fn reply(h: *mut c_void, id: u64, json: &[u8]) {
    // SAFETY: per the contract, a live Instance made by herald_plugin_create.
    if let Some(instance) = unsafe { (h as *const Instance).as_ref() } {
        (instance.host.on_delivery_result)(instance.host.ctx, id, json.as_ptr(), json.len());
    }
}

/// Starts (nothing to do).
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_start(h: *mut c_void, id: u64, _: *const u8, _: usize) {
    // SAFETY: forwarded contract.
    unsafe { reply(h, id, br#"{"ok":null}"#) }
}

/// Answers with malformed JSON.
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_deliver(h: *mut c_void, id: u64, _: *const u8, _: usize) {
    // SAFETY: forwarded contract.
    unsafe { reply(h, id, b"{\"ok\": {\"upstream_message_id\": 42, oops") }
}

/// Healthy.
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_health(h: *mut c_void, id: u64, _: *const u8, _: usize) {
    // SAFETY: forwarded contract.
    unsafe { reply(h, id, br#"{"ok":{"status":"healthy","checks":{}}}"#) }
}

/// Stops (nothing to do).
///
/// # Safety
/// `h` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_shutdown(h: *mut c_void, id: u64, _: *const u8, _: usize) {
    // SAFETY: forwarded contract.
    unsafe { reply(h, id, br#"{"ok":null}"#) }
}

/// Frees the instance and gives the host its context back.
///
/// # Safety
/// `h` must be a live handle, destroyed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_destroy(h: *mut c_void) {
    if h.is_null() {
        return;
    }
    // SAFETY: made by Box::into_raw in herald_plugin_create, destroyed once.
    let instance = unsafe { Box::from_raw(h as *mut Instance) };
    (instance.host.release)(instance.host.ctx);
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
