//! The C ABI between herald and a plugin library: the only things that cross `dlopen`.
//!
//! Rust has no stable ABI, so nothing Rust-specific crosses the boundary: only `#[repr(C)]` structs, plain
//! integers, function pointers and JSON bytes. The host checks [`ABI_VERSION`] through
//! [`SYM_ABI_VERSION`] before it looks up any other symbol; that symbol's signature never changes.
//!
//! Memory rule: bytes are freed by the side that allocated them. A [`Buf`] returned by a plugin export is freed
//! with the plugin's [`SYM_FREE_BUF`]; bytes the host passes in (`ptr`, `len`) are borrowed for the duration of the
//! call only, and so are bytes a plugin passes to a host callback.
//!
//! Asynchronous calls (`start`, `deliver`, `health`, `shutdown`, and in ABI 2 `confirm_delivery` and `http`) return
//! at once; the plugin completes each by calling [`HostVtable::on_delivery_result`] with the request id the host
//! chose (at most once per request; a request the host cancelled through [`SYM_CANCEL`] may never be answered).
//!
//! ## Versions
//!
//! - **ABI 1**: start, deliver, health, shutdown. Such a plugin still loads; it is at-least-once (it cannot check
//!   an interrupted attempt) and serves no inbound HTTP.
//! - **ABI 2** ([`ABI_VERSION`]): adds [`SYM_CONFIRM_DELIVERY`], [`SYM_HTTP`], [`SYM_CANCEL`] and
//!   [`SYM_PRESENCE_STATS`]; the delivery
//!   carries its deadline (`deadline_ms`); `describe` states the delivery guarantee and whether the plugin serves
//!   inbound HTTP; `create` answers the instance's routes ([`crate::wire::InstanceInfo`]).

use std::ffi::c_void;

/// Version of this ABI. Bumped on any change to a signature, a struct layout or the JSON shapes in
/// [`crate::wire`]; a library reporting another version is refused before anything else is called.
pub const ABI_VERSION: u32 = 2;

/// The first ABI (start, deliver, health, shutdown only). Still loaded, with its limits shown.
pub const ABI_V1: u32 = 1;

/// Every ABI version this host loads.
pub const SUPPORTED_ABI_VERSIONS: [u32; 2] = [ABI_V1, ABI_VERSION];

/// `extern "C" fn() -> u32`: the ABI version the library was built against. Checked first.
pub const SYM_ABI_VERSION: &str = "herald_plugin_abi_version";
/// `extern "C" fn() -> Buf`: JSON [`crate::wire::PluginInfo`].
pub const SYM_DESCRIBE: &str = "herald_plugin_describe";
/// [`CreateFn`]: build an instance from `{"name", "settings"}` JSON.
pub const SYM_CREATE: &str = "herald_plugin_create";
/// [`CallFn`]: begin ingesting; completes with `Reply<()>`.
pub const SYM_START: &str = "herald_plugin_start";
/// [`CallFn`]: deliver one [`crate::wire::WireDelivery`]; completes with `Reply<Receipt>`.
pub const SYM_DELIVER: &str = "herald_plugin_deliver";
/// [`CallFn`]: report health; completes with `Reply<Health>`.
pub const SYM_HEALTH: &str = "herald_plugin_health";
/// [`CallFn`]: stop background work; completes with `Reply<()>`.
pub const SYM_SHUTDOWN: &str = "herald_plugin_shutdown";
/// [`DestroyFn`]: free an instance (after shutdown). The handle is invalid afterwards.
pub const SYM_DESTROY: &str = "herald_plugin_destroy";
/// [`FreeBufFn`]: free a [`Buf`] the plugin returned.
pub const SYM_FREE_BUF: &str = "herald_plugin_free_buf";

/// ABI 2 — [`CallFn`]: look upstream for an earlier attempt of a [`crate::wire::WireDelivery`]; completes with
/// `Reply<Vec<Receipt>>` (every candidate, oldest first; empty = certainly not delivered).
pub const SYM_CONFIRM_DELIVERY: &str = "herald_plugin_confirm_delivery";
/// ABI 2 — [`CallFn`]: one inbound HTTP request ([`crate::wire::WireHttpRequest`]) on a route the instance
/// declared; completes with `Reply<WireHttpResponse>`.
pub const SYM_HTTP: &str = "herald_plugin_http";
/// ABI 2 — [`CancelFn`]: the host stopped waiting for request `request_id` (its deadline passed); the plugin
/// drops the work (no reply is needed, a late one is counted by the host).
pub const SYM_CANCEL: &str = "herald_plugin_cancel";

/// ABI 2 — [`CallFn`]: the presence-sync counters of an instance that declared presence; completes with
/// `Reply<{name: count}>`.
pub const SYM_PRESENCE_STATS: &str = "herald_plugin_presence_stats";

/// Every symbol an ABI 1 library must export, in the order the host looks them up after the version check.
pub const REQUIRED_SYMBOLS: [&str; 8] =
    [SYM_DESCRIBE, SYM_CREATE, SYM_START, SYM_DELIVER, SYM_HEALTH, SYM_SHUTDOWN, SYM_DESTROY, SYM_FREE_BUF];

