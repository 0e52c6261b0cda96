//! The session-store side of `--live`: a running herald service's sessions API (`GET /v1/sessions/{conversationId}`
//! and `GET /v1/sessions?customer=…`), which knows every id of the conversations it tracks without asking Genesys.
//!
//! The API key is sent as `Authorization: Bearer` and never put in a message.

use std::time::Duration;

use herald_core::{MediaKind, Session, SessionState};
use serde_json::Value;

use super::Found;

/// A running herald service.
pub struct SessionStore {
    http: reqwest::Client,
    base: String,
    api_key: String,
}

impl std::fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore").field("base", &self.base).finish_non_exhaustive()
    }
}

impl SessionStore {
    /// A client of the herald service at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, api_key: &str) -> Result<SessionStore, String> {
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build an HTTP client for herald at {base}: {e}"))?;
        Ok(SessionStore { http, base: base.trim_end_matches('/').to_string(), api_key: api_key.to_string() })
    }

    /// The service's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .get(&url)
            .query(query)
            .bearer_auth(&self.api_key)
            .send()
            .await
            .map_err(|e| format!("cannot reach herald at {}: {e}; is `herald serve` running there?", self.base))?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        match status {
            200..=299 | 404 => Ok((status, body)),
            401 | 403 => Err(format!(
                "herald at {} refused the API key ({status}): pass --api-key or set HERALD_API_KEY to one of its \
                 [service] api_keys",
                self.base
            )),
            _ => Err(format!(
                "herald at {} answered GET {path} with {status}: {}",
                self.base,
                body.get("detail").and_then(Value::as_str).unwrap_or("no detail")
            )),
        }
    }

    /// `GET /v1/sessions/{conversationId}`: the session, or `None` when herald does not know the conversation.
    pub async fn by_conversation(&self, conversation_id: &str) -> Result<Option<Session>, String> {
        let path = format!("/v1/sessions/{conversation_id}");
        let (status, body) = self.get(&path, &[]).await?;
        if status == 404 {
            return Ok(None);
        }
        serde_json::from_value(body)
            .map(Some)
            .map_err(|e| format!("herald at {} answered GET {path} with a body that is not a session: {e}", self.base))
    }

    /// `GET /v1/sessions?customer=…`: the customer's sessions, most recent activity first.
    pub async fn by_customer(&self, customer: &str) -> Result<Vec<Session>, String> {
        let (_, body) = self.get("/v1/sessions", &[("customer", customer), ("limit", "50")]).await?;
        serde_json::from_value(body).map_err(|e| {
            format!("herald at {} answered GET /v1/sessions with a body that is not a list: {e}", self.base)
        })
    }
}

/// The session to use among a customer's: the newest open one of `integration`, else the newest open one, else
/// the newest. `media` narrows to the endpoint's media family when given.
pub fn choose<'s>(sessions: &'s [Session], integration: &str, media: Option<Family>) -> Option<&'s Session> {
    let fits = |s: &&Session| media.is_none_or(|m| m.fits(&s.media));
    let open = |s: &&Session| s.state != SessionState::Closed;
    sessions
        .iter()
        .filter(fits)
        .find(|s| open(s) && s.integration == integration)
        .or_else(|| sessions.iter().filter(fits).find(open))
        .or_else(|| sessions.iter().find(fits))
}

/// The media family an endpoint path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `/api/v2/conversations/messages/…` (web messaging, open, SMS, ...).
    Messaging,
    /// `/api/v2/conversations/chats/…` (legacy web chat).
    Chat,
}

impl Family {
    /// The family of a request path, if it names one.
    pub fn of(path: &str) -> Option<Family> {
        if path.starts_with("/api/v2/conversations/messages") {
            Some(Family::Messaging)
        } else if path.starts_with("/api/v2/conversations/chats") || path.starts_with("/api/v2/webchat") {
            Some(Family::Chat)
        } else {
            None
        }
    }

    fn fits(self, media: &MediaKind) -> bool {
        match self {
            Family::Messaging => !matches!(media, MediaKind::WebChat | MediaKind::Teams),
            Family::Chat => matches!(media, MediaKind::WebChat),
        }
    }
}

