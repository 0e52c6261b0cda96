//! Loading a plugin library: version check first, then symbols, then its description.
//!
//! Libraries are **never unloaded**: the `Library` is leaked on purpose. A plugin runs its own tokio runtime
//! whose threads live as long as the process, its instances may have background tasks, and unloading code that
//! threads or thread-local destructors still point into is undefined behaviour. Keeping it mapped costs one
//! mapping per distinct library; loads are cached by canonical path, so loading the same library twice (e.g.
//! validating then building) reuses the first load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use libloading::Library;
use parking_lot::Mutex;

use super::error::PluginError;
use crate::abi::{
    borrow_bytes, AbiVersionFn, CallFn, CancelFn, CreateFn, DescribeFn, DestroyFn, FreeBufFn, ABI_VERSION,
    SUPPORTED_ABI_VERSIONS, SYM_ABI_VERSION, SYM_CANCEL, SYM_CONFIRM_DELIVERY, SYM_CREATE, SYM_DELIVER, SYM_DESCRIBE,
    SYM_DESTROY, SYM_FREE_BUF, SYM_HEALTH, SYM_HTTP, SYM_PRESENCE_STATS, SYM_SHUTDOWN, SYM_START,
};
use crate::wire::PluginInfo;

/// The exported functions of a loaded library. Plain function pointers: valid forever, since the library is
/// never unloaded.
#[derive(Clone, Copy)]
pub(crate) struct Api {
    pub(crate) create: CreateFn,
    pub(crate) start: CallFn,
    pub(crate) deliver: CallFn,
    pub(crate) health: CallFn,
    pub(crate) shutdown: CallFn,
    pub(crate) destroy: DestroyFn,
    pub(crate) free_buf: FreeBufFn,
    /// ABI 2 only.
    pub(crate) v2: Option<ApiV2>,
}

/// The exports ABI 2 adds.
#[derive(Clone, Copy)]
pub(crate) struct ApiV2 {
    pub(crate) confirm_delivery: CallFn,
    pub(crate) http: CallFn,
    pub(crate) cancel: CancelFn,
    pub(crate) presence_stats: CallFn,
}

/// A loaded, checked plugin library.
pub struct PluginLibrary {
    path: PathBuf,
    info: PluginInfo,
    pub(crate) api: Api,
}

impl std::fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginLibrary").field("path", &self.path).field("info", &self.info).finish()
    }
}