/// The symbols an ABI 2 library exports besides [`REQUIRED_SYMBOLS`].
pub const REQUIRED_SYMBOLS_V2: [&str; 4] = [SYM_CONFIRM_DELIVERY, SYM_HTTP, SYM_CANCEL, SYM_PRESENCE_STATS];

/// Bytes allocated by the plugin and handed to the host; the host gives them back through [`SYM_FREE_BUF`].
///
/// An empty buffer has a null `ptr` and `len == 0`.
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    /// Start of the bytes (a leaked `Box<[u8]>` on the plugin side), or null.
    pub ptr: *mut u8,
    /// Number of bytes.
    pub len: usize,
}

impl Buf {
    /// The empty buffer.
    pub const fn empty() -> Self {
        Buf { ptr: std::ptr::null_mut(), len: 0 }
    }

    /// Leak `bytes` into a buffer; must be released with [`Buf::free`] in the same library.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        if bytes.is_empty() {
            return Buf::empty();
        }
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed) as *mut u8;
        Buf { ptr, len }
    }

    /// Free a buffer made by [`Buf::from_vec`] in this same library.
    ///
    /// # Safety
    /// `self` must come from [`Buf::from_vec`] of this library (same allocator) and must not have been freed.
    pub unsafe fn free(self) {
        if self.ptr.is_null() {
            return;
        }
        // SAFETY: per this function's contract, (ptr, len) is a leaked Box<[u8]> of this library's allocator.
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr, self.len);
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// Log levels of [`HostVtable::log`].
pub mod level {
    /// Error.
    pub const ERROR: u32 = 1;
    /// Warning.
    pub const WARN: u32 = 2;
    /// Information.
    pub const INFO: u32 = 3;
    /// Debug detail.
    pub const DEBUG: u32 = 4;
    /// Trace detail.
    pub const TRACE: u32 = 5;
}

/// Callbacks the host gives each plugin instance, with an opaque context pointer passed back on every call.
///
/// The plugin may call these from any thread, concurrently. `release` is called exactly once, when the plugin
/// holds no more references to `ctx` (after which no other callback may be called with it).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostVtable {
    /// The host's per-instance context.
    pub ctx: *const c_void,
    /// An event (JSON `herald_core::EventKind`) from the instance. Returns 1 if accepted, 0 if the host has
    /// stopped listening. May block while the host's event queue is full (back-pressure): call it from a thread
    /// that may block.
    pub on_event: extern "C" fn(ctx: *const c_void, json: *const u8, len: usize) -> u32,
    /// Completes the asynchronous request `request_id` (any of the [`CallFn`] exports) with a JSON `Reply`.
    /// Never blocks.
    pub on_delivery_result: extern "C" fn(ctx: *const c_void, request_id: u64, json: *const u8, len: usize),
    /// A log record (JSON [`crate::wire::LogRecord`]) at a [`level`]; the host re-emits it through `tracing`.
    pub log: extern "C" fn(ctx: *const c_void, level: u32, json: *const u8, len: usize),
    /// The plugin drops its last reference to `ctx`.
    pub release: extern "C" fn(ctx: *const c_void),
}

/// `herald_plugin_abi_version`.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
/// `herald_plugin_describe`.
pub type DescribeFn = unsafe extern "C" fn() -> Buf;
/// `herald_plugin_create(config, config_len, host, out_handle) -> Buf`: the returned buffer is a JSON
/// `Reply<()>`; on `ok` `*out_handle` is the new instance, on `error` it is null and the error lists
/// [`crate::wire::WireProblem`]s.
pub type CreateFn =
    unsafe extern "C" fn(config: *const u8, len: usize, host: *const HostVtable, out: *mut *mut c_void) -> Buf;
/// `herald_plugin_{start,deliver,health,shutdown,confirm_delivery,http}(handle, request_id, json, len)`: returns at once; the
/// result arrives through [`HostVtable::on_delivery_result`].
pub type CallFn = unsafe extern "C" fn(handle: *mut c_void, request_id: u64, json: *const u8, len: usize);
/// `herald_plugin_cancel(handle, request_id)` (ABI 2): returns at once.
pub type CancelFn = unsafe extern "C" fn(handle: *mut c_void, request_id: u64);
/// `herald_plugin_destroy(handle)`.
pub type DestroyFn = unsafe extern "C" fn(handle: *mut c_void);
/// `herald_plugin_free_buf(buf)`.
pub type FreeBufFn = unsafe extern "C" fn(buf: Buf);

/// Borrow `(ptr, len)` as a byte slice; a null pointer reads as empty.
///
/// # Safety
/// Unless null, `ptr` must point to `len` initialised bytes that stay valid and unmodified for `'a`.
pub unsafe fn borrow_bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: non-null and, per the contract, valid for `len` bytes during 'a.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_round_trip_and_empty() {
        let b = Buf::from_vec(b"{\"ok\":null}".to_vec());
        // SAFETY: b was just made from a Vec of that length.
        assert_eq!(unsafe { borrow_bytes(b.ptr, b.len) }, b"{\"ok\":null}");
        // SAFETY: made by from_vec in this library, freed once.
        unsafe { b.free() };
        let e = Buf::from_vec(Vec::new());
        assert!(e.ptr.is_null());
        // SAFETY: freeing the empty buffer is a no-op.
        unsafe { e.free() };
    }
}
