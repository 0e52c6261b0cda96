//! The client actions of the guest protocol: configureSession, onMessage, echo, getJwt,
//! closeSession (reference §3.2).

use serde_json::{json, Value};

use crate::guest_ws::{frames, jwt, session, Conn};
use crate::messaging::flow;
use crate::state::{new_id, AppState};
use crate::world::guest::Outgoing;

/// Handles one text frame from the guest.
pub fn handle(state: &AppState, conn: &mut Conn, text: &str) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        conn.send(frames::error(400, "Request failed.", None));
        return;
    };
    let tracing = frame.get("tracingId").and_then(Value::as_str).map(str::to_string);
    let tr = tracing.as_deref();
    let action = frame.get("action").and_then(Value::as_str).unwrap_or_default();
    let token = frame.get("token").and_then(Value::as_str).unwrap_or_default().to_string();
    if token.is_empty() || token.len() > 2048 {
        conn.send(frames::error(4020, "Missing or invalid parameter: token", tr));
        return;
    }
    match action {
        "configureSession" | "configureAuthenticatedSession" => configure(state, conn, &frame, &token, tr),
        "onMessage" => on_message(state, conn, &frame, &token, tr),
        "echo" => echo(state, conn, &frame, &token, tr),
        "getJwt" => get_jwt(state, conn, &token, tr),
        "closeSession" => close(state, conn, &frame, &token, tr),
        _ => conn.send(frames::error(400, "Request failed.", tr)),
    }
}

fn configure(state: &AppState, conn: &mut Conn, frame: &Value, token: &str, tr: Option<&str>) {
    let dep = frame.get("deploymentId").and_then(Value::as_str).unwrap_or(&conn.deployment_id).to_string();
    if dep != conn.deployment_id {
        conn.send(frames::error(403, "Deployment does not match the connection", tr));
        return;
    }
    let start_new = frame.get("startNew").and_then(Value::as_bool).unwrap_or(false);
    let customer_id = frame.pointer("/journeyContext/customer/id").and_then(Value::as_str).map(str::to_string);
    let mut world = state.world.lock();
    let created = session::ensure(state, &mut world, token, &dep, customer_id.as_deref());
    let mut new_session = created;
    let mut reset = false;
    if let Some(s) = world.guests.get(token) {
        let conv_over = s.conversation_id.as_ref().and_then(|c| world.conversations.get(c)).is_none_or(|c| c.ended());
        reset = !created && start_new && (s.read_only || conv_over);
    }
    let Some(s) = world.guests.get_mut(token) else {
        return;
    };
    if reset {
        s.conversation_id = None;
        s.read_only = false;
        new_session = true;
    }
    s.sockets.insert(conn.socket_id, conn.tx.clone());
    session::touch(state, s);
    let info = frames::SessionInfo {
        connected: true,
        new_session,
        read_only: s.read_only,
        duration_seconds: state.config.behaviour.guest_session_seconds,
        expires_at: s.expires_at,
        auto_started: false,
    };
    conn.token = Some(token.to_string());
    conn.send(frames::session_response(&info, tr));
}

/// Checks the session is configured on this socket and not expired.
fn live_session(state: &AppState, conn: &Conn, token: &str, tr: Option<&str>) -> bool {
    if conn.token.as_deref() != Some(token) {
        conn.send(frames::error(4007, "Session not found", tr));
        return false;
    }
    let mut world = state.world.lock();
    match world.guests.get(token) {
        Some(s) if s.expires_at > state.clock.now() => true,
        Some(_) => {
            world.guests.remove(token);
            conn.send(frames::error(4006, "Session expired", tr));
            false
        }
        None => {
            conn.send(frames::error(4007, "Session not found", tr));
            false
        }
    }
}

