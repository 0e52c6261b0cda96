//! The topic names the emulator recognises, and whether a subscription is permitted.
//!
//! `{id}` matches exactly one dot-free segment; anything else is answered `Rejected`, which is
//! how a mistyped topic (e.g. `routingstatus` instead of `routingStatus`) shows up.

const PATTERNS: &[&str] = &[
    "v2.users.{id}.presence",
    "v2.users.{id}.routingStatus",
    "v2.users.{id}.activity",
    "v2.users.{id}.conversations",
    "v2.users.{id}.conversations.messages",
    "v2.users.{id}.conversations.chats",
    "v2.users.{id}.conversationsummary",
    "v2.routing.queues.{id}.conversations",
    "v2.routing.queues.{id}.conversations.messages",
    "v2.routing.queues.{id}.conversations.chats",
    "v2.routing.queues.{id}.users",
    "v2.conversations.chats.{id}.messages",
    "v2.conversations.chats.{id}.members",
    "v2.detail.events.conversation.{id}.customer.start",
    "v2.detail.events.conversation.{id}.customer.end",
    "v2.detail.events.conversation.{id}.acd.start",
    "v2.detail.events.conversation.{id}.acd.end",
    "v2.detail.events.conversation.{id}.user.start",
    "v2.detail.events.conversation.{id}.user.end",
];

/// Whether `topic` names a known topic.
pub fn is_known(topic: &str) -> bool {
    let parts: Vec<&str> = topic.split('.').collect();
    PATTERNS.iter().any(|p| {
        let pp: Vec<&str> = p.split('.').collect();
        pp.len() == parts.len() && pp.iter().zip(&parts).all(|(a, b)| if *a == "{id}" { !b.is_empty() } else { a == b })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_patterns() {
        assert!(super::is_known("v2.users.abc.routingStatus"));
        assert!(!super::is_known("v2.users.abc.routingstatus"));
        assert!(super::is_known("v2.routing.queues.q1.conversations.messages"));
    }
}
