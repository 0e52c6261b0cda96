//! Open Messaging: the three inbound endpoints, the integration registry, and agent replies that reach the
//! registered webhook with a correct `X-Hub-Signature-256`.
//!
//! Self-contained: the module keeps its own state ([`OpenMessagingState`]) next to the emulator's, and reads the
//! emulator's token store only to check bearer tokens, so it is mounted with one line
//! (`.merge(open_messaging::routes(open_messaging::OpenMessagingState::new(state.clone())))`) or served on a listener
//! of its own sharing the same [`AppState`] (tests do that to keep a handle on the state).
//!
//! | method and path | what |
//! |---|---|
//! | `POST /api/v2/conversations/messages/{integrationId}/inbound/open/message` | a customer message into Genesys |
//! | `POST …/inbound/open/event` | typing events |
//! | `POST …/inbound/open/receipt` | receipts for agent messages |
//! | `POST/GET /api/v2/conversations/messaging/integrations/open`, `GET/DELETE …/open/{id}` | integrations |
//! | `POST /emulator/v1/openmessaging/integrations/{id}/agent-messages` | control: an agent replies |
//! | `GET /emulator/v1/openmessaging/integrations/{id}/transcript` | control: everything that happened |
//!
//! Choices where the reference is silent (UNCONFIRMED): the inbound endpoints answer 202; a repeated
//! `channel.messageId` on the same integration returns the first answer instead of a second message; a customer
//! keeps one conversation per integration; webhooks are retried on 429/5xx/timeouts up to 5 times,
//! `webhook_retry_delay` apart (5 s as documented by Genesys, shortened by tests).

mod control;
mod inbound;
mod integrations;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use crate::api_error::ApiError;
use crate::http::CorrelationId;
use crate::oauth::bearer;
use crate::state::AppState;

pub use control::sign;

/// A registered Open Messaging integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIntegration {
    /// The integration id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `outboundNotificationWebhookUrl`: where agent messages are POSTed.
    pub webhook_url: String,
    /// `outboundNotificationWebhookSignatureSecretToken`: the HMAC key of `X-Hub-Signature-256`.
    pub secret: String,
}

/// One thing that happened on an integration, in order (the control API's transcript).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TranscriptEntry {
    /// A customer message arrived through the inbound endpoint; `message` is what was answered.
    InboundMessage {
        /// The normalized message answered.
        message: Value,
    },
    /// A typing (or other) event arrived.
    InboundEvent {
        /// The request body.
        body: Value,
    },
    /// A receipt arrived.
    Receipt {
        /// The request body.
        body: Value,
    },
    /// An agent message was sent to the webhook; one entry per attempt.
    AgentMessage {
        /// The normalized message (the webhook body).
        message: Value,
        /// The webhook's HTTP status, when it answered.
        webhook_status: Option<u16>,
        /// The connection error, when it did not.
        error: Option<String>,
        /// 1 for the first attempt.
        attempt: u32,
    },
}

#[derive(Default)]
struct World {
    integrations: BTreeMap<String, OpenIntegration>,
    /// (integration, customer id) → conversation id.
    conversations: HashMap<(String, String), String>,
    /// (integration, messageId) → the answer given.
    answered: HashMap<(String, String), Value>,
    transcripts: HashMap<String, Vec<TranscriptEntry>>,
}

struct Inner {
    app: AppState,
    world: Mutex<World>,
    http: reqwest::Client,
    retry_delay: Mutex<Duration>,
}

/// The Open Messaging state; cheap to clone.
#[derive(Clone)]
pub struct OpenMessagingState {
    inner: Arc<Inner>,
}

impl OpenMessagingState {
    /// Empty state using the emulator's token store (`app`) for bearer checks.
    pub fn new(app: AppState) -> Self {
        OpenMessagingState {
            inner: Arc::new(Inner {
                app,
                world: Mutex::new(World::default()),
                http: reqwest::Client::new(),
                retry_delay: Mutex::new(Duration::from_secs(5)),
            }),
        }
    }

    /// Seed an integration (e.g. from a test or a config).
    pub fn with_integration(self, integration: OpenIntegration) -> Self {
        self.inner.world.lock().integrations.insert(integration.id.clone(), integration);
        self
    }

    /// Wait this long between webhook retries (Genesys: 5 s).
    pub fn with_webhook_retry_delay(self, delay: Duration) -> Self {
        *self.inner.retry_delay.lock() = delay;
        self
    }

    /// The registered integration `id`.
    pub fn integration(&self, id: &str) -> Option<OpenIntegration> {
        self.inner.world.lock().integrations.get(id).cloned()
    }

    /// Everything that happened on integration `id`, oldest first.
    pub fn transcript(&self, id: &str) -> Vec<TranscriptEntry> {
        self.inner.world.lock().transcripts.get(id).cloned().unwrap_or_default()
    }

    fn record(&self, integration: &str, entry: TranscriptEntry) {
        self.inner.world.lock().transcripts.entry(integration.to_string()).or_default().push(entry);
    }

    /// Check the request's bearer token against the emulator's token store.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let app = &self.inner.app;
        let Some(token) = bearer(headers) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ));
        };
        let now = app.clock.now_ms();
        match app.tokens.get(token) {
            Some(e) if e.expires_at_ms > now && !e.revoked.load(Ordering::Relaxed) => Ok(()),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                &app.config.behaviour.bad_token_code,
                "Invalid login credentials.",
            )),
        }
    }
}

/// Render a handler's result; errors get a complete `ErrorBody` whether or not the correlation middleware runs.
fn respond(result: Result<(StatusCode, Value), ApiError>, corr: Option<&CorrelationId>) -> Response {
    match result {
        Ok((status, body)) => (status, Json(body)).into_response(),
        Err(e) => {
            let id = corr.map(|c| c.0.clone()).unwrap_or_else(crate::state::new_id);
            e.into_response_with(&id)
        }
    }
}

/// The routes, with their own state applied (so they merge into any router).
pub fn routes<S: Clone + Send + Sync + 'static>(state: OpenMessagingState) -> Router<S> {
    let inbound = "/api/v2/conversations/messages/{id}/inbound/open";
    Router::new()
        .route(&format!("{inbound}/message"), post(inbound::message))
        .route(&format!("{inbound}/event"), post(inbound::event))
        .route(&format!("{inbound}/receipt"), post(inbound::receipt))
        .route("/api/v2/conversations/messaging/integrations/open", post(integrations::create).get(integrations::list))
        .route(
            "/api/v2/conversations/messaging/integrations/open/{id}",
            get(integrations::get_one).delete(integrations::delete),
        )
        .route("/emulator/v1/openmessaging/integrations/{id}/agent-messages", post(control::agent_message))
        .route("/emulator/v1/openmessaging/integrations/{id}/transcript", get(control::transcript))
        .with_state(state)
}
