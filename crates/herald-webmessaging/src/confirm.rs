//! `confirm_delivery`: did an attempt whose outcome is unknown (a timeout, a reset, a crash) reach Genesys?
//!
//! Genesys sends take no idempotency key, but a conversation's messages can be listed. The check returns
//! **every** upstream message that could be this delivery, oldest first; the dispatcher takes the first one not
//! already attributed to another notification, so two notifications with the same text are never mistaken for
//! each other.
//!
//! 1. The conversations the attempt could have gone into: the target's session (store, cache or GET); for
//!    customer and guest targets every session of the customer active since the attempt; for agentless
//!    attempts also every web messaging conversation of the external contact that analytics lists as open or
//!    started/ended since the attempt (an agentless send may open a conversation herald has never seen).
//! 2. The text the attempt would have sent: rendered with the resolved session (as the attempt did) and with
//!    each candidate conversation's session.
//! 3. `GET /api/v2/conversations/messages/{id}` lists every participant's messages with their time; each
//!    message of herald's side (an `agent`/`user` participant, or the `api` participant of agentless sends) at or
//!    after `previous_attempt_at` minus [`CLOCK_SKEW`] is read (`GET …/messages/{messageId}`) and compared.
//! 4. Every match becomes a receipt naming the message id and conversation, ordered by message time.
//!
//! An empty answer means "certainly not sent" only as far as the listings go: every candidate conversation was
//! listed in full. Any failure to list is an `Err` (the dispatcher checks again later, never re-sends on it).
//!
//! Residual window (agentless only): the agentless attempt may have opened a conversation herald has never seen,
//! which only analytics can name. Analytics lists a conversation once it has indexed it (seconds after it
//! starts on Genesys Cloud; the delay is UNCONFIRMED and the emulator has none). A check made within that delay
//! of such an attempt can miss the new conversation and answer "not sent"; see `docs/webmessaging.md`.

use chrono::{DateTime, Duration, Utc};
use herald_core::{ChannelError, Delivery, DeliveryMode, MediaKind, Receipt, Session, Target};
use herald_genesys::models::analytics::OpenConversationsQuery;

use crate::adapter::Inner;
use crate::content::render;
use crate::resolve;

/// Tolerated difference between herald's clock and Genesys' message times.
pub const CLOCK_SKEW: Duration = Duration::seconds(5);

/// Conversations of one external contact looked at for an agentless attempt at most.
const AGENTLESS_CONVERSATIONS: u32 = 25;

/// Looks for the attempt upstream (see the module docs).
pub(crate) async fn confirm(inner: &Inner, delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
    let Some(since) = delivery.previous_attempt_at else {
        return Ok(Vec::new());
    };
    let since = since - CLOCK_SKEW;
    let target = &delivery.notification.target;
    // A target neither herald nor Genesys knows was never sent to by an agent-side attempt (it needs the
    // conversation); an agentless one is still looked for through the customer's conversations below.
    let resolved = match resolve::resolve(inner, target).await {
        Ok(s) => Some(s),
        Err(ChannelError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let mut candidates: Vec<Session> = resolved.iter().cloned().collect();
    if let Target::Customer { id } | Target::Guest { id } = target {
        for s in resolve::sessions_of(inner, id).await? {
            if s.updated_at >= since {
                push_new(&mut candidates, s);
            }
        }
    }
    if delivery.mode == DeliveryMode::Agentless {
        let contact = resolved.as_ref().and_then(|s| s.customer.external_contact_id.clone()).or(match target {
            Target::Customer { id } => Some(id.clone()),
            _ => None,
        });
        if let Some(contact) = contact {
            for s in agentless_conversations(inner, &contact, since).await? {
                push_new(&mut candidates, s);
            }
        }
    }
    let empty = Session::new("", inner.channel.name.clone(), MediaKind::WebMessaging, Utc::now());
    let primary = render(inner, &delivery.notification.content, resolved.as_ref().unwrap_or(&empty)).await?;
    let mut found: Vec<Receipt> = Vec::new();
    for session in &candidates {
        let own = render(inner, &delivery.notification.content, session).await?;
        let texts = [primary.as_str(), own.as_str()];
        for r in find_in(inner, &session.conversation_id, &texts, since).await? {
            if !found.iter().any(|f| f.upstream_message_id == r.upstream_message_id) {
                found.push(r);
            }
        }
    }
    found.sort_by_key(|r| r.delivered_at);
    if !found.is_empty() {
        tracing::info!(candidates = found.len(), "messages that may be an interrupted attempt were found upstream");
    }
    Ok(found)
}

fn push_new(candidates: &mut Vec<Session>, s: Session) {
    if !candidates.iter().any(|c| c.conversation_id == s.conversation_id) {
        candidates.push(s);
    }
}

/// Web messaging conversations of `contact` that an agentless send at or after `since` may have landed in: open
/// ones, and those started or ended since (from analytics, newest first), read as sessions (not published).
async fn agentless_conversations(
    inner: &Inner,
    contact: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Session>, ChannelError> {
    let query = OpenConversationsQuery::webmessaging(Utc::now(), inner.settings.lookback_hours)
        .external_contact(contact)
        .include_closed()
        .page_size(AGENTLESS_CONVERSATIONS)
        .build();
    let answer = inner.channel.client.query_conversations(&query).await?.body;
    let mut out = Vec::new();
    for c in answer.conversations {
        let relevant = c.conversation_end.is_none_or(|end| end >= since)
            || c.conversation_start.is_some_and(|start| start >= since);
        if !relevant {
            continue;
        }
        let previous = inner.channel.known_session(&c.conversation_id).await?;
        match previous {
            Some(s) => out.push(s),
            None => match inner.channel.fetch_change(&c.conversation_id, None).await {
                Ok(change) => out.push(change.session().clone()),
                Err(ChannelError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            },
        }
    }
    Ok(out)
}

/// Every message of herald's side in conversation `conv` at or after `since` whose text is one of `texts`.
async fn find_in(
    inner: &Inner,
    conv: &str,
    texts: &[&str],
    since: DateTime<Utc>,
) -> Result<Vec<Receipt>, ChannelError> {
    let client = &inner.channel.client;
    let listing = match client.get_message_conversation(conv).await {
        Ok(r) => r.body,
        // A conversation Genesys does not know holds no message.
        Err(ChannelError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for p in &listing.participants {
        let purpose = p.purpose.as_deref().unwrap_or("").to_ascii_lowercase();
        if !matches!(purpose.as_str(), "agent" | "user" | "api") {
            continue;
        }
        for m in p.messages.iter().flatten() {
            let (Some(id), Some(at)) = (&m.message_id, m.message_time) else { continue };
            if at < since {
                continue;
            }
            let data = client.get_message(conv, id).await?.body;
            let sent = data.normalized_message.as_ref().and_then(|n| n.text.clone()).or(data.text_body.clone());
            if sent.as_deref().is_some_and(|s| texts.contains(&s)) {
                out.push(Receipt {
                    upstream_message_id: Some(id.clone()),
                    conversation_id: Some(conv.to_string()),
                    route: if purpose == "api" { "agentless" } else { "agent" }.into(),
                    delivered_at: at,
                });
            }
        }
    }
    Ok(out)
}
