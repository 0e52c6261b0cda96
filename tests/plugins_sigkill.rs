//! Plugin ABI 2 exactly once across a crash: `herald serve` (a child process) is killed with SIGKILL while a plugin
//! attempt has reached the plugin's upstream but not answered; after the restart the interrupted attempt is checked
//! with the plugin's `confirm_delivery` and recorded delivered — the upstream holds the message once, in every round.
//! The test plugin keeps its upstream in a directory, which outlives herald.

mod plugins_support;
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use plugins_support::plugins_dir;
use serde_json::Value;
use support::{free_port, API_KEY};

/// The child's config: the test plugin with its upstream in `upstream`, answering after `answer_delay_ms`.
fn config(port: u16, store: &Path, upstream: &Path, answer_delay_ms: u64) -> String {
    format!(
        r#"
[service]
listen = "127.0.0.1:{port}"
api_keys = ["{API_KEY}"]
shutdown_grace_secs = 1
[store]
path = "{store}"
[dispatcher]
delivery_timeout_secs = 60
confirm_delay_ms = 50
backoff_initial_ms = 20
backoff_max_ms = 200
[plugins]
dir = "{dir}"

[[integration]]
name = "exact"
plugin = "test_abi2"
[integration.settings]
answer_delay_ms = {answer_delay_ms}
upstream_dir = "{upstream}"
"#,
        store = store.display(),
        upstream = upstream.display(),
        dir = plugins_dir().display()
    )
}

/// Start `herald serve` on `config` and wait (bounded) until it answers `/healthz`.
async fn spawn(dir: &Path, config: &str, base: &str, client: &reqwest::Client) -> Child {
    let path = dir.join("herald.toml");
    std::fs::write(&path, config).expect("write config");
    let log = std::fs::File::create(dir.join("herald.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("HERALD_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn herald serve");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "herald serve did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child
}

/// The messages the plugin's upstream holds for `key`.
fn upstream_messages(upstream: &Path, key: &str) -> usize {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    std::fs::read_to_string(upstream.join(format!("{hex}.messages"))).map(|t| t.lines().count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_attempt_then_confirm_sends_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, upstream) = (dir.path().join("herald.sled"), dir.path().join("upstream"));
    let client = support::client();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let rounds = 3;
    let mut ids = Vec::new();
    for round in 0..rounds {
        // The plugin stores the message, then takes a minute to answer: the kill lands in between.
        let mut child = spawn(dir.path(), &config(port, &store, &upstream, 60_000), &base, &client).await;
        let key = format!("crash-{round}");
        let body =
            serde_json::json!({"integration": "exact", "target": {"type": "customer", "id": "c-1"}, "text": "hi"});
        let resp = client
            .post(format!("{base}/v1/notifications"))
            .bearer_auth(API_KEY)
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status().as_u16(), 202);
        ids.push((key.clone(), resp.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while upstream_messages(&upstream, &key) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "the attempt never reached the plugin's upstream");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().expect("SIGKILL herald");
        let _ = child.wait();
    }
    // A restart with a prompt plugin: every interrupted attempt is confirmed, none is sent again.
    let mut child = spawn(dir.path(), &config(port, &store, &upstream, 0), &base, &client).await;
    for (key, id) in &ids {
        let view = support::wait_final(&client, &base, id, Duration::from_secs(30)).await;
        assert_eq!(view["status"], "delivered", "{view}");
        assert_eq!(view["receipt"]["upstream_message_id"], format!("up-{key}-1"), "{view}");
        assert!(view.to_string().contains("not sent again"), "confirmed, not re-sent: {view}");
        assert_eq!(upstream_messages(&upstream, key), 1, "{key} is upstream exactly once");
    }
    child.kill().expect("stop herald");
    let _ = child.wait();
}
