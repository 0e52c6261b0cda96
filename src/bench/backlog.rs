//! The backlog benchmark: `herald serve` restarted on a store holding a large backlog of pending notifications.
//!
//! It fills a sled store in a temporary directory with `--notifications` pending notifications (directly through
//! the outbox, in-process, many writers at once), closes it, then starts the real binary (`herald serve`, a child
//! process) on that store with one webhook integration pointing at a receiver in this process. It reports how long
//! the service took from spawn to the first delivery, its resident memory at that point and at its peak while
//! draining for `--drain-secs`, the delivery rate while draining, and the same service's memory on an empty store
//! for comparison. Memory is read from the child's `/proc/<pid>/status` (`VmRSS`, `VmHWM`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::post;
use chrono::Utc;
use clap::Args;
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::{Content, Notification, Outbox, Target};
use parking_lot::Mutex;

/// Options of `herald bench backlog`.
#[derive(Debug, Clone, Args)]
pub struct BacklogArgs {
    /// Pending notifications in the store when the service starts.
    #[arg(long, default_value_t = 1_000_000)]
    pub notifications: u64,
    /// Distinct conversations they target.
    #[arg(long, default_value_t = 10_000)]
    pub conversations: u64,
    /// How long to watch the service drain the backlog after the first delivery, in seconds.
    #[arg(long, default_value_t = 20)]
    pub drain_secs: u64,
    /// `dispatcher.queue_capacity` of the service under test.
    #[arg(long, default_value_t = 50_000)]
    pub queue_capacity: usize,
}

/// What the backlog benchmark measured.
#[derive(Debug, Clone)]
pub struct BacklogReport {
    /// Seconds to fill the store.
    pub fill_secs: f64,
    /// Bytes the store uses on disk.
    pub store_bytes: u64,
    /// Seconds from spawning `herald serve` to the first delivery at the receiver.
    pub first_delivery_secs: f64,
    /// Resident memory at the first delivery, KiB.
    pub rss_at_first_kib: u64,
    /// Peak resident memory over the run, KiB.
    pub peak_rss_kib: u64,
    /// Deliveries per second over the drain window.
    pub drain_rate: f64,
    /// Resident memory of the same service on an empty store, once it delivered one notification, KiB.
    pub empty_rss_kib: u64,
}

impl BacklogReport {
    /// A markdown table.
    pub fn markdown(&self, args: &BacklogArgs) -> String {
        format!(
            "| backlog | conversations | queue_capacity | fill | store on disk | spawn → first delivery | RSS at first delivery | peak RSS ({drain} s draining) | drain rate | RSS, empty store |\n\
             |---|---|---|---|---|---|---|---|---|---|\n\
             | {n} | {c} | {q} | {fill:.1} s | {disk:.0} MiB | {first:.2} s | {rss:.0} MiB | {peak:.0} MiB | {rate:.0}/s | {empty:.0} MiB |",
            drain = args.drain_secs,
            n = args.notifications,
            c = args.conversations,
            q = args.queue_capacity,
            fill = self.fill_secs,
            disk = self.store_bytes as f64 / 1_048_576.0,
            first = self.first_delivery_secs,
            rss = self.rss_at_first_kib as f64 / 1024.0,
            peak = self.peak_rss_kib as f64 / 1024.0,
            rate = self.drain_rate,
            empty = self.empty_rss_kib as f64 / 1024.0,
        )
    }
}

/// A receiver counting deliveries and noting the first one's arrival.
struct Receiver {
    url: String,
    delivered: Arc<AtomicU64>,
    first: Arc<Mutex<Option<Instant>>>,
}

async fn receiver() -> anyhow::Result<Receiver> {
    let delivered = Arc::new(AtomicU64::new(0));
    let first = Arc::new(Mutex::new(None));
    let (d, f) = (delivered.clone(), first.clone());
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let (d, f) = (d.clone(), f.clone());
            async move {
                if d.fetch_add(1, Ordering::Relaxed) == 0 {
                    *f.lock() = Some(Instant::now());
                }
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Receiver { url, delivered, first })
}

