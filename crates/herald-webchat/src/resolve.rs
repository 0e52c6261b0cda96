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

use herald_core::{ChannelError, MediaKind, Session, Target};
use herald_genesys::channel::state::open_or_latest;

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
        Target::Conversation { id } => inner.channel.conversation(id).await?,
        Target::Customer { id } => customer(inner, id).await?,
        Target::Guest { id } => guest(inner, id).await?,
        Target::Agent { .. } => return Err(inner.channel.agent_unreachable()),
    };
    if !is_chat(&session) {
        return Err(ChannelError::invalid(
            "target.id",
            format!("names conversation `{}`, which is not a legacy web chat", session.conversation_id),
            "deliver it through a webmessaging integration",
        ));
    }
    Ok(session)
}

/// Whether `session` is a legacy web chat (the only media this adapter delivers into).
fn is_chat(session: &Session) -> bool {
    session.media == MediaKind::WebChat
}

async fn customer(inner: &Inner, id: &str) -> Result<Session, ChannelError> {
    let known = inner.channel.sessions_of(id, is_chat).await?;
    open_or_latest(known).ok_or_else(|| {
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
    inner.channel.guest_session(member, is_chat).await?.ok_or_else(|| {
        ChannelError::not_found(
            "guest",
            member,
            "no chat with this guest member id is known; herald learns member ids (the customer's chat communication \
             id) from chats on watched queues — target the conversation instead",
        )
    })
}
