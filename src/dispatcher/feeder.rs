//! The feeder: loads due work from the outbox into the bounded queue, in sequence order, a page at a time.
//!
//! It is the only reader of the outbox's unfinished list, so records of one ordering key are queued in enqueue
//! order. It wakes when a record is enqueued, when the queue has room again, and on a slow safety poll (a record
//! whose wake-up was missed is still found).

use std::time::Duration;

use tracing::warn;

use super::queue::{Pushed, Queued};
use super::Dispatcher;

/// Records read from the outbox per page.
const FEED_PAGE: usize = 500;
/// The safety net: look for due work this often even without a wake-up.
const SAFETY_POLL: Duration = Duration::from_secs(5);

impl Dispatcher {
    /// The feeder task: runs until shutdown.
    pub(super) async fn feed(self) {
        let mut failures = 0u32;
        loop {
            match self.load().await {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    warn!(error = %e, "Could not read due notifications from the outbox; trying again.");
                    let wait = herald_core::retry::backoff(
                        failures,
                        Duration::from_millis(100),
                        Duration::from_secs(10),
                        None,
                    );
                    if !self.pause(wait).await {
                        return;
                    }
                    continue;
                }
            }
            tokio::select! {
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(SAFETY_POLL) => {}
                _ = self.inner.shutdown.cancelled() => return,
            }
        }
    }

    /// Load pages until the outbox has no more unfinished records past the cursor or the queue is full.
    async fn load(&self) -> Result<(), herald_core::StoreError> {
        loop {
            if self.inner.shutdown.is_cancelled() {
                return Ok(());
            }
            let cursor = {
                let mut q = self.inner.queue.lock();
                if q.is_full() {
                    q.starved = true;
                    return Ok(());
                }
                q.cursor
            };
            let page = self.inner.outbox.unfinished(cursor, FEED_PAGE).await?;
            let reached_end = page.len() < FEED_PAGE;
            let mut new_keys = Vec::new();
            let mut stop = false;
            {
                let mut q = self.inner.queue.lock();
                for record in &page {
                    let key = record.notification.ordering_key();
                    match q.push(&key, Queued { seq: record.seq, id: record.id() }) {
                        Pushed::Full => {
                            q.starved = true;
                            stop = true;
                            break;
                        }
                        Pushed::NewKey => new_keys.push(key),
                        Pushed::Queued | Pushed::Duplicate => {}
                    }
                    q.cursor = q.cursor.max(record.seq);
                }
                if !stop && reached_end {
                    if q.rescan {
                        q.rescan = false;
                        q.cursor = 0;
                    } else {
                        stop = true;
                    }
                }
            }
            for key in new_keys {
                self.spawn_worker(key);
            }
            if stop {
                return Ok(());
            }
        }
    }
}
