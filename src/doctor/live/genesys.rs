//! The Genesys Cloud side of `--live`: a client-credentials token for the integration's OAuth client, the generic
//! conversation GET that resolves ids, and the one request `--send` sends.
//!
//! The token comes from herald-genesys' [`TokenCache`] and transport failures are described by its
//! [`transport_reason`], so the doctor and the service speak of the login host the same way. Requests are not sent
//! through herald-genesys' budgeted, retried client: the doctor sends exactly one request and shows the raw answer.
//!
//! Neither the client secret nor the access token is ever put in a message, a `Debug` output or the report.

use std::time::Duration;

use herald_core::ChannelError;
use herald_genesys::auth::{transport_reason, TokenCache};
use herald_genesys::{ErrorBody, Secret, CORRELATION_HEADER};
use serde::Serialize;
use serde_json::Value;

use super::target::LiveTarget;
use super::Found;

/// Why the token could not be had: the message names the integration, the OAuth client and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub String);

/// The answer of the upstream to one request.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The reason phrase of the status (`Accepted`, `Bad Request`, ...).
    pub reason: String,
    /// The `ININ-Correlation-Id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The body: JSON when it parses, else the text; `null` when empty.
    pub body: Value,
    /// On a 4xx/5xx: the ErrorBody's fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<UpstreamError>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The fields of a Genesys ErrorBody that say what went wrong.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamError {
    /// `message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `code` (`conversation.message.communication.disconnected`, `bad.credentials`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `contextId` (equals the correlation id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// `details[].fieldName`, when the upstream names fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code.as_deref().unwrap_or("(no code)"))?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if !self.fields.is_empty() {
            write!(f, " (fields: {})", self.fields.join(", "))?;
        }
        if let Some(c) = &self.context_id {
            write!(f, " [contextId {c}]")?;
        }
        Ok(())
    }
}

/// A client-credentials session against the integration's environment.
pub struct GenesysClient {
    http: reqwest::Client,
    api_base: String,
    token: Secret,
}

impl std::fmt::Debug for GenesysClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenesysClient").field("api_base", &self.api_base).finish_non_exhaustive()
    }
}

impl GenesysClient {
    /// Gets a token for the integration's OAuth client (`POST {login}/oauth/token`, client credentials), through
    /// herald-genesys' [`TokenCache`], as the service gets its own.
    pub async fn connect(target: &LiveTarget) -> Result<GenesysClient, TokenError> {
        crate::tls::install_crypto_provider();
        let who = format!("integration `{}` (OAuth client `{}`)", target.integration, target.client_id);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| TokenError(format!("{who}: cannot build an HTTP client: {e}")))?;
        let login = target.environment.login_base();
        let cache = TokenCache::new(http.clone(), &login, &target.client_id, target.client_secret.clone());
        match cache.token().await {
            Ok(t) => Ok(GenesysClient { http, api_base: target.environment.api_base(), token: t.value }),
            Err(ChannelError::Unauthorized { reason, .. }) => Err(TokenError(format!(
                "{who}: {reason}: settings.client_id, settings.client_secret and the environment ({}) of \
                 integration `{}`",
                target.environment.key(),
                target.integration
            ))),
            Err(ChannelError::Transient { reason, .. } | ChannelError::Permanent { reason, .. }) => {
                Err(TokenError(format!("{who}: {reason}")))
            }
            Err(e) => Err(TokenError(format!("{who}: the login host {login} answered the token request: {e}"))),
        }
    }

    /// Sends `method path` (path relative to the API base, query included) with an optional JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let m =
            reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| format!("`{method}` is not an HTTP method"))?;
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.api_base))
            .bearer_auth(self.token.expose())
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| format!("{method} {path} failed: {}", transport_reason(&e)))?;
        let status = resp.status();
        let correlation_id = resp.headers().get(CORRELATION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = resp.text().await.unwrap_or_default();
        let error = (status.is_client_error() || status.is_server_error()).then(|| {
            let e = ErrorBody::parse(text.as_bytes());
            UpstreamError {
                message: e.message,
                code: e.code,
                context_id: e.context_id,
                fields: e.details.unwrap_or_default().into_iter().filter_map(|d| d.field_name).collect(),
            }
        });
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            correlation_id,
            body,
            error,
        })
    }
}

/// What a generic conversation (`GET /api/v2/conversations/{id}`) tells: ids by placeholder name, and why some could
/// not be found.
#[derive(Debug, Default)]
pub struct ConversationIds {
    /// Found ids.
    pub found: Vec<Found>,
    /// Why the agent's communication is missing, when it is.
    pub no_communication: Option<String>,
    /// Whether the conversation has ended (nothing can be sent into it agent-side).
    pub ended: bool,
}