/// What a session tells: ids by placeholder name, and why the agent's communication is missing when it is.
pub fn ids_from_session(session: &Session, from: &str) -> (Vec<Found>, Option<String>) {
    let mut found = vec![Found::store("conversationId", &session.conversation_id, from.to_string())];
    let mut why = None;
    match (session.connected_agent(), session.agent_communication_id()) {
        (Some(agent), Some(comm)) => {
            found.push(Found::store("communicationId", comm, format!("{from}: the connected agent's communication")));
            found.push(Found::store("participantId", &agent.id, format!("{from}: the connected agent participant")));
            if let Some(u) = &agent.user_id {
                found.push(Found::store("userId", u, format!("{from}: the connected agent's user id")));
            }
        }
        _ => {
            why = Some(match session.state {
                SessionState::Closed => format!(
                    "herald's session store has conversation {} as closed{}: agent-side sends are refused; send \
                     agentless instead (POST /api/v2/conversations/messages/agentless)",
                    session.conversation_id,
                    session.closed_at.map(|t| format!(" since {}", t.to_rfc3339())).unwrap_or_default()
                ),
                SessionState::Queued => format!(
                    "herald's session store has conversation {} still queued (no agent connected): send agentless \
                     with \"useExistingActiveConversation\": true",
                    session.conversation_id
                ),
                SessionState::Connected => format!(
                    "herald's session store knows no connected agent communication for conversation {}",
                    session.conversation_id
                ),
            });
        }
    }
    if let Some(x) = &session.customer.external_contact_id {
        found.push(Found::store("externalContactId", x, format!("{from}: the customer's external contact id")));
    }
    if let Some(d) = &session.deployment_id {
        found.push(Found::store("deploymentId", d, format!("{from}: the deployment the customer came through")));
    }
    if let Some(q) = &session.queue_id {
        found.push(Found::store("queueId", q, format!("{from}: the queue it was routed through")));
    }
    (found, why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use herald_core::{Communication, Participant};

    fn session(id: &str, integration: &str, media: MediaKind, state: SessionState) -> Session {
        let mut s = Session::new(id, integration, media, Utc::now());
        s.state = state;
        s
    }

    #[test]
    fn choose_prefers_open_sessions_of_the_integration_and_media() {
        let list = vec![
            session("closed", "wm", MediaKind::WebMessaging, SessionState::Closed),
            session("chat", "wc", MediaKind::WebChat, SessionState::Connected),
            session("other", "wm2", MediaKind::WebMessaging, SessionState::Connected),
            session("mine", "wm", MediaKind::WebMessaging, SessionState::Connected),
        ];
        let pick = |m| choose(&list, "wm", m).map(|s| s.conversation_id.as_str());
        assert_eq!(pick(Some(Family::Messaging)), Some("mine"));
        assert_eq!(pick(Some(Family::Chat)), Some("chat"));
        assert_eq!(choose(&list[..1], "wm", None).map(|s| s.conversation_id.as_str()), Some("closed"));
    }

    #[test]
    fn ids_of_a_connected_session() {
        let mut s = session("c1", "wm", MediaKind::WebMessaging, SessionState::Connected);
        s.customer.external_contact_id = Some("x-1".into());
        s.deployment_id = Some("d-1".into());
        s.participants.push(Participant {
            id: "p-a".into(),
            purpose: "agent".into(),
            state: "connected".into(),
            user_id: Some("u-1".into()),
            queue_id: None,
            name: None,
            communications: vec![Communication { id: "m-a".into(), state: "connected".into() }],
        });
        let (found, why) = ids_from_session(&s, "GET /v1/sessions/c1");
        let get = |n: &str| found.iter().find(|f| f.name == n).map(|f| f.value.clone());
        assert_eq!(get("communicationId").as_deref(), Some("m-a"));
        assert_eq!(get("participantId").as_deref(), Some("p-a"));
        assert_eq!(get("deploymentId").as_deref(), Some("d-1"));
        assert_eq!(get("externalContactId").as_deref(), Some("x-1"));
        assert!(why.is_none());
        let closed = session("c2", "wm", MediaKind::WebMessaging, SessionState::Closed);
        let (_, why) = ids_from_session(&closed, "x");
        assert!(why.is_some_and(|w| w.contains("closed") && w.contains("agentless")));
    }
}
