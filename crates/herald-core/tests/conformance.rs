//! Runs the store conformance suite against every backend: the in-memory reference and sled.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use herald_core::store::conformance::Harness;
use herald_core::store::memory::{MemoryOutbox, MemorySessionStore};
use herald_core::store::memory_state::MemoryStateStore;
use herald_core::store::sled::{SledOptions, SledStore};

/// The in-memory backend: fresh maps, nothing to reopen.
struct MemoryHarness;

#[async_trait]
impl Harness for MemoryHarness {
    type Sessions = MemorySessionStore;
    type Outbox = MemoryOutbox;

    async fn sessions(&self) -> MemorySessionStore {
        MemorySessionStore::new()
    }

    async fn reopen_sessions(&self, _store: MemorySessionStore) -> Option<MemorySessionStore> {
        None
    }

    async fn outbox(&self) -> MemoryOutbox {
        MemoryOutbox::new()
    }

    async fn reopen_outbox(&self, _outbox: MemoryOutbox) -> Option<MemoryOutbox> {
        None
    }

    type State = MemoryStateStore;

    async fn state(&self) -> MemoryStateStore {
        MemoryStateStore::new()
    }

    async fn reopen_state(&self, _state: MemoryStateStore) -> Option<MemoryStateStore> {
        None
    }
}

/// The sled backend: each store in its own directory under one temporary directory.
struct SledHarness {
    root: tempfile::TempDir,
    next: AtomicUsize,
}

impl SledHarness {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        SledHarness { root, next: AtomicUsize::new(0) }
    }

    fn fresh(&self) -> SledStore {
        let dir: PathBuf = self.root.path().join(format!("store-{}", self.next.fetch_add(1, Ordering::SeqCst)));
        SledStore::open(&dir, SledOptions::default()).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()))
    }

    fn reopen(&self, store: SledStore) -> SledStore {
        let dir = store.path().to_path_buf();
        drop(store);
        SledStore::open(&dir, SledOptions::default()).unwrap_or_else(|e| panic!("reopen {}: {e}", dir.display()))
    }
}

#[async_trait]
impl Harness for SledHarness {
    type Sessions = SledStore;
    type Outbox = SledStore;

    async fn sessions(&self) -> SledStore {
        self.fresh()
    }

    async fn reopen_sessions(&self, store: SledStore) -> Option<SledStore> {
        Some(self.reopen(store))
    }

    async fn outbox(&self) -> SledStore {
        self.fresh()
    }

    async fn reopen_outbox(&self, outbox: SledStore) -> Option<SledStore> {
        Some(self.reopen(outbox))
    }

    type State = SledStore;

    async fn state(&self) -> SledStore {
        self.fresh()
    }

    async fn reopen_state(&self, state: SledStore) -> Option<SledStore> {
        Some(self.reopen(state))
    }
}

mod memory {
    use super::MemoryHarness;

    herald_core::store_conformance_tests!(MemoryHarness);
}

mod sled {
    use super::SledHarness;

    herald_core::store_conformance_tests!(SledHarness::new());
}
