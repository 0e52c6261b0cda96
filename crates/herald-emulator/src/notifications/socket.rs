//! The channel WebSocket at `connectUri`: events, heartbeats, ping/pong, closing notices.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::guest_ws::write_loop;
use crate::state::{AppState, SocketKind};
use crate::world::guest::Outgoing;

fn metadata_frame(message: &str) -> String {
    json!({"topicName": "channel.metadata", "eventBody": {"message": message}}).to_string()
}

/// Upgrades for a live channel; 404 otherwise.
pub async fn upgrade(State(state): State<AppState>, Path(id): Path<String>, ws: WebSocketUpgrade) -> Response {
    if state.hub.get(&id, state.clock.now()).is_none() {
        return (StatusCode::NOT_FOUND, "channel not found").into_response();
    }
    ws.on_upgrade(move |socket| run(state, socket, id))
}

async fn run(state: AppState, socket: WebSocket, channel_id: String) {
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(sink, rx));
    let socket_id = state.socket_id();
    let chat = match state.hub.attach(&channel_id, socket_id, tx.clone(), state.clock.now()) {
        Ok(c) => c,
        Err(_) => {
            let _ = tx.send(Outgoing::Close(1008, "channel not found".into()));
            drop(tx);
            let _ = writer.await;
            return;
        }
    };
    if let Some(conv_id) = chat {
        crate::chat::guest::stream_attached(&state, &conv_id);
    }
    let interval_ms = state.config.limits.heartbeat_interval_ms;
    let mut heartbeat = tokio::time::interval(std::time::Duration::from_millis(interval_ms.max(1)));
    heartbeat.tick().await;
    let mut drops = state.drop_sockets.subscribe();
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    match v.get("message").and_then(Value::as_str) {
                        Some("ping") => {
                            let _ = tx.send(Outgoing::Text(metadata_frame("pong")));
                        }
                        // Subscriptions are made over HTTP; say so instead of staying silent.
                        Some(other) => {
                            let _ = tx.send(Outgoing::Text(metadata_frame(&format!(
                                "unsupported socket message `{other}`: only `ping` is answered here; subscribe with \
                                 PUT or POST /api/v2/notifications/channels/{{channelId}}/subscriptions"
                            ))));
                        }
                        None => {}
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = heartbeat.tick(), if interval_ms > 0 => {
                let _ = tx.send(Outgoing::Text(metadata_frame("WebSocket Heartbeat")));
            }
            k = drops.recv() => {
                if matches!(k, Ok(SocketKind::Notification)) {
                    let _ = tx.send(Outgoing::Close(1001, "connection dropped".into()));
                    break;
                }
            }
        }
    }
    state.hub.detach(&channel_id, socket_id);
    drop(tx);
    let _ = writer.await;
}