fn on_message(state: &AppState, conn: &mut Conn, frame: &Value, token: &str, tr: Option<&str>) {
    if !live_session(state, conn, token, tr) {
        return;
    }
    let Some(message) = frame.get("message") else {
        conn.send(frames::error(4020, "Missing parameter: message", tr));
        return;
    };
    let attrs = message
        .pointer("/channel/metadata/customAttributes")
        .or_else(|| frame.pointer("/channel/metadata/customAttributes"));
    if attrs.is_some_and(|a| a.to_string().len() > 2048) {
        conn.send(frames::error(4013, "Custom Attributes in channel metadata is larger than 2048 bytes", tr));
        return;
    }
    let kind = message.get("type").and_then(Value::as_str).unwrap_or("Text");
    match kind {
        "Text" | "Structured" => {
            let text = message.get("text").and_then(Value::as_str).unwrap_or_default();
            if text.is_empty() {
                conn.send(frames::error(400, "Request failed.", tr));
                return;
            }
            let max = state.config.limits.guest_text_max;
            if text.chars().count() > max {
                conn.send(frames::error(4011, &format!("Message exceeded maximum length of {max} characters"), tr));
                return;
            }
            if !charge_rate(state, conn, token, tr) {
                return;
            }
            let mut world = state.world.lock();
            let Some(target) = flow::guest_target(state, &mut world, token) else {
                conn.send(frames::error(409, "Session is read-only, no new messages allowed", tr));
                return;
            };
            flow::record_inbound(state, &mut world, &target, text, tr);
            flow::ensure_routed(state, &mut world, &target);
            if let Some(s) = world.guests.get_mut(token) {
                session::touch(state, s);
            }
        }
        "Event" => {
            let join = message.get("events").and_then(Value::as_array).is_some_and(|ev| {
                ev.iter().any(|e| e.pointer("/presence/type").and_then(Value::as_str) == Some("Join"))
            });
            let mut world = state.world.lock();
            if join {
                let Some(target) = flow::guest_target(state, &mut world, token) else {
                    conn.send(frames::error(409, "Session is read-only, no new messages allowed", tr));
                    return;
                };
                flow::ensure_routed(state, &mut world, &target);
            }
            if let Some(s) = world.guests.get_mut(token) {
                session::touch(state, s);
            }
        }
        _ => conn.send(frames::error(400, "Request failed.", tr)),
    }
}

/// Per-session message rate (fixed window on the virtual clock); false = 4029 sent.
fn charge_rate(state: &AppState, conn: &Conn, token: &str, tr: Option<&str>) -> bool {
    let limits = &state.config.limits;
    let now = state.clock.now_ms();
    let mut world = state.world.lock();
    let Some(s) = world.guests.get_mut(token) else {
        return false;
    };
    if now - s.rate_window_start_ms >= (limits.guest_rate_window_seconds as i64) * 1000 {
        s.rate_window_start_ms = now;
        s.rate_count = 0;
    }
    s.rate_count += 1;
    if s.rate_count > limits.guest_messages_per_window {
        let body = json!({
            "retryAfter": limits.guest_retry_after_seconds,
            "errorCode": 4029,
            "errorMessage": "Message rate too high for this session",
        });
        conn.send(frames::envelope("response", "TooManyRequestsErrorMessage", 429, body, tr));
        return false;
    }
    true
}

fn echo(state: &AppState, conn: &Conn, frame: &Value, token: &str, tr: Option<&str>) {
    if !live_session(state, conn, token, tr) {
        return;
    }
    let text = frame.pointer("/message/text").and_then(Value::as_str).unwrap_or("ping");
    let mut world = state.world.lock();
    let Some(s) = world.guests.get_mut(token) else {
        return;
    };
    session::touch(state, s);
    let id = new_id();
    let mut body = frames::inbound_text(&id, text, state.clock.now());
    body["metadata"] = json!({
        "durationSeconds": state.config.behaviour.guest_session_seconds.to_string(),
        "expirationDate": s.expires_at.timestamp().to_string(),
    });
    conn.send(frames::envelope("response", "StructuredMessage", 200, body, tr));
}

fn get_jwt(state: &AppState, conn: &Conn, token: &str, tr: Option<&str>) {
    if !live_session(state, conn, token, tr) {
        return;
    }
    let dep = conn.deployment_id.clone();
    let (jwt, exp) = jwt::issue(state, token, &dep, state.config.behaviour.guest_jwt_seconds);
    conn.send(frames::envelope("response", "JwtResponse", 200, json!({"jwt": jwt, "exp": exp}), tr));
}

fn close(state: &AppState, conn: &mut Conn, frame: &Value, token: &str, tr: Option<&str>) {
    let all = frame.get("closeAllConnections").and_then(Value::as_bool).unwrap_or(false);
    let mut world = state.world.lock();
    if let Some(s) = world.guests.get_mut(token) {
        if all {
            let closed = frames::envelope("message", "ConnectionClosedEvent", 200, json!({}), None);
            for (id, tx) in s.sockets.iter() {
                if *id != conn.socket_id {
                    let _ = tx.send(Outgoing::Text(closed.clone()));
                    let _ = tx.send(Outgoing::Close(1000, "closeSession".into()));
                }
            }
            s.sockets.retain(|id, _| *id == conn.socket_id);
        }
        let info = frames::SessionInfo {
            connected: false,
            new_session: false,
            read_only: s.read_only,
            duration_seconds: state.config.behaviour.guest_session_seconds,
            expires_at: s.expires_at,
            auto_started: false,
        };
        conn.send(frames::session_response(&info, tr));
    } else {
        conn.send(frames::error(4007, "Session not found", tr));
    }
}
