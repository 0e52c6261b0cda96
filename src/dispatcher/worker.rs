//! Per-key workers: one task per ordering key with loaded work, delivering its records one at a time.
//!
//! A worker survives a panic in an attempt (an adapter bug, a hostile number from upstream): the panic is caught,
//! logged and counted, and the same record is taken up again after a pause — its status is still `attempting`, so
//! the next step is a check with `confirm_delivery`, not a resend. After [`MAX_PANICS`] panics in a row the record
//! fails with the panic message. A worker torn down without finishing (its task aborted) releases its key through
//! [`KeyGuard`], and the feeder loads the key's records again.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use herald_core::{NotificationStatus, Transition};
use tracing::{error, info_span, Instrument};
use uuid::Uuid;

use super::attempt::Processed;
use super::Dispatcher;

/// Panics in a row on one record before it fails.
pub(super) const MAX_PANICS: u32 = 5;

/// Releases a key whose worker ends without finishing its list (the task was aborted or unwound).
struct KeyGuard {
    dispatcher: Dispatcher,
    key: String,
    armed: bool,
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if self.armed {
            self.dispatcher.inner.queue.lock().drop_key(&self.key);
            self.dispatcher.inner.wake.notify_one();
        }
    }
}

impl Dispatcher {
    /// Start the worker of `key`.
    pub(super) fn spawn_worker(&self, key: String) {
        let this = self.clone();
        self.inner.tasks.spawn(async move { this.run_key(key).await });
    }

    async fn run_key(self, key: String) {
        let mut guard = KeyGuard { dispatcher: self.clone(), key: key.clone(), armed: true };
        let mut panics = 0u32;
        loop {
            let next = self.inner.queue.lock().front(&key);
            let Some(item) = next else {
                guard.armed = false;
                return;
            };
            let span = info_span!("delivery", notification = %item.id, key = %key);
            let result = AssertUnwindSafe(self.process(item.id).instrument(span)).catch_unwind().await;
            match result {
                Ok(Processed::Done) => {
                    panics = 0;
                    self.finish_item(&key, item.id);
                }
                Ok(Processed::Stopped) => {
                    guard.armed = false;
                    return;
                }
                Err(payload) => {
                    panics += 1;
                    let message = herald_core::tasks::panic_message(payload.as_ref());
                    metrics::counter!("herald_dispatch_worker_panics_total").increment(1);
                    error!(notification = %item.id, panics, panic = %message, "A delivery attempt panicked; its outcome is unknown and it is checked again.");
                    if panics >= MAX_PANICS {
                        self.fail_after_panics(item.id, panics, &message).await;
                        panics = 0;
                        self.finish_item(&key, item.id);
                    } else {
                        let wait = herald_core::retry::backoff(
                            panics,
                            Duration::from_millis(200),
                            Duration::from_secs(30),
                            None,
                        );
                        if !self.pause(wait).await {
                            guard.armed = false;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The key's front record is done: drop it, and wake a feeder that stopped on a full queue.
    fn finish_item(&self, key: &str, id: Uuid) {
        let mut q = self.inner.queue.lock();
        q.pop(key, id);
        if q.starved && q.has_room_for_feeder() {
            q.starved = false;
            self.inner.wake.notify_one();
        }
    }

    async fn fail_after_panics(&self, id: Uuid, panics: u32, message: &str) {
        let reason = format!(
            "delivery panicked {panics} times in a row (last: {message}); the adapter has a bug — report it. The \
             last attempt's outcome is unknown: check the conversation before sending again"
        );
        let t = Transition::to(NotificationStatus::Failed, Utc::now(), reason);
        if let Err(e) = self.inner.outbox.transition(id, t).await {
            error!(notification = %id, error = %e, "Could not record the failure after repeated panics.");
        }
    }
}
