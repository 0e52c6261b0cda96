//! Conformance cases for [`SessionStore`].

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{at, join_all, ok, Harness};
use crate::session::{Communication, CustomerIds, MediaKind, Participant, Session, SessionState};
use crate::store::{SessionQuery, SessionStore};

/// A session with a customer participant, an agent participant and attributes, last active at `at(updated)`.
fn session(conv: &str, integration: &str, updated: i64) -> Session {
    let mut s = Session::new(conv, integration, MediaKind::WebMessaging, at(updated - 60));
    s.updated_at = at(updated);
    s.state = SessionState::Connected;
    s.deployment_id = Some("dep-1".into());
    s.participants.push(Participant {
        id: format!("{conv}-p-customer"),
        purpose: "customer".into(),
        state: "connected".into(),
        user_id: None,
        queue_id: None,
        name: Some("Ana".into()),
        communications: vec![Communication { id: format!("{conv}-comm-c"), state: "connected".into() }],
    });
    s.attributes.insert("orderId".into(), "A-17".into());
    s
}

fn with_customer(mut s: Session, external: &str) -> Session {
    s.customer = CustomerIds { external_contact_id: Some(external.into()), ..CustomerIds::default() };
    s
}

fn with_agents(mut s: Session, agents: &[&str]) -> Session {
    s.agent_ids = agents.iter().map(|a| a.to_string()).collect();
    s
}

fn closed(mut s: Session, closed_at: Option<i64>) -> Session {
    s.state = SessionState::Closed;
    s.closed_at = closed_at.map(at);
    s
}

fn ids(found: &[Session]) -> Vec<&str> {
    found.iter().map(|s| s.conversation_id.as_str()).collect()
}

async fn query<S: SessionStore>(store: &S, q: SessionQuery) -> Vec<String> {
    ok(store.query(&q).await, "query").into_iter().map(|s| s.conversation_id).collect()
}

fn by_customer(c: &str) -> SessionQuery {
    SessionQuery { customer: Some(c.into()), ..SessionQuery::default() }
}

fn by_agent(a: &str) -> SessionQuery {
    SessionQuery { agent: Some(a.into()), ..SessionQuery::default() }
}

/// Upsert inserts, `get` returns exactly what was stored, a second upsert replaces, `len` counts sessions.
pub async fn session_upsert_get_replace<H: Harness>(h: &H) {
    let store = h.sessions().await;
    assert_eq!(ok(store.get("c1").await, "get missing"), None, "an unknown conversation must be None");
    assert_eq!(ok(store.len().await, "len"), 0);
    let s1 = with_customer(session("c1", "wm", 100), "ec-1");
    ok(store.upsert(s1.clone()).await, "upsert");
    assert_eq!(ok(store.get("c1").await, "get"), Some(s1.clone()), "get must return the stored session unchanged");
    let mut s1b = with_agents(s1.clone(), &["agent-1"]);
    s1b.updated_at = at(200);
    s1b.attributes.insert("case".into(), "B".into());
    ok(store.upsert(s1b.clone()).await, "replace");
    assert_eq!(ok(store.get("c1").await, "get"), Some(s1b), "a second upsert must replace the session");
    assert_eq!(ok(store.len().await, "len"), 1, "replacing must not add a session");
    ok(store.upsert(session("c2", "wm", 100)).await, "upsert c2");
    assert_eq!(ok(store.len().await, "len"), 2);
}

/// A customer is found by any of their ids (external contact, customer key, guest), and only theirs.
pub async fn session_query_by_customer_any_id<H: Harness>(h: &H) {
    let store = h.sessions().await;
    let mut s = session("c1", "wm", 100);
    s.customer = CustomerIds {
        external_contact_id: Some("ec-1".into()),
        customer_key: Some("crm-1".into()),
        guest_id: Some("guest-1".into()),
        name: Some("Ana".into()),
    };
    ok(store.upsert(s).await, "upsert");
    // Same value for two ids: indexed once, returned once.
    let mut dup = session("c2", "wm", 90);
    dup.customer = CustomerIds {
        external_contact_id: Some("ec-2".into()),
        customer_key: Some("ec-2".into()),
        ..CustomerIds::default()
    };
    ok(store.upsert(dup).await, "upsert");
    ok(store.upsert(with_customer(session("c3", "wm", 80), "ec-3")).await, "upsert");
    for id in ["ec-1", "crm-1", "guest-1"] {
        assert_eq!(query(&store, by_customer(id)).await, vec!["c1"], "customer id `{id}` must find c1 only");
    }
    assert_eq!(query(&store, by_customer("ec-2")).await, vec!["c2"], "a session must be returned once");
    assert!(query(&store, by_customer("Ana")).await.is_empty(), "the display name is not a customer id");
    assert!(query(&store, by_customer("ec")).await.is_empty(), "a prefix of an id must not match");
}

