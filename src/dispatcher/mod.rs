//! The dispatcher: delivers notifications from the outbox through their integration's adapter.
//!
//! - Order is kept per ordering key (integration + target): one worker per key delivers its records one at a time,
//!   in enqueue order, including their retries. Different keys proceed in parallel, bounded by `concurrency`.
//! - Before an attempt leaves, the record is durably marked `attempting`; after a crash such records are checked
//!   with the adapter's `confirm_delivery` so an attempt that reached the upstream is not sent again.
//! - What happens after a failure is decided from the error class alone ([`outcome::decide`]).

mod backoff;
mod outcome;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use herald_core::{
    ChannelError, ClosedPolicy, Delivery, DeliveryMode, MessagingChannel, NotificationStatus, Outbox, OutboxRecord,
    Target, Transition,
};
use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info_span, warn, Instrument};

use crate::config::DispatcherConfig;
pub use outcome::{decide, Decision};

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
    queues: Mutex<HashMap<String, VecDeque<OutboxRecord>>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Dispatcher {
    /// A dispatcher over `outbox` delivering through `channels`.
    pub fn new(outbox: Arc<dyn Outbox>, channels: Channels, config: DispatcherConfig) -> Self {
        let permits = Semaphore::new(config.concurrency.max(1));
        Dispatcher {
            inner: Arc::new(Inner {
                outbox,
                channels,
                config,
                permits,
                queues: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Load every unfinished record (pending, or attempting from a run that crashed) and schedule it.
    pub async fn recover(&self) -> Result<usize, herald_core::StoreError> {
        let mut total = 0;
        let records = self.inner.outbox.unfinished(0, 0).await?;
        for record in records {
            total += 1;
            self.schedule(record);
        }
        Ok(total)
    }

    /// Queue a record for delivery behind earlier records with the same ordering key.
    pub fn schedule(&self, record: OutboxRecord) {
        if self.inner.shutdown.is_cancelled() || self.inner.config.paused {
            return;
        }
        let key = record.notification.ordering_key();
        let start_worker = {
            let mut queues = self.inner.queues.lock();
            match queues.get_mut(&key) {
                Some(queue) => {
                    queue.push_back(record);
                    false
                }
                None => {
                    queues.insert(key.clone(), VecDeque::from([record]));
                    true
                }
            }
        };
        if start_worker {
            let this = self.clone();
            self.inner.tasks.spawn(async move { this.run_key(key).await });
        }
    }

    /// Move the notifications deferred for `customer` to the customer's new conversation and schedule them.
    pub async fn release_deferred(
        &self,
        integration: &str,
        customer: &str,
        conversation_id: &str,
    ) -> Result<usize, herald_core::StoreError> {
        let records = self.inner.outbox.deferred_for(integration, customer).await?;
        let mut released = 0;
        for record in records {
            let mut t = Transition::to(
                NotificationStatus::Pending,
                Utc::now(),
                format!("customer `{customer}` opened conversation `{conversation_id}`; delivering there"),
            );
            t.retarget = Some(Target::Conversation { id: conversation_id.to_string() });
            t.next_attempt_at = Some(Utc::now());
            let updated = self.inner.outbox.transition(record.id(), t).await?;
            self.schedule(updated);
            released += 1;
        }
        Ok(released)
    }

    /// Records currently queued or in flight.
    pub fn queued(&self) -> usize {
        self.inner.queues.lock().values().map(VecDeque::len).sum()
    }

    /// Stop taking work, let in-flight attempts finish (up to `grace`), leave everything else pending on disk.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait()).await.is_err() {
            warn!(grace_secs = grace.as_secs(), "Deliveries still in flight at the end of the grace period; they stay attempting and are checked at next start.");
        }
    }

    async fn run_key(self, key: String) {
        loop {
            let next = {
                let mut queues = self.inner.queues.lock();
                match queues.get_mut(&key).and_then(|q| q.front().cloned()) {
                    Some(r) => Some(r),
                    None => {
                        queues.remove(&key);
                        None
                    }
                }
            };
            let Some(record) = next else { return };
            let id = record.id();
            let span = info_span!("delivery", notification = %id, integration = %record.notification.integration, target = %record.notification.target);
            let finished = self.process(record).instrument(span).await;
            if !finished {
                return; // shutting down: the record stays in the outbox, pending
            }
            let mut queues = self.inner.queues.lock();
            if let Some(q) = queues.get_mut(&key) {
                q.pop_front();
            }
        }
    }

    /// Deliver one record until it reaches a state that leaves the queue. Returns false if interrupted by shutdown.
    async fn process(&self, mut record: OutboxRecord) -> bool {
        let inner = &self.inner;
        let Some(route) = inner.channels.get(&record.notification.integration).cloned() else {
            let reason = format!(
                "integration `{}` is not configured; add it to the config or resend with a configured integration",
                record.notification.integration
            );
            return self.finish(&record, NotificationStatus::Failed, reason).await;
        };
        let channel = route.channel;
        let policy = record.notification.closed_policy.unwrap_or(route.closed_policy);
        let mut mode = DeliveryMode::Normal;
        loop {
            if inner.shutdown.is_cancelled() {
                return false;
            }
            if let Some(expired_at) = self.expiry(&record) {
                if expired_at <= Utc::now() {
                    return self
                        .finish(
                            &record,
                            NotificationStatus::Expired,
                            format!("not delivered before it expired at {expired_at}"),
                        )
                        .await;
                }
            }
            let wait = (record.next_attempt_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = inner.shutdown.cancelled() => return false,
                }
            }
            let due = Instant::now();
            let Ok(_permit) = inner.permits.acquire().await else { return false };
            let previous_attempt_at = (record.status == NotificationStatus::Attempting).then(|| last_change(&record));
            let mut delivery = Delivery::new(
                record.notification.clone(),
                mode,
                record.attempts + 1,
                Duration::from_secs(inner.config.delivery_timeout_secs),
            );
            delivery.previous_attempt_at = previous_attempt_at;
            if previous_attempt_at.is_some() {
                match channel.confirm_delivery(&delivery).await.map(|found| found.into_iter().next()) {
                    Ok(Some(receipt)) => {
                        let mut t = Transition::to(
                            NotificationStatus::Delivered,
                            Utc::now(),
                            "an attempt before the restart had reached the upstream; not sent again",
                        );
                        t.receipt = Some(receipt);
                        return self.apply(&record, t, "delivered").await;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::info!(error = %e, "Cannot confirm an interrupted attempt; sending again (at-least-once).")
                    }
                }
            }
            let mut t = Transition::to(
                NotificationStatus::Attempting,
                Utc::now(),
                format!("attempt {} ({})", delivery.attempt, mode_name(mode)),
            );
            t.count_attempt = true;
            record = match inner.outbox.transition(record.id(), t).await {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "Could not record the attempt; will retry.");
                    record.next_attempt_at = Utc::now() + chrono::Duration::seconds(1);
                    continue;
                }
            };
            metrics::histogram!("herald_dispatch_overhead_seconds").record(due.elapsed().as_secs_f64());
            let started = Instant::now();
            let result = match tokio::time::timeout(
                Duration::from_secs(inner.config.delivery_timeout_secs),
                channel.deliver(&delivery),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => Err(ChannelError::transient(format!(
                    "delivery took longer than {}s",
                    inner.config.delivery_timeout_secs
                ))),
            };
            metrics::histogram!("herald_delivery_seconds", "integration" => record.notification.integration.clone())
                .record(started.elapsed().as_secs_f64());
            let error = match result {
                Ok(receipt) => {
                    let reason = match &receipt.upstream_message_id {
                        Some(m) => format!("delivered via {} as message `{m}`", receipt.route),
                        None => format!("delivered via {}", receipt.route),
                    };
                    let mut t = Transition::to(NotificationStatus::Delivered, Utc::now(), reason);
                    t.receipt = Some(receipt);
                    return self.apply(&record, t, "delivered").await;
                }
                Err(e) => e,
            };
            let (decision, reason) =
                decide(&error, policy, channel.supports_agentless(), record.attempts, inner.config.max_attempts);
            match decision {
                Decision::Retry { retry_after } => {
                    let wait = backoff::delay(
                        record.attempts,
                        Duration::from_millis(inner.config.backoff_initial_ms),
                        Duration::from_millis(inner.config.backoff_max_ms),
                        retry_after,
                    );
                    let mut t = Transition::to(
                        NotificationStatus::Pending,
                        Utc::now(),
                        format!("{reason}; retrying in {:.1}s", wait.as_secs_f64()),
                    );
                    t.next_attempt_at = Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default());
                    metrics::counter!("herald_deliveries_total", "integration" => record.notification.integration.clone(), "outcome" => "retry").increment(1);
                    match inner.outbox.transition(record.id(), t).await {
                        Ok(r) => record = r,
                        Err(e) => {
                            warn!(error = %e, "Could not record the retry.");
                            record.next_attempt_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                        }
                    }
                }
                Decision::Agentless if mode == DeliveryMode::Normal => {
                    mode = DeliveryMode::Agentless;
                    let t = Transition::to(NotificationStatus::Pending, Utc::now(), reason);
                    if let Ok(r) = inner.outbox.transition(record.id(), t).await {
                        record = r;
                    }
                }
                Decision::Agentless | Decision::Fail => {
                    return self.finish(&record, NotificationStatus::Failed, reason).await;
                }
                Decision::Defer { customer } => {
                    let mut t = Transition::to(NotificationStatus::Deferred, Utc::now(), reason);
                    t.deferred_for = Some(customer);
                    return self.apply(&record, t, "deferred").await;
                }
            }
        }
    }

    fn expiry(&self, record: &OutboxRecord) -> Option<DateTime<Utc>> {
        record.notification.expires_at.or_else(|| {
            let hours = self.inner.config.default_expiry_hours;
            (hours > 0).then(|| record.notification.created_at + chrono::Duration::hours(hours as i64))
        })
    }

    async fn finish(&self, record: &OutboxRecord, status: NotificationStatus, reason: String) -> bool {
        let outcome = status.as_str();
        self.apply(record, Transition::to(status, Utc::now(), reason), outcome).await
    }

    async fn apply(&self, record: &OutboxRecord, t: Transition, outcome: &'static str) -> bool {
        tracing::info!(status = t.status.as_str(), reason = %t.reason, "Notification {}.", outcome);
        metrics::counter!("herald_deliveries_total", "integration" => record.notification.integration.clone(), "outcome" => outcome).increment(1);
        if let Err(e) = self.inner.outbox.transition(record.id(), t).await {
            warn!(error = %e, "Could not record the outcome; the notification stays unfinished and is retried at next start.");
        }
        true
    }
}

fn last_change(record: &OutboxRecord) -> DateTime<Utc> {
    record.history.last().map(|h| h.at).unwrap_or(record.notification.created_at)
}

fn mode_name(mode: DeliveryMode) -> &'static str {
    match mode {
        DeliveryMode::Normal => "normal",
        DeliveryMode::Agentless => "agentless",
    }
}
