//! The demo's world: the emulator and herald, in-process on free loopback ports, and small helpers to drive them.

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use herald_emulator::botconnector::{TeamsConfig, TeamsEmulator, TeamsUserConfig};
use herald_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::Value;

use crate::adapters::builtin_registry;
use crate::config;
use crate::service::RunningService;

/// The demo configuration, as shipped in `config/demo.toml`.
pub const DEMO_CONFIG: &str = include_str!("../../config/demo.toml");

/// Bob's Teams (Entra) object id, linked to his Genesys user in `config/demo.toml`.
pub const BOB_AAD: &str = "bbbbbbbb-0000-4000-8000-000000000002";

/// The emulated org's web messaging deployment.
pub const DEPLOYMENT: &str = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50";

/// Everything a scenario needs.
pub struct World {
    /// The emulator.
    pub emulator: EmulatorHandle,
    /// The emulated Microsoft side: Bot Connector and Graph.
    pub teams: TeamsEmulator,
    /// herald.
    pub herald: RunningService,
    /// herald's base URL.
    pub base: String,
    /// The API key the demo generated.
    pub api_key: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    _store: tempfile::TempDir,
}

impl World {
    /// Start the emulator, then herald with `config/demo.toml` pointed at it.
    pub async fn start() -> anyhow::Result<World> {
        crate::tls::install_crypto_provider();
        let mut emulator_config = EmulatorConfig::default_org();
        emulator_config.diagnostics.request_log = true;
        // A load-test org: each agent can hold many conversations at once, so 50 guests are all answered.
        // Every agent answers each guest message (load tests wait for answers).
        for agent in &mut emulator_config.agents {
            agent.capacity = 200;
            if agent.auto_reply.is_none() {
                agent.auto_reply =
                    Some(format!("Hi, this is {}. How can I help?", agent.alias.as_deref().unwrap_or(&agent.name)));
            }
        }
        let emulator =
            Emulator::start(emulator_config, "127.0.0.1:0".parse()?).await.context("starting the emulator")?;
        let mut teams_config = TeamsConfig::default();
        teams_config.users.push(TeamsUserConfig {
            aad_id: BOB_AAD.into(),
            name: "Bob Agent".into(),
            teams_id: String::new(),
        });
        let teams = TeamsEmulator::start(teams_config.clone(), "127.0.0.1:0".parse()?)
            .await
            .map_err(|e| anyhow!("starting the Teams emulator: {e}"))?;
        // Bob is away in Teams when herald first looks (its baseline).
        teams.world().set_user_status(BOB_AAD, "Away", "Away");
        let teams_url = teams.base_url();
        let store = tempfile::tempdir().context("temporary store directory")?;
        let api_key = format!("demo-{}", uuid::Uuid::new_v4().simple());
        let genesys = emulator.base_url();
        let store_path = store.path().join("herald.sled").display().to_string();
        let lookup = |name: &str| match name {
            "HERALD_DEMO_GENESYS_URL" => Some(genesys.clone()),
            "HERALD_DEMO_API_KEY" => Some(api_key.clone()),
            "HERALD_DEMO_STORE" => Some(store_path.clone()),
            "HERALD_DEMO_TEAMS_URL" => Some(teams_url.clone()),
            "HERALD_DEMO_TEAMS_APP_ID" => Some(teams_config.bot_app_id.clone()),
            "HERALD_DEMO_TEAMS_APP_PASSWORD" => Some(teams_config.bot_app_password.clone()),
            "HERALD_DEMO_TEAMS_TENANT" => Some(teams_config.tenant_id.clone()),
            other => std::env::var(other).ok(),
        };
        let registry = builtin_registry();
        let loaded = config::load(DEMO_CONFIG, "config/demo.toml", &registry, &lookup)?;
        let herald = crate::service::start(loaded).await?;
        let base = format!("http://{}", herald.addr);
        Ok(World { emulator, teams, herald, base, api_key, http: reqwest::Client::new(), _store: store })
    }

    /// Stop herald and the emulator.
    pub async fn stop(self) {
        self.herald.shutdown().await;
        self.emulator.shutdown().await;
        self.teams.shutdown();
    }

    /// Call herald's API.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.api_key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    /// Post a notification; returns its id.
    pub async fn notify(&self, body: Value) -> anyhow::Result<String> {
        let (status, v) = self.api(reqwest::Method::POST, "/v1/notifications", Some(body)).await?;
        if status != 202 {
            bail!("herald answered {status}: {v}");
        }
        v["id"].as_str().map(str::to_string).ok_or_else(|| anyhow!("no id in {v}"))
    }

    /// Wait until the notification reaches `status` (or a final status), within `timeout`.
    pub async fn wait_status(&self, id: &str, status: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, v) = self.api(reqwest::Method::GET, &format!("/v1/notifications/{id}"), None).await?;
            let now = v["status"].as_str().unwrap_or("");
            if now == status {
                return Ok(v);
            }
            if matches!(now, "delivered" | "failed" | "expired") || tokio::time::Instant::now() > deadline {
                bail!("notification {id} is `{now}`, expected `{status}`; history: {}", history(&v));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until herald knows a session of `customer` in `state`; returns it.
    pub async fn wait_session(&self, customer: &str, state: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, v) = self
                .api(reqwest::Method::GET, &format!("/v1/sessions?customer={customer}&state={state}"), None)
                .await?;
            if let Some(s) = v.as_array().and_then(|a| a.first()) {
                return Ok(s.clone());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("herald did not see a {state} session of customer {customer} within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last upstream request herald made whose path contains `needle`, as "METHOD path → status" and its body.
    pub fn upstream_request(&self, needle: &str) -> Option<(String, String)> {
        self.emulator
            .control()
            .request_log()
            .into_iter()
            .rev()
            .find(|e| e.path.contains(needle) && e.method != "GET")
            .map(|e| (format!("{} {} → {}", e.method, e.path, e.status), e.body))
    }
}

/// A notification's history as one line per change.
pub fn history(v: &Value) -> String {
    v["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|c| format!("{} ({})", c["status"].as_str().unwrap_or("?"), c["reason"].as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(" → ")
        })
        .unwrap_or_default()
}
