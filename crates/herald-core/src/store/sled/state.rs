//! [`StateStore`] for [`SledStore`]: one tree, `state`, keyed `namespace ++ NUL ++ key`, values the
//! [`StateEntry`] as JSON.
//!
//! Writes are sled compare-and-swaps on the stored bytes (retried when another writer got in between), so no lock
//! is needed and a compare-and-set is atomic. Every write returns once it is durable (the store's group commit):
//! a cooldown or a link that was answered "written" survives a crash. `purge_expired` scans the tree; the tree only
//! holds small, mostly expiring entries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{decode, encode, SledStore};
use crate::error::StoreError;
use crate::store::page_size;
use crate::store::state::{cas_matches, check_key, next_entry, CasOutcome, StateEntry, StateStore};

/// Expired entries collected per purge batch before they are removed.
const PURGE_CHUNK: usize = 512;

fn raw_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(namespace.len() + 1 + key.len());
    k.extend_from_slice(namespace.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

fn decode_entry(bytes: &[u8], namespace: &str, key: &str) -> Result<StateEntry, StoreError> {
    decode(bytes, || format!("state/{namespace}/{key}"))
}

impl SledStore {
    /// Write `entry_of(current)` over the stored bytes if `accept(current)`; retried on a concurrent change.
    /// Returns `Ok(entry)` when written, `Err(current)` when `accept` refused.
    async fn state_swap(
        &self,
        namespace: &str,
        key: &str,
        accept: impl Fn(Option<&StateEntry>) -> bool,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Result<StateEntry, Option<StateEntry>>, StoreError> {
        check_key(namespace, key)?;
        let tree = &self.trees().state;
        let k = raw_key(namespace, key);
        let written = loop {
            let old = tree.get(&k)?;
            let current = old.as_deref().map(|b| decode_entry(b, namespace, key)).transpose()?;
            if !accept(current.as_ref()) {
                return Ok(Err(current));
            }
            let entry = next_entry(key, current.as_ref(), value.clone(), expires_at);
            let bytes = encode(&entry, key)?;
            if tree.compare_and_swap(&k, old, Some(bytes))?.is_ok() {
                break entry;
            }
        };
        self.inner.commit.durable().await?;
        Ok(Ok(written))
    }
}

#[async_trait]
impl StateStore for SledStore {
    async fn get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<StateEntry>, StoreError> {
        check_key(namespace, key)?;
        let Some(bytes) = self.trees().state.get(raw_key(namespace, key))? else { return Ok(None) };
        let entry = decode_entry(&bytes, namespace, key)?;
        Ok((!entry.expired(now)).then_some(entry))
    }

    async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
        _now: DateTime<Utc>,
    ) -> Result<StateEntry, StoreError> {
        match self.state_swap(namespace, key, |_| true, value, expires_at).await? {
            Ok(entry) => Ok(entry),
            Err(_) => {
                Err(StoreError::Backend(format!("state `{namespace}/{key}`: an unconditional write was refused")))
            }
        }
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
        let outcome =
            self.state_swap(namespace, key, |current| cas_matches(current, expected, now), value, expires_at).await?;
        Ok(match outcome {
            Ok(entry) => CasOutcome::Written(entry),
            Err(current) => CasOutcome::Conflict(current.filter(|c| !c.expired(now))),
        })
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        check_key(namespace, key)?;
        let removed = self.trees().state.remove(raw_key(namespace, key))?.is_some();
        if removed {
            self.inner.commit.durable().await?;
        }
        Ok(removed)
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
        let limit = page_size(limit);
        let scan_prefix = raw_key(namespace, prefix);
        let start = match after {
            Some(a) if a > prefix => {
                // Strictly after `a`: the smallest key greater than it is `a ++ NUL`.
                let mut k = raw_key(namespace, a);
                k.push(0);
                k
            }
            _ => scan_prefix.clone(),
        };
        let mut out = Vec::new();
        for item in self.trees().state.range(start..) {
            let (k, v) = item?;
            if !k.starts_with(&scan_prefix) {
                break;
            }
            let key = String::from_utf8_lossy(&k[namespace.len() + 1..]).into_owned();
            if after.is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            let entry = decode_entry(&v, namespace, &key)?;
            if entry.expired(now) {
                continue;
            }
            out.push(entry);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let tree = &self.trees().state;
        let mut removed = 0;
        let mut batch: Vec<(::sled::IVec, ::sled::IVec)> = Vec::with_capacity(PURGE_CHUNK);
        let mut scan = tree.iter();
        loop {
            batch.clear();
            for item in scan.by_ref() {
                let (k, v) = item?;
                // An entry that does not decode is left for an operator to look at, never silently dropped.
                let expired = serde_json::from_slice::<StateEntry>(&v).map(|e| e.expired(now)).unwrap_or(false);
                if expired {
                    batch.push((k, v));
                    if batch.len() >= PURGE_CHUNK {
                        break;
                    }
                }
            }
            if batch.is_empty() {
                break;
            }
            for (k, v) in batch.drain(..) {
                // Only if unchanged since read: an entry renewed meanwhile stays.
                if tree.compare_and_swap(&k, Some(v), None::<Vec<u8>>)?.is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}
