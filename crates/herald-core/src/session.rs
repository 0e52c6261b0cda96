//! Sessions: every conversation the bridge has seen, with all the ids that matter.
//!
//! Genesys names one conversation with several ids (conversation, participant, communication) and each endpoint
//! wants a different one. A [`Session`] keeps all of them, so a caller names a conversation or a customer and the
//! adapter finds the communication id to post to.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The media of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Genesys web messaging (Messenger).
    WebMessaging,
    /// Legacy Genesys web chat (ACD web chat v2).
    WebChat,
    /// Genesys Open Messaging.
    Open,
    /// SMS.
    Sms,
    /// A Microsoft Teams conversation with an agent.
    Teams,
    /// Anything else, by name.
    Other(String),
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// The customer is waiting in a queue; no agent is connected yet.
    Queued,
    /// An agent (or bot) is connected.
    Connected,
    /// Every participant has disconnected; nothing can be sent into it.
    Closed,
}

/// The ids of the customer behind a session; any of them can be used to target the customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerIds {
    /// Genesys external contact id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
    /// A customer key configured by the integration (e.g. a CRM id carried in participant attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key: Option<String>,
    /// The guest token or guest member id of a web messaging / web chat guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_id: Option<String>,
    /// Display name of the customer, for `{{CUSTOMER_NAME}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl CustomerIds {
    /// Every non-empty id, for indexing.
    pub fn keys(&self) -> Vec<&str> {
        [&self.external_contact_id, &self.customer_key, &self.guest_id]
            .into_iter()
            .filter_map(|k| k.as_deref())
            .filter(|k| !k.is_empty())
            .collect()
    }

    /// The id that best names the customer (external contact first).
    pub fn primary(&self) -> Option<&str> {
        self.keys().into_iter().next()
    }
}

/// One communication (leg) of a participant: what Genesys calls the communication id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Communication {
    /// The communication id (`participants[].messages[].id` or `participants[].chats[].id`).
    pub id: String,
    /// Its state as reported upstream (`connected`, `disconnected`, ...), lower-case.
    pub state: String,
}

/// One participant of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// The participant id.
    pub id: String,
    /// `customer`, `agent`, `acd`, `api`, `workflow`, ... (lower-case, free string upstream).
    pub purpose: String,
    /// Participant state, lower-case.
    pub state: String,
    /// The Genesys user id for agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The queue id for acd participants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The participant's communications.
    #[serde(default)]
    pub communications: Vec<Communication>,
}

impl Participant {
    /// Whether the participant is still in the conversation.
    pub fn is_active(&self) -> bool {
        !matches!(self.state.as_str(), "disconnected" | "terminated")
    }
}

