//! Broken plugins are refused or contained: a missing file, missing symbols, a wrong ABI version and a malformed
//! description are clear errors at load time; a plugin that panics in create is a config problem; one that panics
//! in deliver or answers malformed JSON fails that delivery with the reason, one that never answers is abandoned at
//! the attempt's deadline with an unknown outcome, and the service keeps serving its other integrations.

mod plugins_support;
mod support;

use std::path::Path;
use std::time::Duration;

use herald_plugin::host::{self, PluginError, PluginOptions};
use plugins_support::{library, load_with_plugins, plugins_dir};
use serde_json::{json, Value};
use support::{wait_final, Receiver, API_KEY};

#[test]
fn missing_file_is_refused_naming_the_path() {
    let err = host::describe(Path::new("plugins/none/libnothing.so")).unwrap_err();
    assert!(matches!(err, PluginError::NotFound { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("plugins/none/libnothing.so") && text.contains("cargo build"), "{text}");
}

#[test]
fn missing_symbols_are_refused_naming_the_symbol() {
    let path = library("herald-test-broken-nosym");
    let err = host::describe(&path).unwrap_err();
    match &err {
        PluginError::MissingSymbol { symbol, path: p } => {
            assert_eq!(symbol, "herald_plugin_describe");
            assert_eq!(p, &path);
        }
        other => panic!("expected a missing symbol, got {other:?}"),
    }
    assert!(err.to_string().contains("export_plugin!"), "{err}");
}

#[test]
fn wrong_abi_version_is_refused_before_anything_else() {
    let err = host::load_factory(&library("herald-test-broken-abi"), "plugin:abi".into()).err();
    match err {
        Some(PluginError::AbiMismatch { found: 999, expected, .. }) => {
            assert_eq!(expected, herald_plugin::abi::ABI_VERSION)
        }
        other => panic!("expected an ABI mismatch, got {other:?}"),
    }
}

#[test]
fn malformed_description_is_refused() {
    let err = host::describe(&library("herald-test-broken-describe")).unwrap_err();
    assert!(matches!(err, PluginError::Describe { .. }), "{err:?}");
    assert!(err.to_string().contains("this is not json"), "{err}");
}

#[test]
fn good_plugins_describe_themselves() {
    let info = host::describe(&library("herald-open-messaging")).expect("describe open messaging");
    assert_eq!(info.kind, "open_messaging");
    assert_eq!(info.abi_version, herald_plugin::abi::ABI_VERSION);
    let info = host::describe(&library("herald-test-broken-behaviour")).expect("describe behaviour");
    assert_eq!(info.kind, "test_behaviour");
}

fn config(hook_url: &str, dir: &Path) -> String {
    format!(
        r#"
[service]
listen = "127.0.0.1:0"
api_keys = ["{API_KEY}"]

[store]
path = ":memory:"

[dispatcher]
max_attempts = 1
backoff_initial_ms = 10
delivery_timeout_secs = 20

[plugins]
dir = "{dir}"

[[integration]]
name = "hook"
kind = "webhook"
[integration.settings]
url = "{hook_url}"

[[integration]]
name = "ok"
plugin = "herald-test-broken-behaviour"
[integration.settings]
mode = "ok"
event_on_start = true

[[integration]]
name = "panics"
plugin = "herald-test-broken-behaviour"
[integration.settings]
mode = "panic"

[[integration]]
name = "hangs"
plugin = "herald-test-broken-behaviour"
[integration.settings]
mode = "hang"

[[integration]]
name = "malformed"
plugin = "herald-test-broken-json"
"#,
        dir = dir.display()
    )
}

async fn post(client: &reqwest::Client, base: &str, integration: &str, key: &str) -> String {
    let body = json!({"integration": integration, "target": {"type": "customer", "id": "cust-1"}, "text": "hello"});
    let resp = client
        .post(format!("{base}/v1/notifications"))
        .bearer_auth(API_KEY)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("post notification");
    assert_eq!(resp.status().as_u16(), 202, "{integration}");
    let v: Value = resp.json().await.expect("json");
    v["id"].as_str().expect("id").to_string()
}

/// Poll the notification until a history entry's reason contains `needle`; the last view either way.
async fn wait_for_reason(client: &reqwest::Client, base: &str, id: &str, needle: &str, timeout: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let view: Value = client
            .get(format!("{base}/v1/notifications/{id}"))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("get notification")
            .json()
            .await
            .expect("json");
        let found = view["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|e| e["reason"].as_str().is_some_and(|r| r.contains(needle))));
        if found || tokio::time::Instant::now() >= deadline {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn last_reason(view: &Value) -> String {
    view["history"].as_array().and_then(|h| h.last()).and_then(|h| h["reason"].as_str()).unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_deliveries_fail_with_their_reason_and_the_service_keeps_serving() {
    let (receiver, hook_url) = Receiver::start().await;
    let options = PluginOptions {
        deliver_timeout: Duration::from_millis(800),
        control_timeout: Duration::from_secs(5),
        ..PluginOptions::default()
    };
    let text = config(&hook_url, &plugins_dir());
    let loaded = load_with_plugins(&text, options).expect("config with plugins loads");
    let svc = herald::service::start(loaded).await.expect("service starts");
    let base = format!("http://{}", svc.addr);
    let client = support::client();

    let ids: Vec<(&str, String)> = vec![
        ("panics", post(&client, &base, "panics", "p-1").await),
        ("malformed", post(&client, &base, "malformed", "m-1").await),
        ("hangs", post(&client, &base, "hangs", "h-1").await),
        ("ok", post(&client, &base, "ok", "o-1").await),
        ("hook", post(&client, &base, "hook", "k-1").await),
    ];
    for (integration, id) in &ids {
        if *integration == "hangs" {
            // Abandoned at the attempt's deadline with an unknown outcome; never delivered.
            let view = wait_for_reason(&client, &base, id, "did not answer deliver", Duration::from_secs(15)).await;
            assert_ne!(view["status"], "delivered", "{view}");
            assert!(view.to_string().contains("outcome is unknown"), "{view}");
            continue;
        }
        let view = wait_final(&client, &base, id, Duration::from_secs(15)).await;
        let reason = last_reason(&view);
        match *integration {
            "panics" => {
                assert_eq!(view["status"], "failed", "{view}");
                assert!(reason.contains("panicked in deliver") && reason.contains("deliberate panic"), "{reason}");
            }
            "malformed" => {
                assert_eq!(view["status"], "failed", "{view}");
                assert!(reason.contains("malformed JSON") && reason.contains("broken_json"), "{reason}");
            }
            _ => {
                assert_eq!(view["status"], "delivered", "{integration}: {view}");
            }
        }
    }
    let ok = ids.iter().find(|(i, _)| *i == "ok").map(|(_, id)| id.clone()).unwrap_or_default();
    let view = wait_final(&client, &base, &ok, Duration::from_secs(1)).await;
    assert_eq!(view["receipt"]["upstream_message_id"], "echo-o-1", "{view}");
    assert!(receiver.wait_for(1, Duration::from_secs(5)).await);

    // Still serving after all that: another round through the built-in adapter and a good plugin.
    for (integration, key) in [("hook", "k-2"), ("ok", "o-2")] {
        let id = post(&client, &base, integration, key).await;
        let view = wait_final(&client, &base, &id, Duration::from_secs(10)).await;
        assert_eq!(view["status"], "delivered", "{view}");
    }
    // Health of a hung plugin is still answered (health is separate from the stuck delivery).
    let health = svc.routes.get("hangs").expect("route").channel.health().await;
    assert_eq!(health.status, herald_core::HealthStatus::Healthy);
    svc.shutdown().await;
}

#[test]
fn a_plugin_refusing_its_settings_or_panicking_in_create_is_a_config_problem() {
    let dir = plugins_dir();
    let text = format!(
        r#"
[store]
path = ":memory:"
[plugins]
dir = "{}"
[[integration]]
name = "typo"
plugin = "herald-test-broken-behaviour"
[integration.settings]
mode = "ok"
moed = "ok"
[[integration]]
name = "boom"
plugin = "herald-test-broken-behaviour"
[integration.settings]
mode = "panic_create"
"#,
        dir.display()
    );
    let Err(err) = load_with_plugins(&text, PluginOptions::default()) else { panic!("expected problems") };
    assert!(err.contains("integration[0].settings") && err.contains("moed"), "{err}");
    assert!(err.contains("integration[1]") && err.contains("panicked in create"), "{err}");
}

#[test]
fn a_missing_plugin_in_a_config_is_refused_naming_the_file() {
    let text = "[store]\npath = \":memory:\"\n[[integration]]\nname = \"x\"\nplugin = \"./nowhere/libx.so\"\n";
    let Err(err) = load_with_plugins(text, PluginOptions::default()) else { panic!("expected a refusal") };
    assert!(err.contains("integration[0].plugin") && err.contains("nowhere/libx.so"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}
