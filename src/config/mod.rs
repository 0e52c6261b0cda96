//! Configuration: load, expand `${VAR}`, validate every section, report every problem with its key path.
//!
//! A malformed config never starts a half-working service: [`load`] returns all problems at once, and
//! `herald config check FILE` prints them.

mod env;
mod model;
mod secret;
mod syntax;

use std::collections::BTreeSet;
use std::path::Path;

use herald_core::{ConfigProblem, IntegrationSpec, Registry};

pub use env::expand;
pub use model::{Config, DispatcherConfig, IntegrationConfig, PluginsConfig, ServiceConfig, StoreBackend, StoreConfig};
pub use secret::Secret;

/// A configuration that could not be loaded, with every problem found.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in {source_name}:\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    /// The file (or "config").
    pub source_name: String,
    /// Every problem.
    pub problems: Vec<ConfigProblem>,
}

/// A loaded, validated configuration with the integration specs the registry builds from.
#[derive(Clone)]
pub struct LoadedConfig {
    /// The typed config.
    pub config: Config,
    /// One spec per integration, in file order.
    pub integrations: Vec<IntegrationSpec>,
    /// The registry the config was validated against, plus the factories of the plugins it names
    /// (kind `plugin:<value of plugin>`); the service builds integrations from it.
    pub registry: Registry,
}

impl std::fmt::Debug for LoadedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedConfig")
            .field("config", &self.config)
            .field("integrations", &self.integrations)
            .field("kinds", &self.registry.kinds())
            .finish()
    }
}

/// Read and validate a config file, expanding `${VAR}` from the process environment.
pub fn load_file(path: &Path, registry: &Registry) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        source_name: path.display().to_string(),
        problems: vec![ConfigProblem::new("(file)", format!("cannot read {}: {e}", path.display()))],
    })?;
    load(&text, &path.display().to_string(), registry, &|name| std::env::var(name).ok())
}

/// Parse and validate config text. `lookup` resolves `${VAR}`.
pub fn load(
    text: &str,
    source_name: &str,
    registry: &Registry,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let fail = |problems| ConfigError { source_name: source_name.to_string(), problems };
    let mut raw: toml::Value = toml::from_str(text).map_err(|e| fail(vec![syntax::problem(text, &e)]))?;
    let mut problems = Vec::new();
    env::expand_tree(&mut raw, "", lookup, &mut problems);
    let config: Config = match serde_path_to_error::deserialize(raw) {
        Ok(c) => c,
        Err(e) => {
            let path = e.path().to_string();
            problems.push(ConfigProblem::new(path_or_root(&path), e.into_inner().to_string()));
            return Err(fail(problems));
        }
    };
    let mut registry = registry.clone();
    load_plugins(&config, &mut registry, &mut problems);
    let integrations = validate(&config, &registry, &mut problems);
    if problems.is_empty() {
        Ok(LoadedConfig { config, integrations, registry })
    } else {
        Err(fail(problems))
    }
}

/// Load the library of every `plugin = "…"` integration and register its factory as kind `plugin:<value>`. The value
/// is a path, a library file name, or the kind a library in `[plugins] dir` declares. Plugin routes get the
/// service's body limit. A library that cannot be loaded (missing, no symbols, wrong ABI version, bad
/// description) is a problem at its key path.
fn load_plugins(config: &Config, registry: &mut Registry, problems: &mut Vec<ConfigProblem>) {
    for (i, integration) in config.integrations.iter().enumerate() {
        let Some(plugin) = &integration.plugin else { continue };
        let kind = format!("plugin:{plugin}");
        if registry.get(&kind).is_some() {
            continue;
        }
        let path = herald_plugin::host::locate(plugin, config.plugins.dir.as_deref());
        let options = herald_plugin::host::PluginOptions {
            inbound_max_body: config.service.max_body_bytes,
            ..Default::default()
        };
        match herald_plugin::host::load_factory_with(&path, kind, options) {
            Ok(factory) => registry.register(factory),
            Err(e) => problems.push(ConfigProblem::new(format!("integration[{i}].plugin"), e.to_string())),
        }
    }
}

fn path_or_root(path: &str) -> String {
    if path.is_empty() || path == "." {
        "(root)".to_string()
    } else {
        path.to_string()
    }
}

