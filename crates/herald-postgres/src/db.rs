//! Small helpers shared by the store modules: pooled connections, error mapping, JSON columns, integer casts.

use deadpool_postgres::{Object, Pool, PoolError};
use herald_core::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A pooled connection, or an error that says which database and what to do.
pub(crate) async fn client(pool: &Pool, target: &str) -> Result<Object, StoreError> {
    pool.get().await.map_err(|e| match e {
        PoolError::Timeout(_) => StoreError::Backend(format!(
            "{target}: no free connection within the statement timeout (all {} busy); raise [store] pool_size or \
             check for slow queries",
            pool.status().max_size
        )),
        PoolError::Backend(e) => {
            StoreError::Backend(format!("{target}: cannot connect: {}; check [store] url", chain(&e)))
        }
        other => StoreError::Backend(format!("{target}: cannot get a connection: {other}")),
    })
}

/// Map a driver error to [`StoreError::Backend`], naming what was being done.
pub(crate) fn failed(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| {
        let detail = match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => chain(&e),
        };
        StoreError::Backend(format!("PostgreSQL {what} failed: {detail}"))
    }
}

/// Whether `e` is PostgreSQL rejecting one value (SQLSTATE class 22, "data exception"), so that retrying the
/// other rows of a batch without it can succeed.
pub(crate) fn is_data_exception(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| db.code().code().starts_with("22"))
}

/// Serialise a record for a `json` column: exactly the JSON the sled backend writes.
pub(crate) fn to_json<T: Serialize>(value: &T, key: impl FnOnce() -> String) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("cannot encode `{}` as JSON: {e}", key())))
}

/// Decode a `json` column read as text.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str, key: impl FnOnce() -> String) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { key: key(), reason: e.to_string() })
}

/// A `u64` sequence number or bound as PostgreSQL `bigint` (saturating: nothing reaches 2^63).
pub(crate) fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A page size as a `LIMIT` parameter.
pub(crate) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Refuse a string PostgreSQL cannot store in a `text` column (a NUL character), naming the field, before it can
/// fail a whole batch.
pub(crate) fn storable(field: &str, value: &str) -> Result<(), StoreError> {
    if value.contains('\0') {
        return Err(StoreError::Backend(format!(
            "{field} contains a NUL character, which PostgreSQL cannot store; remove it"
        )));
    }
    Ok(())
}

/// A copy of a store error, for answering every caller of a failed batch.
pub(crate) fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Backend(m) => StoreError::Backend(m.clone()),
        StoreError::Corrupt { key, reason } => StoreError::Corrupt { key: key.clone(), reason: reason.clone() },
        StoreError::Missing(id) => StoreError::Missing(id.clone()),
        StoreError::Closed => StoreError::Closed,
    }
}

/// An error with its causes (the driver's own text often stops at "error connecting to server").
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
