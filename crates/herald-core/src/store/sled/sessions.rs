//! [`SessionStore`] for [`SledStore`]: sessions by conversation id plus time-ordered index trees.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, Transactional, TransactionalTree};

use super::keys;
use super::{decode, encode, meta_u64, tx_error, Abort, SledStore, META_SESSIONS_LEN};
use crate::error::StoreError;
use crate::session::{Session, SessionState};
use crate::store::memory::{closed_at, session_matches, session_purgeable};
use crate::store::{SessionQuery, SessionStore};

/// Sessions removed per purge transaction: big enough to amortise the transaction, small enough to keep sled's
/// global transaction lock short.
const PURGE_CHUNK: usize = 256;

/// Every index key of one version of a session.
#[derive(Debug, PartialEq, Eq)]
struct IndexKeys {
    by_customer: BTreeSet<Vec<u8>>,
    by_agent: BTreeSet<Vec<u8>>,
    by_integration: Vec<u8>,
    by_updated: Vec<u8>,
    closed: Option<Vec<u8>>,
}

impl IndexKeys {
    fn of(s: &Session) -> IndexKeys {
        let conv = s.conversation_id.as_bytes();
        let timed = |id: &str| keys::timed(&keys::str_prefix(id), s.updated_at, conv);
        IndexKeys {
            // Sets: a customer id given twice (say external contact id == customer key) or an agent who
            // reconnected is indexed once, so a query never returns the same session twice.
            by_customer: s.customer.keys().into_iter().map(timed).collect(),
            by_agent: s.agent_ids.iter().filter(|a| !a.is_empty()).map(|a| timed(a)).collect(),
            by_integration: timed(&s.integration),
            by_updated: keys::timed(&[], s.updated_at, conv),
            closed: (s.state == SessionState::Closed).then(|| keys::timed(&[], closed_at(s), conv)),
        }
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

/// Replace the entries `old` by `new` in one index tree, touching only what changed.
fn swap<'a>(
    tree: &TransactionalTree,
    old: impl IntoIterator<Item = &'a Vec<u8>>,
    new: impl IntoIterator<Item = &'a Vec<u8>> + Clone,
) -> TxResult<()> {
    let old: BTreeSet<&Vec<u8>> = old.into_iter().collect();
    let new_set: BTreeSet<&Vec<u8>> = new.clone().into_iter().collect();
    for k in old.difference(&new_set) {
        tree.remove(k.as_slice())?;
    }
    for k in new_set.difference(&old) {
        tree.insert(k.as_slice(), &[][..])?;
    }
    Ok(())
}

/// The transactional views of the session trees, in the order they are passed to `transaction`.
struct SessionTx<'a> {
    sessions: &'a TransactionalTree,
    by_customer: &'a TransactionalTree,
    by_agent: &'a TransactionalTree,
    by_integration: &'a TransactionalTree,
    by_updated: &'a TransactionalTree,
    closed: &'a TransactionalTree,
    meta: &'a TransactionalTree,
}

impl SessionTx<'_> {
    /// Move the index entries from `old` (absent for a new session) to `new` (absent for a removal).
    fn reindex(&self, old: Option<&IndexKeys>, new: Option<&IndexKeys>) -> TxResult<()> {
        let none = BTreeSet::new();
        swap(self.by_customer, old.map_or(&none, |o| &o.by_customer), new.map_or(&none, |n| &n.by_customer))?;
        swap(self.by_agent, old.map_or(&none, |o| &o.by_agent), new.map_or(&none, |n| &n.by_agent))?;
        swap(self.by_integration, old.map(|o| &o.by_integration), new.map(|n| &n.by_integration))?;
        swap(self.by_updated, old.map(|o| &o.by_updated), new.map(|n| &n.by_updated))?;
        swap(self.closed, old.and_then(|o| o.closed.as_ref()), new.and_then(|n| n.closed.as_ref()))?;
        Ok(())
    }

    fn add_to_len(&self, delta: i64) -> TxResult<()> {
        let len = meta_u64(self.meta, META_SESSIONS_LEN)?.saturating_add_signed(delta);
        self.meta.insert(META_SESSIONS_LEN, &keys::seq(len)[..])?;
        Ok(())
    }
}