/// Sessions an agent handled are found by the agent's id, once each.
pub async fn session_query_by_agent<H: Harness>(h: &H) {
    let store = h.sessions().await;
    ok(store.upsert(with_agents(session("c1", "wm", 100), &["a1", "a2", "a1"])).await, "upsert");
    ok(store.upsert(with_agents(session("c2", "wm", 200), &["a2"])).await, "upsert");
    ok(store.upsert(session("c3", "wm", 300)).await, "upsert");
    assert_eq!(query(&store, by_agent("a1")).await, vec!["c1"], "an agent listed twice must return the session once");
    assert_eq!(query(&store, by_agent("a2")).await, vec!["c2", "c1"], "newest activity first");
    assert!(query(&store, by_agent("a3")).await.is_empty());
}

/// `integration`, `since` (inclusive), `state` and `limit` combine; results come newest first, ties by conversation
/// id descending.
pub async fn session_query_filters_limit_and_order<H: Harness>(h: &H) {
    let store = h.sessions().await;
    for i in 0..10 {
        let mut s = with_customer(session(&format!("c{i}"), if i % 2 == 0 { "wm" } else { "chat" }, 100 * i), "ec");
        if i % 3 == 0 {
            s.state = SessionState::Queued;
        }
        ok(store.upsert(s).await, "upsert");
    }
    // Two sessions with the same instant: ordered by conversation id, descending.
    ok(store.upsert(session("tie-a", "wm", 450)).await, "upsert");
    ok(store.upsert(session("tie-b", "wm", 450)).await, "upsert");

    let all = query(&store, SessionQuery::default()).await;
    assert_eq!(all, ["c9", "c8", "c7", "c6", "c5", "tie-b", "tie-a", "c4", "c3", "c2", "c1", "c0"], "global order");
    let wm = SessionQuery { integration: Some("wm".into()), ..SessionQuery::default() };
    assert_eq!(query(&store, wm.clone()).await, ["c8", "c6", "tie-b", "tie-a", "c4", "c2", "c0"]);
    let since = SessionQuery { since: Some(at(400)), ..wm.clone() };
    assert_eq!(query(&store, since.clone()).await, ["c8", "c6", "tie-b", "tie-a", "c4"], "`since` is inclusive");
    let limited = SessionQuery { limit: 2, ..since };
    assert_eq!(query(&store, limited).await, ["c8", "c6"], "limit keeps the most recent");
    let queued = SessionQuery { state: Some(SessionState::Queued), ..SessionQuery::default() };
    assert_eq!(query(&store, queued).await, ["c9", "c6", "c3", "c0"]);
    let combined = SessionQuery {
        customer: Some("ec".into()),
        integration: Some("chat".into()),
        state: Some(SessionState::Connected),
        since: Some(at(200)),
        limit: 0,
        agent: None,
        after: None,
    };
    assert_eq!(query(&store, combined).await, ["c7", "c5"], "every set field must match");
    let none = SessionQuery { since: Some(at(10_000)), ..SessionQuery::default() };
    assert!(query(&store, none).await.is_empty(), "nothing after the newest activity");
}

