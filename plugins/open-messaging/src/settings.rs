//! `[integration.settings]` of an Open Messaging integration, and their validation.

use std::net::SocketAddr;

use herald_plugin::core::ConfigProblem;
use reqwest::Url;
use serde::Deserialize;

/// The settings. Secrets (`client_secret`, `secret`) should come from the environment (`${VAR}`); they are never
/// logged (this type has no `Debug`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The Genesys Cloud environment, e.g. `mypurecloud.com` or `mypurecloud.ie`: the API is
    /// `https://api.<environment>` and the login service `https://login.<environment>`. Set this or `api_base_url`.
    #[serde(default)]
    pub environment: Option<String>,
    /// The API base URL (e.g. the emulator's address). Set this or `environment`.
    #[serde(default)]
    pub api_base_url: Option<String>,
    /// The login (OAuth) base URL; defaults to `https://login.<environment>`, or to `api_base_url`.
    #[serde(default)]
    pub login_base_url: Option<String>,
    /// OAuth client id (client-credentials grant, with the messaging scope).
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// The Open Messaging integration id (`integrationId` in the inbound paths).
    pub integration_id: String,
    /// The integration's `outboundNotificationWebhookSignatureSecretToken`: webhooks are verified against it.
    pub secret: String,
    /// The third-party platform's endpoint; agent messages are forwarded there as JSON.
    pub outbound_url: String,
    /// The webhook is served on herald's own server at `webhook_path`. Set `listen` to serve it on a listener of
    /// the plugin's own as well (the ABI 1 way; Genesys must reach it over HTTPS on port 443: put a TLS proxy in
    /// front).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The webhook path; default `/open-messaging/<integration name>/webhook`, so two integrations never collide.
    #[serde(default)]
    pub webhook_path: Option<String>,
    /// Nickname shown in Genesys for customers (the `from.nickname` of inbound messages).
    #[serde(default)]
    pub customer_nickname: Option<String>,
    /// HTTP timeout for Genesys and the third party, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    10
}

/// Resolved endpoints.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// API base, without trailing slash.
    pub api: String,
    /// Login base, without trailing slash.
    pub login: String,
}

fn http_url(path: &str, value: &str, problems: &mut Vec<ConfigProblem>) -> Option<String> {
    match Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Some(value.trim_end_matches('/').to_string())
        }
        _ => {
            problems.push(ConfigProblem::new(path, format!("`{value}` is not an http(s) URL")));
            None
        }
    }
}

impl Settings {
    /// The webhook path of integration `name`.
    pub fn webhook_path(&self, name: &str) -> String {
        self.webhook_path.clone().unwrap_or_else(|| format!("/open-messaging/{name}/webhook"))
    }

    /// Check what serde cannot; returns the endpoints when everything is fine.
    pub fn validate(&self) -> Result<Endpoints, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let api = match (&self.environment, &self.api_base_url) {
            (Some(env), None) => {
                let env = env.trim().trim_start_matches("api.").trim_matches('/');
                if env.is_empty() || env.contains('/') || env.contains(':') {
                    problems.push(ConfigProblem::new(
                        "environment",
                        "must be a domain such as `mypurecloud.com` (no scheme, no path)",
                    ));
                    None
                } else {
                    Some((format!("https://api.{env}"), Some(format!("https://login.{env}"))))
                }
            }
            (None, Some(url)) => http_url("api_base_url", url, &mut problems).map(|u| (u, None)),
            (Some(_), Some(_)) => {
                problems.push(ConfigProblem::new("environment", "set `environment` or `api_base_url`, not both"));
                None
            }
            (None, None) => {
                problems.push(ConfigProblem::new(
                    "environment",
                    "missing; set `environment` (e.g. `mypurecloud.com`) or `api_base_url`",
                ));
                None
            }
        };
        let login = match &self.login_base_url {
            Some(url) => http_url("login_base_url", url, &mut problems),
            None => api.as_ref().map(|(api, login)| login.clone().unwrap_or_else(|| api.clone())),
        };
        for (key, value) in [
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("integration_id", &self.integration_id),
            ("secret", &self.secret),
        ] {
            if value.trim().is_empty() {
                problems.push(ConfigProblem::new(key, "must not be empty"));
            }
        }
        http_url("outbound_url", &self.outbound_url, &mut problems);
        if let Some(path) = &self.webhook_path {
            if !path.starts_with('/') || path.contains(['{', '}', '*', '?', '#']) {
                problems.push(ConfigProblem::new("webhook_path", "must be an absolute, literal path (`/…`)"));
            }
        }
        if self.timeout_secs == 0 {
            problems.push(ConfigProblem::new("timeout_secs", "must be at least 1"));
        }
        match (api, login) {
            (Some((api, _)), Some(login)) if problems.is_empty() => Ok(Endpoints { api, login }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: serde_json::Value) -> Settings {
        let mut base = serde_json::json!({
            "client_id": "id", "client_secret": "s", "integration_id": "i", "secret": "w",
            "outbound_url": "http://127.0.0.1:1/out",
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        serde_json::from_value(base).unwrap_or_else(|e| panic!("settings: {e}"))
    }

    #[test]
    fn environment_gives_api_and_login_hosts() {
        let e = settings(serde_json::json!({"environment": "mypurecloud.ie"})).validate().ok();
        let e = e.unwrap_or_else(|| panic!("valid"));
        assert_eq!(e.api, "https://api.mypurecloud.ie");
        assert_eq!(e.login, "https://login.mypurecloud.ie");
        let e = settings(serde_json::json!({"api_base_url": "http://127.0.0.1:9/"})).validate().ok();
        assert_eq!(e.map(|e| e.login), Some("http://127.0.0.1:9".to_string()));
    }

    #[test]
    fn every_problem_names_its_key() {
        let mut s = settings(serde_json::json!({"environment": "x.com", "api_base_url": "http://a"}));
        s.secret = String::new();
        s.outbound_url = "ftp://x".into();
        let problems = s.validate().err().unwrap_or_default();
        let keys: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(keys, vec!["environment", "secret", "outbound_url"], "{problems:?}");
    }
}
