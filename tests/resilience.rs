//! herald stays up and bounded whatever arrives: supervised background tasks come back after a panic and show in
//! `/healthz`; a flood beyond the concurrency limit is shed with 503 + `Retry-After` while `/healthz` answers;
//! requests that take too long are answered 503; listings are bounded and paged; posted events are evaluated before
//! their answer; queued events are applied at shutdown.

mod support;

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use herald::adapters::builtin_registry;
use herald::config;
use herald::service::RunningService;
use herald_core::{Event, EventKind, MediaKind, Session};
use serde_json::{json, Value};
use support::{wait_final, Receiver, API_KEY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SHIPPED_RULE: &str = r#"
[[rule]]
name = "shipped"
when = "event:order_shipped"
[rule.then]
integration = "hook"
target = "customer"
text = "Order {{attr.order}} shipped."
"#;

/// The test config with `service` lines added to `[service]` and `tail` appended.
fn config_text(url: &str, store: &str, listen: &str, service: &str, tail: &str) -> String {
    let base = support::webhook_config(store, url, listen);
    let base = base.replacen("shutdown_grace_secs = 5\n", &format!("shutdown_grace_secs = 5\n{service}\n"), 1);
    format!("{base}\n{tail}")
}

async fn start(service: &str, tail: &str) -> (RunningService, Receiver, String, reqwest::Client) {
    let (receiver, url) = Receiver::start().await;
    let text = config_text(&url, ":memory:", "127.0.0.1:0", service, tail);
    let loaded = config::load(&text, "test", &builtin_registry(), &|_| None).expect("config");
    let running = herald::service::start(loaded).await.expect("start");
    let base = format!("http://{}", running.addr);
    (running, receiver, base, support::client())
}

/// Poll `check` until it returns `Some`, failing after `timeout`.
async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn health(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let r = client.get(format!("{base}/healthz")).send().await.expect("healthz");
    let status = r.status().as_u16();
    (status, r.json().await.expect("health json"))
}

fn session_event(conversation: &str, minutes_ago: i64) -> Event {
    let at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    let mut session = Session::new(conversation, "hook", MediaKind::WebMessaging, at);
    session.updated_at = at;
    Event::now("hook", EventKind::SessionOpened { session })
}

#[tokio::test]
async fn a_panicking_task_comes_back_and_healthz_names_it() {
    let (svc, _receiver, base, client) = start("", "").await;
    let (code, h) = health(&client, &base).await;
    assert_eq!(code, 200, "{h}");
    assert_eq!(h["status"], "healthy", "{h}");
    for task in ["event-loop", "rule-worker-0", "maintenance"] {
        assert_eq!(h["tasks"][task]["state"], "running", "{task}: {h}");
    }
    let guarantee = h["integrations"]["hook"]["delivery_guarantee"].as_str().unwrap_or("");
    assert!(matches!(guarantee, "exactly_once" | "at_least_once"), "{h}");
    assert_eq!(h["integrations"]["hook"]["ready"], true, "{h}");

    assert!(svc.supervisor.inject_panic("event-loop"));
    let h = wait_until("the event loop's restart", Duration::from_secs(10), || async {
        let (code, h) = health(&client, &base).await;
        (h["tasks"]["event-loop"]["restarts"] == 1 && h["tasks"]["event-loop"]["state"] == "running")
            .then_some((code, h))
    })
    .await;
    assert_eq!(h.0, 200, "{}", h.1);
    assert_eq!(h.1["status"], "degraded", "{}", h.1);
    assert_eq!(h.1["tasks"]["event-loop"]["status"], "degraded", "{}", h.1);
    assert!(h.1["tasks"]["event-loop"]["last_failure"].as_str().unwrap_or("").contains("panicked"), "{}", h.1);

    // The restarted loop still owns the event queue: a session event published now is applied.
    svc.events.send(session_event("conv-after-panic", 0)).await.expect("publish");
    wait_until("the session", Duration::from_secs(10), || async {
        let r = client.get(format!("{base}/v1/sessions/conv-after-panic")).bearer_auth(API_KEY).send().await;
        r.ok().filter(|r| r.status().as_u16() == 200).map(|_| ())
    })
    .await;

    // A crash loop makes the service unhealthy: 503, naming the task.
    for n in 2..=3 {
        svc.supervisor.inject_panic("event-loop");
        wait_until("another restart", Duration::from_secs(10), || async {
            let (_, h) = health(&client, &base).await;
            (h["tasks"]["event-loop"]["restarts"] == n).then_some(())
        })
        .await;
    }
    let (code, h) = health(&client, &base).await;
    assert_eq!(code, 503, "{h}");
    assert_eq!(h["status"], "unhealthy", "{h}");
    assert_eq!(h["tasks"]["event-loop"]["status"], "unhealthy", "{h}");

    let metrics = client.get(format!("{base}/metrics")).bearer_auth(API_KEY).send().await.expect("metrics");
    let metrics = metrics.text().await.expect("text");
    assert!(metrics.contains("herald_task_restarts_total{task=\"event-loop\"}"), "{metrics}");
    svc.shutdown().await;
}

/// Open a request whose body never completes: it holds one place in the concurrency limit until dropped.
async fn hold_request(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer {API_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s
}

#[tokio::test]
async fn a_flood_beyond_the_concurrency_limit_is_shed_and_the_service_stays_responsive() {
    let (svc, _receiver, base, client) = start("max_concurrent_requests = 2\nrequest_timeout_secs = 1", "").await;
    let mut held = vec![hold_request(svc.addr).await, hold_request(svc.addr).await];

    // Both places taken: further requests are shed at once.
    let openapi = || client.get(format!("{base}/v1/openapi.json")).bearer_auth(API_KEY).send();
    wait_until("shedding", Duration::from_secs(10), || async {
        openapi().await.ok().filter(|r| r.status().as_u16() == 503).map(|_| ())
    })
    .await;
    let flood: Vec<_> = (0..50).map(|_| tokio::spawn(openapi())).collect();
    for r in flood {
        let r = r.await.expect("join").expect("answer");
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.expect("problem");
        assert!(p["type"].as_str().unwrap_or("").ends_with("/overloaded"), "{p}");
    }
    let (code, h) = health(&client, &base).await;
    assert_eq!(code, 200, "/healthz must answer under a flood: {h}");

    // The held requests outlive `request_timeout_secs`: each is answered 503 + Retry-After.
    for s in held.iter_mut() {
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.expect("answer").expect("read");
        let text = String::from_utf8_lossy(&buf[..n]).to_lowercase();
        assert!(text.starts_with("http/1.1 503"), "{text}");
        assert!(text.contains("retry-after: 1") && text.contains("request-timeout"), "{text}");
    }
    // Once they are gone, requests are served again.
    drop(held);
    wait_until("recovery", Duration::from_secs(10), || async {
        openapi().await.ok().filter(|r| r.status().as_u16() == 200).map(|_| ())
    })
    .await;

    // Wrong methods answer 405 as problem+json.
    for (method, path) in [(reqwest::Method::DELETE, "/v1/notifications"), (reqwest::Method::POST, "/healthz")] {
        let r = client.request(method, format!("{base}{path}")).bearer_auth(API_KEY).send().await.expect("send");
        assert_eq!(r.status().as_u16(), 405, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{path}");
    }
    svc.shutdown().await;
}

async fn get_page(client: &reqwest::Client, url: &str) -> (Vec<Value>, Option<String>, Option<String>) {
    let r = client.get(url).bearer_auth(API_KEY).send().await.expect("list");
    assert_eq!(r.status().as_u16(), 200, "{url}");
    let cursor = r.headers().get("x-next-cursor").and_then(|v| v.to_str().ok()).map(str::to_string);
    let link = r.headers().get("link").and_then(|v| v.to_str().ok()).map(str::to_string);
    let items: Vec<Value> = r.json().await.expect("json");
    (items, cursor, link)
}

#[tokio::test]
async fn listings_are_bounded_and_paged_with_cursors() {
    let (svc, _receiver, base, client) = start("", "").await;
    for (query, field) in [
        ("/v1/notifications?limit=0", "limit"),
        ("/v1/notifications?limit=1001", "limit"),
        ("/v1/notifications?before_seq=soon", "before_seq"),
        ("/v1/sessions?limit=0", "limit"),
        ("/v1/sessions?limit=5000", "limit"),
        ("/v1/sessions?after=not-a-cursor", "after"),
    ] {
        let r = client.get(format!("{base}{query}")).bearer_auth(API_KEY).send().await.expect("list");
        assert_eq!(r.status().as_u16(), 400, "{query}");
        let p: Value = r.json().await.expect("problem");
        assert_eq!(p["field"], field, "{query}: {p}");
    }

    let mut ids = HashSet::new();
    for i in 0..5 {
        let body =
            json!({"integration": "hook", "target": {"type": "conversation", "id": format!("c-{i}")}, "text": "x"});
        let r = client.post(format!("{base}/v1/notifications")).bearer_auth(API_KEY).json(&body).send().await;
        let v: Value = r.expect("post").json().await.expect("json");
        ids.insert(v["id"].as_str().expect("id").to_string());
    }
    let mut seen = Vec::new();
    let mut url = format!("{base}/v1/notifications?limit=2");
    let mut pages = 0;
    loop {
        let (items, cursor, link) = get_page(&client, &url).await;
        pages += 1;
        seen.extend(items.iter().filter_map(|v| v["id"].as_str().map(str::to_string)));
        let Some(cursor) = cursor else { break };
        let link = link.expect("a Link header beside X-Next-Cursor");
        assert!(link.contains(&format!("before_seq={cursor}")) && link.contains("rel=\"next\""), "{link}");
        url = format!("{base}/v1/notifications?limit=2&before_seq={cursor}");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), ids, "every notification exactly once: {seen:?}");
    assert_eq!(seen.len(), 5);

    for (i, conv) in ["s-a", "s-b", "s-c"].iter().enumerate() {
        svc.events.send(session_event(conv, i as i64)).await.expect("publish");
    }
    wait_until("three sessions", Duration::from_secs(10), || async {
        let (items, _, _) = get_page(&client, &format!("{base}/v1/sessions")).await;
        (items.len() == 3).then_some(())
    })
    .await;
    let (first, cursor, _) = get_page(&client, &format!("{base}/v1/sessions?limit=2")).await;
    let cursor = cursor.expect("a full page has a next cursor");
    let (second, none, _) = get_page(&client, &format!("{base}/v1/sessions?limit=2&after={cursor}")).await;
    assert_eq!(none, None);
    let order: Vec<&str> = first.iter().chain(&second).filter_map(|s| s["conversation_id"].as_str()).collect();
    assert_eq!(order, vec!["s-a", "s-b", "s-c"], "most recent first, each once");
    svc.shutdown().await;
}

#[tokio::test]
async fn posted_events_are_evaluated_before_the_answer() {
    let (svc, receiver, base, client) = start("", SHIPPED_RULE).await;
    let post = || {
        client
            .post(format!("{base}/v1/events"))
            .bearer_auth(API_KEY)
            .header("Idempotency-Key", "order-7-shipped")
            .json(&json!({"name": "order_shipped", "attributes": {"customer_id": "ec-7", "order": "A-7"}}))
            .send()
    };
    let r = post().await.expect("post");
    assert_eq!(r.status().as_u16(), 202);
    let v: Value = r.json().await.expect("json");
    let produced = v["notifications"].as_array().cloned().unwrap_or_default();
    assert_eq!(produced.len(), 1, "{v}");
    let id = produced[0].as_str().expect("id");
    // Already in the outbox when the answer arrives: no waiting.
    let r = client.get(format!("{base}/v1/notifications/{id}")).bearer_auth(API_KEY).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 200);
    let view: Value = r.json().await.expect("json");
    assert_eq!(view["rule"], "shipped", "{view}");

    // The same key is the same event: nothing new.
    let again: Value = post().await.expect("post").json().await.expect("json");
    assert_eq!(again["id"], v["id"]);
    assert_eq!(again["notifications"], json!([]), "{again}");
    let view = wait_final(&client, &base, id, Duration::from_secs(10)).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(receiver.bodies().len(), 1);
    assert_eq!(receiver.bodies()[0]["text"], "Order A-7 shipped.");
    svc.shutdown().await;
}

#[tokio::test]
async fn events_queued_at_shutdown_are_applied() {
    let (svc, _receiver, _base, _client) = start("", "").await;
    let sessions = svc.sessions.clone();
    let n = 2_000;
    // A current-thread runtime: the event loop cannot run while this loop publishes, so all of them are queued
    // when shutdown begins.
    for i in 0..n {
        svc.events.try_send(session_event(&format!("drain-{i}"), 0)).expect("queue has room");
    }
    assert!(svc.events.capacity() <= svc.events.max_capacity() - n, "the events must still be queued");
    svc.shutdown().await;
    assert_eq!(sessions.len().await.expect("len"), n);
}

#[test]
fn config_check_names_bad_service_limits() {
    for (line, key) in [
        ("request_timeout_secs = 0", "service.request_timeout_secs"),
        ("max_concurrent_requests = 0", "service.max_concurrent_requests"),
        ("ready_timeout_secs = -1", "service.ready_timeout_secs"),
    ] {
        let text = config_text("http://127.0.0.1:9/hook", ":memory:", "127.0.0.1:0", line, "");
        let err = config::load(&text, "test", &builtin_registry(), &|_| None).expect_err("refused");
        assert!(err.problems.iter().any(|p| p.to_string().contains(key)), "{line}: {err}");
    }
    let text = config_text(
        "http://127.0.0.1:9/hook",
        ":memory:",
        "127.0.0.1:0",
        "request_timeout_secs = 5\nmax_concurrent_requests = 8\nready_timeout_secs = 0",
        "",
    );
    let loaded = config::load(&text, "test", &builtin_registry(), &|_| None).expect("valid");
    assert_eq!(loaded.config.service.request_timeout_secs.get(), 5);
    assert_eq!(loaded.config.service.max_concurrent_requests.get(), 8);
}
