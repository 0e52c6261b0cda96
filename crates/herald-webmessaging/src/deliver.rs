//! One delivery: resolve the target, render the content, and send it the way the conversation's state allows.
//!
//! | state of the conversation | what happens |
//! |---|---|
//! | connected agent | `POST /api/v2/conversations/messages/{cId}/communications/{agentCommId}/messages` `{textBody}` → route `agent` |
//! | queued (customer waiting, no agent) | agentless with `useExistingActiveConversation: true` into the waiting conversation (needs the external contact id and a deployment id) → route `agentless`; otherwise `Transient` ("no agent connected yet") so the dispatcher retries |
//! | closed (store, GET, or a "disconnected" answer to the send) | `TargetClosed{conversation_id, customer, reason}`: the dispatcher applies the closed-session policy |
//!
//! Why agentless for a queued conversation: the agent-side send needs an agent's connected communication, which
//! does not exist while the customer waits; the agentless API with `useExistingActiveConversation` is the one
//! Platform call that puts a message into that waiting conversation (it adds an `api` participant), so a
//! greeting or "we are busy" notice reaches a waiting web messaging customer at once.
//!
//! `DeliveryMode::Agentless` (the closed-session policy `agentless`) always uses
//! `POST /api/v2/conversations/messages/agentless` with `fromAddress` = deployment id and the external contact
//! of the session (or the customer target's id).

use chrono::Utc;
use herald_core::{ChannelError, Delivery, DeliveryMode, Receipt, Session, SessionState, Target};
use herald_genesys::models::messaging::{AdditionalMessage, AgentlessRequest};
use tracing::Instrument;

use crate::adapter::Inner;
use crate::content::{check_text, messenger_of, precheck, render};
use crate::resolve;

/// Delivers one notification (see the module docs); records the outcome for health.
pub(crate) async fn deliver(inner: &Inner, delivery: &Delivery) -> Result<Receipt, ChannelError> {
    let n = &delivery.notification;
    let span = tracing::info_span!(
        "webmessaging_deliver",
        integration = %inner.channel.name,
        notification = %n.id,
        target = %n.target,
        mode = ?delivery.mode,
        attempt = delivery.attempt,
    );
    let result = async {
        precheck(&n.content)?;
        match delivery.mode {
            DeliveryMode::Normal => deliver_normal(inner, delivery).await,
            DeliveryMode::Agentless => deliver_agentless(inner, delivery).await,
        }
    }
    .instrument(span.clone())
    .await;
    let _enter = span.enter();
    match &result {
        Ok(r) => {
            tracing::info!(route = %r.route, conversation = ?r.conversation_id, message = ?r.upstream_message_id, "delivered");
            inner.stats.record_ok();
        }
        Err(e) => {
            tracing::info!(class = e.class().as_str(), correlation_id = ?e.correlation_id(), error = %e, "delivery failed");
            inner.stats.record_err(e);
        }
    }
    result
}

/// The customer a closed conversation's notification should wait for: the targeted customer, else the session's.
fn customer_for(target: &Target, session: &Session) -> Option<String> {
    match target {
        Target::Customer { id } => Some(id.clone()),
        _ => session.customer.primary().map(str::to_string),
    }
}

fn closed(target: &Target, session: &Session, reason: impl Into<String>) -> ChannelError {
    ChannelError::TargetClosed {
        conversation_id: session.conversation_id.clone(),
        customer: customer_for(target, session),
        reason: reason.into(),
    }
}

fn closed_reason(session: &Session) -> String {
    match session.closed_at {
        Some(at) => format!("every participant had disconnected at {}", at.to_rfc3339()),
        None => "every participant has disconnected".to_string(),
    }
}

async fn deliver_normal(inner: &Inner, delivery: &Delivery) -> Result<Receipt, ChannelError> {
    let target = &delivery.notification.target;
    let mut session = resolve::resolve(inner, target).await?;
    if session.state != SessionState::Closed && session.agent_communication_id().is_none() {
        // The stream's message-media bodies carry no communication ids, and a queued session may have been
        // answered since the store last heard: ask Genesys once.
        session = inner.channel.fetch_for_delivery(&session.conversation_id, Some(&session)).await?;
    }
    match session.state {
        SessionState::Closed => Err(closed(target, &session, closed_reason(&session))),
        SessionState::Queued => send_queued(inner, delivery, &session).await,
        SessionState::Connected => send_as_agent(inner, delivery, session).await,
    }
}

