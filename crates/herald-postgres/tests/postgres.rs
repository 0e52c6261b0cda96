//! What only the PostgreSQL backend has: migrations under a lock, batched durable enqueues, several instances on
//! one database, statement timeouts. Each test skips (one loud line) without a database unless
//! `HERALD_REQUIRE_POSTGRES=1`.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::notification::{Content, Notification};
use herald_core::store::{Enqueued, Outbox, SessionStore};
use herald_core::target::Target;
use herald_core::StoreError;
use herald_postgres::migrate::MIGRATIONS;
use herald_postgres::testing::TestDatabase;
use herald_postgres::PostgresConfig;
use uuid::Uuid;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600 + secs, 0).unwrap_or_default()
}

fn notification(key: Option<&str>, text: &str) -> Notification {
    Notification {
        id: Uuid::new_v4(),
        idempotency_key: key.map(str::to_string),
        integration: "wm".into(),
        target: Target::Customer { id: "ec-1".into() },
        content: Content::Text { text: text.into() },
        created_at: at(0),
        expires_at: None,
        closed_policy: None,
        rule: None,
    }
}

macro_rules! database {
    ($test:expr) => {
        match TestDatabase::connect($test).await {
            Some(db) => db,
            None => return,
        }
    };
}

/// Instances starting at once on an empty schema all open it; each migration is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_migrate_once() {
    let db = database!("concurrent_starts_migrate_once");
    let config = db.fresh_config().await;
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let config = config.clone();
            tokio::spawn(async move { herald_postgres::open(&config).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.expect("open task").expect("every instance opens the store"));
    }
    let schema = config.schema.clone().expect("a test schema");
    let rows = db
        .admin()
        .query(&format!("SELECT version FROM {schema}.herald_schema_migrations ORDER BY version"), &[])
        .await
        .expect("read the migrations");
    let versions: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    let known: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(versions, known, "each migration recorded once");
    let status = stores[0].schema_status().await.expect("status");
    assert!(status.pending.is_empty(), "nothing pending: {status:?}");
    assert_eq!(status.applied.len(), MIGRATIONS.len());
}

/// A schema migrated by a newer herald, or with an edited migration, is refused with a message saying so.
#[tokio::test]
async fn unknown_or_edited_migrations_are_refused() {
    let db = database!("unknown_or_edited_migrations_are_refused");
    let store = db.fresh().await;
    let config = store.config().clone();
    drop(store);
    let schema = config.schema.clone().expect("a test schema");
    let table = format!("{schema}.herald_schema_migrations");
    db.admin()
        .execute(&format!("INSERT INTO {table} (version, name, checksum) VALUES (999, 'future', 'x')"), &[])
        .await
        .expect("insert a future migration");
    let newer = herald_postgres::open(&config).await;
    assert!(matches!(&newer, Err(StoreError::Backend(m)) if m.contains("999")), "{newer:?}");
    db.admin().execute(&format!("DELETE FROM {table} WHERE version = 999"), &[]).await.expect("delete");
    db.admin().execute(&format!("UPDATE {table} SET checksum = 'edited' WHERE version = 1"), &[]).await.expect("edit");
    let edited = herald_postgres::open(&config).await;
    assert!(matches!(&edited, Err(StoreError::Backend(m)) if m.contains("differs")), "{edited:?}");
}

/// Enqueues waiting together are written by one transaction, and each is committed when it returns.
#[tokio::test]
async fn concurrent_enqueues_share_one_committed_transaction() {
    let db = database!("concurrent_enqueues_share_one_committed_transaction");
    let store = db.fresh().await;
    // On this single-threaded runtime every enqueue below hands its request over before the committer runs.
    let calls = (0..64).map(|i| store.enqueue(notification(Some(&format!("k-{}", i % 48)), "hello")));
    let results = futures::future::join_all(calls).await;
    let stats = store.stats();
    assert_eq!((stats.batches, stats.enqueues), (1, 64), "one transaction for all waiting enqueues");
    let created: Vec<_> = results.iter().filter(|r| matches!(r, Ok(Enqueued::Created(_)))).collect();
    assert_eq!(created.len(), 48, "repeated keys in one batch are answered from the first: {results:?}");
    let ids: BTreeSet<Uuid> = results.iter().map(|r| r.as_ref().expect("enqueue").record().id()).collect();
    assert_eq!(ids.len(), 48);
    let schema = store.config().schema.clone().expect("a test schema");
    let committed: i64 = db
        .admin()
        .query_one(&format!("SELECT count(*) FROM {schema}.herald_outbox"), &[])
        .await
        .expect("count from another connection")
        .get(0);
    assert_eq!(committed, 48, "every accepted record is visible to another connection");
}

