//! The store conformance suite, run against PostgreSQL: every case of `herald_core::store_conformance_tests!`, each
//! store in a schema of its own (dropped at the end). Without a reachable database each case prints one loud line
//! and skips, unless `HERALD_REQUIRE_POSTGRES=1`.

use async_trait::async_trait;
use herald_core::store::conformance::Harness;
use herald_postgres::testing::TestDatabase;
use herald_postgres::PostgresStore;

/// Fresh schemas in the test database; reopening drops the store (pool, committer) and opens its schema again.
struct PostgresHarness {
    db: TestDatabase,
}

#[async_trait]
impl Harness for PostgresHarness {
    type Sessions = PostgresStore;
    type Outbox = PostgresStore;
    type State = PostgresStore;

    async fn sessions(&self) -> PostgresStore {
        self.db.fresh().await
    }

    async fn reopen_sessions(&self, store: PostgresStore) -> Option<PostgresStore> {
        Some(self.db.reopen(store).await)
    }

    async fn outbox(&self) -> PostgresStore {
        self.db.fresh().await
    }

    async fn reopen_outbox(&self, outbox: PostgresStore) -> Option<PostgresStore> {
        Some(self.db.reopen(outbox).await)
    }

    async fn state(&self) -> PostgresStore {
        self.db.fresh().await
    }

    async fn reopen_state(&self, state: PostgresStore) -> Option<PostgresStore> {
        Some(self.db.reopen(state).await)
    }
}

mod postgres {
    use super::{PostgresHarness, TestDatabase};

    herald_core::store_conformance_tests!(match TestDatabase::connect("postgres conformance").await {
        Some(db) => PostgresHarness { db },
        None => return,
    });
}
