//! Helpers shared by the plugin tests: build the plugin libraries once, and load a config whose integrations
//! name plugins the way the service will (`plugin = "…"` → registry kind `plugin:<value>`).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use herald::config::{self, LoadedConfig};
use herald_core::Registry;
use herald_plugin::host::{resolve, PluginFactory, PluginLibrary, PluginOptions};

/// Every plugin crate the tests load.
pub const PLUGINS: [&str; 6] = [
    "herald-open-messaging",
    "herald-test-broken-abi",
    "herald-test-broken-behaviour",
    "herald-test-broken-describe",
    "herald-test-broken-json",
    "herald-test-broken-nosym",
];

/// The directory holding the built plugin libraries (built on first call, once per test binary).
pub fn plugins_dir() -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let paths = herald_plugin::dev::build_cdylibs(&PLUGINS)?;
        paths.first().and_then(|p| p.parent()).map(PathBuf::from).ok_or_else(|| "no plugin path".to_string())
    });
    match dir {
        Ok(d) => d.clone(),
        Err(e) => panic!("cannot build the plugin libraries: {e}"),
    }
}

/// The library file of a plugin crate.
pub fn library(package: &str) -> PathBuf {
    plugins_dir().join(herald_plugin::dev::cdylib_file_name(package))
}

/// Load `text` like the service does with plugins: a first pass finds the `plugin = "…"` integrations (their
/// kind is `plugin:<value>`), each library is resolved against `[plugins] dir` and registered under that kind,
/// and a second pass validates every integration, plugins included.
pub fn load_with_plugins(text: &str, options: PluginOptions) -> Result<(LoadedConfig, Registry), String> {
    load_with_plugins_env(text, options, &|_| None)
}

/// [`load_with_plugins`] with `${VAR}` resolved by `env`.
pub fn load_with_plugins_env(
    text: &str,
    options: PluginOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(LoadedConfig, Registry), String> {
    let mut registry = herald::adapters::builtin_registry();
    let first = config::load(text, "test.toml", &registry, env).map_err(|e| e.to_string())?;
    for spec in &first.integrations {
        let Some(value) = spec.kind.strip_prefix("plugin:") else { continue };
        if registry.get(&spec.kind).is_some() {
            continue;
        }
        let path = resolve(value, first.config.plugins.dir.as_deref());
        let library: Arc<PluginLibrary> = PluginLibrary::load(&path).map_err(|e| e.to_string())?;
        registry.register(Arc::new(PluginFactory::new(library, spec.kind.clone()).with_options(options)));
    }
    let loaded = config::load(text, "test.toml", &registry, env).map_err(|e| e.to_string())?;
    Ok((loaded, registry))
}
