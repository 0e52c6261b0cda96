//! Delivery: one notification into a live chat, as the agent.
//!
//! 1. The content is prechecked (empty ids, plain text over 4,000 characters → `Invalid` naming the field).
//! 2. The target is resolved to a chat session ([`crate::resolve`]).
//! 3. By the session's state:
//!    - **closed** → `TargetClosed{conversation_id, customer, reason}`; the dispatcher applies the integration's
//!      policy (`defer` keeps it for the customer's next chat, `fail` fails it; web chat has no agentless send);
//!    - **queued** (no agent connected yet) → `Transient`: legacy chat has no way to write before an agent joins,
//!      so the dispatcher retries with backoff until an agent connects or `max_attempts` is reached;
//!    - **connected** → the content is rendered (canned responses with their substitutions) and posted with
//!      `POST /api/v2/conversations/chats/{cId}/communications/{agentCommId}/messages` `{body, bodyType}`, on the
//!      connected agent's chat communication id (`participants[].chats[].id`). The receipt names the
//!      `WebChatMessage` id.
//! 4. When Genesys says the communication is disconnected or unknown (a transfer, or a close herald has not seen
//!    yet), the chat is read again once and the send retried on the new agent communication, or reported closed.

use chrono::Utc;
use herald_core::{ChannelError, Delivery, DeliveryMode, Receipt, Session, SessionState, Target};
use herald_genesys::models::chat::ChatMessageRequest;

use crate::adapter::Inner;
use crate::content::{precheck, render};
use crate::resolve::resolve;

/// Delivers one notification (see the module docs).
pub(crate) async fn deliver(inner: &Inner, delivery: &Delivery) -> Result<Receipt, ChannelError> {
    if delivery.mode == DeliveryMode::Agentless {
        return Err(ChannelError::permanent(
            "legacy web chat has no agentless send; use the closed-session policy defer or fail for webchat \
             integrations (or move the deployment to web messaging)",
        ));
    }
    let notification = &delivery.notification;
    precheck(&notification.content)?;
    let session = resolve(inner, &notification.target).await?;
    let mut session = match session.state {
        SessionState::Closed => return Err(closed(&notification.target, &session, "the chat has ended".into())),
        SessionState::Queued => {
            // The store may lag behind the stream; ask Genesys before making the caller wait.
            let fresh = inner.channel.fetch_for_delivery(&session.conversation_id, Some(&session)).await?;
            match fresh.state {
                SessionState::Connected => fresh,
                SessionState::Closed => return Err(closed(&notification.target, &fresh, "the chat has ended".into())),
                SessionState::Queued => {
                    return Err(ChannelError::transient(format!(
                        "chat `{}` is still waiting in queue with no agent connected; a chat message can only be \
                         sent once an agent has joined — retrying",
                        fresh.conversation_id
                    )))
                }
            }
        }
        SessionState::Connected => session,
    };
    let text = render(inner, &notification.content, &session).await?;
    let request = ChatMessageRequest { body: text, body_type: Some(inner.settings.body_type.upstream()) };
    let mut looked_again = false;
    loop {
        let comm = match session.agent_communication_id() {
            Some(c) => c.to_string(),
            None if !looked_again => {
                looked_again = true;
                session = inner.channel.fetch_for_delivery(&session.conversation_id, Some(&session)).await?;
                continue;
            }
            None => return Err(not_sendable(&notification.target, &session)),
        };
        let conv = session.conversation_id.clone();
        match inner.channel.client.send_chat_message(&conv, &comm, &request).await {
            Ok(resp) => {
                let msg = resp.body;
                return Ok(Receipt {
                    upstream_message_id: msg.id,
                    conversation_id: Some(msg.conversation.and_then(|c| c.id).unwrap_or(conv)),
                    route: "chat".into(),
                    delivered_at: msg
                        .timestamp
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or_else(Utc::now),
                });
            }
            Err(e @ (ChannelError::TargetClosed { .. } | ChannelError::NotFound { .. })) if !looked_again => {
                looked_again = true;
                let fresh = match inner.channel.fetch_for_delivery(&conv, Some(&session)).await {
                    Ok(s) => s,
                    Err(ChannelError::NotFound { .. }) => return Err(with_customer(e, &notification.target, &session)),
                    Err(other) => return Err(other),
                };
                if fresh.state == SessionState::Closed {
                    return Err(closed(
                        &notification.target,
                        &fresh,
                        format!("the chat has ended; Genesys answered: {e}"),
                    ));
                }
                if fresh.agent_communication_id() == Some(comm.as_str()) || fresh.state != SessionState::Connected {
                    return Err(with_customer(e, &notification.target, &fresh));
                }
                session = fresh;
            }
            Err(e) => return Err(with_customer(e, &notification.target, &session)),
        }
    }
}

/// The error for a session whose agent communication cannot be found even after reading the chat again.
fn not_sendable(target: &Target, session: &Session) -> ChannelError {
    match session.state {
        SessionState::Closed => closed(target, session, "the chat has ended".into()),
        _ => ChannelError::transient(format!(
            "no connected agent chat communication in conversation `{}` (the agent may be joining or transferring); \
             retrying",
            session.conversation_id
        )),
    }
}

/// The customer a deferred notification should wait for: the targeted customer, else the session's best id.
fn customer_for(target: &Target, session: &Session) -> Option<String> {
    match target {
        Target::Customer { id } => Some(id.clone()),
        _ => session.customer.primary().map(str::to_string),
    }
}

/// `TargetClosed` for `session`, saying whether a deferral can ever be released.
pub(crate) fn closed(target: &Target, session: &Session, reason: String) -> ChannelError {
    let customer = customer_for(target, session);
    let c = &session.customer;
    let follows =
        c.external_contact_id.is_some() || c.customer_key.is_some() || matches!(target, Target::Customer { .. });
    let note = if follows {
        String::new()
    } else {
        "; note: this chat's customer is known only by the guest member id, which is new in every chat, so a \
         deferred notification is released only if that id appears again — set `customer_key_attribute` to a \
         participant attribute (chat custom field) that identifies the customer across chats"
            .to_string()
    };
    ChannelError::TargetClosed {
        conversation_id: session.conversation_id.clone(),
        customer,
        reason: format!("{reason}{note}"),
    }
}

/// Adds the customer to a `TargetClosed` coming from the client (which does not know it).
fn with_customer(e: ChannelError, target: &Target, session: &Session) -> ChannelError {
    match e {
        ChannelError::TargetClosed { reason, .. } => closed(target, session, reason),
        other => other,
    }
}
