//! The plugin's own tokio runtime.
//!
//! tokio keeps its runtime context in thread-locals of its own copy of the crate; a plugin library links its own
//! copy, so it cannot use the host's runtime (futures would find "no reactor running"). Each plugin library
//! therefore runs one multi-threaded runtime on its own threads, created on first use and never shut down
//! (the library is never unloaded, so neither are its threads).

use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// Worker threads of a plugin's runtime (the service targets 2-core machines; plugins are I/O bound).
const WORKER_THREADS: usize = 2;

/// The library's runtime, created on first call.
pub(crate) fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKER_THREADS)
                .thread_name("herald-plugin")
                .enable_all()
                .build()
                .map_err(|e| format!("the plugin could not start its tokio runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}