fn session_key(conv: &str) -> String {
    format!("sessions/{conv}")
}

impl SledStore {
    /// Run `f` in a transaction over every session tree.
    fn session_tx<T>(&self, f: impl Fn(&SessionTx<'_>) -> TxResult<T>) -> Result<T, StoreError> {
        let t = self.trees();
        (&t.sessions, &t.by_customer, &t.by_agent, &t.by_integration, &t.by_updated, &t.closed, &t.meta)
            .transaction(|(sessions, by_customer, by_agent, by_integration, by_updated, closed, meta)| {
                f(&SessionTx { sessions, by_customer, by_agent, by_integration, by_updated, closed, meta })
            })
            .map_err(tx_error)
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
        let conv = session.conversation_id.as_str();
        let value = encode(&session, &session_key(conv))?;
        let new = IndexKeys::of(&session);
        self.session_tx(|tx| {
            let previous = tx.sessions.insert(conv.as_bytes(), value.as_slice())?;
            match previous {
                Some(bytes) => {
                    let old: Session = decode(&bytes, || session_key(conv))?;
                    tx.reindex(Some(&IndexKeys::of(&old)), Some(&new))
                }
                None => {
                    tx.reindex(None, Some(&new))?;
                    tx.add_to_len(1)
                }
            }
        })
    }

    async fn get(&self, conversation_id: &str) -> Result<Option<Session>, StoreError> {
        self.load_session(conversation_id)
    }

    async fn query(&self, query: &SessionQuery) -> Result<Vec<Session>, StoreError> {
        let t = self.trees();
        // The most selective index first; the remaining conditions are checked on the loaded session.
        let (tree, name, prefix) = if let Some(c) = &query.customer {
            (&t.by_customer, "sessions_by_customer", keys::str_prefix(c))
        } else if let Some(a) = &query.agent {
            (&t.by_agent, "sessions_by_agent", keys::str_prefix(a))
        } else if let Some(i) = &query.integration {
            (&t.by_integration, "sessions_by_integration", keys::str_prefix(i))
        } else {
            (&t.by_updated, "sessions_by_updated", Vec::new())
        };
        let lower = match query.since {
            Some(since) => keys::timed(&prefix, since, &[]),
            None => prefix.clone(),
        };
        let range = match keys::prefix_end(&prefix) {
            Some(end) => tree.range(lower..end),
            None => tree.range(lower..),
        };
        let mut found = Vec::new();
        for entry in range.rev() {
            let (key, _) = entry?;
            let (conv, stamp) = keys::trailing_conversation(&key, prefix.len(), name)?;
            let Some(session) = self.load_session(&conv)? else { continue };
            // An entry of an older version of a session that changed during this scan: its current entry is
            // elsewhere in the index.
            if keys::ts(session.updated_at) != stamp || !session_matches(&session, query) {
                continue;
            }
            found.push(session);
            if query.limit > 0 && found.len() >= query.limit {
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
                chunk.push(keys::trailing_conversation(&key, 0, "sessions_closed")?.0);
                from = key.to_vec();
                from.push(0);
            }
            if chunk.is_empty() {
                return Ok(removed);
            }
            removed += self.session_tx(|tx| {
                let mut n = 0;
                for conv in &chunk {
                    let Some(bytes) = tx.sessions.get(conv.as_bytes())? else { continue };
                    let session: Session = decode(&bytes, || session_key(conv))?;
                    if session_purgeable(&session, closed_before) {
                        tx.sessions.remove(conv.as_bytes())?;
                        tx.reindex(Some(&IndexKeys::of(&session)), None)?;
                        n += 1;
                    }
                }
                tx.add_to_len(-(n as i64))?;
                Ok(n)
            })?;
        }
    }

    async fn len(&self) -> Result<usize, StoreError> {
        let len = match self.trees().meta.get(META_SESSIONS_LEN)? {
            Some(v) => keys::decode_seq(&v, "meta/sessions_len")?,
            None => 0,
        };
        Ok(usize::try_from(len).unwrap_or(usize::MAX))
    }
}
