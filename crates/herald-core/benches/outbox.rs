//! Store benchmark: durable outbox enqueues under concurrency (group commit) and session upserts at 100,000
//! sessions, printed as markdown tables.
//!
//! `cargo bench -p herald-core --bench outbox` (release). Environment: `HERALD_BENCH_SECS` (seconds per
//! concurrency level, default 5), `HERALD_BENCH_SESSIONS` (default 100000), `HERALD_BENCH_DIR` (where the
//! databases go; default a temporary directory, which must be on the disk you want to measure).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use herald_core::notification::{Content, Notification};
use herald_core::session::{Communication, CustomerIds, MediaKind, Participant, Session, SessionState};
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::store::{Outbox, SessionQuery, SessionStore};
use herald_core::target::Target;
use uuid::Uuid;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The store options under test: the defaults, overridable with `HERALD_BENCH_CACHE_MB`,
/// `HERALD_BENCH_COMMIT_DELAY_US` and `HERALD_BENCH_LOW_SPACE=1`.
fn options() -> SledOptions {
    let defaults = SledOptions::default();
    SledOptions {
        cache_capacity: env_or("HERALD_BENCH_CACHE_MB", defaults.cache_capacity / (1024 * 1024)) * 1024 * 1024,
        group_commit_max_delay: Duration::from_micros(env_or(
            "HERALD_BENCH_COMMIT_DELAY_US",
            defaults.group_commit_max_delay.as_micros() as u64,
        )),
        low_space: env_or("HERALD_BENCH_LOW_SPACE", u8::from(defaults.low_space)) == 1,
        ..defaults
    }
}

/// Resident set size of this process in MiB (Linux `/proc`; 0 elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn notification(caller: usize, i: u64, now: DateTime<Utc>) -> Notification {
    Notification {
        id: Uuid::new_v4(),
        idempotency_key: Some(format!("bench-{caller}-{i}")),
        integration: "webmessaging".into(),
        target: Target::Customer { id: format!("ec-{caller}-{}", i % 50) },
        content: Content::Text { text: "Your order 4711 has shipped and arrives tomorrow between 9 and 12.".into() },
        created_at: now,
        expires_at: None,
        closed_policy: None,
        rule: Some("order-shipped".into()),
    }
}

/// A realistic web messaging session: customer and agent participants with communications, a few attributes.
fn session(i: usize, now: DateTime<Utc>) -> Session {
    let conv = format!("{:08x}-4f1c-4e2a-9b7d-{:012x}", i, i * 7919);
    let mut s = Session::new(conv.clone(), "webmessaging", MediaKind::WebMessaging, now);
    s.state = if i % 5 == 0 { SessionState::Closed } else { SessionState::Connected };
    s.customer = CustomerIds {
        external_contact_id: Some(format!("ec-{:06}", i % 40_000)),
        customer_key: Some(format!("crm-{:06}", i % 40_000)),
        guest_id: None,
        name: Some("Ana Example".into()),
    };
    s.deployment_id = Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0".into());
    s.queue_id = Some("queue-support-emea".into());
    s.agent_ids = vec![format!("agent-{:04}", i % 300)];
    for (purpose, n) in [("customer", 0), ("agent", 1)] {
        s.participants.push(Participant {
            id: format!("{conv}-p{n}"),
            purpose: purpose.into(),
            state: "connected".into(),
            user_id: (n == 1).then(|| format!("agent-{:04}", i % 300)),
            queue_id: None,
            name: Some(if n == 0 { "Ana Example".into() } else { "Bo Agent".into() }),
            communications: vec![Communication { id: format!("{conv}-comm{n}"), state: "connected".into() }],
        });
    }
    s.attributes.insert("orderId".into(), format!("A-{i}"));
    s.attributes.insert("language".into(), "en-GB".into());
    s.updated_at = now + chrono::Duration::milliseconds(i as i64);
    s
}

struct EnqueueRow {
    callers: usize,
    accepted: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    group: f64,
}

