//! `confirm_delivery`: after a crash, did an interrupted attempt reach Genesys?
//!
//! Genesys sends take no idempotency key, but a conversation's messages can be listed. The check:
//!
//! 1. find the conversation(s) the attempt could have gone into: the target's session (store, cache or GET), and
//!    for customer targets every session of the customer active since the attempt;
//! 2. render the text the attempt would have sent (same content, same session);
//! 3. `GET /api/v2/conversations/messages/{id}` lists every participant's messages with their time; for each
//!    outbound message (agent or api participant) at or after `previous_attempt_at` (minus [`CLOCK_SKEW`]),
//!    `GET …/messages/{messageId}` and compare its text;
//! 4. a match → `Ok(Some(receipt))` (the dispatcher records it as delivered, nothing is sent again).
//!
//! `Ok(None)` ("certainly not sent") only when every candidate conversation was listed completely and none holds
//! the text. An agentless attempt may have opened a conversation herald does not know, so an agentless attempt
//! that is not found returns `Err` (the dispatcher falls back to at-least-once). Any failure to check is an
//! `Err` too.

use chrono::Duration;
use herald_core::{ChannelError, Delivery, DeliveryMode, Receipt, Session, Target};

use crate::adapter::Inner;
use crate::content::render;
use crate::resolve;

/// Tolerated difference between herald's clock and Genesys' message times.
pub const CLOCK_SKEW: Duration = Duration::seconds(5);

/// Looks for the attempt upstream (see the module docs).
pub(crate) async fn confirm(inner: &Inner, delivery: &Delivery) -> Result<Option<Receipt>, ChannelError> {
    let Some(since) = delivery.previous_attempt_at else {
        return Ok(None);
    };
    let since = since - CLOCK_SKEW;
    let target = &delivery.notification.target;
    let mut candidates: Vec<Session> = Vec::new();
    match resolve::resolve(inner, target).await {
        Ok(s) => candidates.push(s),
        Err(ChannelError::NotFound { .. }) if delivery.mode == DeliveryMode::Agentless => {}
        Err(e) => return Err(e),
    }
    if let Target::Customer { id } | Target::Guest { id } = target {
        for s in resolve::sessions_of(inner, id).await? {
            if s.updated_at >= since && !candidates.iter().any(|c| c.conversation_id == s.conversation_id) {
                candidates.push(s);
            }
        }
    }
    for session in &candidates {
        let text = render(inner, &delivery.notification.content, session).await?;
        if let Some(receipt) = find_in(inner, session, &text, since, delivery.mode).await? {
            tracing::info!(conversation = %session.conversation_id, "an interrupted attempt had reached Genesys");
            return Ok(Some(receipt));
        }
    }
    if delivery.mode == DeliveryMode::Agentless {
        return Err(ChannelError::permanent(
            "an agentless attempt may have opened a conversation herald does not know; cannot be sure it was not sent",
        ));
    }
    Ok(None)
}

async fn find_in(
    inner: &Inner,
    session: &Session,
    text: &str,
    since: chrono::DateTime<chrono::Utc>,
    mode: DeliveryMode,
) -> Result<Option<Receipt>, ChannelError> {
    let conv = &session.conversation_id;
    let listing = inner.channel.client.get_message_conversation(conv).await?.body;
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
            let data = inner.channel.client.get_message(conv, id).await?.body;
            let sent = data.normalized_message.as_ref().and_then(|n| n.text.clone()).or(data.text_body.clone());
            if sent.as_deref() == Some(text) {
                let route = if purpose == "api" || mode == DeliveryMode::Agentless { "agentless" } else { "agent" };
                return Ok(Some(Receipt {
                    upstream_message_id: Some(id.clone()),
                    conversation_id: Some(conv.clone()),
                    route: route.into(),
                    delivered_at: at,
                }));
            }
        }
    }
    Ok(None)
}
