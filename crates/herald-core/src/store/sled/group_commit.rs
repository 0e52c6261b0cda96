//! Group commit: many callers, one fsync.
//!
//! A caller that needs its write durable (an `enqueue`, a `transition`) finishes the write in memory, then calls
//! [`GroupCommit::durable`]. That registers a waiter in the *current batch* and wakes the committer thread. The
//! committer loops: take every waiter registered since it last looked, call `Db::flush` once (sled writes its log
//! buffers and fsyncs), then answer every waiter of that batch. A waiter registered while a flush is running lands
//! in the next batch, so the flush that answers it always started after its write: under load N callers share one
//! fsync instead of queueing for N of them.
//!
//! The committer is a dedicated OS thread (not a tokio task) because `flush` blocks for as long as the disk takes
//! and must never stall a runtime worker. Waiters are tokio oneshot channels, so async callers do not block either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::error::StoreError;

type Waiter = oneshot::Sender<Result<(), String>>;

/// The committer and its waiting room.
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    flushes: AtomicU64,
    waits: AtomicU64,
}

#[derive(Default)]
struct State {
    batch: Vec<Waiter>,
    shutdown: bool,
}

impl GroupCommit {
    /// Start the committer thread for `db`. `max_delay` > 0 makes the committer wait that long after the first
    /// waiter of a batch arrives, to gather more (trading latency for fewer fsyncs); zero flushes at once.
    pub(crate) fn start(db: ::sled::Db, max_delay: Duration) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            flushes: AtomicU64::new(0),
            waits: AtomicU64::new(0),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("herald-sled-commit".into())
            .spawn(move || worker.run(&db, max_delay))
            .map_err(|e| StoreError::Backend(format!("cannot start the group-commit thread: {e}")))?;
        Ok(GroupCommit { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Wait until everything written before this call is on disk.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.shared.state.lock();
            if state.shutdown {
                return Err(StoreError::Closed);
            }
            state.batch.push(tx);
            if state.batch.len() == 1 {
                self.shared.wake.notify_one();
            }
        }
        self.shared.waits.fetch_add(1, Ordering::Relaxed);
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Backend(format!("flush failed: {e}"))),
            Err(_) => Err(StoreError::Closed),
        }
    }

    /// `(flushes, durable waits)` since start: their ratio is the average batch size.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.shared.flushes.load(Ordering::Relaxed), self.shared.waits.load(Ordering::Relaxed))
    }

    /// Answer the waiters still queued, flush a last time and stop the thread. Idempotent.
    pub(crate) fn shutdown(&self) {
        self.shared.state.lock().shutdown = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.lock().take() {
            if thread.join().is_err() {
                tracing::error!("the group-commit thread panicked");
            }
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn run(&self, db: &::sled::Db, max_delay: Duration) {
        loop {
            let batch = {
                let mut state = self.state.lock();
                while state.batch.is_empty() && !state.shutdown {
                    self.wake.wait(&mut state);
                }
                if state.batch.is_empty() {
                    break; // shutdown with nobody waiting
                }
                if !max_delay.is_zero() && !state.shutdown {
                    let deadline = Instant::now() + max_delay;
                    while !state.shutdown && !self.wake.wait_until(&mut state, deadline).timed_out() {}
                }
                std::mem::take(&mut state.batch)
            };
            let result = db.flush().map(|_| ()).map_err(|e| e.to_string());
            self.flushes.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = &result {
                tracing::error!(error = %e, "sled flush failed; {} accepts are not durable", batch.len());
            }
            for waiter in batch {
                // A caller that gave up (dropped its future) no longer listens; that is fine.
                let _ = waiter.send(result.clone());
            }
        }
        if let Err(e) = db.flush() {
            tracing::error!(error = %e, "final sled flush failed");
        }
    }
}