/// A conversation the bridge has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The upstream conversation id; the key of the session.
    pub conversation_id: String,
    /// The integration that saw it.
    pub integration: String,
    /// The media.
    pub media: MediaKind,
    /// Where it stands.
    pub state: SessionState,
    /// The customer.
    #[serde(default)]
    pub customer: CustomerIds,
    /// The web messaging deployment (or chat deployment) the customer came through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// The queue the conversation was routed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Every agent (Genesys user id) who was connected, in order.
    #[serde(default)]
    pub agent_ids: Vec<String>,
    /// The participants with their communications.
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// When the bridge first saw the conversation (or upstream start time).
    pub opened_at: DateTime<Utc>,
    /// Last activity.
    pub updated_at: DateTime<Utc>,
    /// When the customer entered the queue, while waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<DateTime<Utc>>,
    /// When it closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Free attributes (participant data).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl Session {
    /// A new open session with nothing but its ids.
    pub fn new(
        conversation_id: impl Into<String>,
        integration: impl Into<String>,
        media: MediaKind,
        now: DateTime<Utc>,
    ) -> Self {
        Session {
            conversation_id: conversation_id.into(),
            integration: integration.into(),
            media,
            state: SessionState::Queued,
            customer: CustomerIds::default(),
            deployment_id: None,
            queue_id: None,
            agent_ids: Vec::new(),
            participants: Vec::new(),
            opened_at: now,
            updated_at: now,
            queued_at: None,
            closed_at: None,
            attributes: BTreeMap::new(),
        }
    }

    /// Whether messages can still be sent into it.
    pub fn is_open(&self) -> bool {
        self.state != SessionState::Closed
    }

    /// The connected agent participant, if any (the last one connected wins).
    pub fn connected_agent(&self) -> Option<&Participant> {
        self.participants.iter().rev().find(|p| p.purpose == "agent" && p.state == "connected")
    }

    /// The communication id an agent-side send must use: the connected agent's connected communication.
    pub fn agent_communication_id(&self) -> Option<&str> {
        self.connected_agent()?.communications.iter().rev().find(|c| c.state == "connected").map(|c| c.id.as_str())
    }

    /// The customer participant, if known.
    pub fn customer_participant(&self) -> Option<&Participant> {
        self.participants.iter().find(|p| p.purpose == "customer")
    }

    /// The name of the connected (or last) agent participant, for `{{AGENT_NAME}}`.
    pub fn agent_name(&self) -> Option<&str> {
        self.connected_agent()
            .or_else(|| self.participants.iter().rev().find(|p| p.purpose == "agent"))
            .and_then(|p| p.name.as_deref())
    }

    /// Whether `agent` (a Genesys user id) handled this session.
    pub fn handled_by(&self, agent: &str) -> bool {
        self.agent_ids.iter().any(|a| a == agent)
    }

    /// Whether any of the customer's ids equals `key`.
    pub fn belongs_to(&self, key: &str) -> bool {
        self.customer.keys().contains(&key)
    }

    /// The newer of two versions of a session (by `updated_at`; `a` wins ties), or whichever exists.
    pub fn newest(a: Option<Session>, b: Option<Session>) -> Option<Session> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.updated_at > a.updated_at { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Merge `more` into `sessions`, keeping the newer version of each conversation, then order by most recent
    /// activity first. Adapters use it to combine what the store knows with what they have seen since.
    pub fn merge_newest(sessions: &mut Vec<Session>, more: impl IntoIterator<Item = Session>) {
        for other in more {
            match sessions.iter_mut().find(|s| s.conversation_id == other.conversation_id) {
                Some(slot) => {
                    if other.updated_at > slot.updated_at {
                        *slot = other;
                    }
                }
                None => sessions.push(other),
            }
        }
        sessions.sort_by_key(|s| std::cmp::Reverse(s.updated_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comm(id: &str, state: &str) -> Communication {
        Communication { id: id.into(), state: state.into() }
    }

    #[test]
    fn agent_communication_is_the_connected_one() {
        let mut s = Session::new("c1", "wm", MediaKind::WebMessaging, Utc::now());
        s.participants.push(Participant {
            id: "p-cust".into(),
            purpose: "customer".into(),
            state: "connected".into(),
            user_id: None,
            queue_id: None,
            name: Some("Ana".into()),
            communications: vec![comm("cust-comm", "connected")],
        });
        s.participants.push(Participant {
            id: "p-agent".into(),
            purpose: "agent".into(),
            state: "connected".into(),
            user_id: Some("u1".into()),
            queue_id: None,
            name: Some("Bo".into()),
            communications: vec![comm("old", "disconnected"), comm("agent-comm", "connected")],
        });
        assert_eq!(s.agent_communication_id(), Some("agent-comm"));
        assert_eq!(s.agent_name(), Some("Bo"));
        s.participants[1].state = "disconnected".into();
        assert_eq!(s.agent_communication_id(), None);
    }

    #[test]
    fn newest_and_merge_keep_the_latest_version() {
        let t0 = Utc::now();
        let mut old = Session::new("c1", "wm", MediaKind::WebMessaging, t0);
        old.updated_at = t0 - chrono::Duration::seconds(10);
        let new = Session::new("c1", "wm", MediaKind::WebMessaging, t0);
        assert_eq!(Session::newest(Some(old.clone()), Some(new.clone())), Some(new.clone()));
        assert_eq!(Session::newest(None, Some(old.clone())), Some(old.clone()));
        let mut list = vec![old.clone()];
        let mut other = Session::new("c2", "wm", MediaKind::WebMessaging, t0);
        other.updated_at = t0 - chrono::Duration::seconds(5);
        Session::merge_newest(&mut list, [new.clone(), other.clone()]);
        assert_eq!(list, vec![new.clone(), other.clone()]);
        Session::merge_newest(&mut list, [old]);
        assert_eq!(list, vec![new, other], "an older version never replaces a newer one");
    }

    #[test]
    fn customer_keys_skip_empty() {
        let c = CustomerIds {
            external_contact_id: Some("ec".into()),
            customer_key: Some(String::new()),
            guest_id: Some("g".into()),
            name: None,
        };
        assert_eq!(c.keys(), vec!["ec", "g"]);
        assert_eq!(c.primary(), Some("ec"));
    }
}
