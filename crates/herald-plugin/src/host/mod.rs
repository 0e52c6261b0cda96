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

/// How long the host waits for a plugin's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginOptions {
    /// For one delivery; past it the delivery fails as transient ("did not answer") and is retried later. Keep it
    /// below the dispatcher's `delivery_timeout_secs` so the reason names the plugin.
    pub deliver_timeout: Duration,
    /// For `start`, `health` and `shutdown`.
    pub control_timeout: Duration,
}

impl Default for PluginOptions {
    fn default() -> Self {
        PluginOptions { deliver_timeout: Duration::from_secs(25), control_timeout: Duration::from_secs(10) }
    }
}

/// Load the library at `path` and return a factory registering it under the registry kind `kind`
/// (the config loader uses `plugin:<value of plugin =>`), with default timeouts.
pub fn load_factory(path: &Path, kind: String) -> Result<Arc<dyn AdapterFactory>, PluginError> {
    let library = PluginLibrary::load(path)?;
    Ok(Arc::new(PluginFactory::new(library, kind)))
}

/// Load the library at `path` and return what it says about itself (for `herald plugins list`).
pub fn describe(path: &Path) -> Result<PluginInfo, PluginError> {
    Ok(PluginLibrary::load(path)?.info().clone())
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
    let looks_like_path = name_or_path.contains('/')
        || name_or_path.contains(std::path::MAIN_SEPARATOR)
        || [".so", ".dylib", ".dll"].iter().any(|ext| name_or_path.ends_with(ext));
    if looks_like_path {
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
