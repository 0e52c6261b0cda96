//! [`StateStore`] for [`PostgresStore`]: one row per entry in `herald_state` (migration 2).
//!
//! Reads and listings are single indexed statements with a `LIMIT`; a compare-and-set locks the row
//! (`SELECT … FOR UPDATE`) inside a transaction, and an insert that races another one on the same key loses on the
//! primary key and reports the winner, so of two concurrent writers with the same expectation exactly one writes —
//! across instances too. Expiry is compared exactly (microseconds plus nanoseconds), as the reference backend does.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use herald_core::store::page_size;
use herald_core::store::state::{check_key, CasOutcome, StateEntry, StateStore};
use herald_core::StoreError;
use tokio_postgres::Row;

use crate::db::{failed, from_json, limit_param, storable};
use crate::instant::split;
use crate::PostgresStore;

const COLUMNS: &str = "key, value::text, expires_at, expires_ns, version";

/// Validate a namespace and key for this backend (PostgreSQL text holds no NUL).
fn check(namespace: &str, key: &str) -> Result<(), StoreError> {
    check_key(namespace, key)?;
    storable("the state key", key)
}

fn entry(row: &Row, namespace: &str) -> Result<StateEntry, StoreError> {
    let key: String = row.get(0);
    let text: &str = row.get(1);
    let value = from_json(text, || format!("herald_state/{namespace}/{key}"))?;
    let expires_at: Option<DateTime<Utc>> = row.get(2);
    let expires_ns: Option<i16> = row.get(3);
    let expires_at = expires_at.map(|at| at + TimeDelta::nanoseconds(i64::from(expires_ns.unwrap_or(0))));
    let version: i64 = row.get(4);
    Ok(StateEntry { key, value, expires_at, version: u64::try_from(version).unwrap_or(0) })
}

/// The bound parameters of an optional expiry.
fn expiry(at: Option<DateTime<Utc>>) -> (Option<DateTime<Utc>>, Option<i16>) {
    match at.map(split) {
        Some(s) => (Some(s.micros), Some(s.nanos)),
        None => (None, None),
    }
}

fn version_param(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl StateStore for PostgresStore {
    async fn get(&self, namespace: &str, key: &str, now: DateTime<Utc>) -> Result<Option<StateEntry>, StoreError> {
        check(namespace, key)?;
        let client = self.client().await?;
        let sql = format!("SELECT {COLUMNS} FROM herald_state WHERE namespace = $1 AND key = $2");
        let row = client.query_opt(&sql, &[&namespace, &key]).await.map_err(failed("state get"))?;
        Ok(row.map(|r| entry(&r, namespace)).transpose()?.filter(|e| !e.expired(now)))
    }

    async fn put(
        &self,
        namespace: &str,
        key: &str,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
        _now: DateTime<Utc>,
    ) -> Result<StateEntry, StoreError> {
        check(namespace, key)?;
        let text = value.to_string();
        let (at, ns) = expiry(expires_at);
        let client = self.client().await?;
        let sql = format!(
            "INSERT INTO herald_state (namespace, key, value, expires_at, expires_ns, version) \
             VALUES ($1, $2, $3::text::json, $4, $5, 1) \
             ON CONFLICT (namespace, key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, \
             expires_ns = EXCLUDED.expires_ns, version = herald_state.version + 1 RETURNING {COLUMNS}"
        );
        let row = client.query_one(&sql, &[&namespace, &key, &text, &at, &ns]).await.map_err(failed("state put"))?;
        entry(&row, namespace)
    }

    async fn compare_and_set(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<u64>,
        value: serde_json::Value,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<CasOutcome, StoreError> {
        check(namespace, key)?;
        let text = value.to_string();
        let (at, ns) = expiry(expires_at);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(failed("state compare-and-set"))?;
        let select = format!("SELECT {COLUMNS} FROM herald_state WHERE namespace = $1 AND key = $2 FOR UPDATE");
        let current = tx.query_opt(&select, &[&namespace, &key]).await.map_err(failed("state compare-and-set"))?;
        let current = current.map(|r| entry(&r, namespace)).transpose()?;
        let live = current.as_ref().filter(|c| !c.expired(now));
        let matches = match (live, expected) {
            (None, None) => true,
            (Some(c), Some(v)) => c.version == v,
            _ => false,
        };
        if !matches {
            return Ok(CasOutcome::Conflict(live.cloned()));
        }
        let written = match &current {
            Some(c) => {
                let sql = format!(
                    "UPDATE herald_state SET value = $3::text::json, expires_at = $4, expires_ns = $5, \
                     version = $6 WHERE namespace = $1 AND key = $2 RETURNING {COLUMNS}"
                );
                let next = version_param(c.version.saturating_add(1));
                tx.query_opt(&sql, &[&namespace, &key, &text, &at, &ns, &next])
                    .await
                    .map_err(failed("state compare-and-set"))?
            }
            None => {
                // Absent: another writer may insert the same key concurrently; the primary key decides.
                let sql = format!(
                    "INSERT INTO herald_state (namespace, key, value, expires_at, expires_ns, version) \
                     VALUES ($1, $2, $3::text::json, $4, $5, 1) ON CONFLICT (namespace, key) DO NOTHING \
                     RETURNING {COLUMNS}"
                );
                tx.query_opt(&sql, &[&namespace, &key, &text, &at, &ns])
                    .await
                    .map_err(failed("state compare-and-set"))?
            }
        };
        match written {
            Some(row) => {
                let stored = entry(&row, namespace)?;
                tx.commit().await.map_err(failed("state compare-and-set"))?;
                Ok(CasOutcome::Written(stored))
            }
            None => {
                drop(tx);
                // Lost the race to a concurrent insert: report the winner as it is now.
                let winner = self.get(namespace, key, now).await?;
                Ok(CasOutcome::Conflict(winner))
            }
        }
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        check(namespace, key)?;
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM herald_state WHERE namespace = $1 AND key = $2", &[&namespace, &key])
            .await
            .map_err(failed("state delete"))?;
        Ok(n > 0)
    }

    async fn list(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<StateEntry>, StoreError> {
        check(namespace, prefix)?;
        if after.is_some_and(|a| a.contains('\0')) {
            return Ok(Vec::new()); // no stored key contains NUL, so none sorts after such a cursor usefully
        }
        let from = match after {
            Some(a) if a > prefix => a,
            _ => prefix,
        };
        let strictly_after = after.is_some_and(|a| a >= prefix);
        let n = split(now);
        let client = self.client().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM herald_state WHERE namespace = $1 AND key >= $2 AND starts_with(key, $3) \
             AND ($4 = false OR key > $2) \
             AND (expires_at IS NULL OR (expires_at, expires_ns) > ($5, $6)) ORDER BY key LIMIT $7"
        );
        let limit = limit_param(page_size(limit));
        let rows = client
            .query(&sql, &[&namespace, &from, &prefix, &strictly_after, &n.micros, &n.nanos, &limit])
            .await
            .map_err(failed("state list"))?;
        rows.iter().map(|r| entry(r, namespace)).collect()
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let n = split(now);
        let client = self.client().await?;
        let removed = client
            .execute(
                "DELETE FROM herald_state WHERE expires_at IS NOT NULL AND (expires_at, expires_ns) <= ($1, $2)",
                &[&n.micros, &n.nanos],
            )
            .await
            .map_err(failed("state purge"))?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}
