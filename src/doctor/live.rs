//! `herald doctor --live`: fills the corrected request's `{placeholders}` from Genesys Cloud (the configured
//! environment, the emulator included) and, with `--send`, sends it and prints the real answer.
//!
//! Resolution asks `GET /api/v2/conversations/{conversationId}` for the agent's connected communication id
//! (`participants[].messages[].id`, or `chats[].id` for legacy chat), the customer's external contact id and the
//! participant ids; the deployment id comes from the integration's settings.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use super::report::CorrectedRequest;

/// The Genesys environment and OAuth client of one configured integration. The secret is never printed.
pub struct LiveTarget {
    /// Platform API base URL (no trailing slash).
    pub api_base: String,
    /// Login base URL (no trailing slash).
    pub login_base: String,
    client_id: String,
    client_secret: String,
    /// The integration's web messaging deployment id, if configured.
    pub deployment_id: Option<String>,
}

impl std::fmt::Debug for LiveTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTarget").field("api_base", &self.api_base).field("client_id", &self.client_id).finish()
    }
}

fn setting<'t>(settings: &'t toml::Table, keys: &[&str]) -> Option<&'t str> {
    let nested = settings.get("genesys").and_then(toml::Value::as_table);
    keys.iter().find_map(|k| {
        settings.get(*k).and_then(toml::Value::as_str).or_else(|| nested?.get(*k).and_then(toml::Value::as_str))
    })
}

/// Reads the integration `name` from a herald config file (`${VAR}` expanded from the environment).
///
/// The integration's settings (or their `genesys` sub-table) must give `environment` (a region key, a domain or a
/// base URL), `client_id` and `client_secret`; `deployment_id` is optional.
pub fn load_target(config: &Path, name: &str) -> anyhow::Result<LiveTarget> {
    let text = std::fs::read_to_string(config).with_context(|| format!("cannot read {}", config.display()))?;
    let raw: toml::Table = toml::from_str(&text).with_context(|| format!("{} is not valid TOML", config.display()))?;
    let integration = raw
        .get("integration")
        .and_then(toml::Value::as_array)
        .and_then(|list| list.iter().find(|i| i.get("name").and_then(toml::Value::as_str) == Some(name)))
        .ok_or_else(|| anyhow!("no [[integration]] named {name:?} in {}", config.display()))?;
    let empty = toml::Table::new();
    let settings = integration.get("settings").and_then(toml::Value::as_table).unwrap_or(&empty);
    let lookup = |var: &str| std::env::var(var).ok();
    let get = |keys: &[&str]| -> anyhow::Result<Option<String>> {
        setting(settings, keys)
            .map(|v| crate::config::expand(v, &lookup).map_err(|var| anyhow!("environment variable {var} is not set")))
            .transpose()
    };
    let environment = get(&["environment", "region", "base_url"])?
        .ok_or_else(|| anyhow!("integration {name:?} has no settings.environment"))?;
    let (api_base, login_base) = resolve_environment(&environment)?;
    Ok(LiveTarget {
        api_base,
        login_base,
        client_id: get(&["client_id"])?.ok_or_else(|| anyhow!("integration {name:?} has no settings.client_id"))?,
        client_secret: get(&["client_secret"])?
            .ok_or_else(|| anyhow!("integration {name:?} has no settings.client_secret"))?,
        deployment_id: get(&["deployment_id", "deploymentId"])?,
    })
}

/// `(api base, login base)` of an environment: a base URL serves both; a region key or domain maps to
/// `https://api.<domain>` and `https://login.<domain>`.
pub fn resolve_environment(environment: &str) -> anyhow::Result<(String, String)> {
    let e = environment.trim().trim_end_matches('/');
    if e.starts_with("http://") || e.starts_with("https://") {
        return Ok((e.to_string(), e.to_string()));
    }
    #[cfg(feature = "webmessaging")]
    {
        let env: herald_webmessaging::guest::Environment =
            e.parse().map_err(|_| anyhow!("unknown Genesys region or domain {e:?}"))?;
        Ok((env.api_base(), env.login_base()))
    }
    #[cfg(not(feature = "webmessaging"))]
    {
        Ok((format!("https://api.{e}"), format!("https://login.{e}")))
    }
}

/// A client-credentials session against one environment.
pub struct LiveClient {
    http: reqwest::Client,
    target: LiveTarget,
    token: String,
}

/// The answer to a request sent with `--send`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveAnswer {
    /// HTTP status.
    pub status: u16,
    /// The `ININ-Correlation-Id` header.
    pub correlation_id: Option<String>,
    /// The body (JSON when it parses, else text).
    pub body: Value,
}

