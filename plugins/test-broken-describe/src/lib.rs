//! A deliberately broken plugin: every symbol is there, but `describe` returns text that is not JSON. The host
//! must refuse it at load time. Hand-written exports (no SDK), as a plugin in another language would be.

use std::ffi::c_void;

use herald_plugin::abi::{Buf, HostVtable, ABI_V1 as ABI_VERSION};

/// Reports ABI version 1 (a hand-written plugin of the first ABI).
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_abi_version() -> u32 {
    ABI_VERSION
}

/// Returns text that is not a JSON description.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_describe() -> Buf {
    Buf::from_vec(b"this is not json {".to_vec())
}

/// Never called (the host refuses the library first).
///
/// # Safety
/// None needed: it touches no pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_create(
    _: *const u8,
    _: usize,
    _: *const HostVtable,
    _: *mut *mut c_void,
) -> Buf {
    Buf::empty()
}

/// Never called.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_start(_: *mut c_void, _: u64, _: *const u8, _: usize) {}

/// Never called.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_deliver(_: *mut c_void, _: u64, _: *const u8, _: usize) {}

/// Never called.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_health(_: *mut c_void, _: u64, _: *const u8, _: usize) {}

/// Never called.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_shutdown(_: *mut c_void, _: u64, _: *const u8, _: usize) {}

/// Never called.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_destroy(_: *mut c_void) {}

/// Frees a buffer this library returned.
///
/// # Safety
/// `buf` must come from this library's `herald_plugin_describe`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn herald_plugin_free_buf(buf: Buf) {
    // SAFETY: per the contract the buffer was made by Buf::from_vec in this library.
    unsafe { buf.free() }
}