/// A notification PostgreSQL refuses fails alone; the others of its batch are stored.
#[tokio::test]
async fn one_refused_notification_does_not_fail_its_batch() {
    let db = database!("one_refused_notification_does_not_fail_its_batch");
    let store = db.fresh().await;
    let mut ancient = notification(None, "from before the calendar PostgreSQL knows");
    ancient.created_at = DateTime::<Utc>::from_timestamp(-400_000_000_000, 0).expect("a valid chrono instant");
    let calls = vec![
        store.enqueue(notification(None, "first")),
        store.enqueue(ancient),
        store.enqueue(notification(None, "third")),
    ];
    let results = futures::future::join_all(calls).await;
    assert!(matches!(results[0], Ok(Enqueued::Created(_))), "{:?}", results[0]);
    assert!(matches!(&results[1], Err(StoreError::Backend(m)) if m.contains("range")), "{:?}", results[1]);
    assert!(matches!(results[2], Ok(Enqueued::Created(_))), "{:?}", results[2]);
    // NUL characters: refused in an id, kept in the content.
    let nul_key = store.enqueue(notification(Some("a\0b"), "x")).await;
    assert!(matches!(&nul_key, Err(StoreError::Backend(m)) if m.contains("idempotency key")), "{nul_key:?}");
    let nul_text = store.enqueue(notification(None, "before\0after")).await.expect("NUL in the text");
    let stored = Outbox::get(&store, nul_text.record().id()).await.expect("get").expect("stored");
    assert_eq!(stored.notification.content, Content::Text { text: "before\0after".into() });
}

/// Two instances on one database: one key creates one record, sequence numbers stay unique and in commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_keys_and_sequence() {
    let db = database!("two_instances_share_keys_and_sequence");
    let a = db.fresh().await;
    let b = herald_postgres::open(a.config()).await.expect("second instance");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let same = store.enqueue(notification(Some("shared-key"), "once")).await.expect("enqueue shared");
            let own = store.enqueue(notification(None, "own")).await.expect("enqueue own");
            (same, own)
        }));
    }
    let mut created = 0;
    let mut shared_ids = BTreeSet::new();
    let mut seqs = BTreeSet::new();
    for task in tasks {
        let (same, own) = task.await.expect("task");
        created += usize::from(matches!(same, Enqueued::Created(_)));
        shared_ids.insert(same.record().id());
        assert!(seqs.insert(own.record().seq), "seq {} handed out twice", own.record().seq);
    }
    assert_eq!((created, shared_ids.len()), (1, 1), "one record for the shared key across instances");
    let unfinished = b.unfinished(0, 0).await.expect("unfinished");
    assert_eq!(unfinished.len(), 41);
    assert!(unfinished.windows(2).all(|w| w[0].seq < w[1].seq));
}

/// A call blocked longer than the statement timeout fails with the reason instead of hanging.
#[tokio::test]
async fn statement_timeout_bounds_every_call() {
    let db = database!("statement_timeout_bounds_every_call");
    let base = db.fresh_config().await;
    let config = PostgresConfig { statement_timeout: Duration::from_millis(200), ..base };
    let store = herald_postgres::open(&config).await.expect("open");
    let schema = config.schema.clone().expect("a test schema");
    let locker = db.admin();
    locker.batch_execute("BEGIN").await.expect("begin");
    locker.batch_execute(&format!("LOCK TABLE {schema}.herald_sessions IN ACCESS EXCLUSIVE MODE")).await.expect("lock");
    let started = std::time::Instant::now();
    let blocked = store.len().await;
    locker.batch_execute("ROLLBACK").await.expect("rollback");
    assert!(matches!(&blocked, Err(StoreError::Backend(m)) if m.contains("timeout")), "{blocked:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    assert_eq!(store.len().await.expect("len after the lock is gone"), 0);
}

/// `schema_status` changes nothing and lists what is pending; `apply_migrations` applies it once.
#[tokio::test]
async fn status_and_migrate_without_opening() {
    let db = database!("status_and_migrate_without_opening");
    let config = db.fresh_config().await;
    let before = herald_postgres::schema_status(&config).await.expect("status of an empty schema");
    assert!(before.applied.is_empty(), "{before:?}");
    assert_eq!(before.pending.len(), MIGRATIONS.len());
    let again = herald_postgres::schema_status(&config).await.expect("status again");
    assert_eq!(again, before, "status must not migrate");
    let applied = herald_postgres::apply_migrations(&config).await.expect("migrate");
    assert_eq!(applied, MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
    assert!(herald_postgres::apply_migrations(&config).await.expect("migrate again").is_empty());
    let after = herald_postgres::schema_status(&config).await.expect("status after");
    assert!(after.pending.is_empty() && after.applied.len() == MIGRATIONS.len(), "{after:?}");
    assert!(after.applied.iter().all(|m| m.applied_at.is_some()));
}
