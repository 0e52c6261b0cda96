//! The registry: adapter kinds by name.
//!
//! An explicit table (no link-time magic) so it is greppable and each built-in adapter can sit behind a cargo
//! feature. A config section `kind = "webmessaging"` picks the factory registered under that name; dynamic plugins
//! register through the same table when they are loaded.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::channel::MessagingChannel;
use crate::error::ConfigProblem;
use crate::notification::ClosedPolicy;

/// One `[[integration]]` section, as the registry sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationSpec {
    /// The integration name (unique).
    pub name: String,
    /// The adapter kind.
    pub kind: String,
    /// What to do with notifications whose conversation has closed.
    pub closed_policy: ClosedPolicy,
    /// The kind's own settings table (`[integration.settings]`), with `${VAR}` already expanded.
    pub settings: toml::Table,
    /// Where the section is in the config file, e.g. `integration[1]`, for error paths.
    pub path: String,
}

impl IntegrationSpec {
    /// Decode the settings table into the adapter's typed settings. Unknown keys are errors (use
    /// `#[serde(deny_unknown_fields)]`); every problem names its key path.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Vec<ConfigProblem>> {
        let value = toml::Value::Table(self.settings.clone());
        serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." || inner.is_empty() {
                format!("{}.settings", self.path)
            } else {
                format!("{}.settings.{inner}", self.path)
            };
            vec![ConfigProblem::new(path, e.into_inner().to_string())]
        })
    }
}

/// Builds adapters of one kind.
pub trait AdapterFactory: Send + Sync {
    /// The kind name used in configs.
    fn kind(&self) -> &str;

    /// One line saying what the adapter bridges.
    fn description(&self) -> &str;

    /// Check a section without building anything (no network). Empty when valid.
    fn validate(&self, spec: &IntegrationSpec) -> Vec<ConfigProblem>;

    /// Build the adapter (no network yet: that happens in `start`).
    fn build(&self, spec: &IntegrationSpec) -> Result<Arc<dyn MessagingChannel>, Vec<ConfigProblem>>;
}

/// The table of adapter kinds.
#[derive(Clone, Default)]
pub struct Registry {
    factories: BTreeMap<String, Arc<dyn AdapterFactory>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Register a factory under its kind; a later registration of the same kind replaces the earlier one.
    pub fn register(&mut self, factory: Arc<dyn AdapterFactory>) {
        self.factories.insert(factory.kind().to_string(), factory);
    }

    /// The factory for a kind.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn AdapterFactory>> {
        self.factories.get(kind)
    }

    /// Every registered kind, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        self.factories.keys().map(String::as_str).collect()
    }

    /// Every factory, sorted by kind.
    pub fn factories(&self) -> impl Iterator<Item = &Arc<dyn AdapterFactory>> {
        self.factories.values()
    }

    /// The problem to report for an unknown kind at `path`.
    pub fn unknown_kind(&self, path: &str, kind: &str) -> ConfigProblem {
        ConfigProblem::new(
            format!("{path}.kind"),
            format!("unknown adapter kind `{kind}`; known kinds: {}", self.kinds().join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        deployment_id: String,
        #[serde(default)]
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        rate: u32,
    }

    fn spec(settings: &str) -> IntegrationSpec {
        IntegrationSpec {
            name: "wm".into(),
            kind: "webmessaging".into(),
            closed_policy: ClosedPolicy::Defer,
            settings: toml::from_str(settings).unwrap_or_default(),
            path: "integration[0]".into(),
        }
    }

    #[test]
    fn decode_reports_key_path_of_unknown_and_mistyped_keys() {
        let errs = spec("deployment_id = \"d\"\nbogus = 1").decode::<Settings>().unwrap_err();
        assert!(errs[0].path.starts_with("integration[0].settings"), "{:?}", errs);
        assert!(errs[0].message.contains("bogus"), "{:?}", errs);

        let errs = spec("deployment_id = \"d\"\n[nested]\nrate = \"x\"").decode::<Settings>().unwrap_err();
        assert_eq!(errs[0].path, "integration[0].settings.nested.rate", "{:?}", errs);

        assert!(spec("deployment_id = \"d\"").decode::<Settings>().is_ok());
    }
}
