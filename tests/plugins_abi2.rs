//! ABI 2 end to end with real plugin libraries: a delivery stops at its deadline (the plugin's work is cancelled,
//! the outcome is unknown), an interrupted attempt is found again by `confirm_delivery` instead of being sent twice,
//! an ABI 1 plugin still loads (at-least-once, no inbound) and its late answer is counted, inbound HTTP on herald's
//! server becomes an event, and a burst of plugin events arrives complete and in order through the bounded queue.

mod plugins_support;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use herald_core::store::memory::MemorySessionStore;
use herald_core::{
    AdapterFactory, ChannelContext, ChannelError, ClosedPolicy, Content, Delivery, DeliveryGuarantee, DeliveryMode,
    EventKind, EventSink, IntegrationSpec, MessagingChannel, Notification, Target,
};
use herald_plugin::host::{self, PluginFactory, PluginLibrary, PluginOptions};
use plugins_support::{library, load_with_plugins, plugins_dir};
use serde_json::Value;
use support::{Receiver, API_KEY};
use tower::ServiceExt;

fn spec(kind: &str, settings: &str) -> IntegrationSpec {
    IntegrationSpec {
        name: "it".into(),
        kind: kind.into(),
        closed_policy: ClosedPolicy::Fail,
        settings: toml::from_str(settings).expect("settings"),
        path: "integration[0]".into(),
    }
}

fn channel(package: &str, settings: &str) -> Arc<dyn MessagingChannel> {
    let lib = PluginLibrary::load(&library(package)).expect("plugin loads");
    let factory = PluginFactory::new(lib, format!("plugin:{package}"));
    factory.build(&spec(&format!("plugin:{package}"), settings)).expect("instance")
}

fn plugin_channel(package: &str, settings: &str) -> Arc<herald_plugin::host::PluginChannel> {
    let lib = PluginLibrary::load(&library(package)).expect("plugin loads");
    let factory = PluginFactory::new(lib, format!("plugin:{package}"));
    Arc::new(factory.create(&spec(&format!("plugin:{package}"), settings)).expect("instance"))
}

fn notification(key: &str) -> Notification {
    Notification {
        id: uuid::Uuid::new_v4(),
        idempotency_key: Some(key.into()),
        integration: "it".into(),
        target: Target::Customer { id: "c-1".into() },
        content: Content::Text { text: "hello".into() },
        created_at: chrono::Utc::now(),
        expires_at: None,
        closed_policy: None,
        rule: None,
    }
}

async fn start(channel: &dyn MessagingChannel, capacity: usize) -> tokio::sync::mpsc::Receiver<herald_core::Event> {
    let (events, rx) = EventSink::channel("it", capacity);
    let ctx = ChannelContext {
        events,
        sessions: Arc::new(MemorySessionStore::default()),
        state: Arc::new(herald_core::store::memory_state::MemoryStateStore::new()),
        shutdown: tokio_util::sync::CancellationToken::new(),
        tasks: Arc::new(herald_core::tasks::RestartingSpawner::default()),
    };
    channel.start(ctx).await.expect("start");
    rx
}

