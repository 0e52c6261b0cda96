//! `confirm_delivery`: after a crash, did an interrupted chat send reach Genesys?
//!
//! Chat sends take no idempotency key, but a chat's messages can be listed
//! (`GET /api/v2/conversations/chats/{id}/messages?maxResults=100&sortOrder=descending`). The check resolves the
//! target's chat as a delivery would, renders the body the attempt would have sent, and looks for a message with
//! that body sent on an agent communication (not the customer's) at or after `previous_attempt_at` minus
//! [`CLOCK_SKEW`]:
//!
//! - found → `Ok(Some(receipt))` (the dispatcher records it as delivered; nothing is sent twice);
//! - the listing reaches back before the attempt and holds no such message → `Ok(None)` (certainly not sent);
//! - anything else (listing incomplete, chat unreadable) → `Err`: the dispatcher falls back to at-least-once.

use chrono::{DateTime, Duration, Utc};
use herald_core::{ChannelError, Delivery, Receipt};
use herald_genesys::client::seg;
use herald_genesys::errors::ErrorContext;
use herald_genesys::models::chat::WebChatMessage;
use herald_genesys::models::EntityListing;

use crate::adapter::Inner;
use crate::content::render;
use crate::resolve::resolve;

/// Tolerated difference between herald's clock and Genesys' message times.
pub const CLOCK_SKEW: Duration = Duration::seconds(5);

/// Messages one listing returns at most.
const PAGE: usize = 100;

fn time(m: &WebChatMessage) -> Option<DateTime<Utc>> {
    m.timestamp.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// Looks for the attempt upstream (see the module docs).
pub(crate) async fn confirm(inner: &Inner, delivery: &Delivery) -> Result<Option<Receipt>, ChannelError> {
    let Some(since) = delivery.previous_attempt_at else {
        return Ok(None);
    };
    let since = since - CLOCK_SKEW;
    let session = resolve(inner, &delivery.notification.target).await?;
    let text = render(inner, &delivery.notification.content, &session).await?;
    let customer_comms: Vec<&str> = session
        .participants
        .iter()
        .filter(|p| p.purpose == "customer")
        .flat_map(|p| p.communications.iter().map(|c| c.id.as_str()))
        .collect();
    let conv = &session.conversation_id;
    let path = format!("/api/v2/conversations/chats/{}/messages?maxResults={PAGE}&sortOrder=descending", seg(conv));
    let listing: EntityListing<WebChatMessage> =
        inner.channel.client.get(&path, &ErrorContext::entity("conversation", conv.clone())).await?.body;
    let messages = listing.entities;
    let found = messages.iter().find(|m| {
        let from_customer =
            m.sender.as_ref().and_then(|s| s.id.as_deref()).is_some_and(|id| customer_comms.contains(&id));
        m.body.as_deref() == Some(text.as_str()) && !from_customer && time(m).is_some_and(|t| t >= since)
    });
    if let Some(m) = found {
        return Ok(Some(Receipt {
            upstream_message_id: m.id.clone(),
            conversation_id: Some(conv.clone()),
            route: "chat".into(),
            delivered_at: time(m).unwrap_or_else(Utc::now),
        }));
    }
    let reaches_back = messages.len() < PAGE || messages.last().and_then(time).is_some_and(|t| t < since);
    if reaches_back {
        Ok(None)
    } else {
        Err(ChannelError::permanent(format!(
            "chat `{conv}` has more than {PAGE} messages since the interrupted attempt; cannot tell whether it was sent"
        )))
    }
}
