//! Test helpers: start an emulator, get tokens, drive the API like the Python SDK does
//! (`Authorization: Bearer`, JSON bodies, SDK paths), and talk to the WebSockets.

#![allow(dead_code)]

use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use herald_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const CLIENT_ID: &str = "herald-demo";
pub const CLIENT_SECRET: &str = "herald-demo-secret";
pub const DEPLOYMENT: &str = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50";
pub const QUEUE: &str = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10";
pub const ALICE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
pub const BOB: &str = "11111111-aaaa-4bbb-8ccc-000000000002";
pub const CAROL: &str = "e1e2e3e4-0000-4000-8000-000000000001";
pub const CAROL_TOKEN: &str = "carol-guest-token";
pub const ORG: &str = "8b1c3c5e-6a1f-4a8e-9c61-3f0e2a7d4b10";
pub const CHAT_DEPLOYMENT: &str = "0f1e2d3c-4b5a-4968-8776-5a4b3c2d1e00";
pub const RESPONSE_SHIPPED: &str = "9c8b7a6d-0000-4000-8000-000000000001";
pub const LIBRARY: &str = "1b2c3d4e-0000-4000-8000-0000000000aa";
pub const AVAILABLE: &str = "6a3af858-942f-489d-9700-5f9bcdcdae9b";
pub const ON_QUEUE: &str = "e08eaf1b-ee47-4fa9-a231-1200e284798f";
pub const WAIT: Duration = Duration::from_secs(5);

/// The default org config text.
pub fn default_toml() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/emulator.toml")).expect("default config")
}

/// Replaces `key = old` with `key = new` in the config text (first occurrence).
pub fn tweak(toml: &str, from: &str, to: &str) -> String {
    assert!(toml.contains(from), "config has no {from:?}");
    toml.replacen(from, to, 1)
}

pub async fn start() -> Emulator2 {
    start_with(EmulatorConfig::default_org()).await
}

pub async fn start_toml(toml: &str) -> Emulator2 {
    start_with(EmulatorConfig::from_toml_str(toml).expect("config")).await
}

pub async fn start_with(cfg: EmulatorConfig) -> Emulator2 {
    // reqwest is built without a default TLS provider in this workspace (tests use plain http,
    // but building any Client needs a provider) — install one before the emulator starts.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let handle = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("start");
    let http = reqwest::Client::builder().build().expect("client");
    let mut e = Emulator2 { handle, http, token: String::new() };
    e.token = e.token_for(CLIENT_ID, CLIENT_SECRET).await;
    e
}

/// A running emulator plus an HTTP client and a token.
pub struct Emulator2 {
    pub handle: EmulatorHandle,
    pub http: reqwest::Client,
    pub token: String,
}

