//! Ingestion: `…conversations.chats` frames of the notification stream → session events.
//!
//! - A frame of a `v2.routing.queues.{id}.conversations.chats` or `v2.users.{id}.conversations.chats` topic is
//!   mapped onto the session known before (cache, else store) by the herald-genesys session mapper, with chat as
//!   the default media (chat event bodies carry no media marker).
//! - Chat event bodies carry no communication ids. When an agent is connected and herald does not know the
//!   agent's chat communication id, the conversation is fetched once (`GET /api/v2/conversations/{id}`, whose
//!   `participants[].chats[].id` are the communication ids) and that session is published, so the store holds
//!   everything a delivery needs. The customer's chat communication id (the guest's member id) is learned the
//!   same way and becomes `customer.guest_id`.
//! - On `Gap` (first connection, reconnect after a drop, token revocation, `socket_closing`) every session the
//!   store and the cache believe open is fetched again and published; a chat Genesys no longer knows is closed.
//!   Chats that started *and* ended inside a gap are not recovered (there is no chat analytics fallback).
//! - Malformed frames are logged and skipped; nothing in a frame can stop the loop.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use herald_core::{ChannelError, Session, SessionQuery, SessionState};
use herald_genesys::sessions::{apply_conversation, conversation_id, SessionChange};
use herald_genesys::{NotificationStream, StreamEvent};
use serde_json::Value;

use crate::adapter::Inner;

/// Runs until the stream stops or the integration shuts down.
pub(crate) async fn run(inner: Arc<Inner>, mut stream: NotificationStream) {
    loop {
        let event = tokio::select! {
            _ = inner.cancel.cancelled() => break,
            e = stream.recv() => e,
        };
        match event {
            Some(StreamEvent::Frame { topic, body, .. }) => handle_frame(&inner, &topic, &body).await,
            Some(StreamEvent::Gap { reason }) => resync(&inner, &reason).await,
            Some(StreamEvent::Connected { channel_id }) => tracing::debug!(%channel_id, "stream connected"),
            Some(StreamEvent::Stopped) | None => break,
        }
    }
    stream.stop();
    tracing::info!("web chat ingestion stopped");
}

/// Maps and publishes one frame; never fails (problems are logged).
pub(crate) async fn handle_frame(inner: &Inner, topic: &str, body: &Value) {
    if !topic.ends_with(".conversations.chats") {
        tracing::debug!(%topic, "ignored a frame of an unexpected topic");
        return;
    }
    let Some(id) = conversation_id(body).map(str::to_string) else {
        tracing::warn!(%topic, "skipped a chat frame without an `id`");
        return;
    };
    let previous = match inner.known_session(&id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(conversation = %id, error = %e, "could not read the known session; mapping without it");
            inner.cache.lock().get(&id).cloned()
        }
    };
    let change = match apply_conversation(previous.as_ref(), body, &inner.mapper, Utc::now()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%topic, conversation = %id, error = %e, "skipped a malformed chat frame");
            return;
        }
    };
    let change = complete(inner, change).await;
    inner.publish(change).await;
}

/// Whether the session lacks an id a delivery needs: the connected agent's communication, or the customer's
/// communication (the guest member id).
fn lacks_ids(session: &Session) -> bool {
    if !session.is_open() {
        return false;
    }
    let agent_missing = session.connected_agent().is_some() && session.agent_communication_id().is_none();
    let guest_missing = session.customer.guest_id.is_none();
    agent_missing || guest_missing
}

/// Fetches the communication ids a chat body lacks, keeping the change's kind.
async fn complete(inner: &Inner, change: SessionChange) -> SessionChange {
    if !lacks_ids(change.session()) {
        return change;
    }
    let id = change.session().conversation_id.clone();
    match inner.fetch_change(&id, Some(change.session())).await {
        Ok(fetched) => {
            let session = fetched.session().clone();
            match change {
                SessionChange::Opened(_) => SessionChange::Opened(session),
                _ if session.state == SessionState::Closed => SessionChange::Closed(session),
                SessionChange::Closed(_) => SessionChange::Closed(session),
                _ => SessionChange::Updated(session),
            }
        }
        Err(e) => {
            tracing::warn!(conversation = %id, error = %e, "could not fetch chat communication ids; deliveries will ask again");
            change
        }
    }
}

/// Re-reads every session believed open (store and cache) and publishes what changed.
pub(crate) async fn resync(inner: &Inner, reason: &str) {
    let Some(rt) = inner.runtime.get() else { return };
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for state in [SessionState::Queued, SessionState::Connected] {
        let q = SessionQuery { integration: Some(inner.name.clone()), state: Some(state), ..Default::default() };
        match rt.ctx.sessions.query(&q).await {
            Ok(found) => ids.extend(found.into_iter().map(|s| s.conversation_id)),
            Err(e) => tracing::warn!(error = %e, "resync could not query the session store"),
        }
    }
    ids.extend(inner.cache.lock().keys().cloned());
    tracing::info!(reason, sessions = ids.len(), "resynchronising chats after a gap in the stream");
    for id in ids {
        if inner.cancel.is_cancelled() {
            return;
        }
        let previous = inner.known_session(&id).await.ok().flatten();
        match inner.fetch_change(&id, previous.as_ref()).await {
            Ok(change) => inner.publish(change).await,
            Err(ChannelError::NotFound { .. }) => {
                if let Some(mut s) = previous.filter(Session::is_open) {
                    s.state = SessionState::Closed;
                    s.closed_at = Some(Utc::now());
                    s.updated_at = Utc::now();
                    inner.publish(SessionChange::Closed(s)).await;
                }
            }
            Err(e) => tracing::warn!(conversation = %id, error = %e, "resync could not fetch a chat"),
        }
    }
}