async fn send_as_agent(inner: &Inner, delivery: &Delivery, mut session: Session) -> Result<Receipt, ChannelError> {
    let target = &delivery.notification.target;
    let text = render(inner, &delivery.notification.content, &session).await?;
    let messenger = messenger_of(&session);
    check_text(&text, &messenger)?;
    let message = AdditionalMessage::text(text);
    let mut retried = false;
    loop {
        let Some(comm) = session.agent_communication_id().map(str::to_string) else {
            return match session.state {
                SessionState::Closed => Err(closed(target, &session, closed_reason(&session))),
                _ => Err(ChannelError::transient(format!(
                    "no agent is connected to conversation `{}` yet; retrying",
                    session.conversation_id
                ))),
            };
        };
        let conv = session.conversation_id.clone();
        match inner.channel.client.send_message(&conv, &comm, &message, &messenger).await {
            Ok(resp) => {
                return Ok(Receipt {
                    upstream_message_id: resp.body.id,
                    conversation_id: Some(resp.body.conversation_id.unwrap_or(conv)),
                    route: "agent".into(),
                    delivered_at: resp.body.timestamp.unwrap_or_else(Utc::now),
                })
            }
            // The communication may be stale (transfer, or a close herald has not seen): look again, once.
            Err(e @ (ChannelError::TargetClosed { .. } | ChannelError::NotFound { .. })) if !retried => {
                retried = true;
                let fresh = match inner.channel.fetch_for_delivery(&conv, Some(&session)).await {
                    Ok(s) => s,
                    Err(ChannelError::NotFound { .. }) => return Err(with_customer(e, target, &session)),
                    Err(other) => return Err(other),
                };
                let same_comm = fresh.agent_communication_id() == Some(comm.as_str());
                if fresh.state == SessionState::Closed {
                    return Err(closed(target, &fresh, format!("{}; Genesys answered: {e}", closed_reason(&fresh))));
                }
                if same_comm || fresh.state != SessionState::Connected {
                    return Err(with_customer(e, target, &fresh));
                }
                session = fresh;
            }
            Err(e) => return Err(with_customer(e, target, &session)),
        }
    }
}

/// Adds the customer to a `TargetClosed` coming from the client (which does not know it).
fn with_customer(e: ChannelError, target: &Target, session: &Session) -> ChannelError {
    match e {
        ChannelError::TargetClosed { conversation_id, customer: None, reason } => {
            ChannelError::TargetClosed { conversation_id, customer: customer_for(target, session), reason }
        }
        other => other,
    }
}

async fn send_queued(inner: &Inner, delivery: &Delivery, session: &Session) -> Result<Receipt, ChannelError> {
    let contact = session.customer.external_contact_id.clone();
    let deployment = session.deployment_id.clone().or_else(|| Some(inner.settings.deployment_id.clone()));
    let (Some(contact), Some(deployment)) = (contact, deployment.filter(|d| !d.trim().is_empty())) else {
        return Err(ChannelError::transient(format!(
            "no agent connected yet to conversation `{}` and the customer has no external contact id for an \
             agentless message; retrying until an agent joins",
            session.conversation_id
        )));
    };
    let text = render(inner, &delivery.notification.content, session).await?;
    send_agentless(inner, &deployment, &contact, text).await
}

async fn deliver_agentless(inner: &Inner, delivery: &Delivery) -> Result<Receipt, ChannelError> {
    let target = &delivery.notification.target;
    let session = match resolve::resolve(inner, target).await {
        Ok(s) => Some(s),
        Err(ChannelError::NotFound { .. }) if matches!(target, Target::Customer { .. }) => None,
        Err(e) => return Err(e),
    };
    let contact = session
        .as_ref()
        .and_then(|s| s.customer.external_contact_id.clone())
        .or_else(|| match target {
            Target::Customer { id } => Some(id.clone()),
            _ => None,
        })
        .ok_or_else(|| {
            ChannelError::invalid(
                "target",
                "leads to a conversation without an external contact id, which an agentless web message needs",
                "target the customer by external contact id, or use the closed-session policy defer",
            )
        })?;
    let deployment =
        session.as_ref().and_then(|s| s.deployment_id.clone()).unwrap_or_else(|| inner.settings.deployment_id.clone());
    let empty;
    let for_render = match &session {
        Some(s) => s,
        None => {
            empty = Session::new("", inner.channel.name.clone(), herald_core::MediaKind::WebMessaging, Utc::now());
            &empty
        }
    };
    let text = render(inner, &delivery.notification.content, for_render).await?;
    send_agentless(inner, &deployment, &contact, text).await
}

async fn send_agentless(inner: &Inner, deployment: &str, contact: &str, text: String) -> Result<Receipt, ChannelError> {
    let mut request = AgentlessRequest::webmessaging(deployment, contact, text);
    request.use_existing_active_conversation = Some(true);
    let resp = inner.channel.client.send_agentless(&request).await?;
    let body = resp.body;
    let message_id = body.id.clone().or_else(|| body.message.as_ref().and_then(|m| m.id.clone()));
    Ok(Receipt {
        upstream_message_id: message_id,
        conversation_id: body
            .conversation_id
            .clone()
            .or_else(|| body.message.as_ref().and_then(|m| m.conversation_id.clone())),
        route: "agentless".into(),
        delivered_at: body.timestamp.unwrap_or_else(Utc::now),
    })
}
