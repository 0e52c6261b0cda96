//! A small supervisor for the service's background tasks.
//!
//! Every background task (the event loop, the rule workers, the rule timers, maintenance) is started through
//! [`Supervisor::spawn`] under a name. A task that ends while the service is not stopping — by panicking or by
//! returning — is logged, counted in `herald_task_restarts_total{task}`, and started again after a backoff
//! ([`herald_core::retry::backoff`]). `/healthz` reports every task ([`Supervisor::report`]): a task that is down,
//! or that crashed [`CRASH_LOOP`] times within [`RECENT`], makes the service unhealthy; one that restarted within
//! [`RECENT`] makes it degraded.
//!
//! A task is built by a factory called once per incarnation with the task's stop token: state that must survive a
//! restart (a channel's receiver, the rule engine) lives outside the future, shared with the factory.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use herald_core::HealthStatus;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

/// Failures within this window count towards a task's health.
pub const RECENT: Duration = Duration::from_secs(300);
/// This many failures within [`RECENT`] make a task unhealthy even while it runs (a crash loop).
pub const CRASH_LOOP: usize = 3;
/// First restart delay; doubles per consecutive failure (jittered).
const RESTART_INITIAL: Duration = Duration::from_millis(100);
/// Longest restart delay.
const RESTART_MAX: Duration = Duration::from_secs(30);
/// A task that ran this long before failing starts its backoff again from [`RESTART_INITIAL`].
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Where a supervised task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Running.
    Running,
    /// Ended unexpectedly; waiting for its restart.
    Restarting,
    /// Stopped by the service's shutdown.
    Stopped,
}

/// One task as `/healthz` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskReport {
    /// `healthy`, `degraded` (restarted within the last five minutes) or `unhealthy` (down, or crash-looping).
    #[schema(value_type = String)]
    pub status: HealthStatus,
    /// Running, restarting or stopped.
    pub state: TaskState,
    /// Restarts since the service started.
    pub restarts: u64,
    /// Why it last ended unexpectedly (a panic message, or "returned").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
    /// When it last ended unexpectedly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// Starts, watches and restarts named background tasks; cheap to clone.
#[derive(Clone, Default)]
pub struct Supervisor {
    inner: Arc<Mutex<BTreeMap<String, Slot>>>,
}

struct Slot {
    stop: CancellationToken,
    state: TaskState,
    restarts: u64,
    failures: VecDeque<Instant>,
    last_failure: Option<(String, DateTime<Utc>)>,
    /// The current incarnation (aborted when a stop outlives its deadline).
    current: Option<AbortHandle>,
    /// The watcher, awaited by [`Supervisor::stop`].
    watcher: Option<JoinHandle<()>>,
    /// Test hook: the next notification makes the current incarnation panic.
    fault: Arc<Notify>,
}

impl Supervisor {
    /// An empty supervisor.
    pub fn new() -> Self {
        Supervisor::default()
    }