/// When a session's customer, agents, integration or activity change, queries stop finding the old values and
/// never return the session twice.
pub async fn session_index_entries_follow_changes<H: Harness>(h: &H) {
    let store = h.sessions().await;
    ok(store.upsert(with_agents(with_customer(session("c1", "wm", 100), "old-cust"), &["old-agent"])).await, "upsert");
    let mut moved = with_agents(with_customer(session("c1", "chat", 500), "new-cust"), &["new-agent"]);
    moved.customer.guest_id = Some("guest-9".into());
    ok(store.upsert(moved).await, "replace");
    assert!(query(&store, by_customer("old-cust")).await.is_empty(), "stale customer index entry");
    assert!(query(&store, by_agent("old-agent")).await.is_empty(), "stale agent index entry");
    let wm = SessionQuery { integration: Some("wm".into()), ..SessionQuery::default() };
    assert!(query(&store, wm).await.is_empty(), "stale integration index entry");
    assert_eq!(query(&store, by_customer("new-cust")).await, ["c1"]);
    assert_eq!(query(&store, by_customer("guest-9")).await, ["c1"]);
    assert_eq!(query(&store, by_agent("new-agent")).await, ["c1"]);
    for t in [600, 700, 800] {
        let mut s = with_agents(with_customer(session("c1", "chat", t), "new-cust"), &["new-agent"]);
        s.customer.guest_id = None;
        ok(store.upsert(s).await, "touch");
    }
    assert_eq!(query(&store, SessionQuery::default()).await, ["c1"], "one entry per session after many updates");
    assert_eq!(query(&store, by_customer("new-cust")).await, ["c1"]);
    assert!(query(&store, by_customer("guest-9")).await.is_empty(), "a removed guest id must not match");
    let since = SessionQuery { since: Some(at(750)), ..by_agent("new-agent") };
    assert_eq!(query(&store, since).await, ["c1"], "`since` must use the current activity");
    let after = SessionQuery { since: Some(at(801)), ..by_customer("new-cust") };
    assert!(query(&store, after).await.is_empty());
}

/// `purge_closed` removes closed sessions closed before the cutoff (falling back to their last activity when the
/// close time is unknown) with their index entries, and nothing else.
pub async fn session_purge_closed<H: Harness>(h: &H) {
    let store = h.sessions().await;
    ok(store.upsert(with_customer(closed(session("old", "wm", 100), Some(150)), "ec")).await, "upsert");
    ok(store.upsert(with_customer(closed(session("no-time", "wm", 120), None), "ec")).await, "upsert");
    ok(store.upsert(with_customer(closed(session("recent", "wm", 100), Some(1_000)), "ec")).await, "upsert");
    ok(store.upsert(with_customer(session("open", "wm", 50), "ec")).await, "upsert");
    let mut reopened = closed(session("reopened", "wm", 90), Some(95));
    ok(store.upsert(reopened.clone()).await, "upsert");
    reopened.state = SessionState::Connected;
    reopened.closed_at = None;
    ok(store.upsert(reopened).await, "reopen");

    assert_eq!(ok(store.purge_closed(at(500)).await, "purge"), 2, "exactly `old` and `no-time` are due");
    assert_eq!(ok(store.get("old").await, "get"), None);
    assert_eq!(ok(store.get("no-time").await, "get"), None);
    assert_eq!(ok(store.len().await, "len"), 3);
    assert_eq!(query(&store, by_customer("ec")).await, ["recent", "open"], "purged sessions leave no index entry");
    assert_eq!(query(&store, SessionQuery::default()).await, ["recent", "reopened", "open"]);
    assert_eq!(ok(store.purge_closed(at(500)).await, "purge again"), 0, "purge is idempotent");
    assert_eq!(ok(store.purge_closed(at(1_001)).await, "purge later"), 1);
    assert_eq!(query(&store, SessionQuery::default()).await, ["reopened", "open"]);
}

/// Closing and reopening the store keeps every session and index (skipped, with a message, for backends that keep
/// nothing across a close).
pub async fn session_reopen_keeps_everything<H: Harness>(h: &H) {
    let store = h.sessions().await;
    let mut stored = Vec::new();
    for i in 0..20 {
        let s =
            with_agents(with_customer(session(&format!("c{i:02}"), "wm", i * 10), &format!("ec-{}", i % 4)), &["a1"]);
        ok(store.upsert(s.clone()).await, "upsert");
        stored.push(s);
    }
    ok(store.upsert(closed(session("gone", "wm", 1), Some(2))).await, "upsert");
    ok(store.purge_closed(at(3)).await, "purge");
    let Some(store) = h.reopen_sessions(store).await else {
        eprintln!("session_reopen_keeps_everything: skipped, this backend keeps nothing across a close");
        return;
    };
    assert_eq!(ok(store.len().await, "len after reopen"), 20);
    for s in &stored {
        assert_eq!(ok(store.get(&s.conversation_id).await, "get after reopen").as_ref(), Some(s));
    }
    assert_eq!(ok(store.get("gone").await, "get"), None, "a purge must survive a reopen");
    assert_eq!(query(&store, by_customer("ec-1")).await, ["c17", "c13", "c09", "c05", "c01"]);
    assert_eq!(query(&store, by_agent("a1")).await.len(), 20);
    ok(store.upsert(with_customer(session("c99", "wm", 1_000), "ec-1")).await, "upsert after reopen");
    assert_eq!(query(&store, SessionQuery { limit: 1, ..by_customer("ec-1") }).await, ["c99"]);
    assert_eq!(ok(store.len().await, "len"), 21);
}

