//! The intake benchmark.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::post;
use clap::Args;
use hdrhistogram::Histogram;
use parking_lot::Mutex;

use super::load_client::LoadConnection;
use crate::adapters::builtin_registry;
use crate::config;

/// Options of `herald bench intake`.
#[derive(Debug, Clone, Args)]
pub struct IntakeArgs {
    /// Notifications to post in total.
    #[arg(long, default_value_t = 50_000)]
    pub requests: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u64,
    /// Distinct conversations the notifications target (deliveries are ordered per conversation).
    #[arg(long, default_value_t = 1_000)]
    pub conversations: u64,
    /// Measure intake alone: the dispatcher is paused, nothing is delivered during the run.
    #[arg(long)]
    pub intake_only: bool,
    /// The store's group-commit delay (`store.commit_delay_us`).
    #[arg(long, default_value_t = 250)]
    pub commit_delay_us: u64,
}

/// What the intake benchmark measured.
#[derive(Debug, Clone)]
pub struct IntakeReport {
    /// Notifications accepted (202).
    pub accepted: u64,
    /// Requests that did not get a 202.
    pub errors: u64,
    /// Wall time of the posting phase.
    pub elapsed: Duration,
    /// Latency percentiles in milliseconds: p50, p90, p99, max.
    pub latency_ms: [f64; 4],
    /// Notifications delivered to the receiver by the end of the posting phase.
    pub delivered_during: u64,
    /// Seconds until every accepted notification had been delivered.
    pub drain_secs: f64,
}

impl IntakeReport {
    /// Accepted per second.
    pub fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A markdown table row set.
    pub fn markdown(&self, args: &IntakeArgs) -> String {
        format!(
            "| mode | requests | concurrency | accepted/s | p50 ms | p90 ms | p99 ms | max ms | errors | delivered while posting | drained after |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n\
             | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {:.1} s |",
            if args.intake_only { "intake only" } else { "intake + delivery" },
            args.requests,
            args.concurrency,
            self.rate(),
            self.latency_ms[0],
            self.latency_ms[1],
            self.latency_ms[2],
            self.latency_ms[3],
            self.errors,
            self.delivered_during,
            self.drain_secs
        )
    }
}

/// Run the benchmark.
pub async fn run_intake(args: &IntakeArgs) -> anyhow::Result<IntakeReport> {
    crate::tls::install_crypto_provider();
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = delivered.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move || {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile::tempdir().context("temporary directory for the store")?;
    let key = "bench-key-0123456789abcdef";
    let text = format!(
        "[service]\nlisten = \"127.0.0.1:0\"\napi_keys = [\"{key}\"]\n[store]\npath = \"{}\"\ncommit_delay_us = {}\n[dispatcher]\nconcurrency = 64\npaused = {}\n\
         [[integration]]\nname = \"hook\"\nkind = \"webhook\"\n[integration.settings]\nurl = \"{hook}\"\n",
        dir.path().join("herald.sled").display(),
        args.commit_delay_us,
        args.intake_only
    );
    let registry = builtin_registry();
    let loaded = config::load(&text, "bench", &registry, &|_| None)?;
    let service = crate::service::start(loaded).await?;

    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let accepted_count = Arc::new(AtomicU64::new(0));
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?));
    let mut connections = Vec::new();
    for _ in 0..args.concurrency {
        connections.push(LoadConnection::connect(service.addr).await?);
    }
    let started = Instant::now();
    let mut workers = Vec::new();
    for mut connection in connections {
        let (next, errors, accepted, histogram) =
            (next.clone(), errors.clone(), accepted_count.clone(), histogram.clone());
        let (total, conversations) = (args.requests, args.conversations.max(1));
        workers.push(tokio::spawn(async move {
            let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).ok();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = format!(
                    r#"{{"integration":"hook","target":{{"type":"conversation","id":"bench-{}"}},"text":"notification {i}"}}"#,
                    i % conversations
                );
                let t = Instant::now();
                match connection.post_json("/v1/notifications", key, &body).await {
                    Ok(202) => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                        if let Some(h) = local.as_mut() {
                            let _ = h.record(t.elapsed().as_micros() as u64);
                        }
                    }
                    Ok(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        // The connection is unusable: this worker stops, the others take the remaining requests.
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            if let Some(h) = local {
                let _ = histogram.lock().add(h);
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed();
    let delivered_during = delivered.load(Ordering::Relaxed);
    let errors = errors.load(Ordering::Relaxed);
    let accepted = accepted_count.load(Ordering::Relaxed);
    let drain_start = Instant::now();
    while !args.intake_only
        && delivered.load(Ordering::Relaxed) < accepted
        && drain_start.elapsed() < Duration::from_secs(300)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drain_secs = elapsed.as_secs_f64() + drain_start.elapsed().as_secs_f64();
    service.shutdown().await;
    let h = histogram.lock();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Ok(IntakeReport {
        accepted,
        errors,
        elapsed,
        latency_ms: [ms(0.5), ms(0.9), ms(0.99), h.max() as f64 / 1000.0],
        delivered_during,
        drain_secs,
    })
}
