//! One record's way through delivery: wait until due, resolve an unknown outcome, attempt, decide.
//!
//! The invariant: a record whose status is `attempting` has an attempt whose outcome herald does not know (it was
//! interrupted by a crash, timed out, was reset after the request was written, or was abandoned at its deadline).
//! The only way out of `attempting` is through [`Dispatcher::resolve_unknown`]: the adapter's `confirm_delivery`
//! either finds the message upstream (delivered, not sent again), or says it is not there (then, and only then, a
//! new attempt is made). A check that cannot run now is retried later with backoff. Adapters that cannot check
//! (at-least-once) are the only ones whose unknown outcomes lead to a resend.

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::retry::{add_to, backoff};
use herald_core::{
    ChannelError, Delivery, DeliveryGuarantee, DeliveryMode, MessagingChannel, NotificationStatus, OutboxRecord,
    Receipt, Transition,
};
use tracing::{info, warn};
use uuid::Uuid;

use super::outcome::{decide, Decision};
use super::Dispatcher;

/// How long past an attempt's deadline the dispatcher waits for the adapter's own answer before abandoning it.
const ABANDON_GRACE: Duration = Duration::from_millis(500);

/// How processing a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Processed {
    /// It left the queue (delivered, failed, expired, deferred, gone).
    Done,
    /// Shutdown began; it stays in the outbox as it is.
    Stopped,
}

/// What checking an unknown outcome found.
enum Resolved {
    /// The attempt had reached the upstream: this receipt.
    Delivered(Receipt),
    /// It certainly did not: a new attempt may be made.
    NotDelivered,
    /// The adapter cannot check (at-least-once): a new attempt is made.
    CannotCheck,
    /// The check could not run now; try it again later.
    CheckFailed(ChannelError),
}

