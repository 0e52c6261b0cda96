//! The state store: small pieces of state herald's components keep between events and across restarts.
//!
//! Rule cooldowns, per-rule rate windows, "this waiting episode was already greeted", the marks of messages herald
//! sent itself, Teams conversation references and agent links: none of it is a notification or a session, all of
//! it must survive a restart and, later, be shared by several instances. So it lives behind one small trait that a
//! key/value table in SQL implements as easily as sled or a map:
//!
//! - entries are addressed by a **namespace** (one per component, e.g. `rules`, `teams.refs`) and a **key**;
//! - values are JSON; an entry may carry an `expires_at` after which it reads as absent (and
//!   [`StateStore::purge_expired`] removes it);
//! - every write bumps the entry's `version`; [`StateStore::compare_and_set`] writes only when the version is the
//!   expected one (or the entry is absent), which is how two writers agree without a lock
//!   (`UPDATE … WHERE version = $n` / `INSERT … ON CONFLICT DO NOTHING` in SQL);
//! - listings are by key prefix, in key order, bounded by [`MAX_PAGE`](crate::store::MAX_PAGE) and paged with the
//!   last key seen.
//!
//! Instants are passed in (`now`), never read from the clock inside a backend: expiry is then the same for every
//! backend and testable with fixed instants.
//!
//! # On SQL
//!
//! One table `state (namespace text, key text, value jsonb, expires_at timestamptz null, version bigint,
//! primary key (namespace, key))`:
//!
//! - `get`: `select … where namespace = $1 and key = $2 and (expires_at is null or expires_at > $now)`;
//! - `compare_and_set` expecting absence: `insert … on conflict (namespace, key) do update set … , version =
//!   state.version + 1 where state.expires_at <= $now returning …` (no row returned = conflict);
//! - `compare_and_set` expecting version `v`: `update … set …, version = version + 1 where namespace = $1 and
//!   key = $2 and version = $v and (expires_at is null or expires_at > $now) returning …`;
//! - `list`: `… where namespace = $1 and key >= $prefix and key < $prefix_successor and key > $after order by key
//!   limit $n` (a range rather than `like`, so no escaping and the primary key serves it);
//! - `purge_expired`: `delete from state where expires_at <= $now` (an index on `expires_at`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Longest namespace or key accepted, in bytes.
pub const MAX_STATE_KEY: usize = 512;

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateEntry {
    /// The key within its namespace.
    pub key: String,
    /// The value.
    pub value: serde_json::Value,
    /// After this instant the entry reads as absent.
    pub expires_at: Option<DateTime<Utc>>,
    /// 1 when created, +1 on every write: the token of [`StateStore::compare_and_set`].
    pub version: u64,
}

impl StateEntry {
    /// Whether the entry has expired at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// What a [`StateStore::compare_and_set`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum CasOutcome {
    /// The write happened; the entry as now stored.
    Written(StateEntry),
    /// The entry was not at the expected version; it is returned as it is (`None`: absent or expired).
    Conflict(Option<StateEntry>),
}

/// Namespaced key/value state with expiry and compare-and-set. Every backend (memory, sled, and later
/// PostgreSQL) implements it and runs the state cases of the [conformance suite](crate::store::conformance).
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// The entry, unless absent or expired at `now`.
    async fn get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<StateEntry>, StoreError>;

    /// Write `value` whatever is stored (last writer wins). Returns the entry as stored.
    async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<StateEntry, StoreError>;

    /// Write only when the stored entry is at version `expected` (`None`: only when absent or expired at `now`).
    /// Atomic: of two concurrent calls with the same expectation exactly one writes.
    async fn compare_and_set(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<u64>,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<CasOutcome, StoreError>;

    /// Remove an entry; whether one (even an expired one) was there.
    async fn delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError>;

    /// Entries of `namespace` whose key starts with `prefix`, in key order, after the key `after` (the last key
    /// of the previous page; `None` starts at the first), skipping expired ones, at most
    /// [`page_size`](crate::store::page_size)`(limit)`.
    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<StateEntry>, StoreError>;

    /// Remove every entry (all namespaces) expired at `now`. Returns how many were removed.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Write only when absent or expired at `now`: `Ok(Ok(created))`, or `Ok(Err(existing))` leaving it as is.
    async fn put_if_absent(
        &self,
        namespace: &str,
        key: &str,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Result<StateEntry, StateEntry>, StoreError> {
        match self.compare_and_set(namespace, key, None, value, expires_at, now).await? {
            CasOutcome::Written(e) => Ok(Ok(e)),
            CasOutcome::Conflict(Some(existing)) => Ok(Err(existing)),
            // Absent and still not written cannot happen with `expected = None`; report it as a backend fault.
            CasOutcome::Conflict(None) => {
                Err(StoreError::Backend(format!("state `{namespace}/{key}`: put_if_absent neither wrote nor found it")))
            }
        }
    }
}

/// Check a namespace and key: non-empty namespace without NUL (backends use NUL as the separator), both at most
/// [`MAX_STATE_KEY`] bytes.
pub fn check_key(namespace: &str, key: &str) -> Result<(), StoreError> {
    if namespace.is_empty() || namespace.contains('\0') || namespace.len() > MAX_STATE_KEY {
        return Err(StoreError::Backend(format!(
            "state namespace `{}` is invalid: it must be 1 to {MAX_STATE_KEY} bytes without NUL",
            namespace.escape_debug()
        )));
    }
    if key.len() > MAX_STATE_KEY {
        return Err(StoreError::Backend(format!(
            "state key in `{namespace}` is {} bytes long; at most {MAX_STATE_KEY} are accepted",
            key.len()
        )));
    }
    Ok(())
}

/// The entry that results from writing `value` over `current` (the version after `current`'s, or 1).
pub(crate) fn next_entry(
    key: &str,
    current: Option<&StateEntry>,
    value: serde_json::Value,
    expires_at: Option<DateTime<Utc>>,
) -> StateEntry {
    StateEntry { key: key.to_string(), value, expires_at, version: current.map_or(1, |c| c.version.saturating_add(1)) }
}

/// Whether `current` (possibly expired at `now`) matches the expectation of a compare-and-set.
pub(crate) fn cas_matches(current: Option<&StateEntry>, expected: Option<u64>, now: DateTime<Utc>) -> bool {
    let live = current.filter(|c| !c.expired(now));
    match (live, expected) {
        (None, None) => true,
        (Some(c), Some(v)) => c.version == v,
        _ => false,
    }
}
