//! Helpers shared by the plugin tests: build the plugin libraries once, and load a config whose integrations
//! name plugins (`plugin = "…"` → registry kind `plugin:<value>`), optionally with short plugin timeouts.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use herald::config::{self, LoadedConfig};
use herald_core::Registry;
use herald_plugin::host::{locate, PluginFactory, PluginLibrary, PluginOptions};

/// Every plugin crate the tests load.
pub const PLUGINS: [&str; 8] = [
    "herald-open-messaging",
    "herald-test-abi1",
    "herald-test-abi2",
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

/// Load `text` as the service does: `config::load` itself loads the library of every `plugin = "…"` integration
/// (resolved against `[plugins] dir`) and registers it as kind `plugin:<value>`. To use non-default timeouts, the
/// plugin factories are registered first, with `options`, and `config::load` keeps them.
pub fn load_with_plugins(text: &str, options: PluginOptions) -> Result<LoadedConfig, String> {
    load_with_plugins_env(text, options, &|_| None)
}

/// [`load_with_plugins`] with `${VAR}` resolved by `env`.
pub fn load_with_plugins_env(
    text: &str,
    options: PluginOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, String> {
    let mut registry: Registry = herald::adapters::builtin_registry();
    if options != PluginOptions::default() {
        let raw: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
        let dir = raw.get("plugins").and_then(|p| p.get("dir")).and_then(|d| d.as_str()).map(PathBuf::from);
        let integrations = raw.get("integration").and_then(|i| i.as_array()).cloned().unwrap_or_default();
        for value in integrations.iter().filter_map(|i| i.get("plugin").and_then(|p| p.as_str())) {
            let kind = format!("plugin:{value}");
            if registry.get(&kind).is_some() {
                continue;
            }
            let library: Arc<PluginLibrary> =
                PluginLibrary::load(&locate(value, dir.as_deref())).map_err(|e| e.to_string())?;
            registry.register(Arc::new(PluginFactory::new(library, kind).with_options(options)));
        }
    }
    config::load(text, "test.toml", &registry, env).map_err(|e| e.to_string())
}
