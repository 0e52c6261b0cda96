//! The rule engine's durable state and its bounds: a restart during a queue wait greets nobody twice, cooldowns
//! survive a restart, herald's own agentless message does not start a queue-wait greeting, and the engine's
//! memory stays bounded however many targets pass through.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Duration, Utc};
use herald_core::store::memory::{MemoryOutbox, MemorySessionStore};
use herald_core::store::memory_state::MemoryStateStore;
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::{
    Event, EventKind, Notification, NotificationStatus, Outbox, OutboxFilter, Receipt, SessionState, StateStore,
    Target, Transition,
};

use super::tests::{feed, rules, session};
use super::{MarkingOutbox, RuleEngine, RuleState, MAX_WAITING};
use crate::config::DispatcherConfig;
use crate::dispatcher::Dispatcher;

const GREETING: &str = r#"
[[rule]]
name = "queue-greeting"
when = "queue_wait_exceeded"
wait_secs = 60
[rule.then]
integration = "web"
target = "conversation"
text = "Thanks for waiting, {{customer_name}}."
cooldown_secs = 3600
"#;

fn paused(outbox: Arc<dyn Outbox>) -> Dispatcher {
    Dispatcher::new(outbox, HashMap::new(), DispatcherConfig { paused: true, ..DispatcherConfig::default() })
}

fn engine_on(store: &SledStore, text: &str) -> RuleEngine {
    let outbox: Arc<dyn Outbox> = Arc::new(MarkingOutbox::new(Arc::new(store.clone()), Arc::new(store.clone())));
    let dispatcher = paused(outbox.clone());
    RuleEngine::new(rules(text), outbox, Arc::new(store.clone()), Arc::new(store.clone()), dispatcher)
}

async fn outbox_len(outbox: &dyn Outbox) -> usize {
    outbox.list(&OutboxFilter::default()).await.expect("list").len()
}

fn reopen(store: SledStore) -> SledStore {
    let path = store.path().to_path_buf();
    drop(store);
    SledStore::open(&path, SledOptions::default()).expect("reopen the store")
}

#[tokio::test]
async fn a_restart_during_a_queue_wait_greets_each_customer_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(&dir.path().join("store"), SledOptions::default()).expect("open");
    let engine = engine_on(&store, GREETING);
    let queued_at = Utc::now() - Duration::seconds(90);
    let waiting: Vec<_> = (0..200)
        .map(|i| {
            let mut s = session(&format!("conv-{i}"), &format!("guest-{i}"), None, SessionState::Queued);
            s.queued_at = Some(queued_at);
            s
        })
        .collect();
    for s in &waiting {
        feed(&engine, &store, Event::now("web", EventKind::SessionOpened { session: s.clone() })).await;
    }
    assert_eq!(engine.check_waits().await.len(), 200, "every waiting customer is greeted once");
    assert!(engine.check_waits().await.is_empty(), "and only once");
    drop(engine);

    // Restart: the same store reopened, a new engine that remembers nothing in memory.
    let store = reopen(store);
    assert_eq!(outbox_len(&store).await, 200);
    let engine = engine_on(&store, GREETING);
    assert_eq!(engine.resume_waits().await, 200, "the new engine learns who waits from the session store");
    assert!(engine.check_waits().await.is_empty(), "nobody is greeted a second time after the restart");
    // The stream resynchronises after the restart and reports every waiting conversation again.
    for s in &waiting {
        feed(&engine, &store, Event::now("web", EventKind::SessionUpdated { session: s.clone() })).await;
    }
    assert!(engine.check_waits().await.is_empty(), "nor after the resync's events");
    assert_eq!(outbox_len(&store).await, 200, "one greeting per waiting customer in all");
    let (tracked, index) = engine.waiting_sizes();
    assert_eq!((tracked, index), (0, 0), "handled episodes are not kept in memory");

    // A customer who gets re-queued (a new waiting episode) may be greeted again, but the cooldown holds.
    let mut again = waiting[0].clone();
    again.queued_at = Some(queued_at + Duration::seconds(5));
    feed(&engine, &store, Event::now("web", EventKind::SessionUpdated { session: again })).await;
    assert!(engine.check_waits().await.is_empty(), "cooldown_secs = 3600 holds across the restart");
}

