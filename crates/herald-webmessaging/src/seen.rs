//! [`SeenMessages`]: which inbound message ids ingestion has already reported, per conversation — bounded.
//!
//! The stream repeats a conversation's messages in every frame about it, so ingestion remembers the ids it has
//! reported to publish each `MessageReceived` once. The stream is untrusted input, so the memory is bounded: at
//! most [`MAX_CONVERSATIONS`] conversations (the least recently active is forgotten first) and
//! [`MAX_PER_CONVERSATION`] ids each (the oldest forgotten first), kept as 64-bit hashes. A conversation is
//! forgotten when it closes. Past those bounds a message can be reported twice (a forgotten conversation that
//! becomes active again, a conversation with more messages than the bound); none is ever lost.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// Conversations remembered at most.
pub const MAX_CONVERSATIONS: usize = 10_000;

/// Message ids remembered per conversation at most.
pub const MAX_PER_CONVERSATION: usize = 512;

#[derive(Default)]
struct Conversation {
    seq: u64,
    ids: HashSet<u64>,
    order: VecDeque<u64>,
}

/// Reported inbound message ids per conversation (see the module docs).
pub(crate) struct SeenMessages {
    conversations: HashMap<String, Conversation>,
    /// Activity order: sequence number → conversation id (the first is the least recently active).
    order: BTreeMap<u64, String>,
    next: u64,
    max_conversations: usize,
    max_per_conversation: usize,
}

impl Default for SeenMessages {
    fn default() -> Self {
        SeenMessages::new(MAX_CONVERSATIONS, MAX_PER_CONVERSATION)
    }
}

fn hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl SeenMessages {
    /// Bounded to `max_conversations` conversations of `max_per_conversation` ids (each at least 1).
    pub fn new(max_conversations: usize, max_per_conversation: usize) -> Self {
        SeenMessages {
            conversations: HashMap::new(),
            order: BTreeMap::new(),
            next: 0,
            max_conversations: max_conversations.max(1),
            max_per_conversation: max_per_conversation.max(1),
        }
    }

    /// Records the message ids of conversation `conv`; returns how many had not been reported before.
    pub fn record<'a>(&mut self, conv: &str, ids: impl IntoIterator<Item = &'a str>) -> usize {
        let seq = self.next;
        self.next += 1;
        let entry = self.conversations.entry(conv.to_string()).or_default();
        if entry.seq != seq {
            self.order.remove(&entry.seq);
        }
        entry.seq = seq;
        self.order.insert(seq, conv.to_string());
        let mut new = 0;
        for id in ids {
            let h = hash(id);
            if entry.ids.insert(h) {
                new += 1;
                entry.order.push_back(h);
                if entry.order.len() > self.max_per_conversation {
                    if let Some(old) = entry.order.pop_front() {
                        entry.ids.remove(&old);
                    }
                }
            }
        }
        while self.conversations.len() > self.max_conversations {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.conversations.remove(&oldest);
        }
        new
    }

    /// Forgets conversation `conv` (it closed).
    pub fn forget(&mut self, conv: &str) {
        if let Some(c) = self.conversations.remove(conv) {
            self.order.remove(&c.seq);
        }
    }

    /// How many conversations are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.conversations.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_each_id_once_and_stays_bounded() {
        let mut seen = SeenMessages::new(1_000, 8);
        assert_eq!(seen.record("c1", ["m1", "m2"]), 2);
        assert_eq!(seen.record("c1", ["m1", "m2", "m3"]), 1);
        for i in 0..100_000 {
            seen.record(&format!("conv-{i}"), [format!("msg-{i}").as_str()]);
            assert!(seen.len() <= 1_000);
        }
        assert_eq!(seen.len(), 1_000);
        assert_eq!(seen.record("conv-99999", ["msg-99999"]), 0, "recent conversations are remembered");
        let many: Vec<String> = (0..100).map(|i| format!("x-{i}")).collect();
        assert_eq!(seen.record("big", many.iter().map(String::as_str)), 100);
        assert_eq!(seen.conversations.get("big").map(|c| c.ids.len()), Some(8));
        seen.forget("big");
        assert!(!seen.conversations.contains_key("big"));
        assert_eq!(seen.order.len(), seen.conversations.len());
    }
}
