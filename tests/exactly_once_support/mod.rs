//! The harness of the exactly-once attack tests: the emulator in-process, `herald serve` as a child process on a
//! sled store that survives SIGKILL, conversations with a connected agent (web messaging or web chat), and bounded
//! polls of herald's API and the emulator's control API (no sleeps to synchronise).

#![allow(dead_code)]

pub mod attacks;

#[path = "../webmessaging_support/mod.rs"]
mod webmessaging_support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use herald_emulator::faults::FaultScope;
use herald_emulator::{Control, Emulator, EmulatorConfig, EmulatorHandle};
use herald_webchat::guest::{ChatGuest, GuestEvent, GuestOptions};
use serde_json::{json, Value};
use tokio::time::Instant;

/// API key of the generated configs.
pub const API_KEY: &str = "eo-test-key-0123456789abcdef";
/// The integration name in the generated configs.
pub const INTEGRATION: &str = "eo";
/// The seeded Support queue.
const SUPPORT_QUEUE: &str = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10";
/// The seeded web messaging deployment.
const DEPLOYMENT: &str = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50";
/// Longest wait for anything a test waits on.
pub const WAIT: Duration = Duration::from_secs(30);
/// Poll interval of every wait.
const POLL: Duration = Duration::from_millis(10);

/// Which adapter is attacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `kind = "webmessaging"`: agent sends are `POST /api/v2/conversations/messages/{id}/communications/{cid}/messages`.
    WebMessaging,
    /// `kind = "webchat"`: agent sends are `POST /api/v2/conversations/chats/{id}/communications/{cid}/messages`.
    WebChat,
}

impl Kind {
    /// The agent-send requests of this adapter.
    pub fn send_scope(self) -> FaultScope {
        match self {
            Kind::WebMessaging => {
                FaultScope::only("POST", "/api/v2/conversations/messages/*/communications/*/messages")
            }
            Kind::WebChat => FaultScope::only("POST", "/api/v2/conversations/chats/*/communications/*/messages"),
        }
    }
}

/// Dispatcher knobs of the generated config (small, so the attacks run in seconds).
#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    /// `dispatcher.delivery_timeout_secs`.
    pub delivery_timeout_secs: u64,
    /// `dispatcher.max_attempts`.
    pub max_attempts: u32,
    /// `dispatcher.backoff_initial_ms`.
    pub backoff_initial_ms: u64,
    /// `dispatcher.backoff_max_ms`.
    pub backoff_max_ms: u64,
    /// `dispatcher.confirm_delay_ms`: the wait between an unknown outcome and the check upstream.
    pub confirm_delay_ms: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            delivery_timeout_secs: 2,
            max_attempts: 3,
            backoff_initial_ms: 50,
            backoff_max_ms: 200,
            confirm_delay_ms: 300,
        }
    }
}

/// The emulator, a `herald serve` child and the conversations made so far.
pub struct Harness {
    /// The adapter under attack.
    pub kind: Kind,
    /// The in-process emulator.
    pub emulator: EmulatorHandle,
    /// herald's API base URL.
    pub base: String,
    /// HTTP client for herald's API.
    pub http: reqwest::Client,
    /// Working directory (config, store, one herald log per start); kept at drop when `EXACTLY_ONCE_KEEP` is set.
    dir: Option<tempfile::TempDir>,
    config: PathBuf,
    child: Option<Child>,
    starts: u32,
    wm_guests: Vec<webmessaging_support::Guest>,
    chat_guests: Vec<ChatGuest>,
    org: String,
    chat_deployment: String,
}

