//! The rule engine against the in-memory store: matching, conditions, templates, targets, rate limits, cooldowns,
//! queue-wait timers. The dispatcher is paused, so what the rules enqueue stays in the outbox to be inspected.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Duration, Utc};
use herald_core::store::memory::{MemoryOutbox, MemorySessionStore};
use herald_core::store::memory_state::MemoryStateStore;
use herald_core::{
    Content, Event, EventKind, MediaKind, Outbox, OutboxFilter, OutboxRecord, Session, SessionState, SessionStore,
    Target,
};

use super::{RuleConfig, RuleEngine};
use crate::config::DispatcherConfig;
use crate::dispatcher::Dispatcher;

pub(super) fn rules(toml_text: &str) -> Vec<RuleConfig> {
    #[derive(serde::Deserialize)]
    struct File {
        rule: Vec<RuleConfig>,
    }
    toml::from_str::<File>(toml_text).map(|f| f.rule).unwrap_or_else(|e| panic!("bad test rules: {e}"))
}

fn setup(rules_text: &str) -> (RuleEngine, Arc<MemoryOutbox>, Arc<MemorySessionStore>) {
    let outbox = Arc::new(MemoryOutbox::default());
    let sessions = Arc::new(MemorySessionStore::default());
    let config = DispatcherConfig { paused: true, ..DispatcherConfig::default() };
    let dispatcher = Dispatcher::new(outbox.clone(), HashMap::new(), config);
    let state = Arc::new(MemoryStateStore::new());
    (RuleEngine::new(rules(rules_text), outbox.clone(), sessions.clone(), state, dispatcher), outbox, sessions)
}

/// What the service's event loop does: store the session the event carries, then hand the event to the rules.
pub(super) async fn feed(engine: &RuleEngine, sessions: &dyn SessionStore, event: Event) -> Vec<uuid::Uuid> {
    if let Some(s) = event.kind.session() {
        sessions.upsert(s.clone()).await.expect("upsert");
    }
    engine.handle(&event).await
}

async fn all(outbox: &MemoryOutbox) -> Vec<OutboxRecord> {
    let mut v = outbox.list(&OutboxFilter::default()).await.unwrap_or_default();
    v.sort_by_key(|r| r.seq);
    v
}

pub(super) fn session(id: &str, customer: &str, agent: Option<&str>, state: SessionState) -> Session {
    let mut s = Session::new(id, "web", MediaKind::WebMessaging, Utc::now());
    s.customer.external_contact_id = Some(customer.into());
    s.customer.name = Some("Ana".into());
    s.queue_id = Some("q1".into());
    s.agent_ids = agent.map(|a| vec![a.to_string()]).unwrap_or_default();
    s.state = state;
    s
}

fn named(name: &str, attrs: &[(&str, &str)]) -> Event {
    let attributes: BTreeMap<String, String> = attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Event::now("api", EventKind::Named { name: name.into(), attributes })
}

const ORDER_RULE: &str = r#"
[[rule]]
name = "shipped"
when = "event:order_shipped"
[rule.if]
attributes = { tier = "gold" }
[rule.then]
integration = "web"
target = "customer"
text = "Hi {{attr.name}}, order {{attr.order}} shipped."
cooldown_secs = 3600
"#;

#[tokio::test]
async fn named_events_match_conditions_and_render_templates() {
    let (engine, outbox, _) = setup(ORDER_RULE);
    let gold = [("customer_id", "ec-1"), ("name", "Ana"), ("order", "A-1"), ("tier", "gold")];
    assert_eq!(engine.handle(&named("order_shipped", &gold)).await.len(), 1);
    // Other event names and failing conditions produce nothing.
    assert!(engine.handle(&named("order_cancelled", &gold)).await.is_empty());
    let silver = [("customer_id", "ec-2"), ("name", "Bo"), ("order", "B-2"), ("tier", "silver")];
    assert!(engine.handle(&named("order_shipped", &silver)).await.is_empty());

    let records = all(&outbox).await;
    assert_eq!(records.len(), 1);
    let n = &records[0].notification;
    assert_eq!(n.target, Target::Customer { id: "ec-1".into() });
    assert_eq!(n.content, Content::Text { text: "Hi Ana, order A-1 shipped.".into() });
    assert_eq!(n.rule.as_deref(), Some("shipped"));
    assert_eq!(n.integration, "web");
}

#[tokio::test]
async fn cooldown_per_target_and_rate_limit_per_rule() {
    let (engine, outbox, _) = setup(ORDER_RULE);
    let ev = |order: &'static str, customer: &'static str| {
        named("order_shipped", &[("customer_id", customer), ("name", "Ana"), ("order", order), ("tier", "gold")])
    };
    assert_eq!(engine.handle(&ev("A-1", "ec-1")).await.len(), 1);
    assert!(engine.handle(&ev("A-2", "ec-1")).await.is_empty(), "same target inside the cooldown");
    assert_eq!(engine.handle(&ev("A-3", "ec-2")).await.len(), 1, "another target is not held back");
    assert_eq!(all(&outbox).await.len(), 2);

    let limited = r#"
[[rule]]
name = "limited"
when = "event:ping"
[rule.then]
integration = "web"
target = "customer"
text = "ping"
max_per_minute = 3
"#;
    let (engine, outbox, _) = setup(limited);
    for i in 0..10 {
        let customer = format!("c{i}");
        let attrs = [("customer_id", customer.as_str())];
        engine.handle(&named("ping", &attrs)).await;
    }
    assert_eq!(all(&outbox).await.len(), 3, "at most max_per_minute notifications per minute");
}

