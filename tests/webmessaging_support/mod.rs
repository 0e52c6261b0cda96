//! Helpers for the web messaging end-to-end tests: the emulator and herald in-process, a minimal web messaging
//! guest over the emulator's guest WebSocket, and polling helpers with deadlines (no sleeps to synchronise).

#![allow(dead_code)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use herald_emulator::{Control, Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// API key of the test configs.
pub const API_KEY: &str = "wm-test-key-0123456789abcdef";
/// The seeded web messaging deployment.
pub const DEPLOYMENT: &str = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50";
/// The seeded Support queue (the deployment routes there).
pub const SUPPORT_QUEUE: &str = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10";
/// The seeded Sales queue (nothing is routed there).
pub const SALES_QUEUE: &str = "7a9b8c6d-5e4f-4a3b-8c2d-1e0f9a8b7c60";
/// The seeded auto-answering agent on queue.
pub const ALICE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
/// A seeded canned response with substitutions `order_id` (default) and `eta` (default).
pub const ORDER_SHIPPED: &str = "9c8b7a6d-0000-4000-8000-000000000001";
/// The test's wait for anything.
pub const WAIT: Duration = Duration::from_secs(20);

/// Knobs of one test environment.
pub struct Options {
    /// closed_policy of the `wm` integration.
    pub policy: &'static str,
    /// Queue the `wm` integration watches.
    pub queue: &'static str,
    /// Extra lines appended to `[integration.settings]` of `wm`.
    pub extra_settings: String,
    /// Also configure an integration `wm-bad` whose client secret is wrong.
    pub bad_integration: bool,
    /// Dispatcher max attempts.
    pub max_attempts: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            policy: "defer",
            queue: SUPPORT_QUEUE,
            extra_settings: String::new(),
            bad_integration: false,
            max_attempts: 4,
        }
    }
}

/// The emulator, herald and an HTTP client.
pub struct Env {
    pub emulator: EmulatorHandle,
    pub herald: herald::service::RunningService,
    pub base: String,
    pub http: reqwest::Client,
}

