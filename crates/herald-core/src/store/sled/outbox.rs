//! [`Outbox`] for [`SledStore`]: records by notification id, small index trees for the work still to do, durable
//! writes through group commit.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::keys;
use super::{decode, encode, SledStore, META_SEQ_FLOOR};
use crate::error::StoreError;
use crate::notification::{Notification, NotificationStatus, OutboxRecord, Transition};
use crate::store::memory::{
    attribution_key, is_deferred_for, is_unfinished, last_change, receipt_attribution, record_matches, record_purgeable,
};
use crate::store::{page_size, Enqueued, Outbox, OutboxFilter, MAX_PAGE};

/// Records removed per hold of the outbox lock, so a big purge does not stall enqueues.
const PURGE_CHUNK: usize = 256;

fn record_key(id: Uuid) -> String {
    format!("outbox/{id}")
}

/// The index entries one version of a record has (each index holds the record's id as value).
#[derive(Debug, PartialEq, Eq)]
struct RecordKeys {
    unfinished: Option<Vec<u8>>,
    deferred: Option<Vec<u8>>,
    finals: Option<Vec<u8>>,
    by_status: Option<Vec<u8>>,
}

/// One byte per status: the prefix of `outbox_by_status` keys.
fn status_byte(status: NotificationStatus) -> u8 {
    match status {
        NotificationStatus::Pending => 0,
        NotificationStatus::Attempting => 1,
        NotificationStatus::Delivered => 2,
        NotificationStatus::Deferred => 3,
        NotificationStatus::Failed => 4,
        NotificationStatus::Expired => 5,
    }
}

/// The `outbox_attributed` key of an (integration, upstream message id) pair.
fn attribution_entry((integration, message): &(String, String)) -> Vec<u8> {
    let mut k = keys::str_prefix(integration);
    k.extend_from_slice(message.as_bytes());
    k
}

