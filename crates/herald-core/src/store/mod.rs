//! The session store and the outbox: traits, backends and the conformance suite every backend runs.
//!
//! Both are traits so that a PostgreSQL backend (several herald instances, `FOR UPDATE SKIP LOCKED`) can be added
//! without touching the dispatcher, the API or the adapters. Backends: [`sled`](crate::store::sled) (durable,
//! embedded, the default) and [`memory`](crate::store::memory) (tests).

pub mod conformance;
pub mod memory;
pub mod sled;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreError;
use crate::notification::{Notification, NotificationStatus, OutboxRecord, Transition};
use crate::session::{Session, SessionState};

/// A query over sessions; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// Only this integration.
    pub integration: Option<String>,
    /// Only sessions of this customer (any of their ids).
    pub customer: Option<String>,
    /// Only sessions this agent (Genesys user id) handled.
    pub agent: Option<String>,
    /// Only sessions with activity at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only sessions in this state.
    pub state: Option<SessionState>,
    /// At most this many, most recent activity first (0 = no limit).
    pub limit: usize,
}

/// Every conversation the bridge has seen.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Insert or replace a session (keyed by conversation id), maintaining the indexes.
    async fn upsert(&self, session: Session) -> Result<(), StoreError>;

    /// One session by conversation id.
    async fn get(&self, conversation_id: &str) -> Result<Option<Session>, StoreError>;

    /// Sessions matching a query, most recent activity first.
    async fn query(&self, query: &SessionQuery) -> Result<Vec<Session>, StoreError>;

    /// Remove closed sessions closed before `closed_before`. Returns how many were removed.
    async fn purge_closed(&self, closed_before: DateTime<Utc>) -> Result<usize, StoreError>;

    /// How many sessions are stored.
    async fn len(&self) -> Result<usize, StoreError>;

    /// Whether no session is stored.
    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len().await? == 0)
    }
}

/// The result of enqueueing.
#[derive(Debug, Clone, PartialEq)]
pub enum Enqueued {
    /// A new record was created (and is durable).
    Created(OutboxRecord),
    /// A record with the same idempotency key already existed; it is returned unchanged.
    Existing(OutboxRecord),
}

impl Enqueued {
    /// The record, new or existing.
    pub fn record(&self) -> &OutboxRecord {
        match self {
            Enqueued::Created(r) | Enqueued::Existing(r) => r,
        }
    }
}

/// A filter for listing outbox records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    /// Only this status.
    pub status: Option<NotificationStatus>,
    /// Only this integration.
    pub integration: Option<String>,
    /// At most this many, newest first (0 = no limit).
    pub limit: usize,
}

/// Durable queue of notifications with their delivery state.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Store a new notification. Returns only once it is durable on disk (the backend may group several callers
    /// into one sync). A notification whose idempotency key is already known is not stored again.
    async fn enqueue(&self, notification: Notification) -> Result<Enqueued, StoreError>;

    /// One record.
    async fn get(&self, id: Uuid) -> Result<Option<OutboxRecord>, StoreError>;

    /// The record created with this idempotency key.
    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<OutboxRecord>, StoreError>;

    /// Apply a transition and make it durable before returning. Returns the updated record.
    async fn transition(&self, id: Uuid, transition: Transition) -> Result<OutboxRecord, StoreError>;

    /// Records that are `pending` or `attempting` (the latter only after a crash), in enqueue order.
    async fn unfinished(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Records that are `deferred` for `customer` in `integration`, in enqueue order.
    async fn deferred_for(&self, integration: &str, customer: &str) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Records matching a filter, newest first.
    async fn list(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Remove final records (delivered, failed, expired) whose last change is older than `before`.
    async fn purge_final(&self, before: DateTime<Utc>) -> Result<usize, StoreError>;
}
