//! `export_plugin!`: the one line a plugin crate writes to export the C ABI.

/// Export the C ABI of a herald plugin for a type implementing [`crate::sdk::Plugin`].
///
/// Write it once at the root of a crate built as a `cdylib`:
///
/// ```ignore
/// pub struct MyPlugin;
/// impl herald_plugin::sdk::Plugin for MyPlugin { /* ... */ }
/// herald_plugin::export_plugin!(MyPlugin);
/// ```
///
/// It generates every `herald_plugin_*` symbol listed in [`crate::abi`]; the plugin's version in `describe` is
/// the crate version of the crate that invokes the macro.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The plugin ABI version this library was built against (checked by the host before anything else).
        #[unsafe(no_mangle)]
        pub extern "C" fn herald_plugin_abi_version() -> u32 {
            $crate::sdk::exports::abi_version()
        }

        /// JSON description of the plugin (kind, description, version, ABI version).
        #[unsafe(no_mangle)]
        pub extern "C" fn herald_plugin_describe() -> $crate::abi::Buf {
            $crate::sdk::exports::describe::<$plugin>(env!("CARGO_PKG_VERSION"))
        }

        /// Build an instance from `{"name", "settings"}` JSON.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CreateFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_create(
            config: *const u8,
            len: usize,
            host: *const $crate::abi::HostVtable,
            out: *mut *mut ::std::ffi::c_void,
        ) -> $crate::abi::Buf {
            // SAFETY: the host upholds the CreateFn contract, which is the contract of `create`.
            unsafe { $crate::sdk::exports::create::<$plugin>(config, len, host, out) }
        }

        /// Begin ingesting; completes through the host's `on_delivery_result`.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CallFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_start(h: *mut ::std::ffi::c_void, id: u64, p: *const u8, n: usize) {
            // SAFETY: the host upholds the CallFn contract, which is the contract of `call`.
            unsafe { $crate::sdk::exports::call::<$plugin>($crate::sdk::exports::Op::Start, h, id, p, n) }
        }

        /// Deliver one notification; completes through the host's `on_delivery_result`.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CallFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_deliver(h: *mut ::std::ffi::c_void, id: u64, p: *const u8, n: usize) {
            // SAFETY: the host upholds the CallFn contract, which is the contract of `call`.
            unsafe { $crate::sdk::exports::call::<$plugin>($crate::sdk::exports::Op::Deliver, h, id, p, n) }
        }

        /// Report health; completes through the host's `on_delivery_result`.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CallFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_health(h: *mut ::std::ffi::c_void, id: u64, p: *const u8, n: usize) {
            // SAFETY: the host upholds the CallFn contract, which is the contract of `call`.
            unsafe { $crate::sdk::exports::call::<$plugin>($crate::sdk::exports::Op::Health, h, id, p, n) }
        }

        /// Stop background work; completes through the host's `on_delivery_result`.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CallFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_shutdown(h: *mut ::std::ffi::c_void, id: u64, p: *const u8, n: usize) {
            // SAFETY: the host upholds the CallFn contract, which is the contract of `call`.
            unsafe { $crate::sdk::exports::call::<$plugin>($crate::sdk::exports::Op::Shutdown, h, id, p, n) }
        }

        /// Look upstream for an earlier attempt (ABI 2); completes through the host's `on_delivery_result`.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CallFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_confirm_delivery(
            h: *mut ::std::ffi::c_void,
            id: u64,
            p: *const u8,
            n: usize,
        ) {
            // SAFETY: the host upholds the CallFn contract, which is the contract of `call`.
            unsafe { $crate::sdk::exports::call::<$plugin>($crate::sdk::exports::Op::ConfirmDelivery, h, id, p, n) }
        }

        /// Answer one inbound HTTP request (ABI 2); completes through the host's `on_delivery_result`.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CallFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_http(h: *mut ::std::ffi::c_void, id: u64, p: *const u8, n: usize) {
            // SAFETY: the host upholds the CallFn contract, which is the contract of `call`.
            unsafe { $crate::sdk::exports::call::<$plugin>($crate::sdk::exports::Op::Http, h, id, p, n) }
        }

        /// Presence-sync counters (ABI 2); completes through the host's `on_delivery_result`.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CallFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_presence_stats(
            h: *mut ::std::ffi::c_void,
            id: u64,
            p: *const u8,
            n: usize,
        ) {
            // SAFETY: the host upholds the CallFn contract, which is the contract of `call`.
            unsafe { $crate::sdk::exports::call::<$plugin>($crate::sdk::exports::Op::PresenceStats, h, id, p, n) }
        }

        /// Stop a request herald no longer waits for (ABI 2).
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::CancelFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_cancel(h: *mut ::std::ffi::c_void, id: u64) {
            // SAFETY: the host upholds the CancelFn contract, which is the contract of `cancel`.
            unsafe { $crate::sdk::exports::cancel::<$plugin>(h, id) }
        }

        /// Free an instance.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::DestroyFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_destroy(h: *mut ::std::ffi::c_void) {
            // SAFETY: the host upholds the DestroyFn contract, which is the contract of `destroy`.
            unsafe { $crate::sdk::exports::destroy::<$plugin>(h) }
        }

        /// Free a buffer this library returned.
        ///
        /// # Safety
        /// Called by the herald host under the contract of `herald_plugin::abi::FreeBufFn`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn herald_plugin_free_buf(buf: $crate::abi::Buf) {
            // SAFETY: the host upholds the FreeBufFn contract, which is the contract of `free_buf`.
            unsafe { $crate::sdk::exports::free_buf(buf) }
        }
    };
}
