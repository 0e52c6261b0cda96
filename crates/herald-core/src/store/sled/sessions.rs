//! [`SessionStore`] for [`SledStore`]: sessions by conversation id plus time-ordered index trees.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::atomic::Ordering;

use super::keys;
use super::{decode, encode, SledStore, META_SESSIONS_LEN};
use crate::error::StoreError;
use crate::session::{Session, SessionState};
use crate::store::memory::{closed_at, newest_activity_first, session_matches, session_purgeable};
use crate::store::{page_size, SessionQuery, SessionStore};

/// Sessions removed per hold of the session lock, so a big purge does not stall upserts.
const PURGE_CHUNK: usize = 256;

/// Every index key of one version of a session.
///
/// The customer and agent indexes are keyed `id ++ conversation` with no time in the key, so a session's entries
/// stay put while only its activity time changes (most stream frames); only `by_updated` moves on every upsert.
/// Queries by customer or agent load the few sessions under that prefix and order them by activity themselves.
#[derive(Debug, PartialEq, Eq)]
struct IndexKeys {
    by_customer: BTreeSet<Vec<u8>>,
    by_agent: BTreeSet<Vec<u8>>,
    by_updated: Vec<u8>,
    closed: Option<Vec<u8>>,
}

impl IndexKeys {
    fn empty() -> IndexKeys {
        IndexKeys { by_customer: BTreeSet::new(), by_agent: BTreeSet::new(), by_updated: Vec::new(), closed: None }
    }

    fn of(s: &Session) -> IndexKeys {
        let conv = s.conversation_id.as_bytes();
        let owned = |id: &str| {
            let mut key = keys::str_prefix(id);
            key.extend_from_slice(conv);
            key
        };
        IndexKeys {
            // Sets: a customer id given twice (say external contact id == customer key) or an agent who
            // reconnected is indexed once, so a query never returns the same session twice.
            by_customer: s.customer.keys().into_iter().map(owned).collect(),
            by_agent: s.agent_ids.iter().filter(|a| !a.is_empty()).map(|a| owned(a)).collect(),
            by_updated: keys::timed(&[], s.updated_at, conv),
            closed: (s.state == SessionState::Closed).then(|| keys::timed(&[], closed_at(s), conv)),
        }
    }
}

/// The index trees, paired with a version's keys for each.
fn index_pairs<'a>(t: &'a super::Trees, k: &'a IndexKeys) -> [(&'a ::sled::Tree, Vec<&'a Vec<u8>>); 4] {
    [
        (&t.by_customer, k.by_customer.iter().collect()),
        (&t.by_agent, k.by_agent.iter().collect()),
        (&t.by_updated, vec![&k.by_updated]),
        (&t.closed, k.closed.iter().collect()),
    ]
}

/// Trees of the first layout, whose customer, agent and integration keys carried the activity time.
const TIMED_OWNER_TREES: [&str; 3] = ["sessions_by_customer", "sessions_by_agent", "sessions_by_integration"];

/// Upgrade a store written with the first layout: rebuild the customer and agent indexes from the sessions, then
/// drop the old trees. Runs at open, before anything else touches the store; a crash midway repeats it.
pub(super) fn migrate_timed_owner_indexes(db: &::sled::Db, t: &super::Trees) -> Result<(), StoreError> {
    let names = db.tree_names();
    let old: Vec<&str> =
        TIMED_OWNER_TREES.into_iter().filter(|n| names.iter().any(|t| t.as_ref() == n.as_bytes())).collect();
    if old.is_empty() {
        return Ok(());
    }
    for entry in t.sessions.iter() {
        let (key, value) = entry?;
        let conv = String::from_utf8_lossy(&key).into_owned();
        let session: Session = decode(&value, || session_key(&conv))?;
        add_entries(t, None, &IndexKeys::of(&session))?;
    }
    t.sessions.flush()?;
    for name in old {
        db.drop_tree(name)?;
    }
    Ok(())
}

/// Insert the index entries of `new` that `old` lacks.
fn add_entries(t: &super::Trees, old: Option<&IndexKeys>, new: &IndexKeys) -> Result<(), StoreError> {
    let empty = IndexKeys::empty();
    for ((tree, new_keys), (_, old_keys)) in index_pairs(t, new).into_iter().zip(index_pairs(t, old.unwrap_or(&empty)))
    {
        for k in new_keys.into_iter().filter(|k| !old_keys.contains(k)) {
            tree.insert(k.as_slice(), &[][..])?;
        }
    }
    Ok(())
}

/// Remove the index entries of `old` that `new` lacks.
fn remove_entries(t: &super::Trees, old: &IndexKeys, new: Option<&IndexKeys>) -> Result<(), StoreError> {
    let empty = IndexKeys::empty();
    for ((tree, old_keys), (_, new_keys)) in index_pairs(t, old).into_iter().zip(index_pairs(t, new.unwrap_or(&empty)))
    {
        for k in old_keys.into_iter().filter(|k| !new_keys.contains(k)) {
            tree.remove(k.as_slice())?;
        }
    }
    Ok(())
}

fn session_key(conv: &str) -> String {
    format!("sessions/{conv}")
}

