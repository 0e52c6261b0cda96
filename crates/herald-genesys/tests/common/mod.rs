//! A small fake of the Genesys login host, a few Platform API endpoints and the notification WebSocket, on
//! 127.0.0.1:0, scripted by conversation id. Tests synchronise on events, never on sleeps.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use herald_genesys::{ClientConfig, GenesysClient};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

/// What a test can tell a connected socket to do.
#[derive(Debug)]
pub enum WsCmd {
    /// Send a text frame.
    Text(String),
    /// Drop the connection without a close frame.
    Drop,
}

#[derive(Default)]
pub struct FakeState {
    pub addr: Mutex<String>,
    pub token_fetches: AtomicU64,
    pub token_delay_ms: AtomicU64,
    pub expires_in: AtomicU64,
    pub revoked: Mutex<HashSet<String>>,
    pub reject_all_bearer: AtomicBool,
    pub hits: Mutex<HashMap<String, u32>>,
    pub channels: AtomicU64,
    pub subscriptions: Mutex<Vec<(String, Vec<String>)>>,
    pub sockets: Mutex<HashMap<String, mpsc::UnboundedSender<WsCmd>>>,
    pub registered: Notify,
    pub pings: AtomicU64,
    pub answer_pongs: AtomicBool,
    /// Conversation id → the `Retry-After` value its first GET is refused (429) with.
    pub retry_after_script: Mutex<HashMap<String, String>>,
}

pub struct Fake {
    pub base: String,
    pub state: Arc<FakeState>,
}

fn corr(id: &str) -> (&'static str, String) {
    ("ININ-Correlation-Id", format!("corr-{id}"))
}

fn error(status: StatusCode, code: &str, message: &str, cid: &str, extra: Value) -> Response {
    let mut body = json!({"message": message, "code": code, "status": status.as_u16(),
                          "contextId": format!("corr-{cid}"), "details": [], "errors": []});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    (status, [corr(cid)], Json(body)).into_response()
}

fn bearer_ok(st: &FakeState, headers: &HeaderMap) -> bool {
    let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    let Some(tok) = v.strip_prefix("Bearer ") else { return false };
    tok.starts_with("tok-") && !st.reject_all_bearer.load(Ordering::SeqCst) && !st.revoked.lock().contains(tok)
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "bad.credentials", "Invalid login credentials.", "auth", json!({}))
}

async fn token(State(st): State<Arc<FakeState>>, headers: HeaderMap, body: String) -> Response {
    let n = st.token_fetches.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = st.token_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let decoded = auth
        .strip_prefix("Basic ")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).to_string())
        .unwrap_or_default();
    if body != "grant_type=client_credentials" || !decoded.ends_with(":secret") || decoded.starts_with("bad-") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "client authentication failed"})),
        )
            .into_response();
    }
    let expires = match st.expires_in.load(Ordering::SeqCst) {
        0 => 86400,
        e => e,
    };
    Json(json!({"access_token": format!("tok-{n}"), "token_type": "bearer", "expires_in": expires})).into_response()
}

fn hit(st: &FakeState, key: &str) -> u32 {
    let mut h = st.hits.lock();
    let c = h.entry(key.to_string()).or_insert(0);
    *c += 1;
    *c
}

async fn conversation(State(st): State<Arc<FakeState>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if !bearer_ok(&st, &headers) {
        return unauthorized();
    }
    let n = hit(&st, &id);
    if n == 1 {
        if let Some(value) = st.retry_after_script.lock().get(&id).cloned() {
            let mut r =
                error(StatusCode::TOO_MANY_REQUESTS, "too.many.requests.retry.after", "slow down", &id, json!({}));
            if let Ok(v) = value.parse() {
                r.headers_mut().insert("retry-after", v);
            }
            return r;
        }
    }
    let ok = || {
        (
            StatusCode::OK,
            [corr(&id)],
            Json(json!({"id": id, "participants": [{"id": "p1", "purpose": "customer", "externalContactId": "ec-1",
                        "messages": [{"id": "comm-1", "state": "connected", "type": "webmessaging"}]}],
                        "unknownField": {"nested": true}})),
        )
            .into_response()
    };
    match id.as_str() {
        "c-429" if n == 1 => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too.many.requests.retry.after",
                "Rate limit exceeded the maximum. Retry the request in [1] seconds",
                &id,
                json!({}),
            );
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
            r
        }
        "c-429-always" => {
            let mut r =
                error(StatusCode::TOO_MANY_REQUESTS, "too.many.requests.retry.after", "slow down", &id, json!({}));
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
            r
        }
        "c-503" if n <= 2 => error(StatusCode::SERVICE_UNAVAILABLE, "service.unavailable", "try later", &id, json!({})),
        "c-500-always" => error(StatusCode::INTERNAL_SERVER_ERROR, "internal.server.error", "boom", &id, json!({})),
        "c-404" => error(StatusCode::NOT_FOUND, "not.found", "The conversation was not found", &id, json!({})),
        "c-400" => error(
            StatusCode::BAD_REQUEST,
            "invalid.value",
            "Value is invalid",
            &id,
            json!({"details": [{"errorCode": "invalid", "fieldName": "participants[0].state"}]}),
        ),
        _ => ok(),
    }
}

