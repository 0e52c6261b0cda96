//! A deliberately broken plugin: it reports an ABI version no herald speaks. The host must refuse it after
//! calling `herald_plugin_abi_version` and before looking up anything else.

/// Reports ABI version 999.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_abi_version() -> u32 {
    999
}
