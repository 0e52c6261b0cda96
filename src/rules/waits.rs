//! The conversations waiting in a queue, as the rule engine's timers see them: a bounded in-memory index.
//!
//! Only what the timers need is held (conversation id, integration, when the waiting episode began, which
//! queue-wait rules already fired for it); the session itself is read from the session store when a rule fires.
//! Whether a rule fired for an episode is decided by the durable state (see `state.rs`); the `fired` set here only
//! spares the store a look-up on every tick. An entry leaves when its conversation stops waiting, when every
//! queue-wait rule fired for it, or, past [`MAX_WAITING`] entries, longest wait first (that one has most likely
//! fired everything already; if not, it comes back with the conversation's next event or the next resume).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

/// Most conversations tracked at once.
pub const MAX_WAITING: usize = 20_000;

/// One waiting conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    /// The conversation.
    pub conversation_id: String,
    /// The integration whose stream reported it.
    pub integration: String,
    /// When the waiting episode began (the session's `queued_at`, else `opened_at`).
    pub since: DateTime<Utc>,
    /// When herald first saw the conversation waiting in this episode (the event's time; `None` when resumed from
    /// the store). A conversation re-opened into the queue can carry the `queued_at` of an earlier routing; this is
    /// when it actually came back.
    pub seen_at: Option<DateTime<Utc>>,
    /// Indexes (in the engine's rule list) of the queue-wait rules already done for this episode.
    pub fired: BTreeSet<usize>,
}

/// The waiting conversations, by id, with an index by start of wait for eviction.
#[derive(Debug, Default)]
pub struct Waits {
    by_id: HashMap<String, Wait>,
    by_since: BTreeSet<(DateTime<Utc>, String)>,
}

impl Waits {
    /// Track `conversation_id` as waiting since `since`, first seen waiting at `seen_at`. A new episode (another
    /// `since`) forgets what fired.
    pub fn insert(
        &mut self,
        conversation_id: &str,
        integration: &str,
        since: DateTime<Utc>,
        seen_at: Option<DateTime<Utc>>,
    ) {
        if let Some(w) = self.by_id.get_mut(conversation_id) {
            if w.since == since {
                return;
            }
            self.by_since.remove(&(w.since, conversation_id.to_string()));
            w.since = since;
            w.seen_at = seen_at;
            w.fired.clear();
            self.by_since.insert((since, conversation_id.to_string()));
            return;
        }
        while self.by_id.len() >= MAX_WAITING {
            let Some(oldest) = self.by_since.pop_first() else { break };
            self.by_id.remove(&oldest.1);
            metrics::counter!("herald_rule_waits_evicted_total").increment(1);
        }
        self.by_id.insert(
            conversation_id.to_string(),
            Wait {
                conversation_id: conversation_id.to_string(),
                integration: integration.to_string(),
                since,
                seen_at,
                fired: BTreeSet::new(),
            },
        );
        self.by_since.insert((since, conversation_id.to_string()));
    }

    /// Stop tracking a conversation.
    pub fn remove(&mut self, conversation_id: &str) {
        if let Some(w) = self.by_id.remove(conversation_id) {
            self.by_since.remove(&(w.since, w.conversation_id));
        }
    }

    /// Mark a rule done for the conversation's current episode (`since`); the entry is dropped once every rule in
    /// `all` is done.
    pub fn mark_fired(&mut self, conversation_id: &str, since: DateTime<Utc>, rule: usize, all: &[usize]) {
        let done = match self.by_id.get_mut(conversation_id) {
            Some(w) if w.since == since => {
                w.fired.insert(rule);
                all.iter().all(|r| w.fired.contains(r))
            }
            _ => false,
        };
        if done {
            self.remove(conversation_id);
        }
    }

    /// Every tracked wait whose episode began at or before `cutoff` (the only ones a rule can be due for), longest
    /// first.
    pub fn began_by(&self, cutoff: DateTime<Utc>) -> Vec<Wait> {
        self.by_since
            .iter()
            .take_while(|(since, _)| *since <= cutoff)
            .filter_map(|(_, id)| self.by_id.get(id).cloned())
            .collect()
    }

    /// Sizes of the map and its index (they must be equal), for tests of boundedness.
    pub fn sizes(&self) -> (usize, usize) {
        (self.by_id.len(), self.by_since.len())
    }
}
