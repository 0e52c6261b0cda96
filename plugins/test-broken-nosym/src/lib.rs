//! A deliberately broken plugin: the right ABI version, but none of the other exports. The host must refuse it
//! naming the first missing symbol.

/// Reports the current ABI version.
#[unsafe(no_mangle)]
pub extern "C" fn herald_plugin_abi_version() -> u32 {
    herald_plugin::abi::ABI_VERSION
}
