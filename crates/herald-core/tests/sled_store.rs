//! sled-specific checks the backend-neutral conformance suite cannot see: what the index trees hold, corrupt
//! records, and durability across a crash of the process.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_core::notification::{Content, Notification, NotificationStatus, Transition};
use herald_core::session::{CustomerIds, MediaKind, Session, SessionState};
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::store::{Enqueued, Outbox, SessionQuery, SessionStore};
use herald_core::target::Target;
use herald_core::StoreError;
use uuid::Uuid;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600 + secs, 0).unwrap_or_default()
}

fn open(dir: &Path) -> SledStore {
    SledStore::open(dir, SledOptions::default()).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()))
}

fn entries(store: &SledStore) -> BTreeMap<&'static str, usize> {
    store.tree_entries().unwrap_or_else(|e| panic!("tree_entries: {e}")).into_iter().collect()
}

fn session(conv: &str, customer: &str, agent: &str, updated: i64) -> Session {
    let mut s = Session::new(conv, "wm", MediaKind::WebMessaging, at(0));
    s.updated_at = at(updated);
    s.customer = CustomerIds {
        external_contact_id: Some(customer.into()),
        guest_id: Some(format!("guest-{customer}")),
        ..CustomerIds::default()
    };
    s.agent_ids = vec![agent.into()];
    s
}

fn notification(key: Option<String>) -> Notification {
    Notification {
        id: Uuid::new_v4(),
        idempotency_key: key,
        integration: "wm".into(),
        target: Target::Customer { id: "ec-1".into() },
        content: Content::Text { text: "hello".into() },
        created_at: at(0),
        expires_at: None,
        closed_policy: None,
        rule: None,
    }
}

#[tokio::test]
async fn session_index_trees_hold_one_entry_per_current_value() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
    let store = open(dir.path());
    for v in 0..10 {
        store.upsert(session("c1", &format!("cust-{v}"), &format!("agent-{v}"), v)).await?;
    }
    store.upsert(session("c2", "cust-x", "agent-x", 5)).await?;
    let e = entries(&store);
    assert_eq!(e["sessions"], 2);
    assert_eq!(e["sessions_of_customer"], 4, "two ids per session, old versions removed");
    assert_eq!(e["sessions_of_agent"], 2);
    assert_eq!(e["sessions_by_updated"], 2);
    assert_eq!(e["sessions_closed"], 0);

    let mut closed = session("c1", "cust-9", "agent-9", 20);
    closed.state = SessionState::Closed;
    closed.closed_at = Some(at(20));
    store.upsert(closed).await?;
    assert_eq!(entries(&store)["sessions_closed"], 1);
    assert_eq!(store.purge_closed(at(21)).await?, 1);
    let e = entries(&store);
    assert_eq!(
        (
            e["sessions"],
            e["sessions_of_customer"],
            e["sessions_of_agent"],
            e["sessions_by_updated"],
            e["sessions_closed"]
        ),
        (1, 2, 1, 1, 0),
        "a purge removes every index entry of the session"
    );
    Ok(())
}

#[tokio::test]
async fn outbox_work_trees_shrink_as_records_finish() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
    let store = open(dir.path());
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(store.enqueue(notification(Some(format!("k-{i}")))).await?.record().id());
    }
    let e = entries(&store);
    assert_eq!((e["outbox"], e["outbox_by_seq"], e["outbox_unfinished"], e["outbox_idempotency"]), (20, 20, 20, 20));
    for (i, id) in ids.iter().enumerate() {
        let status = if i < 15 { NotificationStatus::Delivered } else { NotificationStatus::Deferred };
        let t = Transition { deferred_for: Some("ec-1".into()), ..Transition::to(status, at(10), "done") };
        store.transition(*id, t).await?;
    }
    let e = entries(&store);
    assert_eq!(e["outbox_unfinished"], 0, "finished and deferred records leave the unfinished index");
    assert_eq!((e["outbox_deferred"], e["outbox_final"]), (5, 15));
    assert_eq!(store.purge_final(at(11)).await?, 15);
    let e = entries(&store);
    assert_eq!(
        (e["outbox"], e["outbox_by_seq"], e["outbox_idempotency"], e["outbox_final"], e["outbox_deferred"]),
        (5, 5, 5, 0, 5),
        "a purge removes the record, its seq entry and its idempotency key"
    );
    Ok(())
}

#[tokio::test]
async fn undecodable_records_are_reported_with_their_key() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
    let id = {
        let store = open(dir.path());
        store.upsert(session("c1", "cust", "agent", 1)).await?;
        store.enqueue(notification(None)).await?.record().id()
    };
    {
        let db = sled::open(dir.path())?;
        db.open_tree("sessions")?.insert("c1", &b"{not json"[..])?;
        db.open_tree("outbox")?.insert(id.as_bytes(), &b"[]"[..])?;
        db.flush()?;
    }
    let store = open(dir.path());
    match SessionStore::get(&store, "c1").await {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, "sessions/c1"),
        other => panic!("expected Corrupt for sessions/c1, got {other:?}"),
    }
    match Outbox::get(&store, id).await {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, format!("outbox/{id}")),
        other => panic!("expected Corrupt for outbox/{id}, got {other:?}"),
    }
    let t = store.transition(id, Transition::to(NotificationStatus::Failed, at(1), "x")).await;
    assert!(matches!(t, Err(StoreError::Corrupt { .. })), "a transition of a corrupt record must fail: {t:?}");
    Ok(())
}

