//! [`SessionCache`]: the open sessions a conversation adapter saw on the stream more recently than the host may
//! have stored them — bounded, indexed, never scanned.
//!
//! The stream is untrusted input: every frame can name a new conversation and a new customer id. The cache
//! therefore holds at most `capacity` sessions and forgets each `ttl` after it was last written (by then the host
//! has long applied the event to the session store, which is the source of truth). The least recently written
//! session is evicted first. Look-ups by conversation id and by customer id go through indexes; nothing walks the
//! whole cache except [`SessionCache::ids`], which is bounded by `capacity`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use herald_core::{Session, SessionState};
use parking_lot::Mutex;
use tokio::time::Instant;

/// Sessions kept at most by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// How long a session is kept after its last write by default (the host stores it within milliseconds).
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

struct Entry {
    session: Session,
    seq: u64,
    written: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Write order: sequence number → conversation id (the first is the least recently written).
    order: BTreeMap<u64, String>,
    /// Customer id → the conversations of that customer in `entries`.
    by_customer: HashMap<String, HashSet<String>>,
    next: u64,
}

impl Inner {
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.entries.remove(id)?;
        self.order.remove(&entry.seq);
        for key in entry.session.customer.keys() {
            if let Some(set) = self.by_customer.get_mut(key) {
                set.remove(id);
                if set.is_empty() {
                    self.by_customer.remove(key);
                }
            }
        }
        Some(entry)
    }

    /// Drops sessions written before `cutoff` and the least recently written beyond `capacity`.
    fn prune(&mut self, capacity: usize, cutoff: Option<Instant>) {
        while let Some((_, id)) = self.order.first_key_value() {
            let id = id.clone();
            let expired = match (cutoff, self.entries.get(&id)) {
                (Some(c), Some(e)) => e.written < c,
                _ => false,
            };
            if self.entries.len() <= capacity && !expired {
                break;
            }
            if self.remove(&id).is_none() {
                self.order.pop_first();
            }
        }
    }
}

/// A bounded cache of open sessions (see the module docs).
pub struct SessionCache {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache::new(DEFAULT_CAPACITY, DEFAULT_TTL)
    }
}

impl SessionCache {
    /// A cache of at most `capacity` sessions (at least 1), each kept `ttl` after its last write.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        SessionCache { capacity: capacity.max(1), ttl, inner: Mutex::new(Inner::default()) }
    }

    fn cutoff(&self) -> Option<Instant> {
        Instant::now().checked_sub(self.ttl)
    }

    /// The cached session of `conversation_id`, unless it expired.
    pub fn get(&self, conversation_id: &str) -> Option<Session> {
        let cutoff = self.cutoff();
        let inner = self.inner.lock();
        let e = inner.entries.get(conversation_id)?;
        cutoff.is_none_or(|c| e.written >= c).then(|| e.session.clone())
    }

    /// Remembers an open `session` unless the cache holds something newer; a closed session leaves the cache.
    pub fn remember(&self, session: &Session) {
        let mut inner = self.inner.lock();
        let id = &session.conversation_id;
        if session.state == SessionState::Closed {
            inner.remove(id);
            return;
        }
        if inner.entries.get(id).is_some_and(|c| c.session.updated_at > session.updated_at) {
            return;
        }
        inner.remove(id);
        let seq = inner.next;
        inner.next += 1;
        inner.order.insert(seq, id.clone());
        for key in session.customer.keys() {
            inner.by_customer.entry(key.to_string()).or_default().insert(id.clone());
        }
        inner.entries.insert(id.clone(), Entry { session: session.clone(), seq, written: Instant::now() });
        let cutoff = self.cutoff();
        inner.prune(self.capacity, cutoff);
    }

    /// The cached sessions of which `key` is one of the customer's ids.
    pub fn of_customer(&self, key: &str) -> Vec<Session> {
        let cutoff = self.cutoff();
        let inner = self.inner.lock();
        let Some(ids) = inner.by_customer.get(key) else { return Vec::new() };
        ids.iter()
            .filter_map(|id| inner.entries.get(id))
            .filter(|e| cutoff.is_none_or(|c| e.written >= c))
            .map(|e| e.session.clone())
            .collect()
    }

    /// The ids of every cached session (at most the capacity), after dropping expired ones.
    pub fn ids(&self) -> Vec<String> {
        let mut inner = self.inner.lock();
        let cutoff = self.cutoff();
        inner.prune(self.capacity, cutoff);
        inner.entries.keys().cloned().collect()
    }

    /// The most sessions kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many sessions are cached (expired ones included until the next write prunes them).
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many customer ids are indexed (for tests and health: bounded like the sessions).
    pub fn indexed_customers(&self) -> usize {
        self.inner.lock().by_customer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use herald_core::MediaKind;

    fn session(i: usize) -> Session {
        let mut s = Session::new(format!("conv-{i}"), "wm", MediaKind::WebMessaging, Utc::now());
        s.state = SessionState::Connected;
        s.customer.external_contact_id = Some(format!("contact-{i}"));
        s.customer.guest_id = Some(format!("guest-{i}"));
        s
    }

    #[test]
    fn a_hundred_thousand_distinct_targets_stay_under_the_bound() {
        let cache = SessionCache::new(1_000, DEFAULT_TTL);
        for i in 0..100_000 {
            cache.remember(&session(i));
            assert!(cache.len() <= 1_000);
        }
        assert_eq!(cache.len(), 1_000);
        assert_eq!(cache.indexed_customers(), 2_000, "two ids per cached customer, none left behind");
        // The most recent are kept, the oldest evicted; look-ups use the indexes.
        assert!(cache.get("conv-99999").is_some());
        assert!(cache.get("conv-0").is_none());
        assert_eq!(cache.of_customer("contact-99999").len(), 1);
        assert!(cache.of_customer("contact-0").is_empty());
        assert_eq!(cache.ids().len(), 1_000);
    }

    #[test]
    fn closed_sessions_leave_and_older_versions_do_not_replace_newer() {
        let cache = SessionCache::default();
        let mut s = session(1);
        cache.remember(&s);
        let mut older = s.clone();
        older.updated_at = s.updated_at - chrono::Duration::seconds(5);
        older.state = SessionState::Queued;
        cache.remember(&older);
        assert_eq!(cache.get("conv-1").map(|c| c.state), Some(SessionState::Connected));
        s.state = SessionState::Closed;
        cache.remember(&s);
        assert!(cache.is_empty());
        assert_eq!(cache.indexed_customers(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_after_the_ttl() {
        let cache = SessionCache::new(10, Duration::from_secs(60));
        cache.remember(&session(1));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(cache.get("conv-1").is_none());
        assert!(cache.of_customer("contact-1").is_empty());
        cache.remember(&session(2));
        assert_eq!(cache.len(), 1, "the expired one was pruned on the next write");
        assert!(cache.ids() == vec!["conv-2".to_string()]);
    }
}