impl Env {
    /// Starts the seeded emulator and herald with a `wm` web messaging integration.
    pub async fn start(opts: Options) -> Env {
        herald::tls::install_crypto_provider();
        let emulator = Emulator::start(EmulatorConfig::default_org(), "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("emulator");
        let emu = emulator.base_url();
        let mut text = format!(
            r#"
[service]
listen = "127.0.0.1:0"
api_keys = ["{API_KEY}"]

[store]
path = ":memory:"

[dispatcher]
concurrency = 32
max_attempts = {attempts}
backoff_initial_ms = 50
backoff_max_ms = 500

[[integration]]
name = "wm"
kind = "webmessaging"
closed_policy = "{policy}"
[integration.settings]
base_url = "{emu}"
client_id = "herald-demo"
client_secret = "${{WM_SECRET}}"
deployment_id = "{DEPLOYMENT}"
queue_ids = ["{queue}"]
{extra}
[integration.settings.stream]
reconnect_base_ms = 50
reconnect_max_secs = 1
"#,
            attempts = opts.max_attempts,
            policy = opts.policy,
            queue = opts.queue,
            extra = opts.extra_settings,
        );
        if opts.bad_integration {
            text.push_str(&format!(
                r#"
[[integration]]
name = "wm-bad"
kind = "webmessaging"
closed_policy = "fail"
[integration.settings]
base_url = "{emu}"
client_id = "herald-demo"
client_secret = "not-the-secret"
deployment_id = "{DEPLOYMENT}"
queue_ids = ["{SALES_QUEUE}"]
"#
            ));
        }
        let registry = herald::adapters::builtin_registry();
        let lookup = |name: &str| (name == "WM_SECRET").then(|| "herald-demo-secret".to_string());
        let loaded = herald::config::load(&text, "webmessaging-test", &registry, &lookup).expect("config");
        let herald = herald::service::start(loaded).await.expect("herald");
        let base = format!("http://{}", herald.addr);
        Env { emulator, herald, base, http: reqwest::Client::new() }
    }

    /// Emulator control.
    pub fn control(&self) -> Control {
        self.emulator.control()
    }

    /// Posts a notification; returns its id.
    pub async fn notify(&self, body: Value) -> String {
        let resp = self
            .http
            .post(format!("{}/v1/notifications", self.base))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .expect("post notification");
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.expect("json");
        assert_eq!(status, 202, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    /// The notification's current view.
    pub async fn notification(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/v1/notifications/{id}", self.base))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("get notification")
            .json()
            .await
            .expect("json")
    }

    /// Polls until the notification's status is one of `want` (panics with the last view after `WAIT`).
    pub async fn wait_status(&self, id: &str, want: &[&str]) -> Value {
        self.wait_status_for(id, want, WAIT).await
    }

    /// Like [`wait_status`](Self::wait_status) with an explicit deadline.
    pub async fn wait_status_for(&self, id: &str, want: &[&str], timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = self.notification(id).await;
            if want.contains(&v["status"].as_str().unwrap_or("")) {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("notification {id} did not reach {want:?}: {v:#}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// herald's view of a session, if it has one.
    pub async fn session(&self, conversation_id: &str) -> Option<Value> {
        let resp = self
            .http
            .get(format!("{}/v1/sessions/{conversation_id}", self.base))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("get session");
        if resp.status().as_u16() != 200 {
            return None;
        }
        resp.json().await.ok()
    }

    /// Polls until herald knows `conversation_id` in `state` (`queued`, `connected`, `closed`).
    pub async fn wait_session(&self, conversation_id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = self.session(conversation_id).await;
            if let Some(s) = &s {
                if s["state"] == state {
                    return s.clone();
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!("herald does not know session {conversation_id} as {state}: {s:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls the emulator until `token`'s current conversation differs from `not` and has a connected agent.
    pub async fn wait_guest_conversation(&self, token: &str, not: Option<&str>) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(c) = self.control().guest_conversation(token) {
                if Some(c.as_str()) != not
                    && self.control().conversation(&c).is_ok_and(|s| !s.connected_agent_ids.is_empty())
                {
                    return c;
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!("guest {token} has no new connected conversation");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A guest that opened a session, said hello, was answered by an agent, and whom herald tracks as connected.
    pub async fn connected_guest(&self) -> (Guest, String) {
        let mut guest = Guest::connect(&self.emulator.ws_base_url(), DEPLOYMENT).await;
        guest.configure(false).await;
        guest.say("Hello, I have a question about my order").await;
        let conv = self.wait_guest_conversation(&guest.token, None).await;
        self.wait_session(&conv, "connected").await;
        (guest, conv)
    }

    /// Stops herald, then the emulator.
    pub async fn stop(self) {
        self.herald.shutdown().await;
        self.emulator.shutdown().await;
    }
}

/// A minimal web messaging guest: `configureSession`, `onMessage`, and the frames the server sends.
pub struct Guest {
    /// The guest session token.
    pub token: String,
    deployment: String,
    out: mpsc::UnboundedSender<String>,
    frames: mpsc::UnboundedReceiver<Value>,
}

impl Guest {
    /// Opens the guest socket `{ws}/v1?deploymentId=…` with a fresh token.
    pub async fn connect(ws_base: &str, deployment: &str) -> Guest {
        let url = format!("{ws_base}/v1?deploymentId={deployment}");
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("guest socket");
        let (mut sink, mut stream) = socket.split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (in_tx, in_rx) = mpsc::unbounded_channel::<Value>();
        tokio::spawn(async move {
            while let Some(text) = out_rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if let Message::Text(t) = msg {
                    if let Ok(v) = serde_json::from_str::<Value>(t.as_str()) {
                        if in_tx.send(v).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Guest {
            token: uuid::Uuid::new_v4().to_string(),
            deployment: deployment.to_string(),
            out: out_tx,
            frames: in_rx,
        }
    }

    fn send(&self, v: Value) {
        self.out.send(v.to_string()).expect("guest socket open");
    }

    /// `configureSession` (with `startNew`), waiting for the `SessionResponse`.
    pub async fn configure(&mut self, start_new: bool) -> Value {
        self.send(json!({"action": "configureSession", "token": self.token, "deploymentId": self.deployment, "startNew": start_new}));
        self.wait_frame(|f| f["class"] == "SessionResponse").await
    }

    /// `onMessage` with a text.
    pub async fn say(&self, text: &str) {
        self.send(json!({"action": "onMessage", "token": self.token, "message": {"type": "Text", "text": text}}));
    }

    /// The next frame matching `pred` (others are skipped), or a panic after `WAIT`.
    pub async fn wait_frame(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.frames.recv()).await {
                Ok(Some(f)) if pred(&f) => return f,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("guest socket closed"),
                Err(_) => panic!("no matching guest frame within {WAIT:?}"),
            }
        }
    }

    /// Waits for an Outbound `StructuredMessage` whose text is `text`; returns the frame.
    pub async fn wait_outbound(&mut self, text: &str) -> Value {
        self.wait_frame(|f| {
            f["class"] == "StructuredMessage" && f["body"]["direction"] == "Outbound" && f["body"]["text"] == text
        })
        .await
    }

    /// Waits for the Presence/Disconnect event that ends the conversation.
    pub async fn wait_disconnect(&mut self) -> Value {
        self.wait_frame(|f| {
            f["body"]["type"] == "Event"
                && f["body"]["events"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|e| e["presence"]["type"] == "Disconnect"))
        })
        .await
    }
}

/// The statuses of a notification's history, oldest first.
pub fn history(view: &Value) -> Vec<String> {
    view["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["status"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The reason of the last history entry.
pub fn last_reason(view: &Value) -> String {
    view["history"].as_array().and_then(|h| h.last()).and_then(|e| e["reason"].as_str()).unwrap_or("").to_string()
}