impl Dispatcher {
    /// Deliver one record until it leaves the queue.
    pub(super) async fn process(&self, id: Uuid) -> Processed {
        let inner = &self.inner;
        let mut store_failures = 0u32;
        let mut record = loop {
            match inner.outbox.get(id).await {
                Ok(Some(r)) => break r,
                Ok(None) => return Processed::Done,
                Err(e) => {
                    store_failures += 1;
                    warn!(error = %e, "Could not load the notification; trying again.");
                    if !self.pause(self.retry_delay(store_failures, None)).await {
                        return Processed::Stopped;
                    }
                }
            }
        };
        if !matches!(record.status, NotificationStatus::Pending | NotificationStatus::Attempting) {
            return Processed::Done; // finished or deferred meanwhile
        }
        let Some(route) = inner.channels.get(&record.notification.integration).cloned() else {
            let reason = format!(
                "integration `{}` is not configured; add it to the config or resend with a configured integration",
                record.notification.integration
            );
            self.finish(&record, Transition::to(NotificationStatus::Failed, Utc::now(), reason)).await;
            return Processed::Done;
        };
        let channel = route.channel;
        let policy = record.notification.closed_policy.unwrap_or(route.closed_policy);
        let timeout = Duration::from_secs(inner.config.delivery_timeout_secs.max(1));
        let mut check_failures = 0u32;
        let mut rate_limits = 0u32;
        loop {
            if inner.shutdown.is_cancelled() {
                return Processed::Stopped;
            }
            let wait = (record.next_attempt_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            if !self.pause(wait).await {
                return Processed::Stopped;
            }
            let Ok(_permit) = inner.permits.acquire().await else { return Processed::Stopped };
            if record.status == NotificationStatus::Attempting {
                match self.resolve_unknown(&record, channel.as_ref(), timeout).await {
                    Resolved::Delivered(receipt) => {
                        let reason = match &receipt.upstream_message_id {
                            Some(m) => format!("the attempt with an unknown outcome had reached the upstream as message `{m}`; not sent again"),
                            None => "the attempt with an unknown outcome had reached the upstream; not sent again".to_string(),
                        };
                        let mut t = Transition::to(NotificationStatus::Delivered, Utc::now(), reason);
                        t.receipt = Some(receipt);
                        self.finish(&record, t).await;
                        return Processed::Done;
                    }
                    Resolved::NotDelivered => {
                        info!("The attempt with an unknown outcome did not reach the upstream; attempting again.");
                    }
                    Resolved::CannotCheck => {
                        info!("The adapter cannot check an attempt with an unknown outcome; sending again (at-least-once).");
                    }
                    Resolved::CheckFailed(e) => {
                        check_failures = check_failures.saturating_add(1);
                        let retry_after = retry_after_of(&e);
                        if let Some(expired_at) = self.expiry(&record).filter(|at| *at <= Utc::now()) {
                            let reason = format!(
                                "expired at {expired_at} while the outcome of its last attempt was still unknown (it \
                                 may have reached the customer; the check failed: {e})"
                            );
                            self.finish(&record, Transition::to(NotificationStatus::Expired, Utc::now(), reason)).await;
                            return Processed::Done;
                        }
                        let wait = self.retry_delay(check_failures, retry_after);
                        let mut t = Transition::to(
                            NotificationStatus::Attempting,
                            Utc::now(),
                            format!(
                                "could not check whether the last attempt reached the upstream ({e}); checking again \
                                 in {:.1}s, never sending again before the check",
                                wait.as_secs_f64()
                            ),
                        );
                        t.next_attempt_at = Some(add_to(Utc::now(), wait));
                        record = self.record_or_keep(record, t).await;
                        continue;
                    }
                }
            }
            if let Some(expired_at) = self.expiry(&record).filter(|at| *at <= Utc::now()) {
                let reason = format!("not delivered before it expired at {expired_at}");
                self.finish(&record, Transition::to(NotificationStatus::Expired, Utc::now(), reason)).await;
                return Processed::Done;
            }
            let attempt = record.attempts + 1;
            let mode = record.mode;
            let mut t = Transition::to(
                NotificationStatus::Attempting,
                Utc::now(),
                format!("attempt {attempt} ({})", mode_name(mode)),
            );
            t.next_attempt_at = Some(Utc::now());
            let due = std::time::Instant::now();
            record = match inner.outbox.transition(record.id(), t).await {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "Could not record the attempt; trying again.");
                    record.next_attempt_at = add_to(Utc::now(), Duration::from_secs(1));
                    continue;
                }
            };
            metrics::histogram!("herald_dispatch_overhead_seconds").record(due.elapsed().as_secs_f64());
            let delivery = Delivery::new(record.notification.clone(), mode, attempt, timeout);
            let started = std::time::Instant::now();
            let result = self.deliver_until_deadline(channel.as_ref(), &delivery).await;
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
                    t.count_attempt = true;
                    self.finish(&record, t).await;
                    return Processed::Done;
                }
                Err(e) => e,
            };
            let counts = !matches!(error, ChannelError::RateLimited { .. });
            let attempts = record.attempts + u32::from(counts);
            let (decision, reason) =
                decide(&error, policy, channel.supports_agentless(), attempts, inner.config.max_attempts);
            let now = Utc::now();
            match decision {
                Decision::Retry { retry_after, counts } => {
                    let exponent = if counts {
                        attempts
                    } else {
                        rate_limits = rate_limits.saturating_add(1);
                        rate_limits
                    };
                    let wait = self.retry_delay(exponent, retry_after);
                    let mut t = Transition::to(
                        NotificationStatus::Pending,
                        now,
                        format!("{reason}; retrying in {:.1}s", wait.as_secs_f64()),
                    );
                    t.next_attempt_at = Some(add_to(now, wait));
                    t.count_attempt = counts;
                    self.count(&record, if counts { "retry" } else { "rate_limited" });
                    record = self.record_or_keep(record, t).await;
                }
                Decision::Check => {
                    metrics::counter!("herald_outcome_unknown_total", "integration" => record.notification.integration.clone()).increment(1);
                    warn!(error = %error, "The attempt's outcome is unknown; checking the upstream before anything else.");
                    let wait = Duration::from_millis(inner.config.backoff_initial_ms);
                    let mut t = Transition::to(
                        NotificationStatus::Attempting,
                        now,
                        format!("{reason}; checking in {:.1}s whether it arrived", wait.as_secs_f64()),
                    );
                    t.next_attempt_at = Some(add_to(now, wait));
                    t.count_attempt = true;
                    record = self.record_or_keep(record, t).await;
                }
                Decision::Agentless if mode == DeliveryMode::Normal => {
                    let mut t = Transition::to(NotificationStatus::Pending, now, reason);
                    t.mode = Some(DeliveryMode::Agentless);
                    t.count_attempt = true;
                    record = self.record_or_keep(record, t).await;
                }
                Decision::Agentless | Decision::Fail => {
                    let mut t = Transition::to(NotificationStatus::Failed, now, reason);
                    t.count_attempt = true;
                    self.finish(&record, t).await;
                    return Processed::Done;
                }
                Decision::Defer { customer } => {
                    let mut t = Transition::to(NotificationStatus::Deferred, now, reason);
                    t.deferred_for = Some(customer);
                    t.count_attempt = true;
                    self.finish(&record, t).await;
                    return Processed::Done;
                }
            }
        }
    }

    /// Run `deliver` until the attempt's deadline (plus a short grace for the adapter's own answer); past it the
    /// attempt is abandoned (its future dropped) and its outcome is unknown.
    async fn deliver_until_deadline(
        &self,
        channel: &dyn MessagingChannel,
        delivery: &Delivery,
    ) -> Result<Receipt, ChannelError> {
        match tokio::time::timeout_at(delivery.deadline + ABANDON_GRACE, channel.deliver(delivery)).await {
            Ok(result) => result,
            Err(_) => {
                metrics::counter!("herald_attempts_abandoned_total", "integration" => delivery.notification.integration.clone()).increment(1);
                Err(ChannelError::outcome_unknown(format!(
                    "no answer within the attempt's deadline of {}s; the attempt was abandoned and may have reached \
                     the upstream",
                    self.inner.config.delivery_timeout_secs
                )))
            }
        }
    }

    /// Ask the adapter whether the attempt with an unknown outcome reached the upstream.
    async fn resolve_unknown(
        &self,
        record: &OutboxRecord,
        channel: &dyn MessagingChannel,
        timeout: Duration,
    ) -> Resolved {
        let integration = &record.notification.integration;
        if channel.delivery_guarantee() == DeliveryGuarantee::AtLeastOnce {
            metrics::counter!("herald_confirm_total", "integration" => integration.clone(), "result" => "cannot_check")
                .increment(1);
            return Resolved::CannotCheck;
        }
        let mut delivery = Delivery::new(record.notification.clone(), record.mode, record.attempts.max(1), timeout);
        delivery.previous_attempt_at = Some(unknown_since(record));
        let checked =
            match tokio::time::timeout_at(delivery.deadline + ABANDON_GRACE, channel.confirm_delivery(&delivery)).await
            {
                Ok(r) => r,
                Err(_) => Err(ChannelError::transient(format!("the check took longer than {}s", timeout.as_secs()))),
            };
        let candidates = match checked {
            Ok(c) => c,
            Err(e) => {
                metrics::counter!("herald_confirm_total", "integration" => integration.clone(), "result" => "failed")
                    .increment(1);
                return Resolved::CheckFailed(e);
            }
        };
        for candidate in candidates {
            let Some(message) = candidate.upstream_message_id.as_deref() else {
                metrics::counter!("herald_confirm_total", "integration" => integration.clone(), "result" => "found")
                    .increment(1);
                return Resolved::Delivered(candidate);
            };
            match self.inner.outbox.attributed(integration, message).await {
                Ok(None) => {
                    metrics::counter!("herald_confirm_total", "integration" => integration.clone(), "result" => "found").increment(1);
                    return Resolved::Delivered(candidate);
                }
                Ok(Some(owner)) if owner == record.id() => return Resolved::Delivered(candidate),
                Ok(Some(_)) => continue, // another notification's message with the same content
                Err(e) => return Resolved::CheckFailed(e.into()),
            }
        }
        metrics::counter!("herald_confirm_total", "integration" => integration.clone(), "result" => "not_found")
            .increment(1);
        Resolved::NotDelivered
    }

    /// Backoff from the configured bounds, never shorter than the upstream's `Retry-After`.
    fn retry_delay(&self, exponent: u32, retry_after: Option<Duration>) -> Duration {
        let config = &self.inner.config;
        backoff(
            exponent,
            Duration::from_millis(config.backoff_initial_ms),
            Duration::from_millis(config.backoff_max_ms),
            retry_after,
        )
    }

    fn expiry(&self, record: &OutboxRecord) -> Option<DateTime<Utc>> {
        record.notification.expires_at.or_else(|| {
            let hours = self.inner.config.default_expiry_hours;
            (hours > 0).then(|| add_to(record.notification.created_at, Duration::from_secs(hours.saturating_mul(3600))))
        })
    }

    /// Record a transition that keeps the record in the queue; on a store failure keep the in-memory copy (with
    /// its new due time) and carry on.
    async fn record_or_keep(&self, mut record: OutboxRecord, t: Transition) -> OutboxRecord {
        match self.inner.outbox.transition(record.id(), t.clone()).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "Could not record the transition; continuing from memory.");
                record.apply(&t);
                record
            }
        }
    }

    /// Record a final (or leaving) transition.
    async fn finish(&self, record: &OutboxRecord, t: Transition) {
        let outcome = t.status.as_str();
        info!(status = outcome, reason = %t.reason, "Notification {}.", outcome);
        self.count(record, outcome);
        if let Err(e) = self.inner.outbox.transition(record.id(), t).await {
            warn!(error = %e, "Could not record the outcome; the notification stays unfinished and is checked again at next start.");
        }
    }

    fn count(&self, record: &OutboxRecord, outcome: &'static str) {
        metrics::counter!("herald_deliveries_total", "integration" => record.notification.integration.clone(), "outcome" => outcome).increment(1);
    }
}

/// When the attempt with an unknown outcome started: the first entry of the record's trailing run of `attempting`
/// entries (later entries of that run are outcome notes and failed checks, which come after the request left).
pub(super) fn unknown_since(record: &OutboxRecord) -> DateTime<Utc> {
    let mut since = record.history.last().map_or(record.notification.created_at, |h| h.at);
    for change in record.history.iter().rev() {
        if change.status != NotificationStatus::Attempting {
            break;
        }
        since = change.at;
    }
    since
}

fn retry_after_of(e: &ChannelError) -> Option<Duration> {
    match e {
        ChannelError::RateLimited { retry_after, .. } => *retry_after,
        _ => None,
    }
}

fn mode_name(mode: DeliveryMode) -> &'static str {
    match mode {
        DeliveryMode::Normal => "normal",
        DeliveryMode::Agentless => "agentless",
    }
}
