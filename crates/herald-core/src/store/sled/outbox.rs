//! [`Outbox`] for [`SledStore`]: records by notification id, small index trees for the work still to do, durable
//! writes through group commit.

use std::sync::atomic::Ordering;

use ::sled::transaction::{ConflictableTransactionError, TransactionError, Transactional, TransactionalTree};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::keys;
use super::{decode, encode, meta_u64, tx_error, Abort, SledStore, META_SEQ_FLOOR};
use crate::error::StoreError;
use crate::notification::{Notification, NotificationStatus, OutboxRecord, Transition};
use crate::store::memory::{is_deferred_for, is_unfinished, last_change, record_matches, record_purgeable};
use crate::store::{Enqueued, Outbox, OutboxFilter};

/// Records removed per purge transaction.
const PURGE_CHUNK: usize = 256;

type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

fn record_key(id: Uuid) -> String {
    format!("outbox/{id}")
}

/// The index entries one version of a record has (each index holds the record's id as value).
#[derive(Debug, PartialEq, Eq)]
struct RecordKeys {
    unfinished: Option<Vec<u8>>,
    deferred: Option<Vec<u8>>,
    finals: Option<Vec<u8>>,
}

impl RecordKeys {
    fn of(r: &OutboxRecord) -> RecordKeys {
        let seq = keys::seq(r.seq);
        RecordKeys {
            unfinished: is_unfinished(r.status).then(|| seq.to_vec()),
            deferred: match (&r.deferred_for, r.status) {
                (Some(customer), NotificationStatus::Deferred) => {
                    let mut k = keys::str_prefix(&r.notification.integration);
                    keys::push_str(&mut k, customer);
                    k.extend_from_slice(&seq);
                    Some(k)
                }
                _ => None,
            },
            finals: r.status.is_final().then(|| keys::timed(&[], last_change(r), &seq)),
        }
    }
}

/// Move one index entry from `old` to `new` (either may be absent).
fn move_entry(tree: &TransactionalTree, old: &Option<Vec<u8>>, new: &Option<Vec<u8>>, id: Uuid) -> TxResult<()> {
    if old == new {
        return Ok(());
    }
    if let Some(k) = old {
        tree.remove(k.as_slice())?;
    }
    if let Some(k) = new {
        tree.insert(k.as_slice(), &id.as_bytes()[..])?;
    }
    Ok(())
}

impl SledStore {
    fn load_record(&self, id: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
        match self.trees().outbox.get(id.as_bytes())? {
            Some(bytes) => decode(&bytes, || record_key(id)).map(Some),
            None => Ok(None),
        }
    }

    /// Load the records an index points to, in index order, keeping those `keep` accepts, at most `limit` (0 = all).
    fn collect_records(
        &self,
        entries: impl Iterator<Item = ::sled::Result<(::sled::IVec, ::sled::IVec)>>,
        tree: &str,
        limit: usize,
        keep: impl Fn(&OutboxRecord) -> bool,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut found = Vec::new();
        for entry in entries {
            let (key, value) = entry?;
            let id = keys::decode_uuid(&value, &format!("{tree}/{key:?}"))?;
            match self.load_record(id)? {
                Some(record) if keep(&record) => found.push(record),
                _ => continue,
            }
            if limit > 0 && found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }

    /// The existing record `id`, once whatever wrote it is durable.
    async fn existing(&self, id: Uuid) -> Result<Enqueued, StoreError> {
        let record = self.load_record(id)?.ok_or_else(|| StoreError::Missing(id.to_string()))?;
        // Its creator may still be waiting for the flush; answer no earlier than it would.
        self.inner.commit.durable().await?;
        Ok(Enqueued::Existing(record))
    }
}

#[async_trait]
impl Outbox for SledStore {
    async fn enqueue(&self, notification: Notification) -> Result<Enqueued, StoreError> {
        let t = self.trees();
        let id = notification.id;
        let idem_key = notification.idempotency_key.clone();
        // Fast path for retries: no transaction, no lock.
        if let Some(key) = &idem_key {
            if let Some(v) = t.idempotency.get(key.as_bytes())? {
                let existing = keys::decode_uuid(&v, &format!("outbox_idempotency/{key}"))?;
                if self.load_record(existing)?.is_some() {
                    return self.existing(existing).await;
                }
            }
        }
        let id_bytes = &id.as_bytes()[..];
        let result = (&t.outbox, &t.by_seq, &t.unfinished, &t.idempotency).transaction(
            |(outbox, by_seq, unfinished, idempotency)| -> TxResult<OutboxRecord> {
                if let Some(key) = &idem_key {
                    if let Some(v) = idempotency.get(key.as_bytes())? {
                        let existing = keys::decode_uuid(&v, &format!("outbox_idempotency/{key}"))?;
                        return Err(ConflictableTransactionError::Abort(Abort::Existing(existing)));
                    }
                }
                if outbox.get(id_bytes)?.is_some() {
                    return Err(ConflictableTransactionError::Abort(Abort::Existing(id)));
                }
                // sled runs transaction closures under its process-wide transaction lock, so sequence numbers
                // are handed out in commit order. A retried closure leaves a gap, which is harmless.
                let seq = self.inner.last_seq.fetch_add(1, Ordering::SeqCst) + 1;
                let record = OutboxRecord::new(notification.clone(), seq);
                outbox.insert(id_bytes, encode(&record, &record_key(id))?)?;
                by_seq.insert(&keys::seq(seq)[..], id_bytes)?;
                unfinished.insert(&keys::seq(seq)[..], id_bytes)?;
                if let Some(key) = &idem_key {
                    idempotency.insert(key.as_bytes(), id_bytes)?;
                }
                Ok(record)
            },
        );
        match result {
            Ok(record) => {
                self.inner.commit.durable().await?;
                Ok(Enqueued::Created(record))
            }
            Err(TransactionError::Abort(Abort::Existing(existing))) => self.existing(existing).await,
            Err(e) => Err(tx_error(e)),
        }
    }

