//! Target resolution: the chat a notification goes into.
//!
//! - `Conversation{id}` → the store (or the stream cache), else `GET /api/v2/conversations/{id}` (mapped and
//!   published as `SessionUpdated` so the store learns it).
//! - `Customer{id}` → the customer's most recent open chat in the store (any of their ids: external contact,
//!   customer key, guest member id), else their latest closed chat (so the closed-session policy applies), else
//!   `NotFound` saying what to check. There is no analytics fallback for chats.
//! - `Guest{id}` → the chat whose customer communication (the guest's member id) is `id`.
//! - `Agent{id}` → `Invalid`: agents are reached through the Teams integration.
//!
//! A session of another media (a web messaging conversation) is refused as `Invalid`: it belongs to a
//! webmessaging integration. The session returned may be in any state; the delivery decides what it means.

use herald_core::{ChannelError, MediaKind, Session, SessionQuery, Target};

use crate::adapter::Inner;

/// Resolves `target` to a chat session (see the module docs).
pub(crate) async fn resolve(inner: &Inner, target: &Target) -> Result<Session, ChannelError> {
    if target.id().trim().is_empty() {
        return Err(ChannelError::invalid(
            "target.id",
            "is empty",
            "name a conversation id, customer id or guest member id",
        ));
    }
    let session = match target {
        Target::Conversation { id } => match inner.known_session(id).await? {
            Some(s) => s,
            None => inner.fetch_for_delivery(id, None).await?,
        },
        Target::Customer { id } => customer(inner, id).await?,
        Target::Guest { id } => guest(inner, id).await?,
        Target::Agent { .. } => {
            return Err(ChannelError::invalid(
                "target.type",
                "is `agent`, which a web chat integration cannot reach",
                "send messages to agents through a teams integration, or target a conversation, customer or guest",
            ))
        }
    };
    if session.media != MediaKind::WebChat {
        return Err(ChannelError::invalid(
            "target.id",
            format!("names conversation `{}`, which is not a legacy web chat", session.conversation_id),
            "deliver it through a webmessaging integration",
        ));
    }
    Ok(session)
}

/// Chat sessions of `key` (any customer id) from the store and the cache, most recent activity first.
async fn sessions_of(inner: &Inner, key: &str) -> Result<Vec<Session>, ChannelError> {
    let rt = inner.runtime()?;
    let query = SessionQuery {
        integration: Some(inner.name.clone()),
        customer: Some(key.to_string()),
        limit: 50,
        ..Default::default()
    };
    let mut found = rt.ctx.sessions.query(&query).await?;
    let cached: Vec<Session> = inner.cache.lock().values().filter(|s| s.belongs_to(key)).cloned().collect();
    Session::merge_newest(&mut found, cached);
    found.retain(|s| s.media == MediaKind::WebChat);
    Ok(found)
}

async fn customer(inner: &Inner, id: &str) -> Result<Session, ChannelError> {
    let known = sessions_of(inner, id).await?;
    if let Some(open) = known.iter().find(|s| s.is_open()) {
        return Ok(open.clone());
    }
    known.into_iter().next().ok_or_else(|| {
        ChannelError::not_found(
            "customer",
            id,
            "no chat of this customer is known to herald; check that the id is an external contact id or the value \
             of the `customer_key_attribute` participant attribute, and that the chat is routed through a watched \
             queue (or handled by a watched agent)",
        )
    })
}

async fn guest(inner: &Inner, member: &str) -> Result<Session, ChannelError> {
    let known: Vec<Session> = sessions_of(inner, member)
        .await?
        .into_iter()
        .filter(|s| s.customer.guest_id.as_deref() == Some(member))
        .collect();
    if let Some(open) = known.iter().find(|s| s.is_open()) {
        return Ok(open.clone());
    }
    known.into_iter().next().ok_or_else(|| {
        ChannelError::not_found(
            "guest",
            member,
            "no chat with this guest member id is known; herald learns member ids (the customer's chat communication \
             id) from chats on watched queues — target the conversation instead",
        )
    })
}