impl Harness {
    /// Starts the emulator (no request budget in the way) and herald with one `eo` integration of `kind`.
    pub async fn start(kind: Kind, knobs: Knobs) -> Harness {
        herald::tls::install_crypto_provider();
        let mut cfg = EmulatorConfig::default_org();
        cfg.limits.requests_per_minute = 1_000_000;
        // Several conversations at once: every seeded agent takes up to ten.
        for agent in cfg.agents.iter_mut() {
            agent.capacity = agent.capacity.max(10);
        }
        let org = cfg.org.id.clone();
        let chat_deployment = cfg.chat_deployments.first().map(|d| d.id.clone()).expect("a seeded chat deployment");
        let emulator = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("emulator");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let config = dir.path().join("herald.toml");
        std::fs::write(&config, config_text(kind, knobs, &emulator.base_url(), &dir.path().join("store"), port))
            .expect("write config");
        let mut h = Harness {
            kind,
            emulator,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            dir: Some(dir),
            config,
            child: None,
            starts: 0,
            wm_guests: Vec::new(),
            chat_guests: Vec::new(),
            org,
            chat_deployment,
        };
        h.spawn().await;
        h
    }

    /// Emulator control.
    pub fn control(&self) -> Control {
        self.emulator.control()
    }

    /// Spawns `herald serve` and waits until its integration's stream is connected.
    async fn spawn(&mut self) {
        self.starts += 1;
        let log = std::fs::File::create(self.workdir().join(format!("herald-{}.log", self.starts))).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("HERALD_LOG", std::env::var("EXACTLY_ONCE_LOG").unwrap_or_else(|_| "warn".into()))
            .env("EO_SECRET", "herald-demo-secret")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn herald");
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Polls `/healthz` until the integration is healthy (stream connected).
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + WAIT;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("herald exited with {status} during start; see {}", self.log_hint());
            }
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await {
                last = r.json().await.unwrap_or(Value::Null);
                if last["integrations"][INTEGRATION]["status"] == "healthy" {
                    return;
                }
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("herald did not become healthy: {last:#}");
    }

    fn workdir(&self) -> &std::path::Path {
        self.dir.as_ref().map(|d| d.path()).unwrap_or(std::path::Path::new("."))
    }

    fn log_hint(&self) -> String {
        format!("{}/herald-{}.log", self.workdir().display(), self.starts)
    }

