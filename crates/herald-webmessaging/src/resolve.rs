//! Target resolution: the conversation a notification goes into.
//!
//! - `Conversation{id}` → the store (or the stream cache), else `GET /api/v2/conversations/{id}` (mapped and
//!   published as `SessionUpdated` so the store learns it).
//! - `Customer{id}` → the customer's most recent open web messaging session in the store (any of their ids:
//!   external contact, customer key, guest token), else an analytics query over `lookback_hours` by
//!   `externalContactId`, else their latest closed session (so the closed-session policy applies), else
//!   `NotFound` saying what to check.
//! - `Guest{id}` → the session whose `customer.guest_id` is the token.
//! - `Agent{id}` → `Invalid`: agents are reached through the Teams integration.
//!
//! The session returned may be in any state; the delivery decides what its state means.

use chrono::Utc;
use herald_core::{ChannelError, MediaKind, Session, Target};
use herald_genesys::models::analytics::OpenConversationsQuery;

use crate::adapter::Inner;

/// Resolves `target` to a session (see the module docs).
pub(crate) async fn resolve(inner: &Inner, target: &Target) -> Result<Session, ChannelError> {
    let session = match target {
        Target::Conversation { id } => conversation(inner, id).await?,
        Target::Customer { id } => customer(inner, id).await?,
        Target::Guest { id } => guest(inner, id).await?,
        Target::Agent { .. } => return Err(inner.channel.agent_unreachable()),
    };
    if !is_messaging(&session) {
        return Err(ChannelError::invalid(
            "target.id",
            format!("names legacy web chat conversation `{}`", session.conversation_id),
            "deliver it through a webchat integration",
        ));
    }
    Ok(session)
}

/// A conversation by id: store/cache first, else Genesys.
pub(crate) async fn conversation(inner: &Inner, id: &str) -> Result<Session, ChannelError> {
    if id.trim().is_empty() {
        return Err(ChannelError::invalid("target.id", "is empty", "name a Genesys conversation id"));
    }
    inner.channel.conversation(id).await
}

/// Whether `session` is not a legacy web chat (those belong to a webchat integration).
fn is_messaging(session: &Session) -> bool {
    session.media != MediaKind::WebChat
}

/// Sessions of `key` (any customer id) from the store and the cache, most recent activity first.
pub(crate) async fn sessions_of(inner: &Inner, key: &str) -> Result<Vec<Session>, ChannelError> {
    inner.channel.sessions_of(key, is_messaging).await
}

async fn customer(inner: &Inner, id: &str) -> Result<Session, ChannelError> {
    if id.trim().is_empty() {
        return Err(ChannelError::invalid("target.id", "is empty", "name an external contact id or customer key"));
    }
    let known = sessions_of(inner, id).await?;
    if let Some(open) = known.iter().find(|s| s.is_open()) {
        return Ok(open.clone());
    }
    let mut analytics_note = String::new();
    match open_conversation_from_analytics(inner, id).await {
        Ok(Some(s)) => return Ok(s),
        Ok(None) => {}
        Err(e) if e.class().is_retryable() => return Err(e),
        Err(e) => {
            tracing::warn!(customer = %id, error = %e, "analytics fallback failed");
            analytics_note = format!(" (the analytics fallback failed: {e})");
        }
    }
    if let Some(closed) = known.into_iter().next() {
        return Ok(closed);
    }
    Err(ChannelError::not_found(
        "customer",
        id,
        format!(
            "no web messaging conversation of this customer in herald's store, and none open in analytics over the \
             last {} h{analytics_note}; check that the id is an external contact id (or the value of the \
             `customer_key_attribute` participant attribute), that the customer's conversation is routed through a \
             watched queue, and that the OAuth client may query analytics",
            inner.settings.lookback_hours
        ),
    ))
}

/// The customer's newest open web messaging conversation according to analytics, fetched and published.
async fn open_conversation_from_analytics(
    inner: &Inner,
    external_contact_id: &str,
) -> Result<Option<Session>, ChannelError> {
    let query = OpenConversationsQuery::webmessaging(Utc::now(), inner.settings.lookback_hours)
        .external_contact(external_contact_id)
        .page_size(10)
        .build();
    let answer = inner.channel.client.query_conversations(&query).await?.body;
    for conv in answer.conversations.iter().filter(|c| c.conversation_end.is_none()) {
        let previous = inner.channel.known_session(&conv.conversation_id).await?;
        match inner.channel.fetch_for_delivery(&conv.conversation_id, previous.as_ref()).await {
            Ok(s) if s.is_open() => return Ok(Some(s)),
            Ok(_) | Err(ChannelError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

async fn guest(inner: &Inner, token: &str) -> Result<Session, ChannelError> {
    if token.trim().is_empty() {
        return Err(ChannelError::invalid("target.id", "is empty", "name the guest's session token"));
    }
    inner.channel.guest_session(token, is_messaging).await?.ok_or_else(|| {
        ChannelError::not_found(
            "guest",
            token,
            "no web messaging session of this guest token is known; herald learns guest tokens from the \
             participant's journeyContext.customer (idType cookie) on the notification stream — target the \
             conversation or the customer (external contact id) instead",
        )
    })
}
