//! The dispatcher's in-memory work list: ids only, per ordering key, bounded.
//!
//! Records live in the outbox; this holds just `(seq, id)` pairs of the records loaded for delivery, grouped by
//! ordering key (integration + target) in sequence order. Its size is capped by `queue_capacity`: when full, the
//! feeder stops loading and the rest of the backlog waits in the store, so memory stays flat whatever the backlog.

use std::collections::{HashMap, HashSet, VecDeque};

use uuid::Uuid;

/// One loaded record: its sequence number (order) and id (the outbox key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Queued {
    pub seq: u64,
    pub id: Uuid,
}

/// What [`WorkQueue::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Added behind the key's earlier records; the key already has a worker.
    Queued,
    /// Added to a key that had nothing queued: start a worker for it.
    NewKey,
    /// Already loaded (queued or in flight): nothing to do.
    Duplicate,
    /// The queue is full: leave it in the store for the feeder.
    Full,
}

/// Loaded work by ordering key, with the feeder's position in the outbox.
#[derive(Debug, Default)]
pub(crate) struct WorkQueue {
    by_key: HashMap<String, VecDeque<Queued>>,
    loaded: HashSet<Uuid>,
    capacity: usize,
    /// The feeder has loaded every unfinished record up to this sequence number in its current pass.
    pub cursor: u64,
    /// A record at or below the cursor became due again but did not fit: the feeder starts a new pass from 0.
    pub rescan: bool,
    /// The feeder stopped because the queue was full; wake it when half the room is free again.
    pub starved: bool,
}

impl WorkQueue {
    /// An empty queue holding at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        WorkQueue { capacity: capacity.max(1), ..WorkQueue::default() }
    }

    /// Records loaded (queued or in flight).
    pub fn len(&self) -> usize {
        self.loaded.len()
    }

    /// Whether no more records fit.
    pub fn is_full(&self) -> bool {
        self.loaded.len() >= self.capacity
    }

    /// Whether the feeder, stopped on a full queue, should run again (half the room is free).
    pub fn has_room_for_feeder(&self) -> bool {
        self.loaded.len() <= self.capacity / 2
    }

    /// Add a record to its key's list, in sequence order.
    pub fn push(&mut self, key: &str, item: Queued) -> Pushed {
        if self.loaded.contains(&item.id) {
            return Pushed::Duplicate;
        }
        if self.is_full() {
            return Pushed::Full;
        }
        self.loaded.insert(item.id);
        match self.by_key.get_mut(key) {
            Some(list) => {
                // Nearly always the newest; a record released from `deferred` may be older than queued ones. The
                // front is in flight and keeps its place.
                let at = list.iter().skip(1).position(|q| q.seq > item.seq).map_or(list.len(), |p| p + 1);
                list.insert(at, item);
                Pushed::Queued
            }
            None => {
                self.by_key.insert(key.to_string(), VecDeque::from([item]));
                Pushed::NewKey
            }
        }
    }

    /// The record a key's worker handles next, or `None` (and the key is forgotten) when its list is empty.
    pub fn front(&mut self, key: &str) -> Option<Queued> {
        match self.by_key.get(key).and_then(|l| l.front().copied()) {
            Some(q) => Some(q),
            None => {
                self.by_key.remove(key);
                None
            }
        }
    }

    /// The key's front record is done (or abandoned to the store): drop it.
    pub fn pop(&mut self, key: &str, id: Uuid) {
        if let Some(list) = self.by_key.get_mut(key) {
            if list.front().is_some_and(|q| q.id == id) {
                list.pop_front();
            }
            if list.is_empty() {
                self.by_key.remove(key);
            }
        }
        self.loaded.remove(&id);
    }

    /// Forget a key's whole list (its worker is gone); its records stay in the store for the next pass.
    pub fn drop_key(&mut self, key: &str) {
        if let Some(list) = self.by_key.remove(key) {
            for q in list {
                self.loaded.remove(&q.id);
            }
            self.rescan = true;
        }
    }

    /// Number of keys with loaded work.
    pub fn keys(&self) -> usize {
        self.by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(seq: u64) -> Queued {
        Queued { seq, id: Uuid::from_u128(seq as u128) }
    }

    #[test]
    fn keeps_sequence_order_per_key_and_the_bound() {
        let mut w = WorkQueue::new(4);
        assert_eq!(w.push("a", q(5)), Pushed::NewKey);
        assert_eq!(w.push("a", q(9)), Pushed::Queued);
        assert_eq!(w.push("a", q(7)), Pushed::Queued, "an older record goes before newer ones");
        assert_eq!(w.push("a", q(7)), Pushed::Duplicate);
        assert_eq!(w.push("b", q(1)), Pushed::NewKey);
        assert_eq!(w.push("b", q(2)), Pushed::Full);
        assert_eq!(w.front("a"), Some(q(5)));
        w.pop("a", q(5).id);
        assert_eq!(w.front("a"), Some(q(7)));
        w.pop("a", q(7).id);
        assert_eq!(w.front("a"), Some(q(9)));
        w.pop("a", q(9).id);
        assert_eq!(w.front("a"), None);
        assert_eq!(w.len(), 1);
        w.drop_key("b");
        assert_eq!(w.len(), 0);
        assert!(w.rescan);
    }

    #[test]
    fn the_in_flight_front_keeps_its_place() {
        let mut w = WorkQueue::new(10);
        w.push("a", q(5));
        w.push("a", q(3));
        assert_eq!(w.front("a"), Some(q(5)), "the front is in flight; an older arrival waits behind it");
    }
}
