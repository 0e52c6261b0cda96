//! Start-up order and the durability of `POST /v1/events`:
//! - unfinished notifications are resumed only once their integration is ready (they wait, nothing is sent before);
//! - an event answered 202 has made its notifications durable: `kill -9` right after the answer loses nothing.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herald::config;
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::{
    AdapterFactory, ChannelContext, ChannelError, ConfigProblem, Content, Delivery, Health, IntegrationSpec,
    MessagingChannel, Notification, NotificationStatus, Outbox, Receipt, Target, Transition,
};
use parking_lot::Mutex;
use serde_json::{json, Value};
use support::{wait_final, Receiver, API_KEY};
use tokio::sync::Notify;

/// An adapter that is not ready until the test says so, and records whether it was ready at each call.
#[derive(Default)]
struct Gate {
    ready: AtomicBool,
    polled: Notify,
    /// (call, ready at the time) for every confirm/deliver.
    calls: Mutex<Vec<(&'static str, bool)>>,
    delivered: Notify,
}

#[async_trait]
impl MessagingChannel for Gate {
    fn kind(&self) -> &str {
        "gate"
    }
    fn name(&self) -> &str {
        "gate"
    }
    async fn start(&self, _ctx: ChannelContext) -> Result<(), ChannelError> {
        Ok(())
    }
    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        self.calls.lock().push(("deliver", self.ready.load(Ordering::SeqCst)));
        self.delivered.notify_one();
        Ok(Receipt {
            upstream_message_id: Some(format!("m-{}", delivery.notification.id)),
            conversation_id: None,
            route: "gate".into(),
            delivered_at: chrono::Utc::now(),
        })
    }
    async fn confirm_delivery(&self, _delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
        let ready = self.ready.load(Ordering::SeqCst);
        self.calls.lock().push(("confirm", ready));
        if ready {
            Ok(Vec::new())
        } else {
            Err(ChannelError::transient("integration gate has not started yet"))
        }
    }
    async fn ready(&self) -> bool {
        self.polled.notify_one();
        self.ready.load(Ordering::SeqCst)
    }
    async fn health(&self) -> Health {
        Health::healthy()
    }
    async fn shutdown(&self) {}
}

struct GateFactory(Arc<Gate>);

impl AdapterFactory for GateFactory {
    fn kind(&self) -> &str {
        "gate"
    }
    fn description(&self) -> &str {
        "test adapter that becomes ready on demand"
    }
    fn validate(&self, _spec: &IntegrationSpec) -> Vec<ConfigProblem> {
        Vec::new()
    }
    fn build(&self, _spec: &IntegrationSpec) -> Result<Arc<dyn MessagingChannel>, Vec<ConfigProblem>> {
        Ok(self.0.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_notifications_wait_until_their_integration_is_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_path = dir.path().join("herald.sled");
    // A notification whose attempt was interrupted by a crash: attempting, on disk.
    {
        let store = SledStore::open(&store_path, SledOptions::default()).expect("open");
        let n = Notification {
            id: uuid::Uuid::new_v4(),
            idempotency_key: None,
            integration: "gate".into(),
            target: Target::Customer { id: "ec-1".into() },
            content: Content::Text { text: "hello".into() },
            created_at: chrono::Utc::now(),
            expires_at: None,
            closed_policy: None,
            rule: None,
        };
        let record = store.enqueue(n).await.expect("enqueue").record().clone();
        let mut t = Transition::to(NotificationStatus::Attempting, chrono::Utc::now(), "attempt 1");
        t.count_attempt = true;
        store.transition(record.id(), t).await.expect("attempting");
    }

    let gate = Arc::new(Gate::default());
    let mut registry = herald::adapters::builtin_registry();
    registry.register(Arc::new(GateFactory(gate.clone())));
    let text = format!(
        r#"
[service]
listen = "127.0.0.1:0"
api_keys = ["{API_KEY}"]
ready_timeout_secs = 30
[store]
path = "{}"
[dispatcher]
backoff_initial_ms = 20
backoff_max_ms = 200
[[integration]]
name = "gate"
kind = "gate"
"#,
        store_path.display()
    );
    let loaded = config::load(&text, "test", &registry, &|_| None).expect("config");
    let starting = tokio::spawn(herald::service::start(loaded));

    // Start-up is waiting on readiness: nothing has been asked of the adapter yet.
    tokio::time::timeout(Duration::from_secs(10), gate.polled.notified()).await.expect("ready() polled");
    assert!(!starting.is_finished(), "start must wait for the integration");
    assert!(gate.calls.lock().is_empty(), "asked before ready: {:?}", gate.calls.lock());
    gate.ready.store(true, Ordering::SeqCst);

    let svc = tokio::time::timeout(Duration::from_secs(10), starting).await.expect("started").expect("join");
    let svc = svc.expect("start");
    tokio::time::timeout(Duration::from_secs(10), gate.delivered.notified()).await.expect("delivered after ready");
    let calls = gate.calls.lock().clone();
    assert!(calls.iter().all(|(_, ready)| *ready), "every call after readiness: {calls:?}");
    assert_eq!(calls.iter().filter(|(c, _)| *c == "deliver").count(), 1, "{calls:?}");
    svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_right_after_an_event_is_answered_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (receiver, url) = Receiver::start().await;
    // The webhook is down until the restart: whatever the event produced can only be delivered from disk.
    receiver.script(&[503; 1000]);
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let store = dir.path().join("herald.sled");
    let config_path = dir.path().join("herald.toml");
    let rule = r#"
[[rule]]
name = "shipped"
when = "event:order_shipped"
[rule.then]
integration = "hook"
target = "customer"
text = "Order {{attr.order}} shipped."
"#;
    let text = support::webhook_config(&store.display().to_string(), &url, &format!("127.0.0.1:{port}"))
        .replace("max_attempts = 4", "max_attempts = 50");
    std::fs::write(&config_path, format!("{text}\n{rule}")).expect("write config");

    let client = support::client();
    let mut child = support::spawn_serve(&config_path);
    support::wait_healthy(&client, &base).await;
    let r = client
        .post(format!("{base}/v1/events"))
        .bearer_auth(API_KEY)
        .json(&json!({"name": "order_shipped", "attributes": {"customer_id": "ec-9", "order": "B-9"}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 202);
    child.kill().expect("SIGKILL"); // at once: before any delivery could succeed
    let _ = child.wait();
    let v: Value = r.json().await.expect("json");
    let ids: Vec<String> =
        v["notifications"].as_array().into_iter().flatten().filter_map(|i| i.as_str().map(str::to_string)).collect();
    assert_eq!(ids.len(), 1, "{v}");
    assert!(receiver.bodies().is_empty(), "nothing can have been delivered before the kill");

    receiver.script(&[]);
    let mut child = support::spawn_serve(&config_path);
    support::wait_healthy(&client, &base).await;
    let view = wait_final(&client, &base, &ids[0], Duration::from_secs(30)).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert_eq!(view["rule"], "shipped");
    assert_eq!(receiver.bodies().len(), 1);
    assert_eq!(receiver.bodies()[0]["text"], "Order B-9 shipped.");
    child.kill().expect("kill");
    let _ = child.wait();
}