    /// Start `name`, building each incarnation with `make(stop)`. The future should return once `stop` is
    /// cancelled (after draining whatever it must); ending at any other time is a failure and it is restarted.
    pub fn spawn<F, Fut>(&self, name: &str, make: F)
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = CancellationToken::new();
        let fault = Arc::new(Notify::new());
        {
            let mut tasks = self.inner.lock();
            tasks.insert(
                name.to_string(),
                Slot {
                    stop: stop.clone(),
                    state: TaskState::Running,
                    restarts: 0,
                    failures: VecDeque::new(),
                    last_failure: None,
                    current: None,
                    watcher: None,
                    fault: fault.clone(),
                },
            );
        }
        let this = self.clone();
        let task = name.to_string();
        let watcher = tokio::spawn(async move { this.watch(task, make, stop, fault).await });
        if let Some(slot) = self.inner.lock().get_mut(name) {
            slot.watcher = Some(watcher);
        }
    }

    async fn watch<F, Fut>(self, name: String, make: F, stop: CancellationToken, fault: Arc<Notify>)
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut consecutive: u32 = 0;
        loop {
            let run = make(stop.clone());
            let fault = fault.clone();
            let started = Instant::now();
            let handle = tokio::spawn(async move {
                tokio::select! {
                    _ = run => {}
                    _ = fault.notified() => panic!("fault injected by a test"),
                }
            });
            self.update(&name, |slot| {
                slot.current = Some(handle.abort_handle());
                slot.state = TaskState::Running;
            });
            let outcome = handle.await;
            if stop.is_cancelled() {
                self.update(&name, |slot| slot.state = TaskState::Stopped);
                return;
            }
            let why = match outcome {
                Ok(()) => "returned while the service was running".to_string(),
                Err(e) if e.is_panic() => {
                    format!("panicked: {}", herald_core::tasks::panic_message(e.into_panic().as_ref()))
                }
                Err(_) => "was cancelled".to_string(),
            };
            consecutive = if started.elapsed() >= STABLE_AFTER { 1 } else { consecutive.saturating_add(1) };
            let wait = herald_core::retry::backoff(consecutive, RESTART_INITIAL, RESTART_MAX, None);
            metrics::counter!("herald_task_restarts_total", "task" => name.clone()).increment(1);
            error!(task = %name, reason = %why, restart_in_ms = wait.as_millis() as u64, "Background task ended unexpectedly; restarting it.");
            self.update(&name, |slot| {
                slot.state = TaskState::Restarting;
                slot.restarts += 1;
                slot.current = None;
                let now = Instant::now();
                slot.failures.push_back(now);
                while slot.failures.front().is_some_and(|t| now.duration_since(*t) > RECENT) {
                    slot.failures.pop_front();
                }
                slot.last_failure = Some((why.clone(), Utc::now()));
            });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {
                    self.update(&name, |slot| slot.state = TaskState::Stopped);
                    return;
                }
            }
            info!(task = %name, "Restarting background task.");
        }
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut Slot)) {
        if let Some(slot) = self.inner.lock().get_mut(name) {
            f(slot);
        }
    }

    /// Every task with its health, by name.
    pub fn report(&self) -> BTreeMap<String, TaskReport> {
        let now = Instant::now();
        self.inner
            .lock()
            .iter()
            .map(|(name, slot)| {
                let recent = slot.failures.iter().filter(|t| now.duration_since(**t) <= RECENT).count();
                let status = match slot.state {
                    TaskState::Restarting => HealthStatus::Unhealthy,
                    _ if recent >= CRASH_LOOP => HealthStatus::Unhealthy,
                    _ if recent > 0 => HealthStatus::Degraded,
                    _ => HealthStatus::Healthy,
                };
                let report = TaskReport {
                    status,
                    state: slot.state,
                    restarts: slot.restarts,
                    last_failure: slot.last_failure.as_ref().map(|(why, _)| why.clone()),
                    last_failure_at: slot.last_failure.as_ref().map(|(_, at)| *at),
                };
                (name.clone(), report)
            })
            .collect()
    }

    /// Test hook: make the current incarnation of `task` panic (as a bug in it would). Returns false if there is
    /// no such task.
    pub fn inject_panic(&self, task: &str) -> bool {
        match self.inner.lock().get(task) {
            Some(slot) => {
                slot.fault.notify_one();
                true
            }
            None => false,
        }
    }

    /// Stop the named tasks together and wait for them until `deadline`; those still running then are aborted.
    /// Returns the names of the aborted ones.
    pub async fn stop(&self, names: &[&str], deadline: tokio::time::Instant) -> Vec<String> {
        let mut watchers = Vec::new();
        {
            let mut tasks = self.inner.lock();
            for name in names {
                if let Some(slot) = tasks.get_mut(*name) {
                    slot.stop.cancel();
                    if let Some(w) = slot.watcher.take() {
                        watchers.push((name.to_string(), w));
                    }
                }
            }
        }
        let mut aborted = Vec::new();
        for (name, mut watcher) in watchers {
            if tokio::time::timeout_at(deadline, &mut watcher).await.is_err() {
                warn!(task = %name, "Background task did not stop within the shutdown grace; aborting it.");
                let current = self.inner.lock().get(&name).and_then(|s| s.current.clone());
                if let Some(current) = current {
                    current.abort();
                }
                watcher.abort();
                self.update(&name, |slot| slot.state = TaskState::Stopped);
                aborted.push(name);
            }
        }
        aborted
    }

    /// Stop every task still running (see [`stop`](Self::stop)).
    pub async fn stop_all(&self, deadline: tokio::time::Instant) -> Vec<String> {
        let names: Vec<String> = self.inner.lock().keys().cloned().collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.stop(&refs, deadline).await
    }
}

