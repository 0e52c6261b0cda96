//! Headless chat guests: a customer of a legacy web chat deployment, driven from code (tests, `herald guests
//! --kind webchat`, `herald demo`).
//!
//! The legacy guest chat API needs no OAuth:
//!
//! 1. [`ChatGuest::join`] creates the chat (`POST /api/v2/webchat/guest/conversations` with `organizationId`,
//!    `deploymentId`, `routingTarget{targetType:"QUEUE", targetAddress}` and `memberInfo{displayName, …}`), gets
//!    `{id, jwt, eventStreamUri, member{id}}`, and attaches to the event stream WebSocket at once — **routing only
//!    starts once that socket is attached**, so a guest that never attaches never reaches an agent.
//! 2. [`ChatGuest::send`] posts as the guest (`POST …/members/{memberId}/messages` `{body, bodyType}` with
//!    `Authorization: Bearer <jwt>`).
//! 3. [`ChatGuest::next_event`] / [`ChatGuest::wait_for`] / [`ChatGuest::wait_agent_message`] read typed
//!    [`GuestEvent`]s from the stream, with a timeout (never a sleep).
//! 4. [`ChatGuest::leave`] ends the guest's part (`DELETE …/members/{memberId}`), which ends the chat.
//!
//! Every failure is a classified [`ChannelError`] (Genesys error bodies mapped like any other call). The JWT is a
//! [`Secret`] and never printed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_core::ChannelError> {
//! use std::time::Duration;
//! use herald_webchat::guest::{ChatGuest, GuestOptions};
//! let opts = GuestOptions::new("http://127.0.0.1:8089", "org-id", "chat-deployment-id", "Support", "Gus Guest");
//! let mut guest = ChatGuest::join(&opts).await?;
//! guest.send("Hello").await?;
//! let reply = guest.wait_agent_message(Duration::from_secs(10), |_| true).await?;
//! println!("agent said: {}", reply.body);
//! guest.leave().await?;
//! # Ok(()) }
//! ```

mod events;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::StreamExt;
use herald_core::ChannelError;
use herald_genesys::errors::{map_error, parse_retry_after, ErrorBody, ErrorContext};
use herald_genesys::models::chat::WebChatMessage;
use herald_genesys::{Secret, CORRELATION_HEADER};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub use events::{GuestEvent, GuestMessage, MemberChange};

/// What a guest needs to start a chat.
#[derive(Debug, Clone, PartialEq)]
pub struct GuestOptions {
    /// The Platform API base (`https://api.mypurecloud.ie`, or the emulator's base URL).
    pub api_base: String,
    /// The organization id (`organizationId`).
    pub organization_id: String,
    /// The web chat deployment id (`deploymentId`).
    pub deployment_id: String,
    /// The queue to route to (`routingTarget.targetAddress`: the queue name, as chat widgets send it).
    pub queue: String,
    /// The name the agent sees (`memberInfo.displayName`).
    pub display_name: String,
    /// `memberInfo.firstName`.
    pub first_name: Option<String>,
    /// `memberInfo.lastName`.
    pub last_name: Option<String>,
    /// `memberInfo.email`.
    pub email: Option<String>,
    /// `memberInfo.customFields` (become participant data; a customer key can travel here).
    pub custom_fields: BTreeMap<String, String>,
    /// Timeout of each HTTP request and of connecting the event stream.
    pub timeout: Duration,
}

impl GuestOptions {
    /// Options with the required fields and a 30 s timeout.
    pub fn new(
        api_base: impl Into<String>,
        organization_id: impl Into<String>,
        deployment_id: impl Into<String>,
        queue: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        GuestOptions {
            api_base: api_base.into().trim_end_matches('/').to_string(),
            organization_id: organization_id.into(),
            deployment_id: deployment_id.into(),
            queue: queue.into(),
            display_name: display_name.into(),
            first_name: None,
            last_name: None,
            email: None,
            custom_fields: BTreeMap::new(),
            timeout: Duration::from_secs(30),
        }
    }

