//! The Genesys environment and OAuth client of one configured integration, read from a herald config file.
//!
//! Only the keys `--live` needs are read (and only they are `${VAR}`-expanded), so a config with an unrelated
//! problem elsewhere still works here. The client secret is a [`Secret`]: it never prints.

use std::path::Path;

use herald_genesys::{Environment, Secret};

/// Why an integration's Genesys settings could not be read. Every message names the integration and the file.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The file cannot be read.
    #[error("cannot read the config {file}: {source}")]
    Read {
        /// The config file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("the config {file} is not valid TOML: {message}")]
    Toml {
        /// The config file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// No integration has that name.
    #[error("no [[integration]] named `{name}` in {file} (it has: {known})")]
    NoIntegration {
        /// The name asked for.
        name: String,
        /// The config file.
        file: String,
        /// The names it has.
        known: String,
    },
    /// A key is missing or unusable.
    #[error("integration `{name}` in {file}: {problem}")]
    Setting {
        /// The integration.
        name: String,
        /// The config file.
        file: String,
        /// What is wrong and what to do.
        problem: String,
    },
}

/// The Genesys environment and OAuth client of one integration.
pub struct LiveTarget {
    /// The integration's name.
    pub integration: String,
    /// The integration's `kind`.
    pub kind: String,
    /// Where it connects (region or base URL).
    pub environment: Environment,
    /// The OAuth client id (printed; the secret never is).
    pub client_id: String,
    /// The OAuth client secret.
    pub client_secret: Secret,
    /// The integration's web messaging deployment id, if configured.
    pub deployment_id: Option<String>,
    /// The settings key the deployment id came from (for "where did this come from").
    pub deployment_key: String,
}

impl std::fmt::Debug for LiveTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTarget")
            .field("integration", &self.integration)
            .field("environment", &self.environment.key())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A string setting: `[integration.settings] key`, else `[integration.settings.genesys] key`. Returns the value and
/// the key path it was found at.
fn setting(settings: &toml::Table, keys: &[&str]) -> Option<(String, String)> {
    let nested = settings.get("genesys").and_then(toml::Value::as_table);
    keys.iter().find_map(|k| {
        settings.get(*k).and_then(toml::Value::as_str).map(|v| (v.to_string(), format!("settings.{k}"))).or_else(|| {
            nested?.get(*k).and_then(toml::Value::as_str).map(|v| (v.to_string(), format!("settings.genesys.{k}")))
        })
    })
}

/// Reads the integration `name` from the config file `config`; `${VAR}` is expanded with `lookup`.
///
/// The integration's settings (or their `genesys` sub-table, as for `kind = "teams"`) must give where to connect
/// (`base_url`, `region` or `environment`: a region key, a domain or a URL), `client_id` and `client_secret`;
/// `deployment_id` is optional.
pub fn load_target(
    config: &Path,
    name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LiveTarget, TargetError> {
    let file = config.display().to_string();
    let text = std::fs::read_to_string(config).map_err(|source| TargetError::Read { file: file.clone(), source })?;
    let raw: toml::Table = toml::from_str(&text)
        .map_err(|e| TargetError::Toml { file: file.clone(), message: e.message().to_string() })?;
    let integrations = raw.get("integration").and_then(toml::Value::as_array).cloned().unwrap_or_default();
    let name_of = |i: &toml::Value| i.get("name").and_then(toml::Value::as_str).map(str::to_string);
    let Some(integration) = integrations.iter().find(|i| name_of(i).as_deref() == Some(name)) else {
        let known: Vec<String> = integrations.iter().filter_map(name_of).collect();
        let known = if known.is_empty() { "no integrations".to_string() } else { known.join(", ") };
        return Err(TargetError::NoIntegration { name: name.to_string(), file, known });
    };
    let kind = integration.get("kind").and_then(toml::Value::as_str).unwrap_or("?").to_string();
    let problem = |problem: String| TargetError::Setting { name: name.to_string(), file: file.clone(), problem };
    let empty = toml::Table::new();
    let settings = integration.get("settings").and_then(toml::Value::as_table).unwrap_or(&empty);
    let get = |keys: &[&str]| -> Result<Option<(String, String)>, TargetError> {
        match setting(settings, keys) {
            None => Ok(None),
            Some((v, key)) => crate::config::expand(&v, lookup).map(|x| Some((x, key.clone()))).map_err(|var| {
                problem(format!("{key} uses the environment variable {var}, which is not set: export it"))
            }),
        }
    };
    let (environment, env_key) = get(&["base_url", "environment", "region"])?.ok_or_else(|| {
        problem(format!(
            "kind `{kind}` has no Genesys Cloud settings here: --live needs settings.base_url or settings.region \
             (or settings.genesys.environment), client_id and client_secret"
        ))
    })?;
    let environment: Environment = environment.parse().map_err(|e| problem(format!("{env_key}: {e}")))?;
    let (client_id, _) = get(&["client_id"])?.ok_or_else(|| problem("has no settings.client_id".into()))?;
    let (secret, _) = get(&["client_secret"])?.ok_or_else(|| problem("has no settings.client_secret".into()))?;
    let deployment = get(&["deployment_id", "deploymentId"])?;
    Ok(LiveTarget {
        integration: name.to_string(),
        kind,
        environment,
        client_id,
        client_secret: Secret::new(secret),
        deployment_key: deployment.as_ref().map(|(_, k)| k.clone()).unwrap_or_default(),
        deployment_id: deployment.map(|(v, _)| v).filter(|v| !v.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), text).expect("write");
        f
    }

    #[test]
    fn reads_settings_and_expands_variables_without_printing_the_secret() {
        let f = write(
            "[[integration]]\nname = \"wm\"\nkind = \"webmessaging\"\n[integration.settings]\n\
             base_url = \"http://127.0.0.1:9\"\nclient_id = \"cid\"\nclient_secret = \"${SECRET_VAR}\"\n\
             deployment_id = \"dep-1\"\n",
        );
        let lookup = |v: &str| (v == "SECRET_VAR").then(|| "s3cr3t".to_string());
        let t = load_target(f.path(), "wm", &lookup).expect("target");
        assert_eq!(t.environment.api_base(), "http://127.0.0.1:9");
        assert_eq!(t.client_secret.expose(), "s3cr3t");
        assert_eq!(t.deployment_id.as_deref(), Some("dep-1"));
        assert_eq!(t.deployment_key, "settings.deployment_id");
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn teams_style_nested_genesys_table_and_regions() {
        let f = write(
            "[[integration]]\nname = \"t\"\nkind = \"teams\"\n[integration.settings]\napp_id = \"x\"\n\
             [integration.settings.genesys]\nenvironment = \"eu_west_1\"\nclient_id = \"c\"\nclient_secret = \"s\"\n",
        );
        let t = load_target(f.path(), "t", &|_| None).expect("target");
        assert_eq!(t.environment.api_base(), "https://api.mypurecloud.ie");
        assert!(t.deployment_id.is_none());
    }

    #[test]
    fn errors_name_the_integration_and_what_to_do() {
        let f = write(
            "[[integration]]\nname = \"hook\"\nkind = \"webhook\"\n[integration.settings]\nurl = \"http://x\"\n\
             [[integration]]\nname = \"wm\"\nkind = \"webmessaging\"\n[integration.settings]\n\
             region = \"sa_east_1\"\nclient_id = \"c\"\nclient_secret = \"${UNSET_VAR}\"\n",
        );
        let e = load_target(f.path(), "nope", &|_| None).expect_err("unknown").to_string();
        assert!(e.contains("`nope`") && e.contains("hook, wm"), "{e}");
        let e = load_target(f.path(), "hook", &|_| None).expect_err("webhook").to_string();
        assert!(e.contains("`hook`") && e.contains("kind `webhook`"), "{e}");
        let e = load_target(f.path(), "wm", &|_| None).expect_err("unset").to_string();
        assert!(e.contains("`wm`") && e.contains("UNSET_VAR"), "{e}");
    }
}
