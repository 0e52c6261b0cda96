//! Notification channels, their topic subscriptions and the fan-out to channel sockets.
//!
//! Publishing is a read-locked map lookup plus one serialisation per event, and callers check
//! [`NotificationHub::has_subscribers`] before building an event body, so an emulator without
//! listeners pays almost nothing for notifications.

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc::UnboundedSender;

use crate::world::guest::Outgoing;

/// A notification channel.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Channel id (`streaming-…`).
    pub id: String,
    /// Owner: the OAuth client id, or `guest-chat` for chat event streams.
    pub owner: String,
    /// Created.
    pub created: DateTime<Utc>,
    /// Last used (subscription change or socket attach) — eviction order.
    pub last_used: DateTime<Utc>,
    /// Expiry.
    pub expires: DateTime<Utc>,
    /// Subscribed topics in subscription order.
    pub topics: Vec<String>,
    /// The attached socket.
    pub socket: Option<(u64, UnboundedSender<Outgoing>)>,
    /// For guest chat event streams: the chat conversation whose routing starts on attach.
    pub chat_conversation: Option<String>,
}

#[derive(Debug, Default)]
struct HubInner {
    channels: HashMap<String, Channel>,
    topics: HashMap<String, HashSet<String>>,
}

/// Why a subscription change failed.
#[derive(Debug)]
pub enum SubscribeError {
    /// The channel does not exist (or expired).
    NoChannel,
    /// Too many topics.
    TooManyTopics(usize),
}

/// All channels.
#[derive(Debug, Default)]
pub struct NotificationHub {
    inner: RwLock<HubInner>,
    frames: AtomicU64,
}

/// The notification envelope, serialised straight from the borrowed body: a `json!` envelope would first copy the
/// whole event body into a new `Value` (conversation events list every message, so that copy grows with the
/// transcript). Fields in the same (alphabetical) order as a `serde_json::Value` object prints them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    event_body: &'a Value,
    metadata: EnvelopeMetadata,
    topic_name: &'a str,
    version: &'static str,
}

#[derive(Serialize)]
struct EnvelopeMetadata {
    #[serde(rename = "CorrelationId")]
    correlation_id: String,
    /// Legacy chat frames carry the event kind here (`message`, `member-change`, `typing-indicator`); guest chat
    /// clients dispatch on it.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

/// The `metadata.type` of a legacy chat topic (`v2.conversations.chats.{id}.messages|members|typing`).
fn chat_event_type(topic: &str) -> Option<&'static str> {
    let rest = topic.strip_prefix("v2.conversations.chats.")?;
    match rest.rsplit('.').next()? {
        "messages" => Some("message"),
        "members" => Some("member-change"),
        "typing" => Some("typing-indicator"),
        _ => None,
    }
}

/// Builds the notification envelope.
pub fn envelope(topic: &str, body: &Value) -> String {
    let e = Envelope {
        event_body: body,
        metadata: EnvelopeMetadata { correlation_id: uuid::Uuid::new_v4().to_string(), kind: chat_event_type(topic) },
        topic_name: topic,
        version: "2",
    };
    serde_json::to_string(&e).unwrap_or_default()
}

impl HubInner {
    fn unsubscribe_all(&mut self, ch: &Channel) {
        for t in &ch.topics {
            if let Some(set) = self.topics.get_mut(t) {
                set.remove(&ch.id);
                if set.is_empty() {
                    self.topics.remove(t);
                }
            }
        }
    }

    fn remove(&mut self, id: &str) -> Option<Channel> {
        let ch = self.channels.remove(id)?;
        self.unsubscribe_all(&ch);
        if let Some((_, tx)) = &ch.socket {
            let _ = tx.send(Outgoing::Close(1000, "channel removed".into()));
        }
        Some(ch)
    }
}