#[tokio::test]
async fn agent_customers_targets_everyone_the_agent_served_since_t() {
    let text = r#"
[[rule]]
name = "available"
when = "agent_became_available"
[rule.then]
integration = "web"
target = "agent_customers"
since_hours = 24
canned_response = "resp-1"
variables = { agent = "{{agent_id}}" }
closed_policy = "agentless"
"#;
    let (engine, outbox, sessions) = setup(text);
    sessions.upsert(session("c1", "ec-1", Some("bob"), SessionState::Connected)).await.unwrap_or_default();
    sessions.upsert(session("c2", "ec-2", Some("bob"), SessionState::Closed)).await.unwrap_or_default();
    sessions.upsert(session("c3", "ec-1", Some("bob"), SessionState::Closed)).await.unwrap_or_default();
    sessions.upsert(session("c4", "ec-4", Some("alice"), SessionState::Connected)).await.unwrap_or_default();
    let mut old = session("c5", "ec-5", Some("bob"), SessionState::Closed);
    old.updated_at = Utc::now() - Duration::hours(30);
    sessions.upsert(old).await.unwrap_or_default();

    let created = engine.handle(&Event::now("teams", EventKind::AgentBecameAvailable { agent_id: "bob".into() })).await;
    assert_eq!(created.len(), 2, "ec-1 (once, although two sessions) and ec-2; not alice's, not the 30 h old one");
    let records = all(&outbox).await;
    let mut targets: Vec<String> = records.iter().map(|r| r.notification.target.id().to_string()).collect();
    targets.sort();
    assert_eq!(targets, vec!["ec-1", "ec-2"]);
    for r in &records {
        assert_eq!(r.notification.closed_policy, Some(herald_core::ClosedPolicy::Agentless));
        match &r.notification.content {
            Content::CannedResponse { response_id, variables } => {
                assert_eq!(response_id, "resp-1");
                assert_eq!(variables.get("agent").map(String::as_str), Some("bob"));
                assert_eq!(variables.get("CUSTOMER_NAME"), None, "no customer name on an agent event");
            }
            other => panic!("expected a canned response, got {other:?}"),
        }
    }
    // The same event handled twice (a replay) does not create a second notification per target.
    let again = Event::now("teams", EventKind::AgentBecameAvailable { agent_id: "bob".into() });
    let mut replay = again.clone();
    replay.id = again.id;
    engine.handle(&again).await;
    assert_eq!(all(&outbox).await.len(), 4, "a new event (new id) may notify again: no cooldown set");
    engine.handle(&replay).await;
    assert_eq!(all(&outbox).await.len(), 4, "the same event id never notifies a target twice");
}

#[tokio::test]
async fn queue_wait_fires_once_after_the_threshold_and_not_after_an_agent_connects() {
    let text = r#"
[[rule]]
name = "greet"
when = "queue_wait_exceeded"
wait_secs = 60
[rule.if]
queue = "q1"
[rule.then]
integration = "web"
target = "conversation"
text = "Thanks for waiting {{customer_name}} ({{waited_secs}} s)."
"#;
    let (engine, outbox, sessions) = setup(text);
    let mut waiting = session("c1", "ec-1", None, SessionState::Queued);
    waiting.queued_at = Some(Utc::now() - Duration::seconds(90));
    let mut fresh = session("c2", "ec-2", None, SessionState::Queued);
    fresh.queued_at = Some(Utc::now() - Duration::seconds(5));
    let mut served = session("c3", "ec-3", None, SessionState::Queued);
    served.queued_at = Some(Utc::now() - Duration::seconds(120));
    for s in [&waiting, &fresh, &served] {
        feed(&engine, sessions.as_ref(), Event::now("web", EventKind::SessionOpened { session: s.clone() })).await;
    }
    served.state = SessionState::Connected;
    served.queued_at = None;
    feed(&engine, sessions.as_ref(), Event::now("web", EventKind::SessionUpdated { session: served })).await;

    assert_eq!(engine.check_waits().await.len(), 1, "only c1 waited long enough without an agent");
    assert!(engine.check_waits().await.is_empty(), "fires once per conversation");
    let records = all(&outbox).await;
    assert_eq!(records[0].notification.target, Target::Conversation { id: "c1".into() });
    match &records[0].notification.content {
        Content::Text { text } => assert!(text.starts_with("Thanks for waiting Ana ("), "{text}"),
        other => panic!("{other:?}"),
    }
    // A queue_wait_exceeded event never matches rules directly (only the timers fire them).
    let ev = Event::now("web", EventKind::QueueWaitExceeded { session: waiting, waited_secs: 999 });
    assert!(engine.handle(&ev).await.is_empty());
}

#[tokio::test]
async fn conditions_on_presence_sender_and_time_window() {
    let text = r#"
[[rule]]
name = "teams-available"
when = "agent_presence_changed"
[rule.if]
presence = "available"
between = "00:00-23:59"
[rule.then]
integration = "teams"
target = "agent"
text = "{{agent_id}} is {{presence}} in {{source}}"
"#;
    let (engine, outbox, _) = setup(text);
    let ev = |presence: &str| {
        Event::now(
            "teams",
            EventKind::AgentPresenceChanged {
                agent_id: "bob".into(),
                source: herald_core::PresenceSource::Teams,
                presence: presence.into(),
                previous: Some("Away".into()),
            },
        )
    };
    assert!(engine.handle(&ev("Busy")).await.is_empty());
    assert_eq!(engine.handle(&ev("Available")).await.len(), 1, "presence compares case-insensitively");
    let records = all(&outbox).await;
    assert_eq!(records[0].notification.content, Content::Text { text: "bob is Available in teams".into() });
    assert_eq!(records[0].notification.target, Target::Agent { id: "bob".into() });
}