/// A response: status, headers, JSON body (Null when empty).
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// Asserts the platform ErrorBody shape and that contextId equals ININ-Correlation-Id.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["message"].is_string());
        assert!(self.body["details"].is_array());
        assert!(self.body["errors"].is_array());
        let corr = self.header("inin-correlation-id").expect("ININ-Correlation-Id");
        assert_eq!(self.body["contextId"], corr.as_str());
    }

    /// The `details[].fieldName`s.
    pub fn fields(&self) -> Vec<String> {
        self.body["details"]
            .as_array()
            .map(|d| d.iter().filter_map(|x| x["fieldName"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

impl Emulator2 {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.handle.base_url(), path)
    }

    pub async fn token_for(&self, id: &str, secret: &str) -> String {
        let r = self.oauth(id, secret, "grant_type=client_credentials").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["access_token"].as_str().expect("access_token").to_string()
    }

    /// `POST /oauth/token` exactly as the SDK sends it.
    pub async fn oauth(&self, id: &str, secret: &str, form: &str) -> Resp {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let r = self
            .http
            .post(self.url("/oauth/token"))
            .header("Authorization", format!("Basic {basic}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .expect("send");
        to_resp(r).await
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call_as(&self.token.clone(), method, path, body).await
    }

    pub async fn call_as(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self
            .http
            .request(m, self.url(path))
            .header("Accept", "application/json")
            .header("Authorization", format!("Bearer {token}"));
        if let Some(b) = body {
            rb = rb.header("Content-Type", "application/json").body(b.to_string());
        }
        to_resp(rb.send().await.expect("send")).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body)).await
    }

    /// Control API call (no auth).
    pub async fn control_call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m, self.url(&format!("/emulator/v1{path}")));
        if let Some(b) = body {
            rb = rb.header("Content-Type", "application/json").body(b.to_string());
        }
        to_resp(rb.send().await.expect("send")).await
    }

    /// Opens a guest socket and configures a session; returns the guest and the SessionResponse body.
    pub async fn guest(&self, token: &str) -> (Guest, Value) {
        let mut g = Guest::connect(&self.handle.ws_base_url(), DEPLOYMENT, token).await;
        let body = g.configure(false).await;
        (g, body)
    }

    /// Waits until the guest's current conversation has a connected agent; returns
    /// (conversation id, agent communication id).
    pub async fn wait_agent(&self, token: &str) -> (String, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(cid) = self.handle.control().guest_conversation(token) {
                let r = self.get(&format!("/api/v2/conversations/{cid}")).await;
                if let Some(comm) = agent_comm(&r.body) {
                    return (cid, comm);
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "no agent connected in time");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The connected agent's message communication id in a generic Conversation (the generic `Participant` has no
/// `state`: the communication's `state` says whether it is connected, as in the public sample code).
pub fn agent_comm(conv: &Value) -> Option<String> {
    conv["participants"].as_array()?.iter().find_map(|p| {
        if p["purpose"] != "agent" {
            return None;
        }
        p["messages"]
            .as_array()?
            .iter()
            .find(|m| m["state"] == "connected")
            .and_then(|m| m["id"].as_str().map(str::to_string))
    })
}

pub async fn to_resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp { status, headers, body }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Reads text frames until one matches, with a timeout.
pub async fn next_matching(ws: &mut Ws, mut pred: impl FnMut(&Value) -> bool) -> Value {
    let fut = async {
        while let Some(msg) = ws.next().await {
            if let Ok(Message::Text(t)) = msg {
                let v: Value = serde_json::from_str(t.as_str()).expect("json frame");
                if pred(&v) {
                    return Some(v);
                }
            } else if let Ok(Message::Close(_)) | Err(_) = msg {
                return None;
            }
        }
        None
    };
    tokio::time::timeout(WAIT, fut).await.expect("timed out waiting for a frame").expect("socket closed")
}

/// Waits for the socket to close (Close frame or end of stream).
pub async fn wait_closed(ws: &mut Ws) {
    let fut = async {
        while let Some(msg) = ws.next().await {
            if matches!(msg, Ok(Message::Close(_)) | Err(_)) {
                return;
            }
        }
    };
    tokio::time::timeout(WAIT, fut).await.expect("socket did not close");
}

/// A web messaging guest.
pub struct Guest {
    pub ws: Ws,
    pub token: String,
    pub deployment: String,
}

impl Guest {
    pub async fn connect(ws_base: &str, deployment: &str, token: &str) -> Guest {
        let (ws, _) = tokio_tungstenite::connect_async(format!("{ws_base}/v1?deploymentId={deployment}"))
            .await
            .expect("guest connect");
        Guest { ws, token: token.to_string(), deployment: deployment.to_string() }
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    }

    pub async fn configure(&mut self, start_new: bool) -> Value {
        let frame = json!({
            "action": "configureSession",
            "deploymentId": self.deployment,
            "token": self.token,
            "startNew": start_new,
            "journeyContext": {"customer": {"id": self.token, "idType": "cookie"}, "customerSession": {"id": "s1", "type": "web"}},
        });
        self.send(frame).await;
        let f = self.next(|f| f["class"] == "SessionResponse").await;
        f["body"].clone()
    }

    pub async fn say(&mut self, text: &str, tracing_id: &str) {
        let frame = json!({"action": "onMessage", "token": self.token, "tracingId": tracing_id,
                           "message": {"type": "Text", "text": text}});
        self.send(frame).await;
    }

    pub async fn next(&mut self, pred: impl FnMut(&Value) -> bool) -> Value {
        next_matching(&mut self.ws, pred).await
    }

    /// Next Outbound Text StructuredMessage.
    pub async fn next_outbound_text(&mut self) -> Value {
        self.next(|f| {
            f["class"] == "StructuredMessage" && f["body"]["direction"] == "Outbound" && f["body"]["type"] == "Text"
        })
        .await
    }
}

/// Opens a notification channel socket.
pub async fn channel_socket(connect_uri: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(connect_uri).await.expect("channel connect");
    ws
}
