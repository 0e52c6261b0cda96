//! In-memory backends: [`MemorySessionStore`] and [`MemoryOutbox`].
//!
//! They keep everything in hash maps behind `parking_lot` locks and answer queries by scanning, which is fine for
//! unit tests and small demos. They are also the *reference semantics*: the helpers at the bottom of this module
//! (what matches a query, what order results come in, what a purge removes) are shared with the sled backend, and
//! the [conformance suite](crate::store::conformance) checks every backend against the same expectations.
//! Nothing here survives a restart.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::{Mutex, RwLock};
use uuid::Uuid;

use crate::error::StoreError;
use crate::notification::{Notification, NotificationStatus, OutboxRecord, Transition};
use crate::session::{Session, SessionState};
use crate::store::{page_size, Enqueued, Outbox, OutboxFilter, SessionQuery, SessionStore, MAX_PAGE};

/// Sessions in a hash map. Cheap to clone: clones share the same map.
#[derive(Debug, Clone, Default)]
pub struct MemorySessionStore {
    sessions: Arc<RwLock<HashMap<String, Session>>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn upsert(&self, session: Session) -> Result<(), StoreError> {
        self.sessions.write().insert(session.conversation_id.clone(), session);
        Ok(())
    }

    async fn get(&self, conversation_id: &str) -> Result<Option<Session>, StoreError> {
        Ok(self.sessions.read().get(conversation_id).cloned())
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<Session>, StoreError> {
        let mut found: Vec<Session> =
            self.sessions.read().values().filter(|s| session_matches(s, query)).cloned().collect();
        found.sort_by(newest_activity_first);
        found.truncate(page_size(query.limit));
        Ok(found)
    }

    async fn purge_closed(&self, closed_before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut sessions = self.sessions.write();
        let before = sessions.len();
        sessions.retain(|_, s| !session_purgeable(s, closed_before));
        Ok(before - sessions.len())
    }

    async fn len(&self) -> Result<usize, StoreError> {
        Ok(self.sessions.read().len())
    }
}

/// Outbox records in a hash map. Cheap to clone: clones share the same state. `enqueue` and `transition` return
/// at once (there is no disk).
#[derive(Debug, Clone, Default)]
pub struct MemoryOutbox {
    state: Arc<Mutex<OutboxState>>,
}

#[derive(Debug, Default)]
struct OutboxState {
    records: HashMap<Uuid, OutboxRecord>,
    by_idempotency_key: HashMap<String, Uuid>,
    /// (integration, upstream message id) → the notification it was attributed to.
    attributed: HashMap<(String, String), Uuid>,
    last_seq: u64,
}

impl MemoryOutbox {
    /// An empty outbox; sequence numbers start at 1.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn enqueue(&self, notification: Notification) -> Result<Enqueued, StoreError> {
        let mut state = self.state.lock();
        let existing = notification
            .idempotency_key
            .as_ref()
            .and_then(|k| state.by_idempotency_key.get(k).copied())
            .or_else(|| state.records.contains_key(&notification.id).then_some(notification.id));
        if let Some(id) = existing {
            if let Some(record) = state.records.get(&id) {
                return Ok(Enqueued::Existing(record.clone()));
            }
        }
        state.last_seq += 1;
        let record = OutboxRecord::new(notification, state.last_seq);
        if let Some(key) = &record.notification.idempotency_key {
            state.by_idempotency_key.insert(key.clone(), record.id());
        }
        state.records.insert(record.id(), record.clone());
        Ok(Enqueued::Created(record))
    }

    async fn get(&self, id: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
        Ok(self.state.lock().records.get(&id).cloned())
    }

    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<OutboxRecord>, StoreError> {
        let state = self.state.lock();
        Ok(state.by_idempotency_key.get(key).and_then(|id| state.records.get(id)).cloned())
    }

    async fn transition(&self, id: Uuid, transition: Transition) -> Result<OutboxRecord, StoreError> {
        let mut state = self.state.lock();
        let record = state.records.get_mut(&id).ok_or_else(|| StoreError::Missing(id.to_string()))?;
        record.apply(&transition);
        let record = record.clone();
        if let Some(key) = attribution_key(&record, &transition) {
            state.attributed.entry(key).or_insert(id);
        }
        Ok(record)
    }

    async fn unfinished(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let state = self.state.lock();
        let mut found: Vec<OutboxRecord> =
            state.records.values().filter(|r| r.seq > after_seq && is_unfinished(r.status)).cloned().collect();
        found.sort_by_key(|r| r.seq);
        found.truncate(page_size(limit));
        Ok(found)
    }

    async fn attributed(&self, integration: &str, upstream_message_id: &str) -> Result<Option<Uuid>, StoreError> {
        let state = self.state.lock();
        Ok(state.attributed.get(&(integration.to_string(), upstream_message_id.to_string())).copied())
    }