    fn create_body(&self) -> serde_json::Value {
        let mut member = json!({"displayName": self.display_name});
        for (k, v) in [("firstName", &self.first_name), ("lastName", &self.last_name), ("email", &self.email)] {
            if let Some(v) = v {
                member[k] = json!(v);
            }
        }
        if !self.custom_fields.is_empty() {
            member["customFields"] = json!(self.custom_fields);
        }
        json!({
            "organizationId": self.organization_id,
            "deploymentId": self.deployment_id,
            "routingTarget": {"targetType": "QUEUE", "targetAddress": self.queue},
            "memberInfo": member,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateResponse {
    id: String,
    jwt: String,
    event_stream_uri: String,
    member: MemberRef,
}

#[derive(Deserialize)]
struct MemberRef {
    id: String,
}

/// A guest in a legacy web chat (see the module docs). Dropping it closes the event stream.
pub struct ChatGuest {
    http: reqwest::Client,
    api_base: String,
    conversation_id: String,
    member_id: String,
    jwt: Secret,
    events: mpsc::UnboundedReceiver<GuestEvent>,
    reader: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ChatGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatGuest")
            .field("conversation_id", &self.conversation_id)
            .field("member_id", &self.member_id)
            .finish_non_exhaustive()
    }
}

impl Drop for ChatGuest {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn transport(what: &str, e: impl std::fmt::Display) -> ChannelError {
    ChannelError::transient(format!("guest chat {what} failed: {e}; check the API base URL and the network"))
}

/// Reads a response: the decoded body on 2xx, else the Genesys error mapped to its class.
async fn read<T: serde::de::DeserializeOwned>(resp: reqwest::Response, ctx: &ErrorContext) -> Result<T, ChannelError> {
    let status = resp.status().as_u16();
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let correlation = header(CORRELATION_HEADER);
    let retry_after = header("retry-after").as_deref().and_then(parse_retry_after);
    let bytes = resp.bytes().await.map_err(|e| transport("reading the answer", e))?;
    if (200..300).contains(&status) {
        let raw: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        return serde_json::from_slice(raw).map_err(|e| ChannelError::Permanent {
            reason: format!("the guest chat answer could not be read: {e}"),
            correlation_id: correlation,
        });
    }
    Err(map_error(status, &ErrorBody::parse(&bytes), correlation, retry_after, ctx))
}

impl ChatGuest {
    /// Creates a guest chat and attaches its event stream (which starts routing). See the module docs.
    pub async fn join(opts: &GuestOptions) -> Result<ChatGuest, ChannelError> {
        herald_genesys::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(opts.timeout).build().map_err(|e| transport("setup", e))?;
        let url = format!("{}/api/v2/webchat/guest/conversations", opts.api_base);
        let resp = http.post(&url).json(&opts.create_body()).send().await.map_err(|e| transport("create", e))?;
        let ctx = ErrorContext::entity("chat deployment", opts.deployment_id.clone()).default_field("memberInfo");
        let created: CreateResponse = read(resp, &ctx).await?;
        let connect = tokio_tungstenite::connect_async(created.event_stream_uri.as_str());
        let (socket, _) = tokio::time::timeout(opts.timeout, connect)
            .await
            .map_err(|_| ChannelError::transient("the guest chat event stream did not connect in time; retry"))?
            .map_err(|e| transport("event stream connect", e))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let (_sink, mut stream) = socket.split();
            let mut roles = HashMap::new();
            let reason = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(t))) => {
                        if let Some(ev) = events::parse_frame(t.as_str(), &mut roles) {
                            if tx.send(ev).is_err() {
                                return;
                            }
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        break frame.map(|f| f.reason.to_string()).unwrap_or_else(|| "closed by the server".into())
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("stream error: {e}"),
                    None => break "the stream ended".into(),
                }
            };
            let _ = tx.send(GuestEvent::StreamClosed { reason });
        });
        Ok(ChatGuest {
            http,
            api_base: opts.api_base.clone(),
            conversation_id: created.id,
            member_id: created.member.id,
            jwt: Secret::new(created.jwt),
            events: rx,
            reader,
        })
    }