/// Reads the ids of a generic conversation body.
///
/// `communicationId`, `participantId` and `userId` are the connected agent's (the last agent participant with a
/// connected `messages[]` or `chats[]` communication); `externalContactId` is the customer's; `queueId` the queue the
/// conversation was routed through.
pub fn ids_from_conversation(conversation_id: &str, conv: &Value) -> ConversationIds {
    let mut out = ConversationIds::default();
    let from = format!("GET /api/v2/conversations/{conversation_id}");
    let participants = conv.get("participants").and_then(Value::as_array).cloned().unwrap_or_default();
    let text = |p: &Value, k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let connected_comm = |p: &Value| {
        ["messages", "chats"].iter().find_map(|kind| {
            p.get(*kind)
                .and_then(Value::as_array)?
                .iter()
                .rev()
                .find(|c| c.get("state").and_then(Value::as_str) == Some("connected"))
                .and_then(|c| c.get("id").and_then(Value::as_str))
                .map(|id| (id.to_string(), *kind))
        })
    };
    let agent = participants
        .iter()
        .rev()
        .filter(|p| text(p, "purpose") == "agent")
        .find_map(|p| connected_comm(p).map(|comm| (p, comm)));
    match agent {
        Some((p, (comm, kind))) => {
            let pid = text(p, "id");
            out.found.push(Found::genesys(
                "communicationId",
                &comm,
                format!("{from}: participants[id={pid}, purpose=agent].{kind}[state=connected].id"),
            ));
            out.found.push(Found::genesys("participantId", &pid, format!("{from}: the connected agent participant")));
            let user = text(p, "userId");
            if !user.is_empty() {
                out.found.push(Found::genesys("userId", &user, format!("{from}: the connected agent's userId")));
            }
        }
        None => {
            let ended = conv.get("endTime").is_some_and(|t| !t.is_null())
                || participants.iter().all(|p| matches!(text(p, "state").as_str(), "disconnected" | "terminated"));
            let alerting = participants.iter().any(|p| text(p, "purpose") == "agent" && text(p, "state") == "alerting");
            out.ended = ended;
            out.no_communication = Some(if ended {
                format!(
                    "conversation {conversation_id} has ended ({from} shows no connected agent communication): \
                     agent-side sends are refused and it cannot be reopened; send agentless instead (POST \
                     /api/v2/conversations/messages/agentless)"
                )
            } else if alerting {
                format!(
                    "an agent is being offered conversation {conversation_id} but has not answered yet ({from}): \
                     run again once the agent is connected"
                )
            } else {
                format!(
                    "no agent is connected to conversation {conversation_id} yet (the customer is waiting in \
                     queue; {from}): send agentless with \"useExistingActiveConversation\": true to reach them now"
                )
            });
        }
    }
    if let Some(c) = participants.iter().find(|p| text(p, "purpose") == "customer") {
        let contact = c
            .pointer("/externalContact/id")
            .or_else(|| c.get("externalContactId"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        if let Some(x) = contact {
            out.found.push(Found::genesys(
                "externalContactId",
                x,
                format!("{from}: participants[purpose=customer].externalContactId"),
            ));
        }
    }
    let queue = participants
        .iter()
        .find(|p| text(p, "purpose") == "acd")
        .or_else(|| participants.iter().find(|p| p.get("queueId").is_some()))
        .map(|p| text(p, "queueId"))
        .filter(|q| !q.is_empty());
    if let Some(q) = queue {
        out.found.push(Found::genesys("queueId", &q, format!("{from}: the queue it was routed through")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value<'a>(ids: &'a ConversationIds, name: &str) -> Option<&'a str> {
        ids.found.iter().find(|f| f.name == name).map(|f| f.value.as_str())
    }

    #[test]
    fn the_connected_agent_communication_and_the_customer() {
        let conv = json!({"id": "c1", "participants": [
            {"id": "p-cust", "purpose": "customer", "state": "connected", "externalContactId": "x-1",
             "messages": [{"id": "m-cust", "state": "connected"}]},
            {"id": "p-acd", "purpose": "acd", "state": "disconnected", "queueId": "q-1", "messages": []},
            {"id": "p-old", "purpose": "agent", "state": "disconnected", "userId": "u-0",
             "messages": [{"id": "m-old", "state": "disconnected"}]},
            {"id": "p-agent", "purpose": "agent", "state": "connected", "userId": "u-1",
             "messages": [{"id": "m-agent", "state": "connected"}]}
        ]});
        let ids = ids_from_conversation("c1", &conv);
        assert_eq!(value(&ids, "communicationId"), Some("m-agent"));
        assert_eq!(value(&ids, "participantId"), Some("p-agent"));
        assert_eq!(value(&ids, "userId"), Some("u-1"));
        assert_eq!(value(&ids, "externalContactId"), Some("x-1"));
        assert_eq!(value(&ids, "queueId"), Some("q-1"));
        assert!(ids.no_communication.is_none());
    }

    #[test]
    fn legacy_chat_and_ended_conversations() {
        let chat = json!({"participants": [
            {"id": "p", "purpose": "agent", "state": "connected", "chats": [{"id": "ch-1", "state": "connected"}]}
        ]});
        assert_eq!(value(&ids_from_conversation("c", &chat), "communicationId"), Some("ch-1"));
        let ended = json!({"endTime": "2024-01-01T00:00:00Z", "participants": [
            {"id": "p", "purpose": "agent", "state": "disconnected", "messages": [{"id": "m", "state": "disconnected"}]}
        ]});
        let ids = ids_from_conversation("c", &ended);
        assert!(value(&ids, "communicationId").is_none());
        assert!(ids.no_communication.as_deref().is_some_and(|w| w.contains("has ended") && w.contains("agentless")));
        assert!(ids.ended);
        let queued = json!({"participants": [
            {"id": "p", "purpose": "customer", "state": "connected", "messages": [{"id": "m", "state": "connected"}]},
            {"id": "a", "purpose": "acd", "state": "connected", "queueId": "q"}
        ]});
        let ids = ids_from_conversation("c", &queued);
        assert!(ids.no_communication.as_deref().is_some_and(|w| w.contains("useExistingActiveConversation")));
    }
}