/// Many tasks upserting at once: nothing lost, `len` exact, and indexes agree with the data even when several tasks
/// race on the same conversation.
pub async fn session_concurrent_writers<H: Harness>(h: &H) {
    const TASKS: usize = 8;
    const EACH: usize = 50;
    let store = Arc::new(h.sessions().await);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let s = with_customer(session(&format!("t{t}-{i}"), "wm", (t * EACH + i) as i64), &format!("cust-{t}"));
                ok(store.upsert(s).await, "concurrent upsert");
                // Everyone also fights over one conversation, each with its own customer and agent.
                let shared = with_agents(
                    with_customer(session("shared", "wm", i as i64), &format!("cust-{t}")),
                    &[&format!("agent-{t}")],
                );
                ok(store.upsert(shared).await, "concurrent upsert of the shared session");
            }
        }));
    }
    join_all(tasks, "upsert task").await;
    assert_eq!(ok(store.len().await, "len"), TASKS * EACH + 1, "every session counted once");
    let all = ok(store.query(&SessionQuery::default()).await, "query all");
    let unique: BTreeSet<&str> = ids(&all).into_iter().collect();
    assert_eq!(all.len(), TASKS * EACH + 1, "every session returned once");
    assert_eq!(unique.len(), all.len(), "no session returned twice");
    let Some(shared) = ok(store.get("shared").await, "get shared") else { panic!("the shared session is missing") };
    let owner = shared.customer.external_contact_id.clone().unwrap_or_default();
    for t in 0..TASKS {
        let cust = format!("cust-{t}");
        let found = query(&*store, by_customer(&cust)).await;
        let expected = EACH + usize::from(cust == owner);
        assert_eq!(found.len(), expected, "customer {cust}: index must match the stored sessions");
        let agent = format!("agent-{t}");
        let handled = query(&*store, by_agent(&agent)).await;
        assert_eq!(handled.len(), usize::from(shared.handled_by(&agent)), "agent {agent}: stale agent entry");
    }
}

/// Queries page with the `after` cursor: consecutive pages cover every match once, in order, and no page is
/// longer than [`MAX_PAGE`](crate::store::MAX_PAGE) whatever `limit` asks (0 included).
pub async fn session_query_pages_with_cursor<H: Harness>(h: &H) {
    let store = h.sessions().await;
    for i in 0..25 {
        // Pairs of sessions share an activity time, so the cursor must break ties by conversation id.
        ok(store.upsert(session(&format!("p{i:02}"), "wm", 100 + i / 2)).await, "upsert");
    }
    let everything = ids(&ok(store.query(&SessionQuery { limit: 100, ..SessionQuery::default() }).await, "all"))
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(everything.len(), 25);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let q =
            SessionQuery { integration: Some("wm".into()), limit: 4, after: after.clone(), ..SessionQuery::default() };
        let page = ok(store.query(&q).await, "page");
        assert!(page.len() <= 4, "a page is at most `limit` long");
        let Some(last) = page.last() else { break };
        after = Some((last.updated_at, last.conversation_id.clone()));
        paged.extend(page.iter().map(|s| s.conversation_id.clone()));
    }
    assert_eq!(paged, everything, "pages cover every session once, in query order");
    let q = SessionQuery { customer: Some("nobody".into()), after: after.clone(), ..SessionQuery::default() };
    assert!(ok(store.query(&q).await, "owner query with cursor").is_empty());
}

/// `limit = 0` is not "unlimited": a query returns at most [`MAX_PAGE`](crate::store::MAX_PAGE) sessions.
pub async fn session_query_is_bounded<H: Harness>(h: &H) {
    let store = h.sessions().await;
    let n = crate::store::MAX_PAGE + 5;
    for i in 0..n {
        ok(store.upsert(session(&format!("b{i:05}"), "wm", i as i64)).await, "upsert");
    }
    let all = ok(store.query(&SessionQuery::default()).await, "query");
    assert_eq!(all.len(), crate::store::MAX_PAGE, "limit 0 means one full page");
    let big = ok(store.query(&SessionQuery { limit: n * 10, ..SessionQuery::default() }).await, "query");
    assert_eq!(big.len(), crate::store::MAX_PAGE, "no page beyond the hard maximum");
}