async fn send_message(
    State(st): State<Arc<FakeState>>,
    Path((cid, _comm)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !bearer_ok(&st, &headers) {
        return unauthorized();
    }
    hit(&st, "send");
    let n = hit(&st, &format!("send-{cid}"));
    match cid.as_str() {
        "closed" => {
            return error(StatusCode::CONFLICT, "conflict", "The communication is disconnected", &cid, json!({}))
        }
        // Answers after the caller's deadline: the send happened, the caller cannot know.
        "slow" => tokio::time::sleep(Duration::from_secs(3)).await,
        "c-500" => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal.server.error", "boom", &cid, json!({})),
        "c-502" => return error(StatusCode::BAD_GATEWAY, "bad.gateway", "upstream failed", &cid, json!({})),
        "c-503" if n <= 2 => {
            return error(StatusCode::SERVICE_UNAVAILABLE, "service.unavailable", "try later", &cid, json!({}))
        }
        "c-429-long" => {
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "too.many.requests.retry.after", "wait", &cid, json!({}));
            r.headers_mut().insert("retry-after", "5".parse().unwrap());
            return r;
        }
        _ => {}
    }
    (
        StatusCode::OK,
        [corr(&cid)],
        Json(json!({"id": "msg-1", "timestamp": "2026-05-01T10:00:00.000Z",
        "direction": "outbound", "messengerType": "webmessaging", "status": "sent",
        "normalizedMessage": {"type": "Text", "text": "hi"}, "conversationId": cid})),
    )
        .into_response()
}

async fn create_channel(State(st): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    if !bearer_ok(&st, &headers) {
        return unauthorized();
    }
    let n = st.channels.fetch_add(1, Ordering::SeqCst) + 1;
    let id = format!("ch-{n}");
    let addr = st.addr.lock().clone();
    let expires = (chrono::Utc::now() + chrono::Duration::hours(24)).to_rfc3339();
    Json(json!({"id": id, "connectUri": format!("ws://{addr}/channels/{id}"), "expires": expires})).into_response()
}

async fn put_subscriptions(
    State(st): State<Arc<FakeState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(topics): Json<Vec<Value>>,
) -> Response {
    if !bearer_ok(&st, &headers) {
        return unauthorized();
    }
    let names: Vec<String> = topics.iter().filter_map(|t| t["id"].as_str().map(str::to_string)).collect();
    st.subscriptions.lock().push((id, names.clone()));
    let entities: Vec<Value> = names
        .iter()
        .map(|n| {
            if n.starts_with("forbidden.") {
                json!({"id": n, "state": "Rejected", "rejectionReason": "missing permissions",
                       "missingPermissions": ["conversation:communication:view"]})
            } else {
                json!({"id": n, "state": "Permitted"})
            }
        })
        .collect();
    Json(json!({"entities": entities})).into_response()
}

async fn ws(State(st): State<Arc<FakeState>>, Path(id): Path<String>, up: WebSocketUpgrade) -> Response {
    up.on_upgrade(move |socket| serve_socket(st, id, socket))
}

async fn serve_socket(st: Arc<FakeState>, id: String, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    st.sockets.lock().insert(id.clone(), tx);
    st.registered.notify_waiters();
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(WsCmd::Text(t)) => { if socket.send(Message::Text(t.into())).await.is_err() { return; } }
                Some(WsCmd::Drop) | None => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) if t.as_str().contains("ping") => {
                    st.pings.fetch_add(1, Ordering::SeqCst);
                    if st.answer_pongs.load(Ordering::SeqCst) {
                        let pong = r#"{"topicName":"channel.metadata","eventBody":{"message":"pong"}}"#;
                        if socket.send(Message::Text(pong.into())).await.is_err() { return; }
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            }
        }
    }
}

impl Fake {
    pub async fn start() -> Fake {
        let state = Arc::new(FakeState::default());
        state.answer_pongs.store(true, Ordering::SeqCst);
        let app = Router::new()
            .route("/oauth/token", post(token))
            .route("/api/v2/conversations/{id}", get(conversation))
            .route("/api/v2/conversations/messages/{cid}/communications/{comm}/messages", post(send_message))
            .route("/api/v2/notifications/channels", post(create_channel))
            .route("/api/v2/notifications/channels/{id}/subscriptions", put(put_subscriptions))
            .route("/channels/{id}", get(ws))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr").to_string();
        *state.addr.lock() = addr.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake { base: format!("http://{addr}"), state }
    }

    /// A client of this fake for `client_id` (secret `secret`), fast backoff.
    pub fn client(&self, client_id: &str) -> GenesysClient {
        GenesysClient::new(self.config(client_id)).expect("client")
    }

    pub fn config(&self, client_id: &str) -> ClientConfig {
        let mut c = ClientConfig::new(self.base.parse().expect("env"), client_id, "secret");
        c.backoff_base_ms = 5;
        c.backoff_max_ms = 20;
        c.requests_per_minute = 6000;
        c.burst = 100;
        c
    }

    pub fn hits(&self, key: &str) -> u32 {
        self.state.hits.lock().get(key).copied().unwrap_or(0)
    }

    /// The command sender of channel `id`'s socket, waiting for the socket to be registered.
    pub async fn socket(&self, id: &str) -> mpsc::UnboundedSender<WsCmd> {
        loop {
            let notified = self.state.registered.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(s) = self.state.sockets.lock().get(id).cloned() {
                return s;
            }
            notified.await;
        }
    }

    pub async fn send(&self, channel: &str, text: &str) {
        let _ = self.socket(channel).await.send(WsCmd::Text(text.to_string()));
    }

    pub async fn drop_socket(&self, channel: &str) {
        let _ = self.socket(channel).await.send(WsCmd::Drop);
    }
}