    /// The chat's conversation id.
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    /// The guest's member id (its chat communication id; herald targets it as `guest`).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    fn member_url(&self, suffix: &str) -> String {
        format!(
            "{}/api/v2/webchat/guest/conversations/{}/members/{}{suffix}",
            self.api_base, self.conversation_id, self.member_id
        )
    }

    /// Sends `text` as the guest (`bodyType: standard`); returns the `WebChatMessage`.
    pub async fn send(&self, text: &str) -> Result<WebChatMessage, ChannelError> {
        let resp = self
            .http
            .post(self.member_url("/messages"))
            .bearer_auth(self.jwt.expose())
            .json(&json!({"body": text, "bodyType": "standard"}))
            .send()
            .await
            .map_err(|e| transport("send", e))?;
        let ctx = ErrorContext::entity("conversation", self.conversation_id.clone())
            .closed_on_conflict(self.conversation_id.clone())
            .default_field("body");
        read(resp, &ctx).await
    }

    /// The next event, or `Transient` after `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Result<GuestEvent, ChannelError> {
        match tokio::time::timeout(timeout, self.events.recv()).await {
            Ok(Some(ev)) => Ok(ev),
            Ok(None) => Err(ChannelError::transient("the guest chat event stream has stopped")),
            Err(_) => Err(ChannelError::transient(format!("no guest chat event within {timeout:?}"))),
        }
    }

    /// The first event matching `pred` within `timeout` (others are skipped). A closed stream is an error.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&GuestEvent) -> bool,
    ) -> Result<GuestEvent, ChannelError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self
                .next_event(left)
                .await
                .map_err(|_| ChannelError::transient(format!("no matching guest chat event within {timeout:?}")))?;
            if pred(&ev) {
                return Ok(ev);
            }
            if let GuestEvent::StreamClosed { reason } = ev {
                return Err(ChannelError::transient(format!("the guest chat event stream closed: {reason}")));
            }
        }
    }

    /// The first message from an agent matching `pred` within `timeout`.
    pub async fn wait_agent_message(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&GuestMessage) -> bool,
    ) -> Result<GuestMessage, ChannelError> {
        let me = self.member_id.clone();
        let ev = self
            .wait_for(
                timeout,
                |e| matches!(e, GuestEvent::Message(m) if m.sender_id != me && m.is_from_agent() && pred(m)),
            )
            .await?;
        match ev {
            GuestEvent::Message(m) => Ok(m),
            _ => Err(ChannelError::permanent("internal: a non-message event matched a message filter")),
        }
    }

    /// Leaves the chat (`DELETE …/members/{memberId}`), which ends it, and closes the event stream.
    pub async fn leave(self) -> Result<(), ChannelError> {
        let resp = self
            .http
            .delete(self.member_url(""))
            .bearer_auth(self.jwt.expose())
            .send()
            .await
            .map_err(|e| transport("leave", e))?;
        let ctx = ErrorContext::entity("guest member", self.member_id.clone());
        let _: serde_json::Value = read(resp, &ctx).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_has_the_required_shape() {
        let mut o = GuestOptions::new("http://x/", "org", "dep", "Support", "Gus");
        o.custom_fields.insert("crm_id".into(), "C-9".into());
        let b = o.create_body();
        assert_eq!(o.api_base, "http://x");
        assert_eq!(b["routingTarget"], json!({"targetType": "QUEUE", "targetAddress": "Support"}));
        assert_eq!(b["memberInfo"]["displayName"], "Gus");
        assert_eq!(b["memberInfo"]["customFields"]["crm_id"], "C-9");
        assert!(b["memberInfo"].get("email").is_none());
    }
}
