//! Herald never triggers its own rules: the marks of what herald delivered, and the check the engine makes.
//!
//! The demo's failure: herald's agentless follow-up reached a customer whose conversation had ended, Genesys
//! routed the conversation into the queue again, and a minute later herald's queue-wait rule greeted the customer
//! as if they had been waiting for an agent. The stream cannot tell who put a conversation in queue, so herald
//! remembers what it sent:
//!
//! - [`MarkingOutbox`] wraps the outbox the dispatcher writes to. When a notification becomes `delivered` and its
//!   receipt names a conversation, it records in the state store (namespace [`NAMESPACE`], key
//!   the conversation id) the send window `[attempt started, delivered]` of that message. Conversation ids are
//!   unique upstream, so the mark does not depend on which integration delivered or which one reports the episode.
//! - Before a rule fires for an event that carries a session, the engine asks [`EchoMarks::began_with_herald`]:
//!   did the episode the event is about (the waiting episode for `queue_wait_exceeded`, the conversation itself for
//!   `session_opened`) begin inside one of herald's send windows (± [`CLOCK_SKEW_SECS`], Genesys' clock against
//!   ours)? If so the rule does not fire. An episode's start is taken both from the session (`queued_at`,
//!   `opened_at`) and from when herald saw it begin (the event's time): a conversation re-opened into the queue by
//!   an agentless message can carry the `queued_at` of its earlier routing.
//!
//! The check runs when the rule would fire, so for queue-wait rules (which fire `wait_secs` after the episode
//! began) the delivery is long recorded. A `session_opened` rule can see the event before the delivery is
//! recorded (the stream can be faster than the send's answer); that race is not covered.
//! A message herald sent into a conversation during a waiting episode (a first greeting, say) does not make the
//! episode herald's: only a message whose send window contains the episode's start does.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use herald_core::{
    CasOutcome, Enqueued, Notification, NotificationStatus, Outbox, OutboxFilter, OutboxRecord, StateStore, StoreError,
    Transition,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The namespace of send marks.
pub const NAMESPACE: &str = "herald.sent";
/// Allowed difference between Genesys' timestamps and herald's clock.
pub const CLOCK_SKEW_SECS: i64 = 5;
/// How long a send mark is kept: the longest messaging threading window (72 h).
pub const MARK_TTL_HOURS: i64 = 72;
/// Send windows kept per conversation (the newest).
const MAX_WINDOWS: usize = 16;
/// Compare-and-set retries on a contended mark.
const MAX_CAS_RETRIES: usize = 16;

/// When herald sent one message: from the start of the attempt that delivered it to the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendWindow {
    /// The attempt began (recorded before the request left).
    pub from: DateTime<Utc>,
    /// The delivery was recorded (or the upstream's own timestamp of the message).
    pub to: DateTime<Utc>,
}

/// Herald's send marks over a state store; cheap to clone.
#[derive(Clone)]
pub struct EchoMarks {
    store: Arc<dyn StateStore>,
}

