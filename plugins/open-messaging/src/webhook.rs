//! Genesys → third party: the webhook receiver. herald's server hands it each request on the integration's route
//! (ABI 2 inbound HTTP); with `listen` set it is also served on a listener of the plugin's own.
//!
//! Each request's signature is checked first (constant-time); a missing one answers 401, a wrong one 403, and
//! nothing else happens. A signed agent message is forwarded to `outbound_url`, published to herald as a
//! `message_received` event (sender agent), and acknowledged to Genesys with a `Delivered` receipt. If the third
//! party cannot be reached the webhook answers 502, so Genesys retries (it retries 5xx a few times); a retry of an
//! already forwarded message is acknowledged without forwarding it twice.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{SecondsFormat, Utc};
use herald_plugin::core::{EventKind, Sender};
use herald_plugin::sdk::{EventPublisher, HostLog};
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::deliver::inbound_receipt_path;
use crate::genesys::Genesys;
use crate::signature;

/// How many forwarded message ids are remembered to drop Genesys' retries.
const REMEMBERED: usize = 4096;

/// How long posting a `Delivered` receipt to Genesys may take.
const RECEIPT_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// Counters shown in health.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages forwarded to the third party.
    pub forwarded: AtomicU64,
    /// Requests refused for their signature.
    pub refused: AtomicU64,
    /// Forwarding failures.
    pub forward_failures: AtomicU64,
}

/// What the receiver needs.
pub struct Webhook {
    /// Webhook signature secret.
    pub secret: Vec<u8>,
    /// The third party's endpoint.
    pub outbound_url: String,
    /// The integration name (sent along to the third party).
    pub integration: String,
    /// The Genesys integration id (for receipts).
    pub integration_id: String,
    /// HTTP client for the third party.
    pub http: reqwest::Client,
    /// Genesys, for receipts.
    pub genesys: Arc<Genesys>,
    /// Where events go.
    pub events: EventPublisher,
    /// Logs.
    pub log: HostLog,
    /// Counters.
    pub stats: Arc<Stats>,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Webhook {
    /// A receiver.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        secret: Vec<u8>,
        outbound_url: String,
        integration: String,
        integration_id: String,
        http: reqwest::Client,
        genesys: Arc<Genesys>,
        events: EventPublisher,
        log: HostLog,
        stats: Arc<Stats>,
    ) -> Self {
        Webhook {
            secret,
            outbound_url,
            integration,
            integration_id,
            http,
            genesys,
            events,
            log,
            stats,
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    fn seen(&self, id: &str) -> bool {
        self.seen.lock().0.contains(id)
    }

    fn remember(&self, id: &str) {
        let mut seen = self.seen.lock();
        if seen.0.insert(id.to_string()) {
            seen.1.push_back(id.to_string());
            if seen.1.len() > REMEMBERED {
                if let Some(old) = seen.1.pop_front() {
                    seen.0.remove(&old);
                }
            }
        }
    }
}

/// The receiver's routes on a listener of the plugin's own.
pub fn router(path: &str, webhook: Arc<Webhook>) -> Router {
    Router::new().route(path, post(receive)).with_state(webhook)
}

async fn receive(State(hook): State<Arc<Webhook>>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let sig = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    let (status, text) = handle(&hook, sig, &body).await;
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), text)
}

/// Handle one webhook: `signature` is the `X-Hub-Signature-256` header, `body` the raw bytes. Answers the status
/// and a short text.
pub async fn handle(hook: &Arc<Webhook>, signature: Option<&str>, body: &[u8]) -> (u16, &'static str) {
    let (status, text) = receive_checked(hook, signature, body).await;
    (status.as_u16(), text)
}

async fn receive_checked(hook: &Arc<Webhook>, sig: Option<&str>, body: &[u8]) -> (StatusCode, &'static str) {
    let Some(sig) = sig else {
        hook.stats.refused.fetch_add(1, Ordering::Relaxed);
        hook.log.warn("Open Messaging webhook without X-Hub-Signature-256 refused.");
        return (StatusCode::UNAUTHORIZED, "missing X-Hub-Signature-256");
    };
    if !signature::verify(&hook.secret, body, sig) {
        hook.stats.refused.fetch_add(1, Ordering::Relaxed);
        hook.log.warn("Open Messaging webhook with a wrong signature refused (check `secret`).");
        return (StatusCode::FORBIDDEN, "bad signature");
    }
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let (Some(id), Some(to)) = (message["id"].as_str(), message["channel"]["to"]["id"].as_str()) else {
        return (StatusCode::BAD_REQUEST, "missing id or channel.to.id");
    };
    let text = message["text"].as_str();
    // Receipts and typing events are sent to the same webhook; only messages with text are forwarded.
    if message["type"].as_str().is_some_and(|t| t != "Text") || text.is_none() {
        return (StatusCode::OK, "ignored");
    }
    if hook.seen(id) {
        return (StatusCode::OK, "already forwarded");
    }
    let nickname = message["channel"]["from"]["nickname"].as_str();
    let conversation = message["conversationId"].as_str().unwrap_or(to);
    let forward = json!({
        "integration": hook.integration,
        "id": id,
        "to": to,
        "from": {"nickname": nickname},
        "text": text,
        "time": message["channel"]["time"],
        "conversationId": message["conversationId"],
    });
    match hook.http.post(&hook.outbound_url).json(&forward).send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            hook.stats.forward_failures.fetch_add(1, Ordering::Relaxed);
            hook.log.warn(format!("The third party answered {} to a forwarded agent message.", r.status()));
            return (StatusCode::BAD_GATEWAY, "third party refused the message");
        }
        Err(e) => {
            hook.stats.forward_failures.fetch_add(1, Ordering::Relaxed);
            hook.log.warn(format!("Cannot reach the third party: {e}"));
            return (StatusCode::BAD_GATEWAY, "third party unreachable");
        }
    }
    hook.remember(id);
    hook.stats.forwarded.fetch_add(1, Ordering::Relaxed);
    hook.events
        .publish(EventKind::MessageReceived {
            conversation_id: conversation.to_string(),
            sender: Sender::Agent,
            text: text.map(str::to_string),
        })
        .await;
    let receipt = json!({
        "id": id,
        "channel": {"to": {"id": to}, "time": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)},
        "status": "Delivered",
        "isFinalReceipt": true,
    });
    let hook2 = hook.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + RECEIPT_TIME;
        if let Err(e) = hook2.genesys.post(&inbound_receipt_path(&hook2.integration_id), &receipt, deadline).await {
            hook2.log.warn(format!("Could not post the Delivered receipt to Genesys: {e}"));
        }
    });
    (StatusCode::OK, "forwarded")
}