/// Fill a sled store at `path` with `n` pending notifications over `conversations` conversations.
async fn fill(path: &Path, n: u64, conversations: u64) -> anyhow::Result<u64> {
    let store = SledStore::open(path, SledOptions::default()).context("open the store to fill")?;
    let next = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..256 {
        let (store, next) = (store.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), herald_core::StoreError>(());
                }
                let notification = Notification {
                    id: uuid::Uuid::new_v4(),
                    idempotency_key: Some(format!("backlog-{i}")),
                    integration: "hook".into(),
                    target: Target::Conversation { id: format!("conv-{}", i % conversations.max(1)) },
                    content: Content::Text { text: format!("backlog notification {i}") },
                    created_at: Utc::now(),
                    expires_at: None,
                    closed_policy: None,
                    rule: None,
                };
                store.enqueue(notification).await?;
            }
        }));
    }
    for w in writers {
        w.await.context("a writer task")?.context("enqueue")?;
    }
    store.flush().await?;
    let bytes = store.stats()?.size_on_disk;
    drop(store);
    Ok(bytes)
}

fn config_text(store: &Path, hook: &str, queue_capacity: usize) -> String {
    format!(
        "[service]\nlisten = \"127.0.0.1:0\"\napi_keys = [\"bench-key-0123456789abcdef\"]\n[store]\npath = \"{}\"\n\
         [dispatcher]\nconcurrency = 64\nqueue_capacity = {queue_capacity}\ndefault_expiry_hours = 0\n\
         [[integration]]\nname = \"hook\"\nkind = \"webhook\"\n[integration.settings]\nurl = \"{hook}\"\n",
        store.display()
    )
}

/// `VmRSS` and `VmHWM` of a process, KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Start `herald serve` on `config`; returns the child.
fn spawn_service(dir: &Path, config: &str) -> anyhow::Result<tokio::process::Child> {
    let path = dir.join("herald.toml");
    std::fs::write(&path, config)?;
    let exe = std::env::current_exe().context("the herald binary")?;
    tokio::process::Command::new(exe)
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .env("HERALD_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("spawn herald serve")
}

/// Wait (bounded) until `done` holds, polling `every`.
async fn wait_for(limit: Duration, every: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(every).await;
    }
    done()
}

/// Run the benchmark.
pub async fn run_backlog(args: &BacklogArgs) -> anyhow::Result<BacklogReport> {
    crate::tls::install_crypto_provider();
    let dir = tempfile::tempdir().context("temporary directory")?;
    let store_path = dir.path().join("herald.sled");
    let filled = Instant::now();
    let store_bytes = fill(&store_path, args.notifications, args.conversations).await?;
    let fill_secs = filled.elapsed().as_secs_f64();

    let rx = receiver().await?;
    let spawned = Instant::now();
    let mut child = spawn_service(dir.path(), &config_text(&store_path, &rx.url, args.queue_capacity))?;
    let pid = child.id().context("child pid")?;
    let mut peak = 0;
    let got_first = wait_for(Duration::from_secs(900), Duration::from_millis(5), || {
        peak = peak.max(memory_kib(pid).0);
        rx.first.lock().is_some()
    })
    .await;
    anyhow::ensure!(got_first, "no delivery within 900 s of starting the service");
    let first_at = rx.first.lock().unwrap_or_else(Instant::now);
    let first_delivery_secs = (first_at - spawned).as_secs_f64();
    let rss_at_first_kib = memory_kib(pid).0;
    let drained_from = rx.delivered.load(Ordering::Relaxed);
    let drain_started = Instant::now();
    let drain = Duration::from_secs(args.drain_secs);
    wait_for(drain, Duration::from_millis(100), || {
        peak = peak.max(memory_kib(pid).0);
        false
    })
    .await;
    let drain_rate =
        (rx.delivered.load(Ordering::Relaxed) - drained_from) as f64 / drain_started.elapsed().as_secs_f64();
    peak = peak.max(memory_kib(pid).1);
    let _ = child.kill().await;

    // The same service on an empty store: one notification, then its memory.
    let empty_dir = tempfile::tempdir().context("temporary directory")?;
    let empty_store = empty_dir.path().join("herald.sled");
    fill(&empty_store, 1, 1).await?;
    let rx_empty = receiver().await?;
    let mut child = spawn_service(empty_dir.path(), &config_text(&empty_store, &rx_empty.url, args.queue_capacity))?;
    let pid = child.id().context("child pid")?;
    let ok = wait_for(Duration::from_secs(60), Duration::from_millis(5), || rx_empty.first.lock().is_some()).await;
    anyhow::ensure!(ok, "the empty-store service delivered nothing within 60 s");
    let empty_rss_kib = memory_kib(pid).0;
    let _ = child.kill().await;

    Ok(BacklogReport {
        fill_secs,
        store_bytes,
        first_delivery_secs,
        rss_at_first_kib,
        peak_rss_kib: peak,
        drain_rate,
        empty_rss_kib,
    })
}
