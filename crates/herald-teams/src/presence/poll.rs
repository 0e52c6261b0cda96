//! The presence poller: every `poll_interval_secs` (or at once when a resync is requested — after a subscription
//! gap or a link change) it reads every linked Teams user's presence with `getPresencesByUserId` in batches of at
//! most `batch_size` ids, four batches in flight, each request paced by the shared presence budget.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::stats::names;

/// Batches in flight at once.
pub const CONCURRENCY: usize = 4;

/// Runs until cancelled.
pub async fn run(engine: Arc<Engine>, cancel: CancellationToken) {
    let interval = Duration::from_secs(engine.settings().poll_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = round(&engine) => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
            _ = engine.resync_notified() => {}
        }
    }
}

/// One full pass over every linked user.
pub async fn round(engine: &Arc<Engine>) {
    let mut ids: Vec<String> = engine.linked().await.into_iter().map(|(_, aad)| aad).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        engine.set_health(|h| h.last_poll = Some(Utc::now()));
        return;
    }
    let batch = engine.settings().batch_size.clamp(1, 650);
    let chunks: Vec<Vec<String>> = ids.chunks(batch).map(<[String]>::to_vec).collect();
    let results: Vec<_> = stream::iter(chunks)
        .map(|chunk| async move { engine.graph().get_presences(&chunk).await })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut error = None;
    for r in results {
        engine.stats().incr(names::POLL_REQUESTS);
        match r {
            Ok(list) => {
                for p in list {
                    engine.on_teams_presence(&p.id, &p.availability, &p.activity).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "getPresencesByUserId failed");
                error = Some(e.to_string());
            }
        }
    }
    engine.stats().incr(names::POLL_ROUNDS);
    engine.set_health(|h| {
        if error.is_none() {
            h.last_poll = Some(Utc::now());
        }
        h.poll_error = error;
    });
}
