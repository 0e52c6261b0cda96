//! The emulated Genesys Cloud org: everything mutable lives in [`World`], behind one lock.
//!
//! Operations lock the world briefly, mutate it, and push frames to unbounded channels while
//! holding the lock (never awaiting). Lock order is always world → notification hub.

pub mod agent;
pub mod contact;
pub mod conversation;
pub mod guest;
pub mod presence;

use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};

use crate::config::EmulatorConfig;
use agent::{Agent, Presence};
use contact::Contact;
use conversation::Conversation;
use guest::GuestSession;
use presence::SystemPresence;

/// Threading timeline settings.
#[derive(Debug, Clone)]
pub struct Threading {
    /// Default window in minutes.
    pub default_minutes: u32,
    /// Per messenger type overrides.
    pub per_type: Vec<(String, u32)>,
}

impl Threading {
    /// The window for a messenger type.
    pub fn window(&self, messenger_type: &str) -> chrono::Duration {
        let minutes =
            self.per_type.iter().find(|(t, _)| t == messenger_type).map(|(_, m)| *m).unwrap_or(self.default_minutes);
        chrono::Duration::minutes(i64::from(minutes))
    }
}

/// The mutable state of the org.
#[derive(Debug)]
pub struct World {
    /// Conversations by id.
    pub conversations: HashMap<String, Conversation>,
    /// Agents by user id.
    pub agents: HashMap<String, Agent>,
    /// Agent ids in configuration order.
    pub agent_order: Vec<String>,
    /// Conversations waiting per queue id.
    pub waiting: HashMap<String, VecDeque<String>>,
    /// External contacts by id.
    pub contacts: HashMap<String, Contact>,
    /// Guest token → external contact id.
    pub contact_by_token: HashMap<String, String>,
    /// `journeyContext.customer.id` → external contact id.
    pub contact_by_customer: HashMap<String, String>,
    /// Guest sessions by token.
    pub guests: HashMap<String, GuestSession>,
    /// Threading timeline.
    pub threading: Threading,
    /// Message id → conversation id.
    pub message_index: HashMap<String, String>,
    /// Round-robin cursor for routing.
    pub route_cursor: usize,
}

impl World {
    /// Seeds the world from the configuration.
    pub fn seed(cfg: &EmulatorConfig) -> World {
        let now = Utc::now();
        let mut agents = HashMap::new();
        let mut agent_order = Vec::new();
        for a in &cfg.agents {
            let def = presence::resolve_definition(&cfg.presence_definitions, &a.presence);
            let (definition_id, system) = match def {
                Some(d) => (d.id.clone(), SystemPresence::parse(&d.system_presence).unwrap_or(SystemPresence::Offline)),
                None => (String::new(), SystemPresence::Offline),
            };
            let mut agent = Agent {
                config: a.clone(),
                presence: Presence { definition_id, system, message: String::new(), primary: true, modified: now },
                routing: agent::RoutingStatus::OffQueue,
                routing_since: now,
                active: Default::default(),
            };
            agent.routing = agent.derived_routing();
            agent_order.push(a.id.clone());
            agents.insert(a.id.clone(), agent);
        }
        let mut world = World {
            conversations: HashMap::new(),
            agents,
            agent_order,
            waiting: cfg.queues.iter().map(|q| (q.id.clone(), VecDeque::new())).collect(),
            contacts: HashMap::new(),
            contact_by_token: HashMap::new(),
            contact_by_customer: HashMap::new(),
            guests: HashMap::new(),
            threading: Threading { default_minutes: cfg.behaviour.threading_timeline_minutes, per_type: Vec::new() },
            message_index: HashMap::new(),
            route_cursor: 0,
        };
        for c in &cfg.external_contacts {
            world.contacts.insert(
                c.id.clone(),
                Contact { id: c.id.clone(), first_name: c.first_name.clone(), last_name: c.last_name.clone() },
            );
            if let Some(t) = &c.guest_token {
                world.contact_by_token.insert(t.clone(), c.id.clone());
            }
            if let Some(cid) = &c.customer_id {
                world.contact_by_customer.insert(cid.clone(), c.id.clone());
            }
        }
        world
    }

    /// The external contact for a guest token, matching a seeded contact by token or
    /// journey customer id, else creating one. Stable per token.
    pub fn contact_for_guest(&mut self, token: &str, customer_id: Option<&str>) -> String {
        if let Some(id) = self.contact_by_token.get(token) {
            return id.clone();
        }
        let id = customer_id.and_then(|c| self.contact_by_customer.get(c).cloned()).unwrap_or_else(|| {
            let id = crate::state::new_id();
            self.contacts
                .insert(id.clone(), Contact { id: id.clone(), first_name: "Guest".into(), last_name: String::new() });
            id
        });
        self.contact_by_token.insert(token.to_string(), id.clone());
        id
    }

    /// Guest session tokens belonging to an external contact.
    pub fn guest_tokens_of_contact(&self, contact_id: &str) -> Vec<String> {
        let mut v: Vec<String> =
            self.contact_by_token.iter().filter(|(_, c)| c.as_str() == contact_id).map(|(t, _)| t.clone()).collect();
        v.sort();
        v
    }

    /// The latest conversation (by start) of an external contact on a messenger type.
    pub fn latest_conversation_of_contact(&self, contact_id: &str, messenger_type: &str) -> Option<&Conversation> {
        self.conversations
            .values()
            .filter(|c| c.external_contact_id.as_deref() == Some(contact_id) && c.messenger_type == messenger_type)
            .max_by_key(|c| c.start)
    }

    /// Whether an ended conversation is still inside its threading window at `now`.
    pub fn within_threading_window(&self, conv: &Conversation, now: DateTime<Utc>) -> bool {
        match conv.end {
            None => true,
            Some(end) => now - end <= self.threading.window(&conv.messenger_type),
        }
    }
}
