//! Versioned schema migrations, embedded in the binary and applied at start under an advisory lock.
//!
//! [`apply`] runs in one transaction: it takes a transaction-scoped advisory lock (so a second instance starting at
//! the same moment waits, then finds everything applied), creates the bookkeeping table if needed, checks what is
//! applied against [`MIGRATIONS`] and applies the rest in order. PostgreSQL DDL is transactional: a failure leaves
//! the schema as it was. A migration is never edited once released; its checksum is recorded and compared at every
//! start, and a database migrated by a newer herald is refused rather than used with a schema this build does
//! not know.

use chrono::{DateTime, Utc};
use herald_core::StoreError;

use crate::db::failed;

/// One schema migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its version: 1, 2, 3, … in the order they apply.
    pub version: i32,
    /// A short name.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// Every migration this build knows, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../migrations/0001_initial.sql") },
    Migration { version: 2, name: "state", sql: include_str!("../migrations/0002_state.sql") },
];

/// The advisory lock every herald migrating this database takes (`pg_advisory_xact_lock`): "herald" in ASCII.
pub const LOCK_KEY: i64 = 0x6865_7261_6c64;

/// How long a migration (or waiting for another instance's) may take: longer than a statement, since creating an
/// index on a big table is slow.
const MIGRATION_TIMEOUT: &str = "600s";

/// The bookkeeping table.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS herald_schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// A migration as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Its version.
    pub version: i32,
    /// Its name.
    pub name: String,
    /// When it was applied; `None` while pending.
    pub applied_at: Option<DateTime<Utc>>,
}

/// Where the database's schema stands relative to this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Applied migrations, oldest first (including any this build does not know).
    pub applied: Vec<MigrationStatus>,
    /// Migrations of this build not applied yet, oldest first.
    pub pending: Vec<MigrationStatus>,
}

/// A stable checksum of a migration's text (FNV-1a, 64 bits, hex): detects an edited migration.
pub fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Apply every pending migration, under the advisory lock, in one transaction. Returns the versions applied
/// (empty when the schema was current).
pub async fn apply(client: &mut tokio_postgres::Client, target: &str) -> Result<Vec<i32>, StoreError> {
    let tx = client.transaction().await.map_err(failed("begin migration"))?;
    match apply_in(&tx, target).await {
        Ok(done) => {
            tx.commit().await.map_err(failed("commit the migrations"))?;
            Ok(done)
        }
        Err(e) => {
            // Roll back now rather than on drop, so the lock and the connection are free when this returns.
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a failed migration failed");
            }
            Err(e)
        }
    }
}

async fn apply_in(tx: &tokio_postgres::Transaction<'_>, target: &str) -> Result<Vec<i32>, StoreError> {
    tx.batch_execute(&format!("SET LOCAL statement_timeout = '{MIGRATION_TIMEOUT}'"))
        .await
        .map_err(failed("set the migration timeout"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.map_err(failed("take the migration lock"))?;
    tx.batch_execute(CREATE_TABLE).await.map_err(failed("create herald_schema_migrations"))?;
    let rows = tx
        .query("SELECT version, checksum FROM herald_schema_migrations ORDER BY version", &[])
        .await
        .map_err(failed("read herald_schema_migrations"))?;
    let mut applied = Vec::with_capacity(rows.len());
    for row in &rows {
        let version: i32 = row.get(0);
        let sum: String = row.get(1);
        match MIGRATIONS.iter().find(|m| m.version == version) {
            None => {
                return Err(StoreError::Backend(format!(
                    "{target}: the schema has migration {version}, which this herald does not know (it knows up to \
                     {}); a newer herald migrated this database: run that version",
                    MIGRATIONS.last().map_or(0, |m| m.version)
                )))
            }
            Some(m) if checksum(m.sql) != sum => {
                return Err(StoreError::Backend(format!(
                    "{target}: migration {version} ({}) differs from the one applied (checksum {sum}, this build {}); \
                     the database was migrated by a different build",
                    m.name,
                    checksum(m.sql)
                )))
            }
            Some(_) => applied.push(version),
        }
    }
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        tx.batch_execute(m.sql).await.map_err(|e| {
            StoreError::Backend(format!("{target}: migration {} ({}) failed: {}", m.version, m.name, failed("DDL")(e)))
        })?;
        tx.execute(
            "INSERT INTO herald_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &checksum(m.sql)],
        )
        .await
        .map_err(failed("record a migration"))?;
        done.push(m.version);
    }
    Ok(done)
}

/// What is applied and what is pending, without changing anything (the bookkeeping table may not exist yet).
pub async fn status(client: &tokio_postgres::Client, target: &str) -> Result<SchemaStatus, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('herald_schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(failed("look for herald_schema_migrations"))?
        .get(0);
    let mut applied = Vec::new();
    if exists {
        let rows = client
            .query("SELECT version, name, applied_at FROM herald_schema_migrations ORDER BY version", &[])
            .await
            .map_err(|e| StoreError::Backend(format!("{target}: {}", failed("read the schema version")(e))))?;
        for row in rows {
            applied.push(MigrationStatus { version: row.get(0), name: row.get(1), applied_at: Some(row.get(2)) });
        }
    }
    let pending = MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .map(|m| MigrationStatus { version: m.version, name: m.name.to_string(), applied_at: None })
        .collect();
    Ok(SchemaStatus { applied, pending })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "migration {} is out of order", m.name);
        }
    }

    #[test]
    fn checksum_changes_with_the_text() {
        assert_eq!(checksum("CREATE TABLE a ()"), checksum("CREATE TABLE a ()"));
        assert_ne!(checksum("CREATE TABLE a ()"), checksum("CREATE TABLE b ()"));
    }
}
