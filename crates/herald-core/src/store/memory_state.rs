//! [`MemoryStateStore`]: the state store in a map, for tests and `store.path = ":memory:"`. Also the reference
//! semantics the other backends are checked against. Nothing here survives a restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::error::StoreError;
use crate::store::page_size;
use crate::store::state::{cas_matches, check_key, next_entry, CasOutcome, StateEntry, StateStore};

/// State entries in a B-tree keyed by `(namespace, key)`, so prefix listings are range scans. Cheap to clone:
/// clones share the map.
#[derive(Debug, Clone, Default)]
pub struct MemoryStateStore {
    entries: Arc<Mutex<BTreeMap<(String, String), StateEntry>>>,
}

impl MemoryStateStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries held, expired ones included (for tests of boundedness).
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn id(namespace: &str, key: &str) -> (String, String) {
    (namespace.to_string(), key.to_string())
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<StateEntry>, StoreError> {
        check_key(namespace, key)?;
        Ok(self.entries.lock().get(&id(namespace, key)).filter(|e| !e.expired(now)).cloned())
    }

    async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
        _now: DateTime<Utc>,
    ) -> Result<StateEntry, StoreError> {
        check_key(namespace, key)?;
        let mut entries = self.entries.lock();
        let k = id(namespace, key);
        let entry = next_entry(key, entries.get(&k), value, expires_at);
        entries.insert(k, entry.clone());
        Ok(entry)
    }

    async fn compare_and_set(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<u64>,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<CasOutcome, StoreError> {
        check_key(namespace, key)?;
        let mut entries = self.entries.lock();
        let k = id(namespace, key);
        let current = entries.get(&k);
        if !cas_matches(current, expected, now) {
            return Ok(CasOutcome::Conflict(current.filter(|c| !c.expired(now)).cloned()));
        }
        let entry = next_entry(key, current, value, expires_at);
        entries.insert(k, entry.clone());
        Ok(CasOutcome::Written(entry))
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        check_key(namespace, key)?;
        Ok(self.entries.lock().remove(&id(namespace, key)).is_some())
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<StateEntry>, StoreError> {
        check_key(namespace, prefix)?;
        let entries = self.entries.lock();
        let from = match after {
            Some(a) if a > prefix => a,
            _ => prefix,
        };
        let start = id(namespace, from);
        let found = entries
            .range(start..)
            .take_while(|((ns, k), _)| ns == namespace && k.starts_with(prefix))
            .filter(|((_, k), e)| after.is_none_or(|a| k.as_str() > a) && !e.expired(now))
            .map(|(_, e)| e.clone())
            .take(page_size(limit))
            .collect();
        Ok(found)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut entries = self.entries.lock();
        let before = entries.len();
        entries.retain(|_, e| !e.expired(now));
        Ok(before - entries.len())
    }
}
