//! How to reach the database: [`PostgresConfig`] and the connection pool built from it.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use herald_core::StoreError;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::NoTls;

/// Connection settings of a [`PostgresStore`](crate::PostgresStore) (config `[store] backend = "postgres"`).
#[derive(Clone)]
pub struct PostgresConfig {
    /// A libpq connection string: `postgres://user:password@host:5432/db?options=-c%20search_path%3Dherald` or
    /// `host=… dbname=…`. The tables live in the connection's current schema (the first of `search_path`). Never
    /// logged: it may carry a password.
    pub url: String,
    /// Most connections the pool opens. Enqueues share one connection per batch; every other call holds one for
    /// its duration.
    pub pool_size: usize,
    /// Longest one statement may run (PostgreSQL `statement_timeout`), and longest a call waits for a free pooled
    /// connection. Bounds every store call.
    pub statement_timeout: Duration,
    /// Longest opening one connection may take.
    pub connect_timeout: Duration,
    /// The schema the tables live in (sets `search_path`); `None` keeps the connection's own (from the URL's
    /// `options` or the role's default). Letters, digits and `_` only.
    pub schema: Option<String>,
}

impl PostgresConfig {
    /// Settings for `url` with the defaults: 16 connections, 5 s statement timeout, 10 s connect timeout.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            pool_size: 16,
            statement_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            schema: None,
        }
    }

    /// The pool, and a description of the database without credentials.
    pub(crate) fn pool(&self) -> Result<(Pool, String), StoreError> {
        let mut pg = tokio_postgres::Config::from_str(&self.url).map_err(|e| {
            StoreError::Backend(format!("[store] url is not a valid PostgreSQL connection string: {e}"))
        })?;
        let target = describe(&pg);
        if pg.get_ssl_mode() == SslMode::Require {
            return Err(StoreError::Backend(format!(
                "{target}: sslmode=require is not supported by this build (no TLS for PostgreSQL yet); reach the \
                 database over a private network and use sslmode=prefer or disable"
            )));
        }
        if self.pool_size == 0 {
            return Err(StoreError::Backend("[store] pool_size must be at least 1".into()));
        }
        let timeout_ms = self.statement_timeout.as_millis().max(1);
        let mut options = pg.get_options().unwrap_or_default().trim().to_string();
        options.push_str(&format!(" -c statement_timeout={timeout_ms}"));
        if let Some(schema) = &self.schema {
            if schema.is_empty() || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(StoreError::Backend(format!("schema `{schema}` must be letters, digits and `_` only")));
            }
            options.push_str(&format!(" -c search_path={schema}"));
        }
        pg.options(options.trim());
        if pg.get_application_name().is_none() {
            pg.application_name("herald");
        }
        pg.connect_timeout(self.connect_timeout);
        let manager = Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.statement_timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.statement_timeout))
            .build()
            .map_err(|e| StoreError::Backend(format!("{target}: cannot build the connection pool: {e}")))?;
        Ok((pool, target))
    }
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = tokio_postgres::Config::from_str(&self.url).map_or_else(|_| "(invalid)".into(), |c| describe(&c));
        f.debug_struct("PostgresConfig")
            .field("database", &target)
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("schema", &self.schema)
            .finish()
    }
}

/// `user@host:port/dbname`, never the password: what error messages and logs name.
fn describe(pg: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = pg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = pg.get_ports().get(i).or(pg.get_ports().first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() { "localhost:5432".to_string() } else { hosts.join(",") };
    let user = pg.get_user().unwrap_or("(default user)");
    let db = pg.get_dbname().unwrap_or("(default database)");
    format!("postgresql {user}@{hosts}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_and_debug_never_show_the_password() {
        let config = PostgresConfig::new("postgres://herald:s3cret-pw@db.internal:6543/herald");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("herald@db.internal:6543/herald"), "{shown}");
    }

    #[test]
    fn invalid_url_and_required_tls_are_refused_with_the_key_named() {
        let bad = PostgresConfig::new("postgres://herald@db:notaport/x").pool();
        assert!(matches!(&bad, Err(StoreError::Backend(m)) if m.contains("[store] url")), "{bad:?}");
        let tls = PostgresConfig::new("postgres://herald:pw@db/x?sslmode=require").pool();
        assert!(matches!(&tls, Err(StoreError::Backend(m)) if m.contains("sslmode") && !m.contains("pw")), "{tls:?}");
    }
}