    async fn get(&self, id: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
        self.load_record(id)
    }

    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<OutboxRecord>, StoreError> {
        match self.trees().idempotency.get(key.as_bytes())? {
            Some(v) => self.load_record(keys::decode_uuid(&v, &format!("outbox_idempotency/{key}"))?),
            None => Ok(None),
        }
    }

    async fn transition(&self, id: Uuid, transition: Transition) -> Result<OutboxRecord, StoreError> {
        let t = self.trees();
        let id_bytes = &id.as_bytes()[..];
        let record = (&t.outbox, &t.unfinished, &t.deferred, &t.finals)
            .transaction(|(outbox, unfinished, deferred, finals)| -> TxResult<OutboxRecord> {
                let Some(bytes) = outbox.get(id_bytes)? else {
                    return Err(StoreError::Missing(id.to_string()).into());
                };
                let mut record: OutboxRecord = decode(&bytes, || record_key(id))?;
                let before = RecordKeys::of(&record);
                record.apply(&transition);
                let after = RecordKeys::of(&record);
                outbox.insert(id_bytes, encode(&record, &record_key(id))?)?;
                move_entry(unfinished, &before.unfinished, &after.unfinished, id)?;
                move_entry(deferred, &before.deferred, &after.deferred, id)?;
                move_entry(finals, &before.finals, &after.finals, id)?;
                Ok(record)
            })
            .map_err(tx_error)?;
        self.inner.commit.durable().await?;
        Ok(record)
    }

    async fn unfinished(&self, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        self.collect_records(self.trees().unfinished.iter(), "outbox_unfinished", limit, |r| is_unfinished(r.status))
    }

    async fn deferred_for(&self, integration: &str, customer: &str) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut prefix = keys::str_prefix(integration);
        keys::push_str(&mut prefix, customer);
        self.collect_records(self.trees().deferred.scan_prefix(prefix), "outbox_deferred", 0, |r| {
            is_deferred_for(r, integration, customer)
        })
    }

    async fn list(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError> {
        let t = self.trees();
        let keep = |r: &OutboxRecord| record_matches(r, filter);
        match filter.status {
            // The unfinished index is small and in seq order: no need to walk every record.
            Some(status) if is_unfinished(status) => {
                self.collect_records(t.unfinished.iter().rev(), "outbox_unfinished", filter.limit, keep)
            }
            _ => self.collect_records(t.by_seq.iter().rev(), "outbox_by_seq", filter.limit, keep),
        }
    }

    async fn purge_final(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let t = self.trees();
        let end = keys::ts(before).to_vec();
        let mut from: Vec<u8> = Vec::new();
        let mut removed = 0;
        loop {
            let mut chunk = Vec::with_capacity(PURGE_CHUNK);
            for entry in t.finals.range(from.clone()..end.clone()).take(PURGE_CHUNK) {
                let (key, value) = entry?;
                let id = keys::decode_uuid(&value, &format!("outbox_final/{key:?}"))?;
                from = key.to_vec();
                from.push(0);
                chunk.push((key, id));
            }
            if chunk.is_empty() {
                return Ok(removed);
            }
            removed += (&t.outbox, &t.by_seq, &t.idempotency, &t.finals, &t.meta)
                .transaction(|(outbox, by_seq, idempotency, finals, meta)| -> TxResult<usize> {
                    // Remember the newest seq handed out, in case this removes the newest record.
                    let last = self.inner.last_seq.load(Ordering::SeqCst).max(meta_u64(meta, META_SEQ_FLOOR)?);
                    meta.insert(META_SEQ_FLOOR, &keys::seq(last)[..])?;
                    let mut n = 0;
                    for (key, id) in &chunk {
                        let record: Option<OutboxRecord> = match outbox.get(id.as_bytes())? {
                            Some(bytes) => Some(decode(&bytes, || record_key(*id))?),
                            None => None,
                        };
                        let current = record.as_ref().and_then(|r| RecordKeys::of(r).finals);
                        let Some(record) = record.filter(|_| current.as_deref() == Some(&key[..])) else {
                            finals.remove(key)?; // a stale entry; the record's current one (if any) is elsewhere
                            continue;
                        };
                        if !record_purgeable(&record, before) {
                            continue;
                        }
                        finals.remove(key)?;
                        outbox.remove(&id.as_bytes()[..])?;
                        by_seq.remove(&keys::seq(record.seq)[..])?;
                        if let Some(k) = &record.notification.idempotency_key {
                            if idempotency.get(k.as_bytes())?.as_deref() == Some(&id.as_bytes()[..]) {
                                idempotency.remove(k.as_bytes())?;
                            }
                        }
                        n += 1;
                    }
                    Ok(n)
                })
                .map_err(tx_error)?;
        }
    }
}