impl LiveClient {
    /// Gets a token for the integration's OAuth client.
    pub async fn connect(target: LiveTarget) -> anyhow::Result<LiveClient> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        let resp = http
            .post(format!("{}/oauth/token", target.login_base))
            .basic_auth(&target.client_id, Some(&target.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .context("the token request failed")?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let Some(token) = body.get("access_token").and_then(Value::as_str) else {
            bail!("the token request answered {status}: {}", body.get("error").unwrap_or(&Value::Null));
        };
        Ok(LiveClient { http, token: token.to_string(), target })
    }

    /// Sends `method path` with an optional JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<LiveAnswer> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| anyhow!("bad method {method}"))?;
        let mut req = self.http.request(m, format!("{}{path}", self.target.api_base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.with_context(|| format!("{method} {path} failed"))?;
        let status = resp.status().as_u16();
        let correlation_id =
            resp.headers().get("ININ-Correlation-Id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(LiveAnswer { status, correlation_id, body })
    }

    /// Ids found for a conversation (see the module docs), keyed by placeholder name.
    pub async fn resolve_conversation(
        &self,
        conversation_id: &str,
    ) -> anyhow::Result<(BTreeMap<String, String>, Vec<String>)> {
        let answer = self.call("GET", &format!("/api/v2/conversations/{conversation_id}"), None).await?;
        if answer.status != 200 {
            bail!(
                "GET /api/v2/conversations/{conversation_id} answered {} (correlation id {})",
                answer.status,
                answer.correlation_id.unwrap_or_default()
            );
        }
        Ok(ids_from_conversation(&answer.body))
    }

    /// The deployment id configured for the integration.
    pub fn deployment_id(&self) -> Option<&str> {
        self.target.deployment_id.as_deref()
    }
}

/// Extracts placeholder values (and notes) from a generic conversation body.
pub fn ids_from_conversation(conv: &Value) -> (BTreeMap<String, String>, Vec<String>) {
    let mut ids = BTreeMap::new();
    let mut notes = Vec::new();
    let participants = conv.get("participants").and_then(Value::as_array).cloned().unwrap_or_default();
    let purpose = |p: &Value| p.get("purpose").and_then(Value::as_str).unwrap_or_default().to_string();
    let connected_comm = |p: &Value| {
        ["messages", "chats"].iter().find_map(|kind| {
            p.get(*kind).and_then(Value::as_array).and_then(|comms| {
                comms
                    .iter()
                    .rev()
                    .find(|c| c.get("state").and_then(Value::as_str) == Some("connected"))
                    .and_then(|c| c.get("id").and_then(Value::as_str))
                    .map(str::to_string)
            })
        })
    };
    for p in participants.iter().filter(|p| purpose(p) == "agent") {
        if let Some(comm) = connected_comm(p) {
            ids.insert("communicationId".into(), comm);
            if let Some(pid) = p.get("id").and_then(Value::as_str) {
                ids.insert("participantId".into(), pid.to_string());
            }
        }
    }
    if !ids.contains_key("communicationId") {
        notes.push(
            "no agent participant has a connected communication: the conversation has ended or no agent answered; \
             send agentless (POST /api/v2/conversations/messages/agentless) instead"
                .to_string(),
        );
    }
    if let Some(c) = participants.iter().find(|p| purpose(p) == "customer") {
        let contact = c
            .pointer("/externalContact/id")
            .or_else(|| c.get("externalContactId"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(x) = contact {
            ids.insert("externalContactId".into(), x);
        }
    }
    (ids, notes)
}

/// Replaces `{name}` placeholders in the corrected request's path and body strings; returns those still open.
pub fn fill(req: &mut CorrectedRequest, ids: &BTreeMap<String, String>) -> Vec<String> {
    fn walk(v: &mut Value, ids: &BTreeMap<String, String>) {
        match v {
            Value::String(s) => {
                if let Some(x) = s.strip_prefix('{').and_then(|t| t.strip_suffix('}')).and_then(|n| ids.get(n)) {
                    *s = x.clone();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, ids)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, ids)),
            _ => {}
        }
    }
    for (k, v) in ids {
        req.path = req.path.replace(&format!("{{{k}}}"), v);
    }
    if let Some(b) = req.body.as_mut() {
        walk(b, ids);
    }
    req.placeholders.retain(|k, _| !ids.contains_key(k));
    req.placeholders.keys().cloned().collect()
}
