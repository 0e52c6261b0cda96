//! Adapters' background tasks under the host's supervision.
//!
//! An adapter that runs work in the background (a stream's ingestion loop, a presence poller) starts it through
//! [`ChannelContext::spawn_task`](crate::ChannelContext::spawn_task) instead of `tokio::spawn`: the host then watches
//! it, restarts it with backoff when it ends unexpectedly (a panic, or a return while the service runs) and reports
//! it in `/healthz` and `herald_task_restarts_total`. A task is given as a factory called once per incarnation with
//! that incarnation's stop token; it should return once the token is cancelled.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

/// The text of a panic payload (`panic!` with a literal or a formatted message), for logs and health reports.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// A boxed task incarnation.
pub type TaskFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Builds one incarnation of a task from its stop token.
pub type TaskFactory = Arc<dyn Fn(CancellationToken) -> TaskFuture + Send + Sync>;

/// Starts named background tasks and keeps them running.
pub trait TaskSpawner: Send + Sync {
    /// Start `name`, restarting it (a new incarnation from `make`) whenever it ends unexpectedly.
    fn spawn(&self, name: String, make: TaskFactory);
}

/// A spawner without a supervisor (tests, tools): restarts a task that panics or returns before `stop` is cancelled,
/// with backoff, and logs it; nothing reports it.
#[derive(Debug, Clone, Default)]
pub struct RestartingSpawner {
    stop: CancellationToken,
}

impl RestartingSpawner {
    /// A spawner whose tasks stop when `stop` is cancelled.
    pub fn new(stop: CancellationToken) -> Self {
        RestartingSpawner { stop }
    }
}

impl TaskSpawner for RestartingSpawner {
    fn spawn(&self, name: String, make: TaskFactory) {
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                let ended = AssertUnwindSafe(make(stop.clone())).catch_unwind().await;
                if stop.is_cancelled() {
                    return;
                }
                failures = failures.saturating_add(1);
                let why = match &ended {
                    Err(payload) => format!("panicked: {}", panic_message(payload.as_ref())),
                    Ok(()) => "returned".to_string(),
                };
                let wait = crate::retry::backoff(failures, Duration::from_millis(100), Duration::from_secs(30), None);
                tracing::error!(task = %name, why, restart_in_ms = wait.as_millis() as u64, "background task ended unexpectedly; restarting it");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return,
                }
            }
        });
    }
}
