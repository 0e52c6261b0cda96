//! The variables an event offers to rule templates and conditions.

use std::collections::BTreeMap;

use herald_core::{Event, EventKind, PresenceSource, Sender, Session};

/// Variables of an event: the names listed in [`super::variables_for`], plus `attr.<name>` for attributes.
pub fn of(event: &Event) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("integration".into(), event.integration.clone());
    let mut put = |k: &str, val: Option<&str>| {
        if let Some(val) = val {
            v.insert(k.to_string(), val.to_string());
        }
    };
    match &event.kind {
        EventKind::SessionOpened { session }
        | EventKind::SessionUpdated { session }
        | EventKind::SessionClosed { session } => {
            session_vars(session, &mut put);
        }
        EventKind::QueueWaitExceeded { session, waited_secs } => {
            session_vars(session, &mut put);
            put("waited_secs", Some(&waited_secs.to_string()));
        }
        EventKind::MessageReceived { conversation_id, sender, text } => {
            put("conversation_id", Some(conversation_id));
            put("text", text.as_deref());
            put(
                "sender",
                Some(match sender {
                    Sender::Customer => "customer",
                    Sender::Agent => "agent",
                    Sender::System => "system",
                }),
            );
        }
        EventKind::AgentPresenceChanged { agent_id, source, presence, previous } => {
            put("agent_id", Some(agent_id));
            put("presence", Some(presence));
            put("previous_presence", previous.as_deref());
            put(
                "source",
                Some(match source {
                    PresenceSource::Genesys => "genesys",
                    PresenceSource::Teams => "teams",
                }),
            );
        }
        EventKind::AgentBecameAvailable { agent_id } => put("agent_id", Some(agent_id)),
        EventKind::Named { name, attributes } => {
            put("event", Some(name));
            for key in ["customer_id", "conversation_id", "agent_id"] {
                put(key, attributes.get(key).map(String::as_str));
            }
            for (k, val) in attributes {
                v.insert(format!("attr.{k}"), val.clone());
            }
        }
    }
    if let Some(session) = event.kind.session() {
        for (k, val) in &session.attributes {
            v.entry(format!("attr.{k}")).or_insert_with(|| val.clone());
        }
    }
    v
}

fn session_vars(s: &Session, put: &mut impl FnMut(&str, Option<&str>)) {
    put("conversation_id", Some(&s.conversation_id));
    put("customer_id", s.customer.primary());
    put("customer_name", s.customer.name.as_deref());
    put("agent_id", s.agent_ids.last().map(String::as_str));
    put("agent_name", s.agent_name());
    put("queue_id", s.queue_id.as_deref());
}
