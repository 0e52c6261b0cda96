//! `/metrics` is valid Prometheus text exposition: every metric family has `# HELP` and `# TYPE`, every sample line
//! parses, and the delivery metrics appear once a notification went through.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use herald::adapters::builtin_registry;
use herald::config;
use serde_json::json;
use support::{wait_final, Receiver, API_KEY};

/// Whether `line` is `name{labels} value` or `name value`, with a float value.
fn sample_parses(line: &str) -> bool {
    let (series, value) = match line.rsplit_once(' ') {
        Some(parts) => parts,
        None => return false,
    };
    let name = series.split('{').next().unwrap_or_default();
    let name_ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    let labels_ok = !series.contains('{') || series.ends_with('}');
    let value_ok = value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value);
    name_ok && labels_ok && value_ok
}

#[tokio::test]
async fn metrics_have_help_and_parse() {
    let (receiver, url) = Receiver::start().await;
    let text = support::webhook_config(":memory:", &url, "127.0.0.1:0");
    let registry = builtin_registry();
    let loaded = config::load(&text, "test", &registry, &|_| None).expect("config");
    let svc = herald::service::start(loaded).await.expect("start");
    let base = format!("http://{}", svc.addr);
    let client = support::client();
    let body = json!({"integration": "hook", "target": {"type": "conversation", "id": "c-1"}, "text": "hello"});
    let resp =
        client.post(format!("{base}/v1/notifications")).bearer_auth(API_KEY).json(&body).send().await.expect("post");
    assert_eq!(resp.status().as_u16(), 202);
    let v: serde_json::Value = resp.json().await.expect("json");
    let view = wait_final(&client, &base, v["id"].as_str().unwrap_or_default(), Duration::from_secs(10)).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(receiver.bodies().len(), 1);

    let exposition = client
        .get(format!("{base}/metrics"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    let mut helped = BTreeSet::new();
    let mut typed = BTreeSet::new();
    for line in exposition.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            assert!(rest.len() > name.len() + 1, "HELP without text: {line}");
            helped.insert(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().unwrap_or_default();
            let kind = parts.next().unwrap_or_default();
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
            typed.insert(name.to_string());
        } else {
            assert!(!line.starts_with('#'), "unknown comment line: {line}");
            assert!(sample_parses(line), "sample does not parse: {line}");
        }
    }
    let missing: Vec<_> = typed.difference(&helped).collect();
    assert!(missing.is_empty(), "metrics without HELP: {missing:?}\n{exposition}");
    for expected in ["herald_intake_total", "herald_deliveries_total", "herald_delivery_seconds"] {
        assert!(typed.contains(expected), "{expected} missing from:\n{exposition}");
    }
    svc.shutdown().await;
}