async fn bench_enqueue(dir: &Path, callers: usize, secs: u64) -> BenchResult<(EnqueueRow, SledStore)> {
    let store = SledStore::open(dir, options())?;
    let now = Utc::now();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut i = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                store.enqueue(notification(caller, i, now)).await?;
                hist.record(t0.elapsed().as_micros().max(1) as u64)?;
                i += 1;
            }
            BenchResult::Ok(hist)
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for t in tasks {
        hist.add(t.await??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = store.stats()?;
    let row = EnqueueRow {
        callers,
        accepted: hist.len(),
        per_sec: hist.len() as f64 / elapsed,
        p50_ms: hist.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: hist.max() as f64 / 1000.0,
        group: stats.durable_waits as f64 / stats.flushes.max(1) as f64,
    };
    Ok((row, store))
}

async fn bench_sessions(dir: &Path, n: usize) -> BenchResult<()> {
    let rss_before = rss_mib();
    let store = SledStore::open(dir, options())?;
    let now = Utc::now();
    let started = Instant::now();
    let workers = 2;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(workers) {
                store.upsert(session(i, now)).await?;
            }
            BenchResult::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let insert_secs = started.elapsed().as_secs_f64();
    // Second pass: every session changes (new activity, an extra agent), so the indexes move.
    let started = Instant::now();
    for i in 0..n / 10 {
        let mut s = session(i, now);
        s.updated_at = now + chrono::Duration::seconds(3_600 + i as i64);
        s.agent_ids.push("agent-late".into());
        store.upsert(s).await?;
    }
    let update_secs = started.elapsed().as_secs_f64();
    let q = Instant::now();
    let mut found = 0;
    for c in 0..1_000 {
        let query = SessionQuery { customer: Some(format!("ec-{c:06}")), limit: 10, ..SessionQuery::default() };
        found += store.query(&query).await?.len();
    }
    let query_us = q.elapsed().as_secs_f64() * 1e6 / 1_000.0;
    store.flush().await?;
    let rss_after = rss_mib();
    let len = store.len().await?;
    drop(store);
    let disk = dir_bytes(dir);
    let t = Instant::now();
    let reopened = SledStore::open(dir, options())?;
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let len_after = reopened.len().await?;
    drop(reopened);

    println!("### Sessions ({n} sessions, sled, 2 writer tasks)\n");
    println!("| measure | value |\n|---|---|");
    println!("| inserts/s | {:.0} |", n as f64 / insert_secs);
    println!("| updates/s (activity time changes) | {:.0} |", (n / 10) as f64 / update_secs);
    println!("| query by customer, limit 10 | {query_us:.0} µs ({found} found for 1,000 customers) |");
    println!("| sessions stored | {len} (after reopen: {len_after}) |");
    println!("| RSS before / after | {rss_before:.0} MiB / {rss_after:.0} MiB |");
    println!("| disk | {:.1} MiB |", disk as f64 / (1024.0 * 1024.0));
    println!("| reopen time | {open_ms:.0} ms |\n");
    Ok(())
}

fn main() -> BenchResult<()> {
    let secs: u64 = env_or("HERALD_BENCH_SECS", 5);
    let sessions: usize = env_or("HERALD_BENCH_SESSIONS", 100_000);
    let tmp = tempfile::tempdir()?;
    let base: PathBuf = std::env::var_os("HERALD_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| tmp.path().into());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        // Sessions first, so the RSS figures are not inflated by the outbox runs.
        bench_sessions(&base.join("sessions"), sessions).await?;

        println!("### Durable enqueues (sled, group commit, {secs} s per row)\n");
        println!("| concurrent callers | accepted | enqueues/s | p50 | p99 | max | callers per fsync |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        let mut largest: Option<(PathBuf, u64)> = None;
        for callers in [1, 16, 64, 256] {
            let dir = base.join(format!("outbox-{callers}"));
            let (row, store) = bench_enqueue(&dir, callers, secs).await?;
            println!(
                "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} |",
                row.callers, row.accepted, row.per_sec, row.p50_ms, row.p99_ms, row.max_ms, row.group
            );
            drop(store);
            if largest.as_ref().is_none_or(|(_, n)| row.accepted > *n) {
                largest = Some((dir, row.accepted));
            }
        }
        if let Some((dir, records)) = largest {
            let t = Instant::now();
            let store = SledStore::open(&dir, options())?;
            let open_ms = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            let pending = store.unfinished(0, 100).await?.len();
            let first_ms = t.elapsed().as_secs_f64() * 1000.0;
            println!(
                "\nReopen with {records} outbox records: {open_ms:.0} ms; first `unfinished(100)`: {first_ms:.1} ms \
                 ({pending} returned); disk {:.1} MiB.\n",
                dir_bytes(&dir) as f64 / (1024.0 * 1024.0)
            );
        }
        BenchResult::Ok(())
    })?;
    println!("Peak RSS after all runs: {:.0} MiB", rss_mib());
    Ok(())
}
