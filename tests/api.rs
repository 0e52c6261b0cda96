//! The HTTP API end to end (in-process service, memory store, webhook integration): intake, idempotency, status
//! history, queries, and every kind of bad input answered with a problem naming the field and changing nothing.

mod support;

use std::time::Duration;

use herald::adapters::builtin_registry;
use herald::config;
use serde_json::{json, Value};
use support::{wait_final, Receiver, API_KEY};

async fn start() -> (herald::service::RunningService, Receiver, String, reqwest::Client) {
    let (receiver, url) = Receiver::start().await;
    let text = support::webhook_config(":memory:", &url, "127.0.0.1:0");
    let registry = builtin_registry();
    let loaded = config::load(&text, "test", &registry, &|_| None).expect("config");
    let running = herald::service::start(loaded).await.expect("start");
    let base = format!("http://{}", running.addr);
    (running, receiver, base, support::client())
}

async fn post(client: &reqwest::Client, base: &str, body: &str, key: Option<&str>) -> (u16, Value) {
    let mut req = client
        .post(format!("{base}/v1/notifications"))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn count(client: &reqwest::Client, base: &str) -> usize {
    let v: Value = client
        .get(format!("{base}/v1/notifications?limit=1000"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    v.as_array().map(Vec::len).unwrap_or(0)
}

#[tokio::test]
async fn accepted_notification_is_delivered_with_history() {
    let (svc, receiver, base, client) = start().await;
    let body =
        json!({"integration": "hook", "target": {"type": "conversation", "id": "c-1"}, "text": "Your order shipped"})
            .to_string();
    let (status, v) = post(&client, &base, &body, Some("order-1")).await;
    assert_eq!(status, 202, "{v}");
    let id = v["id"].as_str().expect("id").to_string();

    let view = wait_final(&client, &base, &id, Duration::from_secs(10)).await;
    assert_eq!(view["status"], "delivered", "{view}");
    let statuses: Vec<&str> =
        view["history"].as_array().expect("history").iter().filter_map(|h| h["status"].as_str()).collect();
    assert_eq!(statuses, vec!["pending", "attempting", "delivered"]);
    assert_eq!(view["receipt"]["upstream_message_id"], "msg-order-1");
    assert_eq!(receiver.count("order-1"), 1);
    assert_eq!(receiver.bodies()[0]["text"], "Your order shipped");

    // Same key: the original, never a second notification.
    let (status, again) = post(&client, &base, &body, Some("order-1")).await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], v["id"]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(count(&client, &base).await, 1);
    svc.shutdown().await;
}

#[tokio::test]
async fn transient_failures_are_retried_and_recorded() {
    let (svc, receiver, base, client) = start().await;
    receiver.script(&[503, 429]);
    let body = json!({"integration": "hook", "target": {"type": "customer", "id": "ec-9"}, "template": "Hi {{name}}", "variables": {"name": "Ana"}}).to_string();
    let (status, v) = post(&client, &base, &body, None).await;
    assert_eq!(status, 202);
    let view = wait_final(&client, &base, v["id"].as_str().unwrap_or_default(), Duration::from_secs(10)).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(view["attempts"], 2, "the 503 and the delivery count; the 429 does not: {view}");
    let reasons: Vec<String> = view["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["reason"].as_str().map(str::to_string))
        .collect();
    assert!(reasons.iter().any(|r| r.contains("503") && r.contains("retrying")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("rate limited")), "{reasons:?}");
    assert_eq!(receiver.bodies()[0]["text"], "Hi Ana");
    svc.shutdown().await;
}

#[tokio::test]
async fn permanent_failures_fail_with_reason() {
    let (svc, receiver, base, client) = start().await;
    receiver.script(&[400]);
    let body = json!({"integration": "hook", "target": {"type": "conversation", "id": "c-2"}, "text": "x"}).to_string();
    let (_, v) = post(&client, &base, &body, None).await;
    let view = wait_final(&client, &base, v["id"].as_str().unwrap_or_default(), Duration::from_secs(10)).await;
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["attempts"], 1);
    let last = view["history"].as_array().and_then(|h| h.last()).cloned().unwrap_or_default();
    assert!(last["reason"].as_str().unwrap_or("").contains("invalid payload"), "{last}");
    svc.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_a_problem_naming_the_field_and_changes_nothing() {
    let (svc, _receiver, base, client) = start().await;
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "malformed-json"),
        (json!({"integration": "hook", "target": {"type": "conversation", "id": "c"}, "text": "x", "colour": 1}).to_string(), 422, "colour"),
        (json!({"integration": "hook", "text": "x"}).to_string(), 422, "target"),
        (json!({"integration": "nope", "target": {"type": "conversation", "id": "c"}, "text": "x"}).to_string(), 422, "integration"),
        (json!({"integration": "hook", "target": {"type": "planet", "id": "c"}, "text": "x"}).to_string(), 422, "target"),
        (json!({"integration": "hook", "target": {"type": "conversation", "id": ""}, "text": "x"}).to_string(), 422, "target.id"),
        (json!({"integration": "hook", "target": {"type": "conversation", "id": "c"}}).to_string(), 422, "text"),
        (json!({"integration": "hook", "target": {"type": "conversation", "id": "c"}, "text": "x", "canned_response_id": "r"}).to_string(), 422, "text"),
        (json!({"integration": "hook", "target": {"type": "conversation", "id": "c"}, "template": "Hi {{who}}"}).to_string(), 422, "variables.who"),
        (json!({"integration": "hook", "target": {"type": "conversation", "id": "c"}, "text": "x", "expires_at": "2001-01-01T00:00:00Z"}).to_string(), 422, "expires_at"),
        (json!({"integration": "hook", "target": {"type": "conversation", "id": "c"}, "text": "x".repeat(5000)}).to_string(), 413, "body-too-large"),
    ];
    for (body, want_status, want) in cases {
        let (status, problem) = post(&client, &base, &body, None).await;
        assert_eq!(status, want_status, "body {body:.80} → {problem}");
        let text = problem.to_string();
        assert!(text.contains(want), "problem for {body:.80} should name `{want}`: {text}");
    }
    // Wrong content type, wrong key, no key.
    let resp =
        client.post(format!("{base}/v1/notifications")).bearer_auth(API_KEY).body("{}").send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 415);
    for auth in [Some("wrong-key-0123456789abcdef"), None] {
        let mut req =
            client.post(format!("{base}/v1/notifications")).header("content-type", "application/json").body("{}");
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let resp = req.send().await.expect("send");
        assert_eq!(resp.status().as_u16(), 401);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(count(&client, &base).await, 0, "bad input must not create anything");
    svc.shutdown().await;
}

#[tokio::test]
async fn health_metrics_openapi_and_queries() {
    let (svc, _receiver, base, client) = start().await;
    let health: Value = client.get(format!("{base}/healthz")).send().await.expect("health").json().await.expect("json");
    assert_eq!(health["status"], "healthy", "{health}");
    assert!(health["integrations"]["hook"].is_object());

    let body = json!({"integration": "hook", "target": {"type": "conversation", "id": "c-3"}, "text": "x"}).to_string();
    let (_, v) = post(&client, &base, &body, None).await;
    wait_final(&client, &base, v["id"].as_str().unwrap_or_default(), Duration::from_secs(10)).await;

    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("herald_intake_total"), "{metrics}");
    assert!(metrics.contains("herald_deliveries_total"), "{metrics}");
    assert_eq!(client.get(format!("{base}/metrics")).send().await.expect("m").status().as_u16(), 401);

    let doc: Value = client
        .get(format!("{base}/v1/openapi.json"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3."), "{doc}");
    for path in ["/v1/notifications", "/v1/notifications/{id}", "/v1/sessions", "/v1/events", "/healthz"] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }

    let sessions = client
        .get(format!("{base}/v1/sessions?customer=x&since=2020-01-01T00:00:00Z"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("sessions");
    assert_eq!(sessions.status().as_u16(), 200);
    let bad =
        client.get(format!("{base}/v1/sessions?since=yesterday")).bearer_auth(API_KEY).send().await.expect("sessions");
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.text().await.unwrap_or_default().contains("since"));
    let missing = client.get(format!("{base}/v1/sessions/nope")).bearer_auth(API_KEY).send().await.expect("session");
    assert_eq!(missing.status().as_u16(), 404);
    svc.shutdown().await;
}