const CRASH_DIR: &str = "HERALD_TEST_CRASH_DIR";

/// The child half of `accepted_notifications_survive_a_crash`: enqueue from many tasks, print every acknowledged
/// id, then abort the process (no destructors, no final flush) while other enqueues are in flight. sled's own
/// background flush is off, so only the group commit can have put the records on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by accepted_notifications_survive_a_crash in a child process"]
async fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else { return };
    let options = SledOptions { flush_every_ms: None, ..SledOptions::default() };
    let store = SledStore::open(Path::new(&dir), options).unwrap_or_else(|e| panic!("open: {e}"));
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for task in 0..16 {
        let store = store.clone();
        let acked = Arc::clone(&acked);
        tokio::spawn(async move {
            for i in 0.. {
                let n = notification(Some(format!("crash-{task}-{i}")));
                if let Ok(Enqueued::Created(r)) = store.enqueue(n).await {
                    println!("ACK {} {}", r.id(), r.seq);
                    if acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= 2_000 {
                        std::process::abort();
                    }
                }
            }
        });
    }
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn accepted_notifications_survive_a_crash() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
    let exe = std::env::current_exe().map_err(|e| StoreError::Backend(e.to_string()))?;
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CRASH_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| StoreError::Backend(format!("cannot start the child: {e}")))?;
    let stdout = child.stdout.take().ok_or_else(|| StoreError::Backend("no child stdout".into()))?;
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| StoreError::Backend(e.to_string()))?;
        if let Some(rest) = line.strip_prefix("ACK ") {
            let mut parts = rest.split(' ');
            let id = parts.next().and_then(|s| Uuid::parse_str(s).ok());
            let seq = parts.next().and_then(|s| s.parse::<u64>().ok());
            if let (Some(id), Some(seq)) = (id, seq) {
                acked.push((id, seq));
            }
        }
    }
    let status = child.wait().map_err(|e| StoreError::Backend(e.to_string()))?;
    assert!(!status.success(), "the child must have aborted");
    assert!(acked.len() >= 1_000, "the child acknowledged only {} enqueues", acked.len());

    let store = open(dir.path());
    for (id, seq) in &acked {
        let record = Outbox::get(&store, *id).await?;
        assert_eq!(record.map(|r| r.seq), Some(*seq), "acknowledged notification {id} lost in the crash");
    }
    let max_acked = acked.iter().map(|(_, s)| *s).max().unwrap_or_default();
    let next = store.enqueue(notification(None)).await?;
    assert!(next.record().seq > max_acked, "seq must continue after the crash");
    Ok(())
}

/// A directory held by a live store cannot be opened twice: `open` waits `lock_wait`, then fails naming the
/// directory and what to do; once the first store is dropped, the same directory opens at once (sled's background
/// writers may still hold the lock for a moment, which `open` waits out).
#[tokio::test]
async fn a_locked_directory_is_refused_by_name_and_opens_after_the_holder_closes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let first = open(dir.path());
    let quick = SledOptions { lock_wait: std::time::Duration::from_millis(100), ..SledOptions::default() };
    let err = match SledStore::open(dir.path(), quick) {
        Ok(_) => panic!("a second open of a locked directory must fail"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&dir.path().display().to_string()), "names the directory: {err}");
    assert!(err.contains("store.path"), "says what to do: {err}");
    drop(first);
    for round in 0..20 {
        let store = open(dir.path());
        let s = session(&format!("c{round}"), "cust", "agent", round);
        store.upsert(s).await.unwrap_or_else(|e| panic!("upsert: {e}"));
    }
    let store = open(dir.path());
    assert_eq!(store.len().await.unwrap_or_else(|e| panic!("len: {e}")), 20);
}

/// A store written with the first layout (customer, agent and integration index keys carrying the activity time)
/// is upgraded at open: the owner indexes are rebuilt from the sessions and the old trees dropped.
#[tokio::test]
async fn a_store_of_the_first_layout_is_upgraded_at_open() -> Result<(), StoreError> {
    let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(e.to_string()))?;
    {
        let db = sled::open(dir.path()).map_err(|e| StoreError::Backend(e.to_string()))?;
        let sessions = db.open_tree("sessions").map_err(|e| StoreError::Backend(e.to_string()))?;
        for (conv, cust, updated) in [("c1", "cust-a", 1), ("c2", "cust-a", 2), ("c3", "cust-b", 3)] {
            let json = serde_json::to_vec(&session(conv, cust, "agent-1", updated))
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            sessions.insert(conv, json).map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        for old in ["sessions_by_customer", "sessions_by_agent", "sessions_by_integration"] {
            let tree = db.open_tree(old).map_err(|e| StoreError::Backend(e.to_string()))?;
            tree.insert(b"stale-timed-key", &[][..]).map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        db.flush().map_err(|e| StoreError::Backend(e.to_string()))?;
    }
    let store = open(dir.path());
    let e = entries(&store);
    assert_eq!((e["sessions_of_customer"], e["sessions_of_agent"]), (6, 3), "rebuilt from the three sessions");
    let of_a = store.query(&SessionQuery { customer: Some("cust-a".into()), ..SessionQuery::default() }).await?;
    let ids: Vec<&str> = of_a.iter().map(|s| s.conversation_id.as_str()).collect();
    assert_eq!(ids, ["c2", "c1"], "newest activity first");
    drop(store);
    let reopened = open(dir.path());
    assert_eq!(entries(&reopened)["sessions_of_agent"], 3, "the upgrade runs once");
    Ok(())
}
