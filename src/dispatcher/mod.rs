//! The dispatcher: delivers notifications from the outbox through their integration's adapter, exactly once where
//! the adapter can check its upstream, at least once where it cannot.
//!
//! - **Bounded.** Work is loaded from the outbox in sequence order by one feeder ([`feeder`]) into a bounded
//!   in-memory list of ids ([`queue`]): a backlog of millions waits in the store, memory stays flat.
//! - **Ordered.** One worker per ordering key (integration + target) delivers that key's records one at a time, in
//!   enqueue order, including their retries. Keys proceed in parallel under a global concurrency limit.
//! - **Exactly once.** Before an attempt leaves, the record is durably marked `attempting`. An attempt whose outcome
//!   is unknown — a timeout, a reset after the request was written, an attempt abandoned at its deadline, a crash —
//!   leaves it `attempting`, and the next step for such a record is always the adapter's `confirm_delivery`, never a
//!   blind resend ([`attempt`]). A check that cannot run yet is retried later. Candidates already attributed to
//!   another notification are skipped, so two notifications with the same text are not mistaken for each other.
//! - **Supervised workers.** A worker whose attempt panics keeps its key, checks the record again after a pause
//!   (its outcome is unknown), and fails it after repeated panics; a worker torn down any other way releases its key
//!   and its records are loaded again ([`worker`]).
//! - What happens after a failure is decided from the error class alone ([`outcome::decide`]); rate limiting
//!   never counts towards `max_attempts`.

mod attempt;
mod feeder;
mod outcome;
mod queue;
mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use herald_core::store::MAX_PAGE;
use herald_core::{ClosedPolicy, MessagingChannel, NotificationStatus, Outbox, OutboxRecord, Target, Transition};
use parking_lot::Mutex;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use crate::config::DispatcherConfig;
pub use outcome::{decide, Decision};
use queue::{Pushed, Queued, WorkQueue};

/// An integration the dispatcher can deliver through.
#[derive(Clone)]
pub struct Route {
    /// The adapter.
    pub channel: Arc<dyn MessagingChannel>,
    /// The integration's closed-session policy (a notification may override it).
    pub closed_policy: ClosedPolicy,
}

/// The integrations the dispatcher can deliver through, by name.
pub type Channels = HashMap<String, Route>;

/// Delivers notifications; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    outbox: Arc<dyn Outbox>,
    channels: Channels,
    config: DispatcherConfig,
    permits: Semaphore,
    queue: Mutex<WorkQueue>,
    /// Wakes the feeder: new records in the outbox, or room in the queue.
    wake: Notify,
    started: AtomicBool,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Dispatcher {
    /// A dispatcher over `outbox` delivering through `channels`. It delivers nothing until [`recover`](Self::recover)
    /// starts it (after the integrations are ready).
    pub fn new(outbox: Arc<dyn Outbox>, channels: Channels, config: DispatcherConfig) -> Self {
        let permits = Semaphore::new(config.concurrency.max(1));
        let queue = Mutex::new(WorkQueue::new(config.queue_capacity));
        Dispatcher {
            inner: Arc::new(Inner {
                outbox,
                channels,
                config,
                permits,
                queue,
                wake: Notify::new(),
                started: AtomicBool::new(false),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Start delivering: the feeder loads unfinished records (pending, or attempting from a run that stopped
    /// mid-attempt) in enqueue order, a page at a time. Call it once the integrations are ready, so interrupted
    /// attempts can be checked at once. Returns how many unfinished records the first page found (for the log;
    /// at most one page).
    pub async fn recover(&self) -> Result<usize, herald_core::StoreError> {
        if self.inner.config.paused || self.inner.shutdown.is_cancelled() {
            return Ok(0);
        }
        let first = self.inner.outbox.unfinished(0, MAX_PAGE).await?.len();
        if !self.inner.started.swap(true, Ordering::SeqCst) {
            let this = self.clone();
            self.inner.tasks.spawn(async move { this.feed().await });
        }
        self.inner.wake.notify_one();
        Ok(first)
    }

    /// A record became due (new, or released from `deferred`). New records are loaded by the feeder in sequence
    /// order; an older record due again is queued behind its key's earlier records.
    pub fn schedule(&self, record: OutboxRecord) {
        if self.inner.shutdown.is_cancelled() || self.inner.config.paused {
            return;
        }
        let key = record.notification.ordering_key();
        let pushed = {
            let mut q = self.inner.queue.lock();
            if record.seq > q.cursor || !self.inner.started.load(Ordering::SeqCst) {
                None
            } else {
                let pushed = q.push(&key, Queued { seq: record.seq, id: record.id() });
                if pushed == Pushed::Full {
                    q.rescan = true;
                }
                Some(pushed)
            }
        };
        match pushed {
            Some(Pushed::NewKey) => self.spawn_worker(key),
            Some(Pushed::Queued | Pushed::Duplicate) => {}
            Some(Pushed::Full) | None => self.inner.wake.notify_one(),
        }
    }

    /// Move the notifications deferred for `customer` to the customer's new conversation and schedule them.
    pub async fn release_deferred(
        &self,
        integration: &str,
        customer: &str,
        conversation_id: &str,
    ) -> Result<usize, herald_core::StoreError> {
        let mut released = 0;
        loop {
            let records = self.inner.outbox.deferred_for(integration, customer).await?;
            let full_page = records.len() >= MAX_PAGE;
            for record in records {
                let mut t = Transition::to(
                    NotificationStatus::Pending,
                    Utc::now(),
                    format!("customer `{customer}` opened conversation `{conversation_id}`; delivering there"),
                );
                t.retarget = Some(Target::Conversation { id: conversation_id.to_string() });
                t.next_attempt_at = Some(Utc::now());
                t.mode = Some(herald_core::DeliveryMode::Normal);
                let updated = self.inner.outbox.transition(record.id(), t).await?;
                self.schedule(updated);
                released += 1;
            }
            if !full_page {
                return Ok(released);
            }
        }
    }

    /// Records currently loaded (queued or in flight).
    pub fn queued(&self) -> usize {
        self.inner.queue.lock().len()
    }

    /// Ordering keys with loaded work (one worker each).
    pub fn active_keys(&self) -> usize {
        self.inner.queue.lock().keys()
    }

    /// Stop taking work, let in-flight attempts finish (up to `grace`), leave everything else pending on disk.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait()).await.is_err() {
            warn!(grace_secs = grace.as_secs(), "Deliveries still in flight at the end of the grace period; they stay attempting and are checked at next start.");
        }
    }

    /// Wait `wait`, or return false at once if shutdown begins.
    async fn pause(&self, wait: Duration) -> bool {
        if wait.is_zero() {
            return !self.inner.shutdown.is_cancelled();
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => !self.inner.shutdown.is_cancelled(),
            _ = self.inner.shutdown.cancelled() => false,
        }
    }
}

#[cfg(test)]
mod tests;