impl RecordKeys {
    fn of(r: &OutboxRecord) -> RecordKeys {
        let seq = keys::seq(r.seq);
        let mut by_status = Vec::with_capacity(9);
        by_status.push(status_byte(r.status));
        by_status.extend_from_slice(&seq);
        RecordKeys {
            by_status: Some(by_status),
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

impl SledStore {
    fn load_record(&self, id: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
        match self.trees().outbox.get(id.as_bytes())? {
            Some(bytes) => decode(&bytes, || record_key(id)).map(Some),
            None => Ok(None),
        }
    }

    /// Load the records an index points to, in index order, keeping those `keep` accepts, at most `limit`.
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
            if found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }

    /// The record an idempotency key already names, if that record exists (an entry left dangling by a crash
    /// before its record was written does not count and is overwritten by the next enqueue).
    fn idempotent_match(&self, key: Option<&str>) -> Result<Option<Uuid>, StoreError> {
        let Some(key) = key else { return Ok(None) };
        match self.trees().idempotency.get(key.as_bytes())? {
            Some(v) => {
                let id = keys::decode_uuid(&v, &format!("outbox_idempotency/{key}"))?;
                Ok(self.trees().outbox.contains_key(id.as_bytes())?.then_some(id))
            }
            None => Ok(None),
        }
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
        // Fast path for retries: no lock.
        if let Some(existing) = self.idempotent_match(notification.idempotency_key.as_deref())? {
            return self.existing(existing).await;
        }
        let record = {
            let _writer = self.inner.outbox_lock.lock();
            if let Some(existing) = self.idempotent_match(notification.idempotency_key.as_deref())? {
                drop(_writer);
                return self.existing(existing).await;
            }
            if t.outbox.contains_key(id.as_bytes())? {
                drop(_writer);
                return self.existing(id).await;
            }
            let seq = self.inner.last_seq.load(Ordering::SeqCst) + 1;
            self.inner.last_seq.store(seq, Ordering::SeqCst);
            let record = OutboxRecord::new(notification, seq);
            let value = encode(&record, &record_key(id))?;
            let id_bytes = &id.as_bytes()[..];
            // Index entries first, the record last: the record is the commit point (see the module docs).
            t.by_seq.insert(keys::seq(seq), id_bytes)?;
            t.unfinished.insert(keys::seq(seq), id_bytes)?;
            if let Some(k) = RecordKeys::of(&record).by_status {
                t.by_status.insert(k, id_bytes)?;
            }
            if let Some(key) = &record.notification.idempotency_key {
                t.idempotency.insert(key.as_bytes(), id_bytes)?;
            }
            t.outbox.insert(id_bytes, value)?;
            record
        };
        self.inner.commit.durable().await?;
        Ok(Enqueued::Created(record))
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
        let record = {
            let _writer = self.inner.outbox_lock.lock();
            let mut record = self.load_record(id)?.ok_or_else(|| StoreError::Missing(id.to_string()))?;
            let before = RecordKeys::of(&record);
            record.apply(&transition);
            let after = RecordKeys::of(&record);
            let value = encode(&record, &record_key(id))?;
            // New entries, then the record, then removal of the old entries: a crash leaves at most a stale entry.
            let moves = [
                (&t.unfinished, &before.unfinished, &after.unfinished),
                (&t.deferred, &before.deferred, &after.deferred),
                (&t.finals, &before.finals, &after.finals),
                (&t.by_status, &before.by_status, &after.by_status),
            ];
            for (tree, old, new) in moves {
                if let Some(k) = new.as_ref().filter(|_| old != new) {
                    tree.insert(k.as_slice(), &id.as_bytes()[..])?;
                }
            }
            if let Some(key) = attribution_key(&record, &transition) {
                // The first notification a message is attributed to keeps it.
                let _ = t.attributed.compare_and_swap(
                    attribution_entry(&key),
                    None as Option<&[u8]>,
                    Some(&id.as_bytes()[..]),
                )?;
            }
            t.outbox.insert(id.as_bytes(), value)?;
            for (tree, old, new) in moves {
                if let Some(k) = old.as_ref().filter(|_| old != new) {
                    tree.remove(k.as_slice())?;
                }
            }
            record
        };
        self.inner.commit.durable().await?;
        Ok(record)
    }

    async fn unfinished(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let from = keys::seq(after_seq.saturating_add(1));
        let entries = self.trees().unfinished.range(from..);
        self.collect_records(entries, "outbox_unfinished", page_size(limit), |r| {
            r.seq > after_seq && is_unfinished(r.status)
        })
    }

    async fn deferred_for(&self, integration: &str, customer: &str) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut prefix = keys::str_prefix(integration);
        keys::push_str(&mut prefix, customer);
        self.collect_records(self.trees().deferred.scan_prefix(prefix), "outbox_deferred", MAX_PAGE, |r| {
            is_deferred_for(r, integration, customer)
        })
    }

    async fn list(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError> {
        let t = self.trees();
        let keep = |r: &OutboxRecord| record_matches(r, filter);
        let limit = page_size(filter.limit);
        let before = keys::seq(filter.before_seq.unwrap_or(u64::MAX));
        match filter.status {
            // One status: walk its index, newest first, from the cursor.
            Some(status) => {
                let b = status_byte(status);
                let mut end = vec![b];
                end.extend_from_slice(&before);
                let entries = t.by_status.range(vec![b]..end).rev();
                self.collect_records(entries, "outbox_by_status", limit, keep)
            }
            None => self.collect_records(t.by_seq.range(..before.to_vec()).rev(), "outbox_by_seq", limit, keep),
        }
    }

    async fn attributed(&self, integration: &str, upstream_message_id: &str) -> Result<Option<Uuid>, StoreError> {
        let key = attribution_entry(&(integration.to_string(), upstream_message_id.to_string()));
        match self.trees().attributed.get(key)? {
            Some(v) => {
                let id = keys::decode_uuid(&v, "outbox_attributed")?;
                // An entry whose record was purged (a crash between the two removals) attributes nothing.
                Ok(self.trees().outbox.contains_key(id.as_bytes())?.then_some(id))
            }
            None => Ok(None),
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
            let _writer = self.inner.outbox_lock.lock();
            // Remember the newest seq handed out, in case this removes the newest record.
            let floor = match t.meta.get(META_SEQ_FLOOR)? {
                Some(v) => keys::decode_seq(&v, "meta/seq_floor")?,
                None => 0,
            };
            let last = self.inner.last_seq.load(Ordering::SeqCst).max(floor);
            t.meta.insert(META_SEQ_FLOOR, &keys::seq(last)[..])?;
            for (key, id) in &chunk {
                let record = self.load_record(*id)?;
                let current = record.as_ref().and_then(|r| RecordKeys::of(r).finals);
                let Some(record) = record.filter(|_| current.as_deref() == Some(&key[..])) else {
                    t.finals.remove(key)?; // a stale entry; the record's current one (if any) is elsewhere
                    continue;
                };
                if !record_purgeable(&record, before) {
                    continue;
                }
                // The record first: index entries left behind by a crash point at nothing and are skipped.
                t.outbox.remove(id.as_bytes())?;
                t.by_seq.remove(keys::seq(record.seq))?;
                if let Some(k) = RecordKeys::of(&record).by_status {
                    t.by_status.remove(k)?;
                }
                if let Some(a) = receipt_attribution(&record) {
                    let k = attribution_entry(&a);
                    if t.attributed.get(&k)?.as_deref() == Some(&id.as_bytes()[..]) {
                        t.attributed.remove(k)?;
                    }
                }
                if let Some(k) = &record.notification.idempotency_key {
                    if t.idempotency.get(k.as_bytes())?.as_deref() == Some(&id.as_bytes()[..]) {
                        t.idempotency.remove(k.as_bytes())?;
                    }
                }
                t.finals.remove(key)?;
                removed += 1;
            }
        }
    }
}

/// Build `outbox_by_status` and `outbox_attributed` for a store written before they existed: one walk over the
/// records, at open, only when the status index is empty while records exist.
pub(super) fn migrate_status_index(trees: &super::Trees) -> Result<(), StoreError> {
    if !trees.by_status.is_empty() || trees.outbox.is_empty() {
        return Ok(());
    }
    for entry in trees.outbox.iter() {
        let (key, value) = entry?;
        let record: OutboxRecord = decode(&value, || format!("outbox/{key:?}"))?;
        if let Some(k) = RecordKeys::of(&record).by_status {
            trees.by_status.insert(k, &key[..])?;
        }
        if let (Some(a), NotificationStatus::Delivered) = (receipt_attribution(&record), record.status) {
            trees.attributed.insert(attribution_entry(&a), &key[..])?;
        }
    }
    Ok(())
}
