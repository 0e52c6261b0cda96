//! The session store and the outbox: traits, backends and the conformance suite every backend runs.
//!
//! Both are traits so that a PostgreSQL backend (several herald instances, `FOR UPDATE SKIP LOCKED`) can be added
//! without touching the dispatcher, the API or the adapters. Backends: [`sled`](crate::store::sled) (durable,
//! embedded, the default) and [`memory`](crate::store::memory) (tests).

pub mod conformance;
pub mod memory;
pub mod memory_state;
pub mod sled;
pub mod state;

pub use state::{CasOutcome, StateEntry, StateStore};

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
    /// Cursor: only sessions after this one in the query's order, given as the `(updated_at, conversation_id)` of
    /// the last session of the previous page. `None` starts at the most recent.
    pub after: Option<(DateTime<Utc>, String)>,
    /// At most this many, most recent activity first (see [`page_size`]: 0 means [`MAX_PAGE`]).
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

/// The most records or sessions one store call returns. Every listing is bounded by it, whatever the caller
/// asks: a caller that wants more pages on with the listing's cursor.
pub const MAX_PAGE: usize = 1000;

/// The page size a store uses for a requested `limit`: 0 and anything above [`MAX_PAGE`] mean [`MAX_PAGE`].
pub fn page_size(limit: usize) -> usize {
    if limit == 0 {
        MAX_PAGE
    } else {
        limit.min(MAX_PAGE)
    }
}

/// A filter for listing outbox records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    /// Only this status.
    pub status: Option<NotificationStatus>,
    /// Only this integration.
    pub integration: Option<String>,
    /// Cursor: only records enqueued before this sequence number (the `seq` of the last record of the previous
    /// page). `None` starts at the newest.
    pub before_seq: Option<u64>,
    /// At most this many, newest first (see [`page_size`]: 0 means [`MAX_PAGE`]).
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

    /// Records that are `pending` or `attempting` (the latter: an attempt whose outcome is not recorded), in
    /// enqueue order, starting after sequence number `after_seq` (0 = from the start), at most
    /// [`page_size`]`(limit)`. Page on with the `seq` of the last record returned.
    async fn unfinished(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Records that are `deferred` for `customer` in `integration`, in enqueue order (at most [`MAX_PAGE`]).
    async fn deferred_for(&self, integration: &str, customer: &str) -> Result<Vec<OutboxRecord>, StoreError>;

    /// Records matching a filter, newest first, one page (see [`OutboxFilter::before_seq`]). A filter by status
    /// walks that status's index, never every record.
    async fn list(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError>;

    /// The notification an upstream message was attributed to: a `delivered` transition whose receipt names
    /// `upstream_message_id` attributes that message to its record, per integration. `confirm_delivery`
    /// candidates already attributed are never taken for another notification.
    async fn attributed(&self, integration: &str, upstream_message_id: &str) -> Result<Option<Uuid>, StoreError>;

    /// Remove final records (delivered, failed, expired) whose last change is older than `before`.
    async fn purge_final(&self, before: DateTime<Utc>) -> Result<usize, StoreError>;
}