/// Wait until `check(health)` holds, or fail after `timeout`.
async fn until_health(channel: &dyn MessagingChannel, timeout: Duration, check: impl Fn(&herald_core::Health) -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        let h = channel.health().await;
        if check(&h) {
            return;
        }
        assert!(Instant::now() < deadline, "condition not reached: {h:?}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_stops_at_its_deadline_and_confirm_finds_the_interrupted_attempt() {
    let channel = channel("herald-test-abi2", "answer_delay_ms = 30000");
    let _events = start(channel.as_ref(), 16).await;
    assert_eq!(channel.delivery_guarantee(), DeliveryGuarantee::ExactlyOnce);

    let n = notification("order-7");
    let first = Delivery::new(n.clone(), DeliveryMode::Normal, 1, Duration::from_millis(300));
    let began = Instant::now();
    let err = channel.deliver(&first).await.expect_err("the answer comes after the deadline");
    assert!(matches!(err, ChannelError::OutcomeUnknown { .. }), "{err:?}");
    assert!(began.elapsed() < Duration::from_secs(5), "abandoned only after {:?}", began.elapsed());
    // herald cancelled the work: the plugin's attempt was stopped, not left running; the message is upstream.
    until_health(channel.as_ref(), Duration::from_secs(5), |h| h.checks["stopped"] == "1").await;
    let h = channel.health().await;
    assert_eq!((h.checks["upstream"].as_str(), h.checks["finished"].as_str()), ("1", "0"), "{h:?}");

    // The dispatcher checks before sending again: the interrupted attempt is found, so nothing is resent.
    let mut second = Delivery::new(n, DeliveryMode::Normal, 2, Duration::from_secs(5));
    second.previous_attempt_at = Some(chrono::Utc::now());
    let found = channel.confirm_delivery(&second).await.expect("check runs");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].upstream_message_id.as_deref(), Some("up-order-7-1"));
    let h = channel.health().await;
    assert_eq!(h.checks["upstream"], "1", "no duplicate upstream: {h:?}");

    // A notification that never reached the upstream is certainly not delivered.
    let other = Delivery::new(notification("order-8"), DeliveryMode::Normal, 2, Duration::from_secs(5));
    assert_eq!(channel.confirm_delivery(&other).await.expect("check runs"), Vec::new());
    channel.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abi1_plugin_loads_at_least_once_and_its_late_answer_is_counted() {
    let info = host::describe(&library("herald-test-abi1")).expect("ABI 1 plugin loads");
    assert_eq!(info.abi_version, 1);
    assert_eq!(info.capabilities(), "at-least-once, no inbound");
    let abi2 = host::describe(&library("herald-test-abi2")).expect("ABI 2 plugin loads");
    assert_eq!(abi2.capabilities(), "exactly-once, inbound HTTP, presence");

    let channel = plugin_channel("herald-test-abi1", "delay_ms = 700");
    let _events = start(channel.as_ref(), 16).await;
    assert_eq!(channel.delivery_guarantee(), DeliveryGuarantee::AtLeastOnce);
    assert!(channel.as_http_inbound().is_none());
    let d = Delivery::new(notification("late-1"), DeliveryMode::Normal, 1, Duration::from_millis(150));
    let err = channel.deliver(&d).await.expect_err("abandoned at the deadline");
    assert!(matches!(err, ChannelError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(channel.late_answers(), 0);
    // Nothing cancels an ABI 1 plugin: its answer still arrives, and is counted instead of taken.
    let deadline = Instant::now() + Duration::from_secs(10);
    while channel.late_answers() == 0 {
        assert!(Instant::now() < deadline, "the late answer was never seen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(channel.late_answers(), 1);
    let check = channel.confirm_delivery(&d).await.expect_err("ABI 1 cannot check");
    assert!(check.to_string().contains("ABI 1"), "{check}");
    // A delivery inside its deadline works as before.
    let fast = plugin_channel("herald-test-abi1", "delay_ms = 0");
    let _e = start(fast.as_ref(), 16).await;
    let d = Delivery::new(notification("fast-1"), DeliveryMode::Normal, 1, Duration::from_secs(5));
    assert_eq!(fast.deliver(&d).await.expect("delivered").upstream_message_id.as_deref(), Some("abi1-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_plugin_events_arrives_complete_and_in_order_through_a_small_queue() {
    let channel = plugin_channel("herald-test-abi2", "");
    // A tiny service queue: the plugin's threads wait (back-pressure) instead of spawning a task per event.
    let mut rx = start(channel.as_ref(), 4).await;
    let routes = channel.as_http_inbound().expect("inbound routes").routes();
    let consumer = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < 3000 {
            let Some(event) = rx.recv().await else { break };
            if let EventKind::Named { name, attributes } = event.kind {
                assert_eq!(name, "burst");
                seqs.push(attributes["seq"].parse::<u64>().expect("seq"));
            }
        }
        seqs
    });
    let req = http::Request::post("/test-abi2/it/hook").body(Body::from("burst:3000")).expect("request");
    let resp = routes.oneshot(req).await.expect("answer");
    assert_eq!(resp.status().as_u16(), 202);
    let seqs = tokio::time::timeout(Duration::from_secs(20), consumer).await.expect("all events").expect("consumer");
    assert_eq!(seqs, (0..3000).collect::<Vec<u64>>(), "events lost or reordered");
    assert_eq!(channel.events_dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_route_on_heralds_server_becomes_an_event() {
    let (receiver, hook_url) = Receiver::start().await;
    let text = format!(
        r#"
[service]
listen = "127.0.0.1:0"
api_keys = ["{API_KEY}"]
max_body_bytes = 2048
[store]
path = ":memory:"
[plugins]
dir = "{dir}"

[[integration]]
name = "in"
plugin = "herald-test-abi2"

[[integration]]
name = "hook"
kind = "webhook"
[integration.settings]
url = "{hook_url}"

[[rule]]
name = "relay"
when = "event:inbound"
[rule.then]
integration = "hook"
target = "customer"
text = "got {{{{attr.body}}}}"
"#,
        dir = plugins_dir().display()
    );
    let loaded = load_with_plugins(&text, PluginOptions::default()).expect("config loads");
    let svc = herald::service::start(loaded).await.expect("service starts");
    let base = format!("http://{}", svc.addr);
    let client = support::client();
    let resp = client.post(format!("{base}/test-abi2/in/hook")).body("cust-9").send().await.expect("post");
    assert_eq!(resp.status().as_u16(), 202);
    assert_eq!(resp.json::<Value>().await.expect("json")["event"], 1);
    // The presence capability crosses the boundary too.
    let plugin = svc.routes.get("in").expect("route").channel.clone();
    let stats = plugin.as_presence().expect("presence capability").sync_stats().await;
    assert_eq!(stats.get("inbound_requests"), Some(&1), "{stats:?}");
    assert!(receiver.wait_for(1, Duration::from_secs(10)).await, "the event did not reach the rules");
    let body = &receiver.bodies()[0];
    assert_eq!(body["text"], "got cust-9", "{body}");
    // herald's body limit applies to plugin routes too.
    let big = "x".repeat(4096);
    let resp = client.post(format!("{base}/test-abi2/in/hook")).body(big).send().await.expect("post");
    assert_eq!(resp.status().as_u16(), 413);
    svc.shutdown().await;
}

/// Post one notification and return its id.
async fn post(client: &reqwest::Client, base: &str, integration: &str, key: &str) -> String {
    let body =
        serde_json::json!({"integration": integration, "target": {"type": "customer", "id": "c-1"}, "text": "hi"});
    let resp = client
        .post(format!("{base}/v1/notifications"))
        .bearer_auth(API_KEY)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("post notification");
    assert_eq!(resp.status().as_u16(), 202, "{integration}");
    resp.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_dispatcher_an_abandoned_attempt_is_confirmed_not_resent_and_late_answers_are_counted() {
    let text = format!(
        r#"
[service]
listen = "127.0.0.1:0"
api_keys = ["{API_KEY}"]
[store]
path = ":memory:"
[dispatcher]
max_attempts = 2
backoff_initial_ms = 20
delivery_timeout_secs = 1
[plugins]
dir = "{dir}"

[[integration]]
name = "exact"
plugin = "test_abi2"
[integration.settings]
answer_delay_ms = 30000

[[integration]]
name = "old"
plugin = "test_abi1"
[integration.settings]
delay_ms = 1500
"#,
        dir = plugins_dir().display()
    );
    let loaded = load_with_plugins(&text, PluginOptions::default()).expect("config loads");
    let svc = herald::service::start(loaded).await.expect("service starts");
    let base = format!("http://{}", svc.addr);
    let client = support::client();

    // ABI 2: the attempt reaches the upstream, its answer is too slow; herald abandons it at the deadline, the
    // plugin stops, and the check finds the message: delivered once, never sent again.
    let id = post(&client, &base, "exact", "e2e-1").await;
    let view = support::wait_final(&client, &base, &id, Duration::from_secs(20)).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(view["receipt"]["upstream_message_id"], "up-e2e-1-1", "{view}");
    let exact = svc.routes.get("exact").expect("route").channel.clone();
    let h = exact.health().await;
    assert_eq!((h.checks["upstream"].as_str(), h.checks["stopped"].as_str()), ("1", "1"), "{h:?}");

    // ABI 1: nothing stops the plugin; every abandoned attempt answers late, and each late answer is counted.
    let id = post(&client, &base, "old", "e2e-2").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = client
            .get(format!("{base}/metrics"))
            .bearer_auth(API_KEY)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if metrics.lines().any(|l| l.starts_with("herald_plugin_late_answers_total{integration=\"old\"}")) {
            break;
        }
        assert!(Instant::now() < deadline, "no late answer counted:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let view: Value = client
        .get(format!("{base}/v1/notifications/{id}"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_ne!(view["status"], "delivered", "an answer after the deadline must not count: {view}");
    assert!(view["receipt"].is_null(), "{view}");
    assert!(view.to_string().contains("outcome is unknown"), "{view}");
    svc.shutdown().await;
}