impl SledStore {
    /// Record a change of the number of sessions (caller holds the session lock).
    fn add_to_len(&self, delta: i64) -> Result<(), StoreError> {
        let len = self.inner.sessions_len.load(Ordering::SeqCst).saturating_add_signed(delta);
        self.inner.sessions_len.store(len, Ordering::SeqCst);
        self.trees().meta.insert(META_SESSIONS_LEN, &keys::seq(len)[..])?;
        Ok(())
    }

    fn load_session(&self, conv: &str) -> Result<Option<Session>, StoreError> {
        match self.trees().sessions.get(conv.as_bytes())? {
            Some(bytes) => decode(&bytes, || session_key(conv)).map(Some),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl SessionStore for SledStore {
    async fn upsert(&self, session: Session) -> Result<(), StoreError> {
        let t = self.trees();
        let conv = session.conversation_id.as_str();
        let value = encode(&session, &session_key(conv))?;
        let new = IndexKeys::of(&session);
        let _writer = self.inner.sessions_lock.lock();
        let old = self.load_session(conv)?.map(|s| IndexKeys::of(&s));
        // New entries, the session, then removal of the old entries: a crash leaves a stale entry (skipped by
        // queries), never a missing one.
        add_entries(t, old.as_ref(), &new)?;
        t.sessions.insert(conv.as_bytes(), value)?;
        match &old {
            Some(old) => remove_entries(t, old, Some(&new)),
            None => self.add_to_len(1),
        }
    }

    async fn get(&self, conversation_id: &str) -> Result<Option<Session>, StoreError> {
        self.load_session(conversation_id)
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<Session>, StoreError> {
        let t = self.trees();
        // A customer's or an agent's sessions are few: load them all, filter, order by activity.
        let owner = match (&query.customer, &query.agent) {
            (Some(c), _) => Some((&t.by_customer, "sessions_of_customer", c)),
            (None, Some(a)) => Some((&t.by_agent, "sessions_of_agent", a)),
            (None, None) => None,
        };
        if let Some((tree, name, id)) = owner {
            let prefix = keys::str_prefix(id);
            let mut found = Vec::new();
            for entry in tree.scan_prefix(&prefix) {
                let (key, _) = entry?;
                let conv = keys::owned_conversation(&key, prefix.len(), name)?;
                // Entries of a session that has since changed owner fail the match and are skipped.
                if let Some(session) = self.load_session(&conv)?.filter(|s| session_matches(s, query)) {
                    found.push(session);
                }
            }
            found.sort_by(newest_activity_first);
            found.truncate(page_size(query.limit));
            return Ok(found);
        }
        // Everything else walks the activity index newest first and stops at the limit.
        let start = query.since.map(|since| keys::ts(since).to_vec()).unwrap_or_default();
        let range = match &query.after {
            // Keys are `ts ++ conversation id`: everything strictly before the cursor's key.
            Some((at, conv)) => {
                let end = keys::timed(&[], *at, conv.as_bytes());
                if start >= end {
                    return Ok(Vec::new());
                }
                t.by_updated.range(start..end)
            }
            None => t.by_updated.range(start..),
        };
        let limit = page_size(query.limit);
        let mut found = Vec::new();
        for entry in range.rev() {
            let (key, _) = entry?;
            let (conv, stamp) = keys::trailing_conversation(&key, 0, "sessions_by_updated")?;
            let Some(session) = self.load_session(&conv)? else { continue };
            // An entry of an older version of a session that changed during this scan: its current entry is
            // elsewhere in the index.
            if keys::ts(session.updated_at) != stamp || !session_matches(&session, query) {
                continue;
            }
            found.push(session);
            if found.len() >= limit {
                break;
            }
        }
        Ok(found)
    }

    async fn purge_closed(&self, closed_before: DateTime<Utc>) -> Result<usize, StoreError> {
        let end = keys::ts(closed_before).to_vec();
        let mut from: Vec<u8> = Vec::new();
        let mut removed = 0;
        loop {
            let mut chunk = Vec::with_capacity(PURGE_CHUNK);
            for entry in self.trees().closed.range(from.clone()..end.clone()).take(PURGE_CHUNK) {
                let (key, _) = entry?;
                let conv = keys::trailing_conversation(&key, 0, "sessions_closed")?.0;
                if self.trees().sessions.get(conv.as_bytes())?.is_none() {
                    self.trees().closed.remove(&key)?; // dangling after a crash
                }
                chunk.push(conv);
                from = key.to_vec();
                from.push(0);
            }
            if chunk.is_empty() {
                return Ok(removed);
            }
            let _writer = self.inner.sessions_lock.lock();
            let mut n = 0;
            for conv in &chunk {
                let Some(session) = self.load_session(conv)? else {
                    continue;
                };
                if session_purgeable(&session, closed_before) {
                    // The session first: entries left behind by a crash point at nothing and are skipped.
                    self.trees().sessions.remove(conv.as_bytes())?;
                    remove_entries(self.trees(), &IndexKeys::of(&session), None)?;
                    n += 1;
                }
            }
            self.add_to_len(-n)?;
            removed += n as usize;
        }
    }

    async fn len(&self) -> Result<usize, StoreError> {
        Ok(usize::try_from(self.inner.sessions_len.load(Ordering::SeqCst)).unwrap_or(usize::MAX))
    }
}