impl NotificationHub {
    /// Frames written so far.
    pub fn frames_sent(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Creates a channel; evicts the owner's oldest channels beyond `max_per_owner`.
    pub fn create(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lifetime: chrono::Duration,
        max_per_owner: usize,
        chat_conversation: Option<String>,
    ) -> Channel {
        let mut inner = self.inner.write();
        loop {
            let mut own: Vec<&Channel> = inner.channels.values().filter(|c| c.owner == owner).collect();
            if own.len() < max_per_owner.max(1) {
                break;
            }
            // Unconnected first, then least recently used.
            own.sort_by_key(|c| (c.socket.is_some(), c.last_used));
            let victim = own[0].id.clone();
            inner.remove(&victim);
        }
        let ch = Channel {
            id: format!("streaming-0-{}", uuid::Uuid::new_v4().simple()),
            owner: owner.to_string(),
            created: now,
            last_used: now,
            expires: now + lifetime,
            topics: Vec::new(),
            socket: None,
            chat_conversation,
        };
        inner.channels.insert(ch.id.clone(), ch.clone());
        ch
    }

    /// Live channels of an owner.
    pub fn list(&self, owner: &str, now: DateTime<Utc>) -> Vec<Channel> {
        let inner = self.inner.read();
        let mut v: Vec<Channel> =
            inner.channels.values().filter(|c| c.owner == owner && c.expires > now).cloned().collect();
        v.sort_by_key(|c| c.created);
        v
    }

    /// A live channel.
    pub fn get(&self, id: &str, now: DateTime<Utc>) -> Option<Channel> {
        self.inner.read().channels.get(id).filter(|c| c.expires > now).cloned()
    }

    /// Adds (`replace = false`) or replaces the topics of a channel and extends its lifetime.
    pub fn subscribe(
        &self,
        id: &str,
        topics: &[String],
        replace: bool,
        now: DateTime<Utc>,
        lifetime: chrono::Duration,
        max_topics: usize,
    ) -> Result<Vec<String>, SubscribeError> {
        let mut inner = self.inner.write();
        let ch = inner.channels.get(id).filter(|c| c.expires > now).cloned().ok_or(SubscribeError::NoChannel)?;
        let mut next: Vec<String> = if replace { Vec::new() } else { ch.topics.clone() };
        for t in topics {
            if !next.contains(t) {
                next.push(t.clone());
            }
        }
        if next.len() > max_topics {
            return Err(SubscribeError::TooManyTopics(max_topics));
        }
        inner.unsubscribe_all(&ch);
        for t in &next {
            inner.topics.entry(t.clone()).or_default().insert(id.to_string());
        }
        if let Some(c) = inner.channels.get_mut(id) {
            c.topics = next.clone();
            c.last_used = now;
            c.expires = now + lifetime;
        }
        Ok(next)
    }

    /// Attaches a socket; returns the chat conversation to start routing, if any.
    pub fn attach(
        &self,
        id: &str,
        socket_id: u64,
        tx: UnboundedSender<Outgoing>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, SubscribeError> {
        let mut inner = self.inner.write();
        let ch = inner.channels.get_mut(id).filter(|c| c.expires > now).ok_or(SubscribeError::NoChannel)?;
        // One connection per channel: a new socket replaces the old one.
        if let Some((_, old)) = ch.socket.replace((socket_id, tx)) {
            let _ = old.send(Outgoing::Close(1000, "replaced by a new connection".into()));
        }
        ch.last_used = now;
        Ok(ch.chat_conversation.clone())
    }

    /// Detaches a socket (if it is still the attached one).
    pub fn detach(&self, id: &str, socket_id: u64) {
        let mut inner = self.inner.write();
        if let Some(ch) = inner.channels.get_mut(id) {
            if ch.socket.as_ref().is_some_and(|(s, _)| *s == socket_id) {
                ch.socket = None;
            }
        }
    }

    /// Whether any channel listens to `topic`.
    pub fn has_subscribers(&self, topic: &str) -> bool {
        self.inner.read().topics.contains_key(topic)
    }

    /// Publishes an event to every socket subscribed to `topic`; returns frames written.
    pub fn publish(&self, topic: &str, body: &Value) -> usize {
        let inner = self.inner.read();
        let Some(ids) = inner.topics.get(topic) else {
            return 0;
        };
        let frame = envelope(topic, body);
        let mut n = 0;
        for id in ids {
            if let Some((_, tx)) = inner.channels.get(id).and_then(|c| c.socket.as_ref()) {
                if tx.send(Outgoing::Text(frame.clone())).is_ok() {
                    n += 1;
                }
            }
        }
        self.frames.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Sends `v2.system.socket_closing` to every connected channel; returns how many.
    pub fn socket_closing(&self, org_id: &str) -> usize {
        let inner = self.inner.read();
        let mut n = 0;
        for ch in inner.channels.values() {
            if let Some((_, tx)) = &ch.socket {
                let body = json!({
                    "channelId": ch.id,
                    "organizationId": org_id,
                    "oauthClientId": ch.owner,
                    "message": "The socket will close in about one minute; reconnect on a new connection",
                    "data": {},
                });
                if tx.send(Outgoing::Text(envelope("v2.system.socket_closing", &body))).is_ok() {
                    n += 1;
                }
            }
        }
        n
    }

    /// Closes and removes channels that expired before `now`; returns how many.
    pub fn expire(&self, now: DateTime<Utc>) -> usize {
        let mut inner = self.inner.write();
        let ids: Vec<String> = inner.channels.values().filter(|c| c.expires <= now).map(|c| c.id.clone()).collect();
        for id in &ids {
            inner.remove(id);
        }
        ids.len()
    }

    /// Removes every channel of an owner (token revocation); returns how many.
    pub fn remove_owner(&self, owner: Option<&str>) -> usize {
        let mut inner = self.inner.write();
        let ids: Vec<String> = inner
            .channels
            .values()
            .filter(|c| c.chat_conversation.is_none() && owner.is_none_or(|o| o == c.owner))
            .map(|c| c.id.clone())
            .collect();
        for id in &ids {
            inner.remove(id);
        }
        ids.len()
    }

    /// Removes one channel.
    pub fn remove(&self, id: &str) -> bool {
        self.inner.write().remove(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let body = json!({"id": "c1", "participants": [{"id": "p1", "messages": [{"message": {"id": "m1"}}]}]});
        let text = envelope("v2.users.u1.presence", &body);
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(v["topicName"], "v2.users.u1.presence");
        assert_eq!(v["version"], "2");
        assert_eq!(v["eventBody"], body);
        let corr = v["metadata"]["CorrelationId"].as_str().unwrap_or_default();
        assert_eq!(uuid::Uuid::parse_str(corr).map(|u| u.get_version_num()), Ok(4));
        // The same text a serde_json object of these fields prints (keys in alphabetical order).
        let same = json!({"topicName": "v2.users.u1.presence", "version": "2", "eventBody": body,
                          "metadata": {"CorrelationId": corr}});
        assert_eq!(text, same.to_string());
    }
}
