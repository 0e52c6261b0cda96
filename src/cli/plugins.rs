//! `herald plugins list`: the built-in kinds and every plugin library found, each with the exact config line that
//! uses it, its ABI version and what it can promise. `herald plugins new` is in [`super::scaffold`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use herald_plugin::host::{self, PluginInfo};

use crate::adapters::builtin_registry;
use crate::config;

pub use super::scaffold::new;

/// One library found, and how a config names it.
struct Found {
    path: PathBuf,
    info: Result<PluginInfo, String>,
}

/// The `plugin = "…"` value that picks `path`: its kind when that finds exactly this library in `dir`, else the path.
fn config_value(info: &PluginInfo, path: &Path, dir: &Path) -> String {
    if host::locate(&info.kind, Some(dir)) == path {
        info.kind.clone()
    } else {
        path.display().to_string()
    }
}

/// What an ABI version leaves out, for ABI 1 libraries.
fn limits(info: &PluginInfo) -> &'static str {
    if info.abi_version < herald_plugin::abi::ABI_VERSION {
        " (ABI 1: no confirm_delivery, no inbound HTTP, not stopped at the deadline; rebuild with this SDK)"
    } else {
        ""
    }
}

/// `herald plugins list [--dir DIR] [--config FILE]`. Exit 1 if a library found or named is refused.
pub fn list(dir: Option<PathBuf>, config_path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let registry = builtin_registry();
    println!("built-in adapter kinds:");
    for f in registry.factories() {
        println!("  kind = {:<22} {}", format!("\"{}\"", f.kind()), f.description());
    }
    let mut named = Vec::new();
    let mut configured_dir = None;
    if let Some(path) = &config_path {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let raw: config::Config = toml::from_str(&text)
            .with_context(|| format!("{} does not parse; run `herald config check`", path.display()))?;
        configured_dir = raw.plugins.dir.clone();
        for i in raw.integrations.iter().filter_map(|i| i.plugin.clone()) {
            named.push(host::locate(&i, configured_dir.as_deref()));
        }
    }
    let dir = dir.or(configured_dir).unwrap_or_else(|| PathBuf::from("plugins"));
    let mut paths = host::libraries_in(&dir);
    paths.extend(named);
    paths.sort();
    paths.dedup();
    let found: Vec<Found> = paths
        .into_iter()
        .map(|path| {
            let info = host::describe(&path).map_err(|e| e.to_string());
            Found { path, info }
        })
        .collect();
    println!("plugins in {} ([plugins] dir = \"{}\"):", dir.display(), dir.display());
    if found.is_empty() {
        println!("  none found");
    }
    let mut ok = true;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for f in &found {
        if let Ok(info) = &f.info {
            *kinds.entry(info.kind.clone()).or_default() += 1;
        }
    }
    for f in &found {
        match &f.info {
            Ok(info) => {
                let line = format!("plugin = \"{}\"", config_value(info, &f.path, &dir));
                println!(
                    "  {line:<30} ABI {}  {}  v{} — {}{}",
                    info.abi_version,
                    info.capabilities(),
                    info.version,
                    info.description,
                    limits(info)
                );
                if kinds.get(&info.kind).copied().unwrap_or(0) > 1 {
                    println!(
                        "      {} libraries declare kind `{}`: name this one by its path",
                        kinds[&info.kind], info.kind
                    );
                }
                println!("      {}", f.path.display());
            }
            Err(e) => {
                ok = false;
                println!("  refused: {e}");
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
