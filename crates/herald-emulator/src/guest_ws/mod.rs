//! The web messaging guest WebSocket (`GET /v1?deploymentId=…`, the webmessaging host's role).
//!
//! One task per socket reads client frames and applies them to the world; a writer task drains
//! an unbounded channel that the world (agent messages, disconnects, expiry) pushes into.

pub mod actions;
pub mod frames;
pub mod jwt;
pub mod session;

use std::collections::HashMap;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::state::{AppState, SocketKind};
use crate::world::guest::Outgoing;

/// `GET /v1?deploymentId=…` — upgrades, or answers 403 for an unknown deployment.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let dep = q
        .get("deploymentId")
        .cloned()
        .or_else(|| headers.get("deploymentid").and_then(|v| v.to_str().ok()).map(str::to_string))
        .unwrap_or_default();
    let known = state.config.deployments.iter().any(|d| d.id == dep && d.status == "Active");
    if !known {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"message": "User is not authorized to access this resource with an explicit deny"})),
        )
            .into_response();
    }
    ws.on_upgrade(move |socket| run(state, socket, dep))
}

/// Per-connection state.
pub struct Conn {
    /// Socket id.
    pub socket_id: u64,
    /// Deployment from the URL.
    pub deployment_id: String,
    /// Token once `configureSession` succeeded.
    pub token: Option<String>,
    /// Sender to this socket's writer.
    pub tx: mpsc::UnboundedSender<Outgoing>,
}

impl Conn {
    /// Queues a frame for this socket only.
    pub fn send(&self, frame: String) {
        let _ = self.tx.send(Outgoing::Text(frame));
    }
}

/// Pumps an outgoing channel into a socket sink until a Close or the channel ends.
pub async fn write_loop<S>(mut sink: S, mut rx: mpsc::UnboundedReceiver<Outgoing>)
where
    S: futures::Sink<Message> + Unpin,
{
    while let Some(out) = rx.recv().await {
        match out {
            Outgoing::Text(t) => {
                if sink.send(Message::Text(t.into())).await.is_err() {
                    break;
                }
            }
            Outgoing::Close(code, reason) => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                break;
            }
        }
    }
    let _ = sink.close().await;
}

async fn run(state: AppState, socket: WebSocket, deployment_id: String) {
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(sink, rx));
    let mut drops = state.drop_sockets.subscribe();
    let mut conn = Conn { socket_id: state.socket_id(), deployment_id, token: None, tx };
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => actions::handle(&state, &mut conn, t.as_str()),
                Some(Ok(Message::Binary(_))) => conn.send(frames::error(400, "Request failed.", None)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            k = drops.recv() => {
                if matches!(k, Ok(SocketKind::Guest)) {
                    let _ = conn.tx.send(Outgoing::Close(1001, "connection dropped".into()));
                    break;
                }
            }
        }
    }
    if let Some(token) = &conn.token {
        if let Some(s) = state.world.lock().guests.get_mut(token) {
            s.sockets.remove(&conn.socket_id);
        }
    }
    drop(conn);
    let _ = writer.await;
}