/// Adapters start their background tasks (ingestion, presence polling) through the service's supervisor, so they
/// are restarted and reported like the service's own.
impl herald_core::tasks::TaskSpawner for Supervisor {
    fn spawn(&self, name: String, make: herald_core::tasks::TaskFactory) {
        Supervisor::spawn(self, &name, move |stop| make(stop));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wait until `cond` holds on the report of `task`, or fail after `timeout`.
    async fn wait_for(sup: &Supervisor, task: &str, cond: impl Fn(&TaskReport) -> bool) -> TaskReport {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = sup.report().get(task).filter(|r| cond(r)) {
                return r.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "condition never held: {:?}", sup.report());
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_panicking_task_is_restarted_counted_and_reported() {
        let sup = Supervisor::new();
        let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        sup.spawn("worker", move |stop| {
            let started = started_tx.clone();
            async move {
                let _ = started.send(());
                stop.cancelled().await;
            }
        });
        started_rx.recv().await.expect("first incarnation");
        assert_eq!(sup.report()["worker"].status, HealthStatus::Healthy);
        assert!(sup.inject_panic("worker"));
        assert!(!sup.inject_panic("nobody"));
        started_rx.recv().await.expect("second incarnation");
        let r = wait_for(&sup, "worker", |r| r.state == TaskState::Running && r.restarts == 1).await;
        assert_eq!(r.status, HealthStatus::Degraded);
        assert!(r.last_failure.as_deref().unwrap_or("").contains("fault injected"), "{r:?}");

        // A crash loop makes it unhealthy, even while it runs.
        for _ in 0..2 {
            sup.inject_panic("worker");
            started_rx.recv().await.expect("next incarnation");
        }
        let r = wait_for(&sup, "worker", |r| r.restarts == 3).await;
        assert_eq!(r.status, HealthStatus::Unhealthy);

        let aborted = sup.stop_all(tokio::time::Instant::now() + Duration::from_secs(5)).await;
        assert!(aborted.is_empty());
        assert_eq!(sup.report()["worker"].state, TaskState::Stopped);
    }

    #[tokio::test]
    async fn a_task_that_returns_is_restarted_and_one_that_ignores_stop_is_aborted() {
        let sup = Supervisor::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        sup.spawn("returns", move |_stop| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(());
            }
        });
        rx.recv().await.expect("first run");
        rx.recv().await.expect("restarted after returning");
        let r = wait_for(&sup, "returns", |r| r.restarts >= 1).await;
        assert!(r.last_failure.as_deref().unwrap_or("").contains("returned"), "{r:?}");

        sup.spawn("stubborn", |_stop| std::future::pending::<()>());
        let aborted = sup.stop(&["stubborn"], tokio::time::Instant::now() + Duration::from_millis(50)).await;
        assert_eq!(aborted, vec!["stubborn".to_string()]);
        sup.stop_all(tokio::time::Instant::now() + Duration::from_secs(5)).await;
    }
}