fn cache() -> &'static Mutex<HashMap<PathBuf, Arc<PluginLibrary>>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<PluginLibrary>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl PluginLibrary {
    /// Load and check the library at `path`: it must exist, export `herald_plugin_abi_version` returning a
    /// version in [`SUPPORTED_ABI_VERSIONS`] (checked before anything else is looked up), export every symbol of
    /// that version, and describe itself with valid JSON. Cached by canonical path.
    pub fn load(path: &Path) -> Result<Arc<PluginLibrary>, PluginError> {
        if !path.is_file() {
            return Err(PluginError::NotFound { path: path.to_path_buf() });
        }
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let mut cache = cache().lock();
        if let Some(lib) = cache.get(&key) {
            return Ok(lib.clone());
        }
        let lib = Arc::new(Self::open(path)?);
        cache.insert(key, lib.clone());
        Ok(lib)
    }

    fn open(path: &Path) -> Result<PluginLibrary, PluginError> {
        let owned = || path.to_path_buf();
        // SAFETY: loading runs the library's initialisers. A herald plugin built with the SDK has none of its own;
        // loading an arbitrary library is the operator's decision (`plugin =` in the config).
        let library =
            unsafe { Library::new(path) }.map_err(|e| PluginError::Open { path: owned(), reason: e.to_string() })?;
        // Never unloaded (see the module docs): leak it so every function pointer below stays valid.
        let library: &'static Library = Box::leak(Box::new(library));

        // SAFETY: the symbol's type is fixed by the ABI forever (`fn() -> u32`), whatever the library's version.
        let abi = unsafe { symbol::<AbiVersionFn>(library, path, SYM_ABI_VERSION) }?;
        // SAFETY: calling the version function of the ABI; it takes nothing and returns an integer.
        let found = unsafe { abi() };
        if !SUPPORTED_ABI_VERSIONS.contains(&found) {
            return Err(PluginError::AbiMismatch { path: owned(), found, expected: ABI_VERSION });
        }
        // SAFETY (all lookups below): the library speaks `found`, whose symbols have exactly these types.
        let describe = unsafe { symbol::<DescribeFn>(library, path, SYM_DESCRIBE) }?;
        let api = Api {
            // SAFETY: as above.
            create: unsafe { symbol::<CreateFn>(library, path, SYM_CREATE) }?,
            // SAFETY: as above.
            start: unsafe { symbol::<CallFn>(library, path, SYM_START) }?,
            // SAFETY: as above.
            deliver: unsafe { symbol::<CallFn>(library, path, SYM_DELIVER) }?,
            // SAFETY: as above.
            health: unsafe { symbol::<CallFn>(library, path, SYM_HEALTH) }?,
            // SAFETY: as above.
            shutdown: unsafe { symbol::<CallFn>(library, path, SYM_SHUTDOWN) }?,
            // SAFETY: as above.
            destroy: unsafe { symbol::<DestroyFn>(library, path, SYM_DESTROY) }?,
            // SAFETY: as above.
            free_buf: unsafe { symbol::<FreeBufFn>(library, path, SYM_FREE_BUF) }?,
            v2: None,
        };
        let api = if found >= ABI_VERSION {
            let v2 = ApiV2 {
                // SAFETY: as above (ABI 2 symbols of an ABI 2 library).
                confirm_delivery: unsafe { symbol::<CallFn>(library, path, SYM_CONFIRM_DELIVERY) }?,
                // SAFETY: as above.
                http: unsafe { symbol::<CallFn>(library, path, SYM_HTTP) }?,
                // SAFETY: as above.
                cancel: unsafe { symbol::<CancelFn>(library, path, SYM_CANCEL) }?,
                // SAFETY: as above.
                presence_stats: unsafe { symbol::<CallFn>(library, path, SYM_PRESENCE_STATS) }?,
            };
            Api { v2: Some(v2), ..api }
        } else {
            api
        };
        // SAFETY: describe takes nothing and returns a buffer we free with the library's free_buf.
        let bytes = unsafe { take_buf(describe(), api.free_buf) };
        let mut info: PluginInfo = serde_json::from_slice(&bytes).map_err(|e| PluginError::Describe {
            path: owned(),
            reason: format!(
                "not a plugin description ({e}): {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ),
        })?;
        if info.abi_version != found {
            return Err(PluginError::Describe {
                path: owned(),
                reason: format!("it describes ABI version {} but reported {found}", info.abi_version),
            });
        }
        if info.kind.trim().is_empty() {
            return Err(PluginError::Describe { path: owned(), reason: "its kind is empty".into() });
        }
        info.path = path.to_path_buf();
        Ok(PluginLibrary { path: path.to_path_buf(), info, api })
    }

    /// What the plugin says about itself (with the path it was loaded from).
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Where it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Look up `name` as a `T` in a library that is never unloaded.
///
/// # Safety
/// `T` must be the symbol's true type.
unsafe fn symbol<T: Copy>(library: &'static Library, path: &Path, name: &str) -> Result<T, PluginError> {
    // SAFETY: the caller guarantees the type; the library outlives the copied pointer ('static).
    unsafe { library.get::<T>(name.as_bytes()) }
        .map(|s| *s)
        .map_err(|_| PluginError::MissingSymbol { path: path.to_path_buf(), symbol: name.to_string() })
}

/// Copy a plugin's buffer and give it back to the plugin to free.
///
/// # Safety
/// `buf` must have been returned by an export of the library whose `free_buf` is given, and not freed yet.
pub(crate) unsafe fn take_buf(buf: crate::abi::Buf, free_buf: FreeBufFn) -> Vec<u8> {
    // SAFETY: a buffer returned by the plugin is valid for `len` bytes until freed.
    let bytes = unsafe { borrow_bytes(buf.ptr, buf.len) }.to_vec();
    // SAFETY: freed once, by the side that allocated it.
    unsafe { free_buf(buf) };
    bytes
}
