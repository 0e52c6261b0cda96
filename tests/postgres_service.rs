//! `herald serve` on PostgreSQL (`[store] backend = "postgres"`): a notification is accepted, delivered through the
//! webhook, and everything (the record with its history, the idempotency key) is still there after a restart on the
//! same database. Each test uses a schema of its own (dropped at the end). Without a reachable database the test
//! prints one loud line and skips, unless `HERALD_REQUIRE_POSTGRES=1` (CI sets it).

mod support;

use std::time::Duration;

use herald::adapters::builtin_registry;
use herald::config;
use herald_postgres::testing::TestDatabase;
use serde_json::{json, Value};
use support::{wait_final, Receiver, API_KEY};

/// The service config: the usual webhook integration, on PostgreSQL at `url`.
fn postgres_config(url: &str, hook: &str) -> String {
    support::webhook_config(":memory:", hook, "127.0.0.1:0").replace(
        "path = \":memory:\"",
        &format!("backend = \"postgres\"\nurl = \"{url}\"\npool_size = 4\nstatement_timeout_ms = 5000"),
    )
}

async fn start(url: &str, hook: &str) -> (herald::service::RunningService, String) {
    let registry = builtin_registry();
    let loaded = config::load(&postgres_config(url, hook), "test", &registry, &|_| None).expect("config");
    let svc = herald::service::start(loaded).await.expect("start on PostgreSQL");
    let base = format!("http://{}", svc.addr);
    (svc, base)
}

#[tokio::test]
async fn serve_on_postgres_delivers_and_keeps_everything_across_a_restart() {
    let Some(db) = TestDatabase::connect("postgres_service").await else { return };
    let schema = db.fresh_config().await.schema.expect("a schema");
    let base_url = std::env::var(herald_postgres::testing::URL_VAR)
        .unwrap_or_else(|_| herald_postgres::testing::DEFAULT_URL.to_string());
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");
    let (receiver, hook) = Receiver::start().await;
    let client = support::client();

    let (svc, base) = start(&url, &hook).await;
    let body = json!({"integration": "hook", "target": {"type": "conversation", "id": "c-1"}, "text": "on postgres"});
    let post = |base: String, body: Value| {
        let client = client.clone();
        async move {
            let resp = client
                .post(format!("{base}/v1/notifications"))
                .bearer_auth(API_KEY)
                .header("Idempotency-Key", "pg-1")
                .json(&body)
                .send()
                .await
                .expect("post");
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, v) = post(base.clone(), body.clone()).await;
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    let view = wait_final(&client, &base, &id, Duration::from_secs(15)).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(receiver.count("pg-1"), 1);
    svc.shutdown().await;

    // A new instance on the same database: the record, its history and its key are there; nothing is re-sent.
    let (svc, base) = start(&url, &hook).await;
    let view: Value = client
        .get(format!("{base}/v1/notifications/{id}"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(view["status"], "delivered", "{view}");
    let statuses: Vec<&str> =
        view["history"].as_array().into_iter().flatten().filter_map(|h| h["status"].as_str()).collect();
    assert_eq!(statuses, ["pending", "attempting", "delivered"]);
    let (status, again) = post(base.clone(), body).await;
    assert_eq!(status, 200, "the same key returns the original: {again}");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(receiver.count("pg-1"), 1, "delivered once across both instances");
    svc.shutdown().await;
    // The rows are in the test's own schema, read over a connection of the test's.
    let row = db
        .admin()
        .query_one(&format!("SELECT count(*), min(status) FROM {schema}.herald_outbox"), &[])
        .await
        .expect("count");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, String>(1)), (1, "delivered".to_string()));
}
