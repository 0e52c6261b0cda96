//! Helpers shared by the end-to-end tests: a webhook receiver that records deliveries, and a service launcher.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::Notify;

/// An HTTP client (installs the TLS provider first).
pub fn client() -> reqwest::Client {
    herald::tls::install_crypto_provider();
    reqwest::Client::new()
}

/// A loopback port that was free a moment ago (for a child process that must listen on a known port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// An API key used by every test config.
pub const API_KEY: &str = "test-key-0123456789abcdef";

/// A webhook endpoint that records every POST by idempotency key and answers `GET /hook/{key}`.
#[derive(Clone, Default)]
pub struct Receiver {
    inner: Arc<ReceiverInner>,
}

#[derive(Default)]
pub struct ReceiverInner {
    /// key → how many POSTs carried it.
    pub counts: Mutex<HashMap<String, usize>>,
    /// Every body in arrival order.
    pub bodies: Mutex<Vec<Value>>,
    /// Status codes to answer, in order, before answering 200 (fault injection).
    pub script: Mutex<Vec<u16>>,
    /// Woken on every POST.
    pub arrived: Notify,
}

impl Receiver {
    /// Start on an ephemeral loopback port; returns the receiver and the hook URL.
    pub async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let app =
            Router::new().route("/hook", post(hook)).route("/hook/{key}", get(confirm)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, format!("http://{addr}/hook"))
    }

    /// How many POSTs carried `key`.
    pub fn count(&self, key: &str) -> usize {
        self.inner.counts.lock().get(key).copied().unwrap_or(0)
    }

    /// All counts.
    pub fn counts(&self) -> HashMap<String, usize> {
        self.inner.counts.lock().clone()
    }

    /// Bodies received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.inner.bodies.lock().clone()
    }

    /// Answer these statuses (in order) to the next POSTs.
    pub fn script(&self, statuses: &[u16]) {
        *self.inner.script.lock() = statuses.to_vec();
    }

    /// Wait until at least `n` POSTs arrived, or the timeout passes.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.arrived.notified();
            if self.inner.bodies.lock().len() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.inner.bodies.lock().len() >= n;
            }
        }
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let scripted = {
        let mut s = r.inner.script.lock();
        (!s.is_empty()).then(|| s.remove(0))
    };
    if let Some(code) = scripted {
        r.inner.arrived.notify_waiters();
        return (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(Value::Null));
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    *r.inner.counts.lock().entry(key.clone()).or_default() += 1;
    r.inner.bodies.lock().push(body);
    r.inner.arrived.notify_waiters();
    (StatusCode::OK, Json(serde_json::json!({"id": format!("msg-{key}")})))
}

async fn confirm(State(r): State<Receiver>, Path(key): Path<String>) -> StatusCode {
    if r.count(&key) > 0 {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

/// A config with one webhook integration `hook` pointing at `url`.
pub fn webhook_config(store: &str, url: &str, listen: &str) -> String {
    format!(
        r#"
[service]
listen = "{listen}"
api_keys = ["{API_KEY}"]
max_body_bytes = 4096
shutdown_grace_secs = 5

[store]
path = "{store}"

[dispatcher]
concurrency = 32
max_attempts = 4
backoff_initial_ms = 20
backoff_max_ms = 200

[[integration]]
name = "hook"
kind = "webhook"
closed_policy = "fail"
[integration.settings]
url = "{url}"
confirm = true
"#
    )
}

/// Poll `GET /v1/notifications/{id}` until its status is final or `timeout` passes; returns the last view.
pub async fn wait_final(client: &reqwest::Client, base: &str, id: &str, timeout: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = Value::Null;
    while tokio::time::Instant::now() < deadline {
        if let Ok(resp) = client.get(format!("{base}/v1/notifications/{id}")).bearer_auth(API_KEY).send().await {
            if let Ok(v) = resp.json::<Value>().await {
                let status = v["status"].as_str().unwrap_or("");
                if matches!(status, "delivered" | "failed" | "expired" | "deferred") {
                    return v;
                }
                last = v;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    last
}

/// Start `herald serve --config <config>` as a child process (quiet: logs at `warn`, output discarded).
pub fn spawn_serve(config: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--config"])
        .arg(config)
        .env("HERALD_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn herald")
}

/// Wait (at most 30 s) until the service at `base` answers `/healthz` with success.
pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("herald did not become healthy at {base}");
}