    /// SIGKILLs herald (no shutdown path runs).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL herald");
            let _ = child.wait();
        }
    }

    /// SIGKILLs herald and starts it again on the same store.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    /// How many times herald was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// A new conversation with a connected agent that herald tracks as connected; returns its id.
    pub async fn conversation(&mut self, name: &str) -> String {
        let conv = match self.kind {
            Kind::WebMessaging => {
                let mut guest = webmessaging_support::Guest::connect(&self.emulator.ws_base_url(), DEPLOYMENT).await;
                guest.configure(false).await;
                guest.say(&format!("Hello, this is {name}")).await;
                let conv = self.wait_connected_agent(&guest.token).await;
                self.wm_guests.push(guest);
                conv
            }
            Kind::WebChat => {
                let opts =
                    GuestOptions::new(self.emulator.base_url(), &self.org, &self.chat_deployment, "Support", name);
                let mut guest = ChatGuest::join(&opts).await.expect("chat guest joins");
                guest
                    .wait_for(
                        WAIT,
                        |e| matches!(e, GuestEvent::Member(m) if m.role == "AGENT" && m.state == "CONNECTED"),
                    )
                    .await
                    .expect("an agent joins the chat");
                let conv = guest.conversation_id().to_string();
                self.chat_guests.push(guest);
                conv
            }
        };
        self.wait_session(&conv).await;
        conv
    }

    async fn wait_connected_agent(&self, token: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(c) = self.control().guest_conversation(token) {
                if self.control().conversation(&c).is_ok_and(|s| !s.connected_agent_ids.is_empty()) {
                    return c;
                }
            }
            assert!(Instant::now() < deadline, "guest {token} got no connected agent");
            tokio::time::sleep(POLL).await;
        }
    }

    async fn wait_session(&self, conv: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let r = self.http.get(format!("{}/v1/sessions/{conv}", self.base)).bearer_auth(API_KEY).send().await;
            if let Ok(r) = r {
                if r.status().as_u16() == 200 && r.json::<Value>().await.is_ok_and(|s| s["state"] == "connected") {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "herald never tracked {conv} as connected");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Posts a notification `text` to conversation `conv` (idempotency key `key`); returns its id.
    pub async fn notify(&self, conv: &str, text: &str, key: &str) -> String {
        let body = json!({"integration": INTEGRATION, "target": {"type": "conversation", "id": conv}, "text": text});
        let r = self
            .http
            .post(format!("{}/v1/notifications", self.base))
            .bearer_auth(API_KEY)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .expect("post notification");
        let status = r.status().as_u16();
        let v: Value = r.json().await.expect("json");
        assert_eq!(status, 202, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    /// The notification's view (`Null` while herald is down).
    pub async fn view(&self, id: &str) -> Value {
        match self.http.get(format!("{}/v1/notifications/{id}", self.base)).bearer_auth(API_KEY).send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// Polls until the notification is `delivered`, `failed` or `expired` (or `timeout` passes); the last view.
    pub async fn wait_final(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.view(id).await;
            if matches!(v["status"].as_str(), Some("delivered" | "failed" | "expired")) || Instant::now() >= deadline {
                return v;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Agent-side (outbound) texts of a conversation upstream, in transcript order, with their message ids.
    pub fn upstream(&self, conv: &str) -> Vec<(String, String)> {
        self.control()
            .transcript(conv)
            .expect("transcript")
            .into_iter()
            .filter(|l| l.direction == "outbound" && l.sender.starts_with("agent"))
            .map(|l| (l.text, l.id))
            .collect()
    }

    /// How many times `text` is in `conv` upstream.
    pub fn upstream_count(&self, conv: &str, text: &str) -> usize {
        self.upstream(conv).iter().filter(|(t, _)| t == text).count()
    }

    /// Upstream count per text over several conversations.
    pub fn upstream_counts(&self, convs: &[String]) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for c in convs {
            for (t, _) in self.upstream(c) {
                *counts.entry(t).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Polls `cond` until it holds or `timeout` passes; whether it held.
    pub async fn until(&self, timeout: Duration, mut cond: impl FnMut(&Harness) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = self.dir.take() {
            if std::env::var_os("EXACTLY_ONCE_KEEP").is_some() {
                eprintln!("kept {}", dir.keep().display());
            }
        }
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// The generated `herald serve` config.
fn config_text(kind: Kind, k: Knobs, emu: &str, store: &std::path::Path, port: u16) -> String {
    let (kind_name, extra) = match kind {
        Kind::WebMessaging => ("webmessaging", format!("deployment_id = \"{DEPLOYMENT}\"\n")),
        Kind::WebChat => ("webchat", String::new()),
    };
    format!(
        r#"
[service]
listen = "127.0.0.1:{port}"
api_keys = ["{API_KEY}"]
shutdown_grace_secs = 1

[store]
path = "{store}"

[dispatcher]
concurrency = 16
max_attempts = {attempts}
backoff_initial_ms = {initial}
backoff_max_ms = {max}
delivery_timeout_secs = {timeout}
confirm_delay_ms = {confirm}

[[integration]]
name = "{INTEGRATION}"
kind = "{kind_name}"
closed_policy = "fail"
[integration.settings]
base_url = "{emu}"
client_id = "herald-demo"
client_secret = "${{EO_SECRET}}"
queue_ids = ["{SUPPORT_QUEUE}"]
requests_per_minute = 100000
burst = 100
{extra}
[integration.settings.stream]
reconnect_base_ms = 50
reconnect_max_secs = 1
"#,
        store = store.display(),
        attempts = k.max_attempts,
        initial = k.backoff_initial_ms,
        max = k.backoff_max_ms,
        timeout = k.delivery_timeout_secs,
        confirm = k.confirm_delay_ms,
    )
}

/// The reason of a notification view's last history entry.
pub fn last_reason(view: &Value) -> String {
    view["history"].as_array().and_then(|h| h.last()).and_then(|e| e["reason"].as_str()).unwrap_or("").to_string()
}
