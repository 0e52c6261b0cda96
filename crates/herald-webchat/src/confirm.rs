//! `confirm_delivery`: did a chat send whose outcome is unknown (a timeout, a reset, a crash) reach Genesys?
//!
//! Chat sends take no idempotency key, but a chat's messages can be listed
//! (`GET /api/v2/conversations/chats/{id}/messages?maxResults=100&sortOrder=descending`, older pages with
//! `before={oldest message id}`). The check resolves the target's chat as a delivery would, renders the body the
//! attempt would have sent, and returns **every** message with that body sent on a communication that is not
//! the customer's at or after `previous_attempt_at` minus [`CLOCK_SKEW`], oldest first, each receipt naming the
//! message id and the chat; the dispatcher takes the first one not attributed to another notification.
//!
//! - the listing reaches back before the attempt: the answer is complete (empty = certainly not sent);
//! - the listing cannot reach back (more than [`MAX_PAGES`] pages since the attempt, or the upstream ignores
//!   `before` and repeats a page) or the chat is unreadable → `Err`: the dispatcher checks again later and never
//!   re-sends on it.

use std::collections::HashSet;

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

/// Pages read back at most (2,000 messages since the attempt).
pub const MAX_PAGES: usize = 20;

fn time(m: &WebChatMessage) -> Option<DateTime<Utc>> {
    m.timestamp.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// Looks for the attempt upstream (see the module docs).
pub(crate) async fn confirm(inner: &Inner, delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
    let Some(since) = delivery.previous_attempt_at else {
        return Ok(Vec::new());
    };
    let since = since - CLOCK_SKEW;
    let session = match resolve(inner, &delivery.notification.target).await {
        Ok(s) => s,
        // A chat neither herald nor Genesys knows holds no message of the attempt.
        Err(ChannelError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let text = render(inner, &delivery.notification.content, &session).await?;
    let customer_comms: HashSet<&str> = session
        .participants
        .iter()
        .filter(|p| p.purpose == "customer")
        .flat_map(|p| p.communications.iter().map(|c| c.id.as_str()))
        .collect();
    let conv = &session.conversation_id;
    let mut found = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut before: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut path =
            format!("/api/v2/conversations/chats/{}/messages?maxResults={PAGE}&sortOrder=descending", seg(conv));
        if let Some(b) = &before {
            path.push_str(&format!("&before={}", seg(b)));
        }
        let listing: EntityListing<WebChatMessage> =
            inner.channel.client.get(&path, &ErrorContext::entity("conversation", conv.clone())).await?.body;
        let messages = listing.entities;
        let mut progressed = false;
        for m in &messages {
            let Some(id) = m.id.clone() else { continue };
            if !seen.insert(id.clone()) {
                continue;
            }
            progressed = true;
            let from_customer =
                m.sender.as_ref().and_then(|s| s.id.as_deref()).is_some_and(|id| customer_comms.contains(id));
            let Some(at) = time(m) else { continue };
            if m.body.as_deref() == Some(text.as_str()) && !from_customer && at >= since {
                found.push(Receipt {
                    upstream_message_id: Some(id),
                    conversation_id: Some(conv.clone()),
                    route: "chat".into(),
                    delivered_at: at,
                });
            }
        }
        let reaches_back = messages.len() < PAGE || messages.iter().filter_map(time).any(|t| t < since);
        if reaches_back {
            found.sort_by_key(|r| r.delivered_at);
            return Ok(found);
        }
        if !progressed {
            break;
        }
        before = messages.last().and_then(|m| m.id.clone());
    }
    Err(ChannelError::permanent(format!(
        "chat `{conv}` has more messages since the interrupted attempt than herald can list back; cannot tell \
         whether it was sent"
    )))
}
