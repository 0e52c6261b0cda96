//! Control: an agent replies (the emulator POSTs a signed normalized message to the integration's webhook), and
//! the transcript.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::{respond, OpenMessagingState, TranscriptEntry};
use crate::api_error::ApiError;
use crate::clock::iso;
use crate::http::json::parse;
use crate::http::CorrelationId;

/// Attempts of one webhook delivery (the first and 5 retries, as Genesys documents).
const ATTEMPTS: u32 = 6;
/// Genesys gives the webhook this long to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// `X-Hub-Signature-256` of `body`: `sha256=` + base64 (not hex) of HMAC-SHA256 with the integration's secret.
pub fn sign(secret: &str, body: &[u8]) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// How the control request wants the webhook signed (to test receivers).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Signing {
    /// Correctly.
    #[default]
    Valid,
    /// With a wrong signature.
    Invalid,
    /// Without the header.
    Missing,
}

/// Body of `POST /emulator/v1/openmessaging/integrations/{id}/agent-messages`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentMessage {
    /// The customer's id on the third-party platform.
    pub to: String,
    /// The text.
    pub text: String,
    /// The agent's nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// How to sign.
    #[serde(default)]
    pub signing: Signing,
    /// Retry on 429/5xx/timeouts like Genesys (default true).
    #[serde(default = "yes")]
    pub retry: bool,
}

fn yes() -> bool {
    true
}

/// `POST /emulator/v1/openmessaging/integrations/{id}/agent-messages`: answers the first attempt's outcome;
/// retries continue in the background.
pub async fn agent_message(
    State(state): State<OpenMessagingState>,
    corr: Option<Extension<CorrelationId>>,
    Path(integration): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let result = match parse::<AgentMessage>(&body) {
        Ok(m) => state.agent_reply(&integration, m).await,
        Err(e) => Err(e),
    };
    respond(result.map(|v| (StatusCode::OK, v)), corr.as_deref())
}

/// `GET /emulator/v1/openmessaging/integrations/{id}/transcript`.
pub async fn transcript(State(state): State<OpenMessagingState>, Path(integration): Path<String>) -> Response {
    respond(Ok((StatusCode::OK, json!(state.transcript(&integration)))), None)
}

impl OpenMessagingState {
    /// An agent replies to customer `m.to` on `integration`: the normalized message is POSTed, signed, to the
    /// integration's webhook. Returns `{message, webhookStatus, error}` of the first attempt.
    pub async fn agent_reply(&self, integration: &str, m: AgentMessage) -> Result<Value, ApiError> {
        let Some(target) = self.integration(integration) else {
            return Err(ApiError::not_found("Open messaging integration"));
        };
        let conversation = self
            .inner
            .world
            .lock()
            .conversations
            .entry((integration.to_string(), m.to.clone()))
            .or_insert_with(crate::state::new_id)
            .clone();
        let message = json!({
            "id": crate::state::new_id(),
            "channel": {
                "id": integration,
                "platform": "Open",
                "type": "Private",
                "to": {"id": m.to, "idType": "Opaque"},
                "from": {"nickname": m.nickname.unwrap_or_else(|| "Agent".into()), "id": integration, "idType": "Opaque"},
                "time": iso(self.inner.app.clock.now()),
                "messageId": crate::state::new_id(),
            },
            "type": "Text",
            "text": m.text,
            "direction": "Outbound",
            "conversationId": conversation,
        });
        let body = serde_json::to_vec(&message).unwrap_or_default();
        let signature = match m.signing {
            Signing::Valid => Some(sign(&target.secret, &body)),
            Signing::Invalid => Some(sign("not-the-secret", &body)),
            Signing::Missing => None,
        };
        let first = self.attempt(&target, &message, &body, signature.as_deref(), 1).await;
        if m.retry && retryable(&first) {
            let (this, target, message, signature) = (self.clone(), target.clone(), message.clone(), signature.clone());
            tokio::spawn(async move {
                for attempt in 2..=ATTEMPTS {
                    let delay = *this.inner.retry_delay.lock();
                    tokio::time::sleep(delay).await;
                    if !retryable(&this.attempt(&target, &message, &body, signature.as_deref(), attempt).await) {
                        break;
                    }
                }
            });
        }
        let (status, error) = match first {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        Ok(json!({"message": message, "webhookStatus": status, "error": error}))
    }

    async fn attempt(
        &self,
        target: &super::OpenIntegration,
        message: &Value,
        body: &[u8],
        signature: Option<&str>,
        attempt: u32,
    ) -> Result<u16, String> {
        let mut req = self
            .inner
            .http
            .post(&target.webhook_url)
            .timeout(WEBHOOK_TIMEOUT)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("X-Hub-Signature-256", sig);
        }
        let outcome = req.send().await.map(|r| r.status().as_u16()).map_err(|e| e.to_string());
        let (webhook_status, error) = match &outcome {
            Ok(s) => (Some(*s), None),
            Err(e) => (None, Some(e.clone())),
        };
        self.record(
            &target.id,
            TranscriptEntry::AgentMessage { message: message.clone(), webhook_status, error, attempt },
        );
        outcome
    }
}

fn retryable(outcome: &Result<u16, String>) -> bool {
    match outcome {
        Ok(s) => *s == 429 || *s >= 500,
        Err(_) => true,
    }
}
