//! Durable enqueue throughput with N concurrent writers: PostgreSQL (batched transactions) against sled (group
//! commit) in the same run, printed as a markdown table.
//!
//! `cargo bench -p herald-postgres --bench enqueue`. Environment: `HERALD_BENCH_SECS` (seconds per backend and
//! writer count, default 5), `HERALD_BENCH_WRITERS` (comma-separated, default `1,8,64,256`),
//! `HERALD_TEST_DATABASE_URL` (default the local `test` database). sled runs with the service's defaults
//! (`commit_delay_us = 250`) in a temporary directory; PostgreSQL in a fresh schema, dropped at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use herald_core::notification::{Content, Notification, OutboxRecord, Transition};
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::store::{Enqueued, Outbox, OutboxFilter};
use herald_core::target::Target;
use herald_core::StoreError;
use herald_postgres::testing::TestDatabase;
use herald_postgres::PostgresStore;
use uuid::Uuid;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn notification(writer: usize, i: u64) -> Notification {
    Notification {
        id: Uuid::new_v4(),
        idempotency_key: Some(format!("bench-{writer}-{i}-{}", Uuid::new_v4().simple())),
        integration: "webmessaging".into(),
        target: Target::Customer { id: format!("ec-{writer}-{}", i % 50) },
        content: Content::Text { text: "Your order 4711 has shipped and arrives tomorrow between 9 and 12.".into() },
        created_at: chrono::Utc::now(),
        expires_at: None,
        closed_policy: None,
        rule: Some("order-shipped".into()),
    }
}

/// One measurement: enqueues per second and latency percentiles (microseconds).
struct Run {
    per_sec: f64,
    p50_us: u64,
    p99_us: u64,
}

/// `writers` tasks enqueueing as fast as their answers come back, for `secs` seconds.
async fn run<O: Outbox>(outbox: Arc<O>, writers: usize, secs: u64) -> BenchResult<Run> {
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let outbox = Arc::clone(&outbox);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut i = 0u64;
            while Instant::now() < until {
                let t = Instant::now();
                outbox.enqueue(notification(w, i)).await?;
                latencies.record(t.elapsed().as_micros().max(1) as u64)?;
                i += 1;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(latencies)
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        all.add(task.await??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(Run {
        per_sec: all.len() as f64 / elapsed,
        p50_us: all.value_at_quantile(0.5),
        p99_us: all.value_at_quantile(0.99),
    })
}

/// Two instances behind one outbox: each enqueue goes to one of them at random (by its id).
struct Pair(PostgresStore, PostgresStore);

impl Pair {
    fn pick(&self, n: &Notification) -> &PostgresStore {
        if n.id.as_bytes()[0] % 2 == 0 {
            &self.0
        } else {
            &self.1
        }
    }
}

#[async_trait::async_trait]
impl Outbox for Pair {
    async fn enqueue(&self, n: Notification) -> Result<Enqueued, StoreError> {
        self.pick(&n).enqueue(n).await
    }
    async fn get(&self, id: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
        self.0.get(id).await
    }
    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<OutboxRecord>, StoreError> {
        self.0.get_by_idempotency_key(key).await
    }
    async fn transition(&self, id: Uuid, t: Transition) -> Result<OutboxRecord, StoreError> {
        self.0.transition(id, t).await
    }
    async fn unfinished(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        self.0.unfinished(after_seq, limit).await
    }
    async fn deferred_for(&self, integration: &str, customer: &str) -> Result<Vec<OutboxRecord>, StoreError> {
        self.0.deferred_for(integration, customer).await
    }
    async fn list(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError> {
        self.0.list(filter).await
    }
    async fn attributed(&self, integration: &str, message: &str) -> Result<Option<Uuid>, StoreError> {
        self.0.attributed(integration, message).await
    }
    async fn purge_final(&self, before: chrono::DateTime<chrono::Utc>) -> Result<usize, StoreError> {
        self.0.purge_final(before).await
    }
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let secs: u64 = env_or("HERALD_BENCH_SECS", 5);
    let writers: Vec<usize> = std::env::var("HERALD_BENCH_WRITERS")
        .unwrap_or_else(|_| "1,8,64,256".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    let database = TestDatabase::connect("enqueue benchmark (PostgreSQL part)").await;
    let dir = tempfile::tempdir()?;
    println!("| writers | backend | enqueues/s | p50 latency | p99 latency | enqueues per transaction |");
    println!("|---:|---|---:|---:|---:|---:|");
    for &n in &writers {
        let options = SledOptions { group_commit_max_delay: Duration::from_micros(250), ..SledOptions::default() };
        let sled = Arc::new(SledStore::open(&dir.path().join(format!("sled-{n}")), options)?);
        let r = run(Arc::clone(&sled), n, secs).await?;
        let s = sled.stats()?;
        let per_flush = s.durable_waits as f64 / s.flushes.max(1) as f64;
        println!(
            "| {n} | sled | {:.0} | {:.2} ms | {:.2} ms | {per_flush:.1} per fsync |",
            r.per_sec,
            r.p50_us as f64 / 1000.0,
            r.p99_us as f64 / 1000.0
        );
        drop(sled);
        if let Some(db) = &database {
            let pg = Arc::new(db.fresh().await);
            let r = run(Arc::clone(&pg), n, secs).await?;
            let s = pg.stats();
            let per_tx = s.enqueues as f64 / s.batches.max(1) as f64;
            println!(
                "| {n} | postgres | {:.0} | {:.2} ms | {:.2} ms | {per_tx:.1} |",
                r.per_sec,
                r.p50_us as f64 / 1000.0,
                r.p99_us as f64 / 1000.0
            );
            if n >= 2 {
                // Two instances (two pools, two committers) on one schema, half the writers each.
                let other = herald_postgres::open(pg.config()).await?;
                let pair = Arc::new(Pair(PostgresStore::clone(&pg), other));
                let r = run(Arc::clone(&pair), n, secs).await?;
                let (a, b) = (pair.0.stats(), pair.1.stats());
                let per_tx = (a.enqueues + b.enqueues) as f64 / (a.batches + b.batches).max(1) as f64;
                println!(
                    "| {n} | postgres, 2 instances | {:.0} | {:.2} ms | {:.2} ms | {per_tx:.1} |",
                    r.per_sec,
                    r.p50_us as f64 / 1000.0,
                    r.p99_us as f64 / 1000.0
                );
            }
        }
    }
    Ok(())
}
