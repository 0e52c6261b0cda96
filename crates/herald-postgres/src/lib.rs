//! A PostgreSQL backend of herald's [`SessionStore`](herald_core::store::SessionStore) and
//! [`Outbox`](herald_core::store::Outbox), so that several herald instances can share one database.
//!
//! One [`PostgresStore`] implements both traits on a connection pool (`deadpool-postgres` over `tokio-postgres`;
//! `docs/scale-out.md` says why). It runs the same conformance suite as the sled and in-memory backends.
//!
//! - **Schema**: versioned migrations embedded in the binary ([`migrate`]), applied by [`open`] inside one
//!   transaction under a PostgreSQL advisory lock, so instances starting at once never race.
//! - **Records** are stored as the same JSON the sled backend writes (column type `json`, kept verbatim), next to
//!   the columns the queries filter and order by; every listing uses an index and a `LIMIT`.
//! - **Durability**: `enqueue` answers once its row is committed. Concurrent enqueues share one transaction (one
//!   multi-row insert, one commit), the way sled's group committer shares one fsync (module `batch`).
//! - **Bounds**: every statement runs under `statement_timeout`, every wait for a pooled connection under the same
//!   bound.
//!
//! Table and column layout: `migrations/0001_initial.sql`.

mod batch;
mod config;
mod db;
mod instant;
pub mod migrate;
mod outbox;
mod sessions;
mod state;
pub mod testing;

use std::sync::Arc;

use deadpool_postgres::Pool;
use herald_core::StoreError;

pub use config::PostgresConfig;
pub use migrate::{MigrationStatus, SchemaStatus};

/// Sessions and outbox in one PostgreSQL database (the tables of the connection's current schema). Cheap to
/// clone: clones share the pool and the enqueue committer.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// The settings it was opened with (to reopen it, for tests and tools).
    config: PostgresConfig,
    /// Where the database is, without credentials (for error messages and `Debug`).
    target: String,
    enqueue: batch::Committer,
}

/// Counters of a [`PostgresStore`], for benchmarks and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostgresStats {
    /// Enqueue transactions committed (each a multi-row insert).
    pub batches: u64,
    /// Enqueue calls those transactions answered; `enqueues / batches` is the average batch size.
    pub enqueues: u64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("database", &self.inner.target).finish_non_exhaustive()
    }
}

/// Connect to the database `config` names, apply the pending schema migrations (under an advisory lock, so
/// several instances may start at once) and start the enqueue committer. Must be called inside a tokio runtime.
///
/// Fails with [`StoreError::Backend`] naming the database (never the password) when it cannot connect, when the
/// schema is newer than this build knows, or when an applied migration differs from the embedded one.
pub async fn open(config: &PostgresConfig) -> Result<PostgresStore, StoreError> {
    let (pool, target) = config.pool()?;
    let applied = {
        let mut client = db::client(&pool, &target).await?;
        migrate::apply(&mut client, &target).await?
    };
    if !applied.is_empty() {
        tracing::info!(database = %target, versions = ?applied, "applied PostgreSQL schema migrations");
    }
    let enqueue = batch::Committer::start(pool.clone(), target.clone());
    Ok(PostgresStore { inner: Arc::new(Inner { pool, config: config.clone(), target, enqueue }) })
}

/// Apply the pending schema migrations of the database `config` names, without opening a store (for
/// `herald store migrate`). Returns the versions applied, oldest first (empty when the schema was current).
pub async fn apply_migrations(config: &PostgresConfig) -> Result<Vec<i32>, StoreError> {
    let (pool, target) = config.pool()?;
    let mut client = db::client(&pool, &target).await?;
    migrate::apply(&mut client, &target).await
}

/// Where the schema of the database `config` names stands, changing nothing (for `herald store status`).
pub async fn schema_status(config: &PostgresConfig) -> Result<SchemaStatus, StoreError> {
    let (pool, target) = config.pool()?;
    let client = db::client(&pool, &target).await?;
    migrate::status(&client, &target).await
}

impl PostgresStore {
    /// Where the store lives: host, port, database and user (no password).
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// The settings it was opened with.
    pub fn config(&self) -> &PostgresConfig {
        &self.inner.config
    }

    /// Counters: enqueue transactions and the calls they answered.
    pub fn stats(&self) -> PostgresStats {
        let (batches, enqueues) = self.inner.enqueue.stats();
        PostgresStats { batches, enqueues }
    }

    /// The schema version of the database and the migrations this build would still apply (for
    /// `herald store status`).
    pub async fn schema_status(&self) -> Result<SchemaStatus, StoreError> {
        let client = self.client().await?;
        migrate::status(&client, &self.inner.target).await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        db::client(&self.inner.pool, &self.inner.target).await
    }
}