    async fn deferred_for(&self, integration: &str, customer: &str) -> Result<Vec<OutboxRecord>, StoreError> {
        let state = self.state.lock();
        let mut found: Vec<OutboxRecord> =
            state.records.values().filter(|r| is_deferred_for(r, integration, customer)).cloned().collect();
        found.sort_by_key(|r| r.seq);
        found.truncate(MAX_PAGE);
        Ok(found)
    }

    async fn list(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError> {
        let state = self.state.lock();
        let mut found: Vec<OutboxRecord> =
            state.records.values().filter(|r| record_matches(r, filter)).cloned().collect();
        found.sort_by_key(|r| std::cmp::Reverse(r.seq));
        found.truncate(page_size(filter.limit));
        Ok(found)
    }

    async fn purge_final(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut state = self.state.lock();
        let doomed: Vec<Uuid> =
            state.records.values().filter(|r| record_purgeable(r, before)).map(|r| r.id()).collect();
        for id in &doomed {
            if let Some(record) = state.records.remove(id) {
                if let Some(key) = &record.notification.idempotency_key {
                    if state.by_idempotency_key.get(key) == Some(id) {
                        state.by_idempotency_key.remove(key);
                    }
                }
                if let Some(key) = receipt_attribution(&record) {
                    if state.attributed.get(&key) == Some(id) {
                        state.attributed.remove(&key);
                    }
                }
            }
        }
        Ok(doomed.len())
    }
}

// ---- Reference semantics shared by every backend -------------------------------------------------------------

/// Whether `session` matches every field set in `query` (ignoring `limit`).
pub(crate) fn session_matches(session: &Session, query: &SessionQuery) -> bool {
    query.integration.as_deref().is_none_or(|i| session.integration == i)
        && query.customer.as_deref().is_none_or(|c| session.belongs_to(c))
        && query.agent.as_deref().is_none_or(|a| session.handled_by(a))
        && query.since.is_none_or(|t| session.updated_at >= t)
        && query.state.is_none_or(|st| session.state == st)
        && query.after.as_ref().is_none_or(|(at, conv)| {
            session.updated_at < *at
                || (session.updated_at == *at && session.conversation_id.as_bytes() < conv.as_bytes())
        })
}

/// Query order: most recent activity first; ties broken by conversation id, descending (byte order).
pub(crate) fn newest_activity_first(a: &Session, b: &Session) -> Ordering {
    b.updated_at.cmp(&a.updated_at).then_with(|| b.conversation_id.as_bytes().cmp(a.conversation_id.as_bytes()))
}

/// The instant retention looks at for a closed session: when it closed, or its last activity if that is unknown.
pub(crate) fn closed_at(session: &Session) -> DateTime<Utc> {
    session.closed_at.unwrap_or(session.updated_at)
}

/// Whether `purge_closed(before)` removes `session`.
pub(crate) fn session_purgeable(session: &Session, before: DateTime<Utc>) -> bool {
    session.state == SessionState::Closed && closed_at(session) < before
}

/// Whether a record belongs in `unfinished()`: pending, or attempting (an attempt interrupted by a crash).
pub(crate) fn is_unfinished(status: NotificationStatus) -> bool {
    matches!(status, NotificationStatus::Pending | NotificationStatus::Attempting)
}

/// Whether `record` is deferred for `customer` in `integration`.
pub(crate) fn is_deferred_for(record: &OutboxRecord, integration: &str, customer: &str) -> bool {
    record.status == NotificationStatus::Deferred
        && record.notification.integration == integration
        && record.deferred_for.as_deref() == Some(customer)
}

/// Whether `record` matches the filter (ignoring `limit`), cursor included.
pub(crate) fn record_matches(record: &OutboxRecord, filter: &OutboxFilter) -> bool {
    filter.status.is_none_or(|s| record.status == s)
        && filter.integration.as_deref().is_none_or(|i| record.notification.integration == i)
        && filter.before_seq.is_none_or(|b| record.seq < b)
}

/// The attribution a transition makes: a `delivered` transition with a receipt naming an upstream message
/// attributes that message (per integration) to the record.
pub(crate) fn attribution_key(record: &OutboxRecord, t: &Transition) -> Option<(String, String)> {
    (t.status == NotificationStatus::Delivered).then_some(())?;
    let message = t.receipt.as_ref()?.upstream_message_id.as_ref()?;
    Some((record.notification.integration.clone(), message.clone()))
}

/// The attribution a stored record holds (removed with the record on purge).
pub(crate) fn receipt_attribution(record: &OutboxRecord) -> Option<(String, String)> {
    let message = record.receipt.as_ref()?.upstream_message_id.as_ref()?;
    Some((record.notification.integration.clone(), message.clone()))
}

/// When a record last changed: its newest history entry (or its creation, for a record without history).
pub(crate) fn last_change(record: &OutboxRecord) -> DateTime<Utc> {
    record.history.last().map_or(record.notification.created_at, |h| h.at)
}

/// Whether `purge_final(before)` removes `record`.
pub(crate) fn record_purgeable(record: &OutboxRecord, before: DateTime<Utc>) -> bool {
    record.status.is_final() && last_change(record) < before
}
