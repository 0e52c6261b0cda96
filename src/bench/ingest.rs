//! The event-ingest benchmark: notification frames parsed, mapped to sessions and applied to the durable store.
//!
//! Frames are generated up front (a queue conversation event per life-cycle step: customer queued, agent connected,
//! a message, every participant disconnected) so only ingestion is timed: parse the envelope, read the previous
//! session, map the event body with the same mapper the adapters use, upsert into sled.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::{MediaKind, SessionStore};
use herald_genesys::sessions::apply_conversation;
use herald_genesys::MapperConfig;
use serde_json::{json, Value};

/// Options of `herald bench ingest`.
#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// Conversations; each produces four frames (queued, connected, message, closed) unless `--open` is given.
    #[arg(long, default_value_t = 100_000)]
    pub conversations: u64,
    /// Leave every conversation open (only queued + connected frames), to measure memory while tracking them all.
    #[arg(long)]
    pub open: bool,
    /// Parallel ingest tasks; conversations are partitioned between them so each conversation stays in order.
    #[arg(long, default_value_t = 1)]
    pub shards: u64,
}

/// What the ingest benchmark measured.
#[derive(Debug, Clone)]
pub struct IngestReport {
    /// Frames applied.
    pub frames: u64,
    /// Time taken.
    pub elapsed: Duration,
    /// Sessions in the store at the end.
    pub sessions: usize,
    /// Resident memory at the end, in MiB (Linux only; 0 elsewhere).
    pub rss_mib: f64,
}

impl IngestReport {
    /// A markdown table.
    pub fn markdown(&self, args: &IngestArgs) -> String {
        format!(
            "| conversations | shards | frames | frames/s | sessions stored | RSS at end |\n|---|---|---|---|---|---|\n| {} ({}) | {} | {} | {:.0} | {} | {:.0} MiB |",
            args.conversations,
            if args.open { "left open" } else { "full life cycle" },
            args.shards,
            self.frames,
            self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9),
            self.sessions,
            self.rss_mib
        )
    }
}

fn frame(conv: u64, step: u8) -> String {
    let id = format!("00000000-0000-4000-8000-{conv:012}");
    let customer = json!({
        "id": format!("{id}-c"), "name": format!("Customer {conv}"), "purpose": "customer",
        "state": if step == 3 { "disconnected" } else { "connected" }, "direction": "inbound",
        "startTime": "2026-11-21T10:00:00.000Z", "externalContact": {"id": format!("ec-{}", conv % 50_000)},
        "attributes": {"deploymentId": "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50"}, "type": "webmessaging",
        "messages": [{"message": {"id": format!("m-{conv}-{step}")}, "messageStatus": "received"}]
    });
    let acd = json!({
        "id": format!("{id}-q"), "purpose": "acd", "state": if step == 0 { "connected" } else { "disconnected" },
        "queue": {"id": "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10"}, "type": "webmessaging", "messages": []
    });
    let mut participants = vec![customer, acd];
    if step >= 1 {
        participants.push(json!({
            "id": format!("{id}-a"), "name": "Alice Agent", "purpose": "agent",
            "state": if step == 3 { "disconnected" } else { "connected" },
            "user": {"id": format!("agent-{}", conv % 200)}, "type": "webmessaging",
            "messages": [{"message": {"id": format!("m-{conv}-a{step}")}, "messageStatus": "sent"}]
        }));
    }
    json!({
        "topicName": "v2.routing.queues.4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10.conversations.messages",
        "version": "2",
        "eventBody": {"id": id, "participants": participants},
        "metadata": {"CorrelationId": format!("corr-{conv}-{step}")}
    })
    .to_string()
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Run the benchmark: frames are generated in batches of 10,000 (not timed) and ingested (timed).
pub async fn run_ingest(args: &IngestArgs) -> anyhow::Result<IngestReport> {
    let steps: &[u8] = if args.open { &[0, 1] } else { &[0, 1, 2, 3] };
    let dir = tempfile::tempdir().context("temporary directory for the store")?;
    let store = SledStore::open(&dir.path().join("herald.sled"), SledOptions::default())?;
    let shards = args.shards.max(1);
    let mut elapsed = Duration::ZERO;
    for step in steps {
        let mut first = 0;
        while first < args.conversations {
            let last = (first + 10_000).min(args.conversations);
            let batch: Vec<(u64, String)> = (first..last).map(|c| (c, frame(c, *step))).collect();
            let started = Instant::now();
            let mut tasks = Vec::new();
            for shard in 0..shards {
                let part: Vec<String> =
                    batch.iter().filter(|(c, _)| c % shards == shard).map(|(_, f)| f.clone()).collect();
                let store = store.clone();
                tasks.push(tokio::spawn(async move { ingest(&store, &part).await }));
            }
            for t in tasks {
                t.await.context("ingest task")??;
            }
            elapsed += started.elapsed();
            first = last;
        }
    }
    let sessions = store.len().await?;
    Ok(IngestReport { frames: (steps.len() as u64) * args.conversations, elapsed, sessions, rss_mib: rss_mib() })
}

/// Apply frames in order, as one notification-stream task does.
async fn ingest(store: &SledStore, frames: &[String]) -> anyhow::Result<()> {
    let mapper = MapperConfig { default_media: MediaKind::WebMessaging, ..MapperConfig::new("web") };
    for text in frames {
        let envelope: Value = serde_json::from_str(text)?;
        let body = &envelope["eventBody"];
        let id = body["id"].as_str().unwrap_or_default();
        let previous = SessionStore::get(store, id).await?;
        let change =
            apply_conversation(previous.as_ref(), body, &mapper, Utc::now()).map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(kind) = change.into_event() {
            if let Some(session) = kind.session() {
                store.upsert(session.clone()).await?;
            }
        }
    }
    Ok(())
}