/// Check everything the types cannot: names, kinds, adapter settings, rules, limits.
fn validate(config: &Config, registry: &Registry, problems: &mut Vec<ConfigProblem>) -> Vec<IntegrationSpec> {
    if config.service.api_keys.iter().any(|k| k.expose().len() < 16) {
        problems.push(ConfigProblem::new(
            "service.api_keys",
            "every API key must be at least 16 characters; generate one with `openssl rand -hex 24`",
        ));
    }
    if config.service.max_body_bytes < 1024 {
        problems.push(ConfigProblem::new("service.max_body_bytes", "must be at least 1024"));
    }
    if config.store.cache_mb == 0 {
        problems.push(ConfigProblem::new("store.cache_mb", "must be at least 1 (MiB)"));
    }
    if config.store.commit_delay_us > 100_000 {
        problems.push(ConfigProblem::new(
            "store.commit_delay_us",
            "must be at most 100000 (0.1 s); every accepted notification waits this long",
        ));
    }
    validate_store_backend(&config.store, problems);
    if config.dispatcher.concurrency == 0 {
        problems.push(ConfigProblem::new("dispatcher.concurrency", "must be at least 1"));
    }
    if config.dispatcher.queue_capacity == 0 {
        problems.push(ConfigProblem::new("dispatcher.queue_capacity", "must be at least 1 (50000 is the default)"));
    }
    if config.dispatcher.delivery_timeout_secs == 0 {
        problems.push(ConfigProblem::new("dispatcher.delivery_timeout_secs", "must be at least 1 second"));
    }
    if config.dispatcher.max_attempts == 0 {
        problems.push(ConfigProblem::new("dispatcher.max_attempts", "must be at least 1"));
    }
    let mut names = BTreeSet::new();
    let mut specs = Vec::new();
    for (i, integration) in config.integrations.iter().enumerate() {
        let path = format!("integration[{i}]");
        if integration.name.trim().is_empty() {
            problems.push(ConfigProblem::new(format!("{path}.name"), "must not be empty"));
        } else if !names.insert(integration.name.clone()) {
            problems.push(ConfigProblem::new(
                format!("{path}.name"),
                format!("integration `{}` is defined twice; names must be unique", integration.name),
            ));
        }
        let kind = match (&integration.kind, &integration.plugin) {
            (Some(kind), None) => kind.clone(),
            (None, Some(plugin)) => format!("plugin:{plugin}"),
            (Some(_), Some(_)) => {
                problems
                    .push(ConfigProblem::new(&path, "set either `kind` (built-in) or `plugin` (a library), not both"));
                continue;
            }
            (None, None) => {
                problems.push(ConfigProblem::new(
                    format!("{path}.kind"),
                    format!("missing; set `kind` to one of {} or `plugin` to a library", registry.kinds().join(", ")),
                ));
                continue;
            }
        };
        let spec = IntegrationSpec {
            name: integration.name.clone(),
            kind: kind.clone(),
            closed_policy: integration.closed_policy,
            settings: integration.settings.clone(),
            path: path.clone(),
        };
        match registry.get(&kind) {
            Some(factory) => problems.extend(factory.validate(&spec)),
            None if integration.plugin.is_some() => {}
            None => problems.push(registry.unknown_kind(&path, &kind)),
        }
        specs.push(spec);
    }
    crate::rules::validate_rules(&config.rules, &names, problems);
    specs
}

/// `[store]` keys of the PostgreSQL backend: a URL exactly when it is chosen, a usable pool and timeout.
fn validate_store_backend(store: &StoreConfig, problems: &mut Vec<ConfigProblem>) {
    let url_set = store.url.as_ref().is_some_and(|u| !u.expose().trim().is_empty());
    match store.backend {
        StoreBackend::Postgres if !url_set => problems.push(ConfigProblem::new(
            "store.url",
            "required with backend = \"postgres\"; write url = \"${DATABASE_URL}\" and export DATABASE_URL",
        )),
        StoreBackend::Sled if url_set => problems.push(ConfigProblem::new(
            "store.url",
            "is only used with backend = \"postgres\"; set the backend or remove the url",
        )),
        _ => {}
    }
    if !(1..=1000).contains(&store.pool_size) {
        problems.push(ConfigProblem::new("store.pool_size", "must be between 1 and 1000 connections"));
    }
    if !(1..=600_000).contains(&store.statement_timeout_ms) {
        problems.push(ConfigProblem::new(
            "store.statement_timeout_ms",
            "must be between 1 and 600000 (10 minutes); every store call is bounded by it",
        ));
    }
}

#[cfg(test)]
mod tests;
