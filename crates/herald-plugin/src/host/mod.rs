//! The host side: load a plugin library and register it as an adapter kind.
//!
//! ```ignore
//! let path = herald_plugin::host::resolve("herald_open_messaging", plugins_dir);
//! registry.register(herald_plugin::host::load_factory(&path, "plugin:open-messaging".into())?);
//! ```
//!
//! From then on the registry, dispatcher and rules use the plugin like any built-in adapter.

mod channel;
mod context;
mod error;
mod factory;
mod inbound;
mod library;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use herald_core::AdapterFactory;

pub use channel::PluginChannel;
pub use error::PluginError;
pub use factory::PluginFactory;
pub use library::PluginLibrary;

pub use crate::wire::PluginInfo;

/// How long the host waits for a plugin's answers, and the limits of its inbound routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginOptions {
    /// Upper bound for one delivery or check; the attempt's own deadline (`Delivery::deadline`) usually comes
    /// first. Past it the delivery is abandoned with an unknown outcome and an ABI 2 plugin is told to cancel.
    pub deliver_timeout: Duration,
    /// For `start`, `health` and `shutdown`.
    pub control_timeout: Duration,
    /// For one inbound HTTP request (answered 504 past it).
    pub inbound_timeout: Duration,
    /// Largest inbound request body (answered 413 past it); the service passes its `max_body_bytes`.
    pub inbound_max_body: usize,
}

impl Default for PluginOptions {
    fn default() -> Self {
        PluginOptions {
            deliver_timeout: Duration::from_secs(25),
            control_timeout: Duration::from_secs(10),
            inbound_timeout: Duration::from_secs(10),
            inbound_max_body: 64 * 1024,
        }
    }
}

/// Load the library at `path` and return a factory registering it under the registry kind `kind`
/// (the config loader uses `plugin:<value of plugin =>`), with default timeouts.
pub fn load_factory(path: &Path, kind: String) -> Result<Arc<dyn AdapterFactory>, PluginError> {
    let library = PluginLibrary::load(path)?;
    Ok(Arc::new(PluginFactory::new(library, kind)))
}

/// [`load_factory`] with non-default options (timeouts, inbound limits).
pub fn load_factory_with(
    path: &Path,
    kind: String,
    options: PluginOptions,
) -> Result<Arc<dyn AdapterFactory>, PluginError> {
    let library = PluginLibrary::load(path)?;
    Ok(Arc::new(PluginFactory::new(library, kind).with_options(options)))
}

/// Load the library at `path` and return what it says about itself (for `herald plugins list`).
pub fn describe(path: &Path) -> Result<PluginInfo, PluginError> {
    Ok(PluginLibrary::load(path)?.info().clone())
}

/// The file a config's `plugin = "…"` value names, by file name ([`resolve`]) or else by the kind a library in
/// `plugins_dir` declares: `plugin = "open_messaging"` finds `libherald_open_messaging.so` because that library
/// describes itself as kind `open_messaging` (dashes and underscores are the same here). Libraries in the directory
/// are loaded to ask their kind (and, like every plugin library, never unloaded); ones that fail to load are
/// skipped. Returns [`resolve`]'s answer when nothing matches, so the load error names the file looked for.
pub fn locate(name_or_path: &str, plugins_dir: Option<&Path>) -> PathBuf {
    let by_file = resolve(name_or_path, plugins_dir);
    if by_file.exists() || looks_like_path(name_or_path) {
        return by_file;
    }
    let wanted = name_or_path.replace('-', "_");
    libraries_in(plugins_dir.unwrap_or(Path::new(".")))
        .into_iter()
        .find(|path| describe(path).is_ok_and(|info| info.kind.replace('-', "_") == wanted))
        .unwrap_or(by_file)
}

/// The shared libraries directly inside `dir` (by this platform's extension), sorted.
pub fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let suffix = std::env::consts::DLL_SUFFIX;
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The file a config's `plugin = "…"` value names.
///
/// A value with a path separator or a library extension is a path (relative to the working directory). Otherwise
/// it is a name looked up in `plugins_dir` (default: the working directory) as `lib<name>.so` (Linux),
/// `lib<name>.dylib` (macOS) or `<name>.dll` (Windows); if that file does not exist and the name has dashes, the
/// underscored name cargo gives library files (`herald-open-messaging` → `libherald_open_messaging.so`) is tried.
/// Returns the first candidate when none exists, so the load error names it.
pub fn resolve(name_or_path: &str, plugins_dir: Option<&Path>) -> PathBuf {
    let suffix = std::env::consts::DLL_SUFFIX;
    if looks_like_path(name_or_path) {
        return PathBuf::from(name_or_path);
    }
    let dir = plugins_dir.unwrap_or(Path::new("."));
    let file = |name: &str| dir.join(format!("{}{name}{suffix}", std::env::consts::DLL_PREFIX));
    let first = file(name_or_path);
    if !first.exists() && name_or_path.contains('-') {
        let underscored = file(&name_or_path.replace('-', "_"));
        if underscored.exists() {
            return underscored;
        }
    }
    first
}

/// A value with a path separator or a library extension is a path, not a name.
fn looks_like_path(name_or_path: &str) -> bool {
    name_or_path.contains('/')
        || name_or_path.contains(std::path::MAIN_SEPARATOR)
        || [".so", ".dylib", ".dll"].iter().any(|ext| name_or_path.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_names_and_paths() {
        let dir = Path::new("plugins-dir");
        let expected = dir.join(format!("{}echo{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
        assert_eq!(resolve("echo", Some(dir)), expected);
        assert_eq!(resolve("./x/libecho.so", Some(dir)), PathBuf::from("./x/libecho.so"));
        assert_eq!(resolve("echo.dll", None), PathBuf::from("echo.dll"));
    }

    #[test]
    fn resolve_tries_the_underscored_file_name() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let lib = format!("{}my_plugin{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
        std::fs::write(dir.path().join(&lib), b"").unwrap_or_else(|e| panic!("write: {e}"));
        assert_eq!(resolve("my-plugin", Some(dir.path())), dir.path().join(lib));
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err = describe(Path::new("no/such/libplugin.so")).unwrap_err();
        assert!(matches!(err, PluginError::NotFound { .. }));
        assert!(err.to_string().contains("no/such/libplugin.so"), "{err}");
    }
}