impl EchoMarks {
    /// Marks kept in `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        EchoMarks { store }
    }

    /// Record that herald sent a message into `conversation` within `window`.
    pub async fn record(&self, conversation: &str, window: SendWindow) -> Result<(), StoreError> {
        let key = conversation;
        let now = Utc::now();
        for _ in 0..MAX_CAS_RETRIES {
            let current = self.store.get(NAMESPACE, key, now).await?;
            let (expected, mut windows) = match current {
                Some(e) => (Some(e.version), serde_json::from_value::<Vec<SendWindow>>(e.value).unwrap_or_default()),
                None => (None, Vec::new()),
            };
            windows.push(window);
            windows.sort_by_key(|w| w.from);
            if windows.len() > MAX_WINDOWS {
                windows.drain(..windows.len() - MAX_WINDOWS);
            }
            let value = serde_json::to_value(&windows).map_err(|e| StoreError::Backend(e.to_string()))?;
            let expires = now + Duration::hours(MARK_TTL_HOURS);
            match self.store.compare_and_set(NAMESPACE, key, expected, value, Some(expires), now).await? {
                CasOutcome::Written(_) => return Ok(()),
                CasOutcome::Conflict(_) => continue,
            }
        }
        Err(StoreError::Backend(format!("send mark `{key}` stayed contended")))
    }

    /// Whether an episode of `conversation` that began at any of `starts` began inside one of herald's send
    /// windows.
    pub async fn began_with_herald(&self, conversation: &str, starts: &[DateTime<Utc>]) -> Result<bool, StoreError> {
        let Some(entry) = self.store.get(NAMESPACE, conversation, Utc::now()).await? else {
            return Ok(false);
        };
        let windows: Vec<SendWindow> = serde_json::from_value(entry.value).unwrap_or_default();
        let skew = Duration::seconds(CLOCK_SKEW_SECS);
        Ok(starts.iter().any(|start| windows.iter().any(|w| w.from - skew <= *start && *start <= w.to + skew)))
    }

    /// Record the send of a delivered record (no-op for one whose receipt names no conversation).
    async fn record_delivered(&self, record: &OutboxRecord) {
        let Some(receipt) = &record.receipt else { return };
        let Some(conversation) = receipt.conversation_id.as_deref().filter(|c| !c.is_empty()) else { return };
        let delivered = record.history.last().map_or(receipt.delivered_at, |c| c.at).max(receipt.delivered_at);
        let from = record
            .history
            .iter()
            .rev()
            .find(|c| c.status == NotificationStatus::Attempting)
            .map_or(record.notification.created_at, |c| c.at);
        let window = SendWindow { from: from.min(delivered), to: delivered };
        if let Err(e) = self.record(conversation, window).await {
            tracing::warn!(notification = %record.id(), conversation, error = %e,
                "could not record herald's own message; a rule may take it for a customer's");
        }
    }
}

/// An [`Outbox`] that records herald's deliveries as send marks ([`EchoMarks`]) and otherwise passes every call
/// through. The service gives the dispatcher this wrapper around the store's outbox.
///
/// The mark is written in the background, so a delivery's transition returns as fast as before (the dispatcher's
/// next send in the conversation does not wait for a second store write); it is needed only when a rule would fire,
/// at the earliest `wait_secs` later. A crash between the delivery and its mark loses the mark.
pub struct MarkingOutbox {
    inner: Arc<dyn Outbox>,
    marks: EchoMarks,
    pending: tokio_util::task::TaskTracker,
}

impl MarkingOutbox {
    /// Wrap `inner`, recording marks in `state`.
    pub fn new(inner: Arc<dyn Outbox>, state: Arc<dyn StateStore>) -> Self {
        MarkingOutbox { inner, marks: EchoMarks::new(state), pending: tokio_util::task::TaskTracker::new() }
    }

    /// Wait until every mark of the deliveries recorded so far is written (tests; shutdown).
    pub async fn settled(&self) {
        self.pending.close();
        self.pending.wait().await;
        self.pending.reopen();
    }
}

#[async_trait]
impl Outbox for MarkingOutbox {
    async fn enqueue(&self, notification: Notification) -> Result<Enqueued, StoreError> {
        self.inner.enqueue(notification).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
        self.inner.get(id).await
    }

    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<OutboxRecord>, StoreError> {
        self.inner.get_by_idempotency_key(key).await
    }

    async fn transition(&self, id: Uuid, transition: Transition) -> Result<OutboxRecord, StoreError> {
        let delivered = transition.status == NotificationStatus::Delivered;
        let record = self.inner.transition(id, transition).await?;
        if delivered {
            let (marks, delivered) = (self.marks.clone(), record.clone());
            self.pending.spawn(async move { marks.record_delivered(&delivered).await });
        }
        Ok(record)
    }

    async fn unfinished(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        self.inner.unfinished(after_seq, limit).await
    }

    async fn deferred_for(&self, integration: &str, customer: &str) -> Result<Vec<OutboxRecord>, StoreError> {
        self.inner.deferred_for(integration, customer).await
    }

    async fn list(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError> {
        self.inner.list(filter).await
    }

    async fn attributed(&self, integration: &str, upstream_message_id: &str) -> Result<Option<Uuid>, StoreError> {
        self.inner.attributed(integration, upstream_message_id).await
    }

    async fn purge_final(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        self.inner.purge_final(before).await
    }
}
