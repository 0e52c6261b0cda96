//! Shared setup of the Teams end-to-end tests: the Microsoft side (Bot Connector + Graph emulator) on its own
//! loopback listener, optionally the Genesys emulator, and herald with one `teams` integration.

#![allow(dead_code)]

use std::time::Duration;

use herald_emulator::botconnector::{TeamsConfig, TeamsEmulator, TeamsUserConfig};
use herald_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::Value;

/// API key of the test configs.
pub const API_KEY: &str = "teams-test-key-0123456789abcdef";
/// Genesys agent of the default emulator org (Alice, On Queue at start).
pub const ALICE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
/// Her Teams object id.
pub const ALICE_AAD: &str = "aaaaaaaa-0000-4000-8000-000000000001";
/// How long a test waits for anything.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running environment.
pub struct Env {
    pub teams: TeamsEmulator,
    pub genesys: Option<EmulatorHandle>,
    pub herald: herald::service::RunningService,
    pub base: String,
    pub http: reqwest::Client,
}

/// What to configure.
#[derive(Default)]
pub struct Options {
    /// Start the Genesys emulator and presence sync.
    pub presence: bool,
    /// Extra lines for `[integration.settings.presence]`.
    pub presence_extra: String,
    /// Extra Teams users (aad ids) besides Alice's.
    pub users: Vec<String>,
    /// Links `(genesys, aad)` besides Alice's.
    pub links: Vec<(String, String)>,
    /// herald's listen address (default `127.0.0.1:0`).
    pub listen: Option<String>,
    /// Extra lines for `[integration.settings.graph]`.
    pub graph_extra: String,
    /// Genesys agents to add to the emulator org (ids), available at start.
    pub agents: Vec<String>,
}

impl Env {
    /// Starts everything.
    pub async fn start(opts: Options) -> Env {
        herald::tls::install_crypto_provider();
        let mut tc = TeamsConfig::default();
        tc.users.push(TeamsUserConfig {
            aad_id: ALICE_AAD.into(),
            name: "Alice Agent".into(),
            teams_id: String::new(),
        });
        for u in &opts.users {
            tc.users.push(TeamsUserConfig { aad_id: u.clone(), name: String::new(), teams_id: String::new() });
        }
        let app_id = tc.bot_app_id.clone();
        let tenant = tc.tenant_id.clone();
        let teams = TeamsEmulator::start(tc, "127.0.0.1:0".parse().expect("addr")).await.expect("teams emulator");
        let tb = teams.base_url();
        let mut genesys = None;
        let mut genesys_section = String::new();
        if opts.presence {
            let mut cfg = EmulatorConfig::default_org();
            cfg.diagnostics.request_log = true;
            for id in &opts.agents {
                let mut a = cfg.agents[0].clone();
                a.id = id.clone();
                a.presence = "Available".into();
                a.auto_answer = false;
                cfg.agents.push(a);
            }
            let g = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("genesys emulator");
            genesys_section = format!(
                "[integration.settings.genesys]\nenvironment = \"{}\"\nclient_id = \"herald-demo\"\nclient_secret = \"herald-demo-secret\"\nrequests_per_minute = 6000\nburst = 50\n",
                g.base_url()
            );
            genesys = Some(g);
        }
        let mut links =
            format!("[[integration.settings.links]]\ngenesys_user_id = \"{ALICE}\"\nteams_aad_id = \"{ALICE_AAD}\"\n");
        for (g, a) in &opts.links {
            links.push_str(&format!(
                "[[integration.settings.links]]\ngenesys_user_id = \"{g}\"\nteams_aad_id = \"{a}\"\n"
            ));
        }
        let text = format!(
            r#"
[service]
listen = "{listen}"
api_keys = ["{API_KEY}"]
shutdown_grace_secs = 2

[store]
path = ":memory:"

[dispatcher]
concurrency = 16
max_attempts = 2
backoff_initial_ms = 20
backoff_max_ms = 100

[[integration]]
name = "teams"
kind = "teams"
closed_policy = "fail"
[integration.settings]
app_id = "{app_id}"
app_password = "herald-bot-secret"
tenant_id = "{tenant}"
login_base = "{tb}"
openid_metadata_url = "{tb}/v1/.well-known/openidconfiguration"
default_service_url = "{tb}/"
max_retry_after_secs = 5
[integration.settings.graph]
base_url = "{tb}"
{graph_extra}
[integration.settings.presence]
{presence_extra}
{genesys_section}
{links}
"#,
            presence_extra = opts.presence_extra,
            graph_extra = opts.graph_extra,
            listen = opts.listen.clone().unwrap_or_else(|| "127.0.0.1:0".into()),
        );
        let registry = herald::adapters::builtin_registry();
        let loaded = herald::config::load(&text, "teams-test", &registry, &|_| None).expect("config");
        let herald = herald::service::start(loaded).await.expect("herald");
        let base = format!("http://{}", herald.addr);
        Env { teams, genesys, herald, base, http: reqwest::Client::new() }
    }

    /// herald's bot endpoint URL.
    pub fn bot_url(&self) -> String {
        format!("{}/api/messages", self.base)
    }

    /// The integration's health checks.
    pub async fn health(&self) -> std::collections::BTreeMap<String, String> {
        self.herald.routes.get("teams").expect("integration").channel.health().await.checks
    }

    /// The integration's sync counters.
    pub async fn stats(&self) -> std::collections::BTreeMap<String, u64> {
        let ch = &self.herald.routes.get("teams").expect("integration").channel;
        match ch.as_presence() {
            Some(p) => p.sync_stats().await,
            None => Default::default(),
        }
    }

    /// Posts a notification to herald's API; its id.
    pub async fn notify_agent(&self, agent: &str, text: &str) -> String {
        let body = serde_json::json!({"integration": "teams", "target": {"type": "agent", "id": agent}, "text": text});
        let v: Value = self
            .http
            .post(format!("{}/v1/notifications", self.base))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json");
        v["id"].as_str().expect("id").to_string()
    }

    /// Waits until the notification is final; its view.
    pub async fn wait_final(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v: Value = self
                .http
                .get(format!("{}/v1/notifications/{id}", self.base))
                .bearer_auth(API_KEY)
                .send()
                .await
                .expect("get")
                .json()
                .await
                .unwrap_or(Value::Null);
            let s = v["status"].as_str().unwrap_or_default();
            if matches!(s, "delivered" | "failed" | "expired") || tokio::time::Instant::now() > deadline {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits (polling a condition every 20 ms) until `f` is true or [`WAIT`] passes; whether it became true.
pub async fn until<F, Fut>(mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}