#[tokio::test]
async fn cooldowns_survive_a_restart() {
    let text = r#"
[[rule]]
name = "shipped"
when = "event:order_shipped"
[rule.then]
integration = "web"
target = "customer"
text = "Order {{attr.order}} shipped."
cooldown_secs = 3600
"#;
    let event = |order: &str| {
        let attributes: BTreeMap<String, String> =
            [("customer_id", "ec-1"), ("order", order)].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Event::now("api", EventKind::Named { name: "order_shipped".into(), attributes })
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(&dir.path().join("store"), SledOptions::default()).expect("open");
    let engine = engine_on(&store, text);
    assert_eq!(engine.handle(&event("A-1")).await.len(), 1);
    drop(engine);
    let store = reopen(store);
    let engine = engine_on(&store, text);
    assert!(engine.handle(&event("A-2")).await.is_empty(), "a new event for the same target inside the cooldown");
    assert_eq!(outbox_len(&store).await, 1);
}

#[tokio::test]
async fn herald_own_agentless_message_does_not_trigger_the_queue_wait_rule() {
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let sessions = Arc::new(MemorySessionStore::new());
    let marking = Arc::new(MarkingOutbox::new(Arc::new(MemoryOutbox::new()), state.clone()));
    let outbox: Arc<dyn Outbox> = marking.clone();
    let engine =
        RuleEngine::new(rules(GREETING), outbox.clone(), sessions.clone(), state.clone(), paused(outbox.clone()));

    // 90 s ago herald sent Grace an agentless follow-up; Genesys put her conversation back in the queue.
    let sent = Utc::now() - Duration::seconds(90);
    deliver_own(outbox.as_ref(), "grace", "conv-grace", sent).await;
    // The same for Gina, whose re-opened conversation still carries the `queued_at` of its first routing.
    deliver_own(outbox.as_ref(), "gina", "conv-gina", sent).await;
    marking.settled().await;

    let mut grace = session("conv-grace", "grace", None, SessionState::Queued);
    grace.queued_at = Some(sent + Duration::milliseconds(400)); // routed while herald's send was in flight
    let mut ana = session("conv-ana", "ana", None, SessionState::Queued);
    ana.queued_at = Some(sent); // waiting on her own at the same time
    for s in [&grace, &ana] {
        feed(&engine, sessions.as_ref(), Event::now("web", EventKind::SessionOpened { session: s.clone() })).await;
    }
    let mut gina = session("conv-gina", "gina", None, SessionState::Queued);
    gina.queued_at = Some(sent - Duration::seconds(600));
    let mut back_in_queue = Event::now("web", EventKind::SessionUpdated { session: gina });
    back_in_queue.at = sent + Duration::milliseconds(800); // when herald saw it come back
    feed(&engine, sessions.as_ref(), back_in_queue).await;
    let created = engine.check_waits().await;
    assert_eq!(created.len(), 1, "only Ana, who is waiting on her own, is greeted (not Grace, not Gina)");
    let greeting = outbox.get(created[0]).await.expect("get").expect("record");
    assert_eq!(greeting.notification.target, Target::Conversation { id: "conv-ana".into() });
    assert!(engine.check_waits().await.is_empty(), "Grace's episode is settled, not re-checked forever");

    // The greeting herald just sent into Ana's conversation does not make her episode herald's: a second
    // queue-wait rule with a later threshold would still fire (the send window does not contain her queue start).
    let marks = super::EchoMarks::new(state);
    assert!(!marks.began_with_herald("conv-ana", &[sent]).await.expect("check"));
    assert!(marks.began_with_herald("conv-grace", &[sent + Duration::milliseconds(400)]).await.expect("check"));
}

/// Record a notification herald delivered agentless to `customer`, landing in `conversation`, attempted at `sent`.
async fn deliver_own(outbox: &dyn Outbox, customer: &str, conversation: &str, sent: chrono::DateTime<Utc>) {
    let notification = Notification {
        id: uuid::Uuid::new_v4(),
        idempotency_key: None,
        integration: "web".into(),
        target: Target::Customer { id: customer.into() },
        content: herald_core::Content::Text { text: "How did we do?".into() },
        created_at: sent - Duration::seconds(1),
        expires_at: None,
        closed_policy: Some(herald_core::ClosedPolicy::Agentless),
        rule: None,
    };
    let id = outbox.enqueue(notification).await.expect("enqueue").record().id();
    outbox.transition(id, Transition::to(NotificationStatus::Attempting, sent, "attempt 1")).await.expect("attempting");
    let mut delivered = Transition::to(NotificationStatus::Delivered, sent + Duration::seconds(1), "delivered");
    delivered.receipt = Some(Receipt {
        upstream_message_id: Some(format!("msg-{customer}")),
        conversation_id: Some(conversation.into()),
        route: "agentless".into(),
        delivered_at: sent + Duration::milliseconds(700),
    });
    outbox.transition(id, delivered).await.expect("delivered");
}

#[tokio::test]
async fn the_engine_memory_stays_bounded_for_100000_targets() {
    let sessions = Arc::new(MemorySessionStore::new());
    let outbox: Arc<dyn Outbox> = Arc::new(MemoryOutbox::new());
    let state = Arc::new(MemoryStateStore::new());
    let engine = RuleEngine::new(rules(GREETING), outbox.clone(), sessions, state.clone(), paused(outbox));
    let queued_at = Utc::now();
    for i in 0..100_000 {
        let mut s = session(&format!("conv-{i}"), &format!("guest-{i}"), None, SessionState::Queued);
        s.queued_at = Some(queued_at + Duration::milliseconds(i));
        engine.handle(&Event::now("web", EventKind::SessionOpened { session: s })).await;
    }
    let (tracked, index) = engine.waiting_sizes();
    assert_eq!(tracked, MAX_WAITING, "100,000 waiting conversations, at most MAX_WAITING tracked");
    assert_eq!(index, tracked, "the eviction index matches the map");
    for i in 0..100_000 {
        let s = session(&format!("conv-{i}"), &format!("guest-{i}"), Some("agent"), SessionState::Connected);
        engine.handle(&Event::now("web", EventKind::SessionUpdated { session: s })).await;
    }
    assert_eq!(engine.waiting_sizes(), (0, 0), "conversations that stop waiting leave the map");

    // Cooldowns for 100,000 distinct targets live in the store with an expiry, and are purged after it.
    let rule_state = RuleState::new(state.clone());
    let now = Utc::now();
    for i in 0..100_000 {
        rule_state.admit("r", &format!("target-{i}"), 60, 0, now).await.expect("admitted");
    }
    assert!(rule_state.admit("r", "target-7", 60, 0, now).await.is_err(), "inside the cooldown");
    assert_eq!(state.len(), 100_000);
    let purged = state.purge_expired(now + Duration::seconds(61)).await.expect("purge");
    assert_eq!(purged, 100_000);
    assert!(state.is_empty(), "expired cooldowns leave the store");
}
