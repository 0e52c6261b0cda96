//! Throw-away schemas for tests and benchmarks that need a real PostgreSQL.
//!
//! [`TestDatabase::connect`] reaches the database named by `HERALD_TEST_DATABASE_URL` (default: the local
//! `postgres` user's `test` database on 127.0.0.1:5432). Without a reachable database it prints one loud line and
//! returns `None`, so the caller skips, unless `HERALD_REQUIRE_POSTGRES=1` (CI sets it): then it panics, naming the
//! database. Every [`fresh`](TestDatabase::fresh) store lives in a schema of its own with a random name; the
//! schemas are dropped when the `TestDatabase` is dropped.

use std::io::Write;
use std::time::Duration;

use herald_core::StoreError;

use crate::{PostgresConfig, PostgresStore};

/// The variable naming the test database.
pub const URL_VAR: &str = "HERALD_TEST_DATABASE_URL";
/// The variable that turns "no database" from a skip into a failure.
pub const REQUIRE_VAR: &str = "HERALD_REQUIRE_POSTGRES";
/// The database tests use when [`URL_VAR`] is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A reachable test database and the schemas created in it so far.
pub struct TestDatabase {
    url: String,
    admin: tokio_postgres::Client,
    schemas: parking_lot::Mutex<Vec<String>>,
}

impl TestDatabase {
    /// Connect, or skip (`None`, after one loud line naming `test`) or panic as described in the module docs.
    pub async fn connect(test: &str) -> Option<TestDatabase> {
        let url = std::env::var(URL_VAR).unwrap_or_else(|_| DEFAULT_URL.to_string());
        let required = std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1");
        let shown = format!("{:?}", PostgresConfig::new(url.clone()));
        match connect(&url).await {
            Ok(admin) => Some(TestDatabase { url, admin, schemas: parking_lot::Mutex::new(Vec::new()) }),
            Err(e) if required => panic!("{REQUIRE_VAR}=1 but PostgreSQL is unreachable ({shown}): {e}"),
            Err(e) => {
                // Once per process, straight to its stderr: the harness captures `eprintln!` of passing tests.
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "!!!!! SKIPPED {test}: PostgreSQL is unreachable ({shown}: {e}); start it or set {URL_VAR}; \
                     {REQUIRE_VAR}=1 makes this a failure !!!!!"
                    );
                });
                None
            }
        }
    }

    /// A connection of its own, outside any store (to check what is committed, hold locks, …).
    pub fn admin(&self) -> &tokio_postgres::Client {
        &self.admin
    }

    /// Settings for a new, empty schema with a random name (created now, dropped with `self`).
    pub async fn fresh_config(&self) -> PostgresConfig {
        let schema = format!("herald_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = self.admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await {
            panic!("cannot create the test schema {schema}: {e}");
        }
        self.schemas.lock().push(schema.clone());
        PostgresConfig { schema: Some(schema), ..PostgresConfig::new(self.url.clone()) }
    }

    /// A store on a new, empty schema.
    pub async fn fresh(&self) -> PostgresStore {
        let config = self.fresh_config().await;
        open_or_panic(&config).await
    }

    /// Close `store` (drop it with its pool and committer) and open its schema again.
    pub async fn reopen(&self, store: PostgresStore) -> PostgresStore {
        let config = store.config().clone();
        drop(store);
        open_or_panic(&config).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let schemas = std::mem::take(&mut *self.schemas.lock());
        if schemas.is_empty() {
            return;
        }
        let url = self.url.clone();
        // Drop may run inside a runtime, which cannot block on another: a thread of its own does the cleanup.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let admin = connect(&url).await?;
                // A store leaked with an open transaction must not hang the test: give up on its schema instead.
                admin.batch_execute("SET lock_timeout = '5s'").await?;
                for schema in schemas {
                    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await?;
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop the test schemas: {e}"),
            Err(_) => eprintln!("the test schema cleanup panicked"),
        }
    }
}

async fn open_or_panic(config: &PostgresConfig) -> PostgresStore {
    match crate::open(config).await {
        Ok(store) => store,
        Err(e) => panic!("cannot open the PostgreSQL store ({config:?}): {e}"),
    }
}

/// One plain connection with a short connect timeout, its driver task spawned.
async fn connect(url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let mut pg: tokio_postgres::Config =
        url.parse().map_err(|e| StoreError::Backend(format!("{URL_VAR} is not a connection string: {e}")))?;
    pg.connect_timeout(Duration::from_secs(3));
    let (client, connection) = pg
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| StoreError::Backend(format!("cannot connect: {}", crate::db::chain(&e))))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("test database connection ended: {e}");
        }
    });
    Ok(client)
}
