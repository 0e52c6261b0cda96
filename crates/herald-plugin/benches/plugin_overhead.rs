//! Per-delivery overhead of the plugin boundary: the same trivial adapter (answers a receipt at once) called
//! directly in-process, and as an ABI 2 plugin library through `PluginChannel` (JSON both ways, a hop onto the
//! plugin's runtime and back through the host callback, the attempt's deadline armed on both sides), beside
//! herald's built-in `webhook` adapter posting each delivery to a loopback HTTP receiver (what a real adapter's
//! cheapest upstream call costs).
//!
//! Run: `cargo bench -p herald-plugin --bench plugin_overhead` (builds `herald-test-broken-behaviour` in release).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use hdrhistogram::Histogram;
use herald_core::{
    AdapterFactory, ChannelContext, ChannelError, ClosedPolicy, Content, Delivery, DeliveryMode, Health,
    IntegrationSpec, MessagingChannel, Notification, Receipt, Target,
};
use herald_plugin::host::{PluginFactory, PluginLibrary};

const IN_FLIGHT: usize = 64;

/// Sequential and concurrent delivery counts: full under `cargo bench` (which passes `--bench`), a smoke run
/// under `cargo test --all-targets`.
fn counts() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (20_000, 100_000)
    } else {
        (200, 1_000)
    }
}

/// The in-process twin of the plugin in mode `ok`.
struct Direct;

#[async_trait]
impl MessagingChannel for Direct {
    fn kind(&self) -> &str {
        "direct"
    }
    fn name(&self) -> &str {
        "direct"
    }
    async fn start(&self, _ctx: ChannelContext) -> Result<(), ChannelError> {
        Ok(())
    }
    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        Ok(Receipt {
            upstream_message_id: Some(format!("echo-{}", delivery.notification.delivery_key())),
            conversation_id: None,
            route: "test".into(),
            delivered_at: Utc::now(),
        })
    }
    async fn health(&self) -> Health {
        Health::healthy()
    }
    async fn shutdown(&self) {}
}

fn delivery(i: usize) -> Delivery {
    Delivery {
        notification: Notification {
            id: uuid::Uuid::new_v4(),
            idempotency_key: Some(format!("bench-{i}")),
            integration: "bench".into(),
            target: Target::Customer { id: format!("customer-{}", i % 1000) },
            content: Content::Text { text: "Your order has shipped and will arrive tomorrow.".into() },
            created_at: Utc::now(),
            expires_at: None,
            closed_policy: None,
            rule: None,
        },
        mode: DeliveryMode::Normal,
        attempt: 1,
        previous_attempt_at: None,
        deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(30),
    }
}

async fn sequential(channel: &Arc<dyn MessagingChannel>, n: usize) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("histogram: {e}"));
    for i in 0..n {
        let d = delivery(i);
        let t = Instant::now();
        let r = channel.deliver(&d).await;
        let ns = t.elapsed().as_nanos() as u64;
        assert!(r.is_ok(), "{r:?}");
        let _ = h.record(ns);
    }
    h
}

async fn concurrent(channel: &Arc<dyn MessagingChannel>, n: usize) -> f64 {
    let deliveries: Vec<Delivery> = (0..n).map(delivery).collect();
    let deliveries = Arc::new(deliveries);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..IN_FLIGHT {
        let (channel, deliveries) = (channel.clone(), deliveries.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                let r = channel.deliver(&deliveries[i]).await;
                assert!(r.is_ok(), "{r:?}");
                i += IN_FLIGHT;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn us(ns: u64) -> f64 {
    Duration::from_nanos(ns).as_secs_f64() * 1e6
}

fn report(name: &str, h: &Histogram<u64>, rate: f64) {
    println!(
        "{name:<8} sequential: p50 {:>7.2} µs  p99 {:>7.2} µs  p99.9 {:>7.2} µs  mean {:>7.2} µs | {IN_FLIGHT} in flight: {:>9.0} deliveries/s",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        h.mean() / 1000.0,
        rate
    );
}

/// A loopback receiver answering 200 to every POST, like the cheapest possible upstream.
async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

fn webhook(url: &str) -> Arc<dyn MessagingChannel> {
    let spec = IntegrationSpec {
        name: "bench-webhook".into(),
        kind: "webhook".into(),
        closed_policy: ClosedPolicy::Fail,
        settings: toml::from_str(&format!("url = \"{url}\"")).unwrap_or_default(),
        path: "integration[1]".into(),
    };
    herald::adapters::webhook::WebhookFactory.build(&spec).unwrap_or_else(|p| panic!("{p:?}"))
}

fn main() {
    let paths = herald_plugin::dev::build_cdylibs(&["herald-test-broken-behaviour"])
        .unwrap_or_else(|e| panic!("cannot build the bench plugin: {e}"));
    let library = PluginLibrary::load(&paths[0]).unwrap_or_else(|e| panic!("{e}"));
    let factory = PluginFactory::new(library, "plugin:bench".into());
    let spec = IntegrationSpec {
        name: "bench".into(),
        kind: "plugin:bench".into(),
        closed_policy: ClosedPolicy::Fail,
        settings: toml::from_str("mode = \"ok\"").unwrap_or_default(),
        path: "integration[0]".into(),
    };
    let plugin = factory.build(&spec).unwrap_or_else(|p| panic!("{p:?}"));
    let direct: Arc<dyn MessagingChannel> = Arc::new(Direct);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let (seq, conc) = counts();
    rt.block_on(async {
        // Warm up both paths (runtime start, allocator, caches).
        let _ = sequential(&direct, seq).await;
        let _ = sequential(&plugin, seq).await;
        let hd = sequential(&direct, seq).await;
        let rd = concurrent(&direct, conc).await;
        let hp = sequential(&plugin, seq).await;
        let rp = concurrent(&plugin, conc).await;
        let hook = webhook(&receiver().await);
        let (hseq, hconc) = (seq / 4, conc / 20);
        let _ = sequential(&hook, hseq / 4).await;
        let hw = sequential(&hook, hseq).await;
        let rw = concurrent(&hook, hconc).await;
        println!("{seq} sequential deliveries, then {conc} with {IN_FLIGHT} in flight; host runtime 2 workers, plugin runtime 2 workers");
        println!("webhook: {hseq} sequential, then {hconc} with {IN_FLIGHT} in flight, to a loopback receiver on the host runtime");
        report("direct", &hd, rd);
        report("plugin", &hp, rp);
        report("webhook", &hw, rw);
        println!(
            "overhead per delivery (sequential): p50 +{:.2} µs, p99 +{:.2} µs",
            us(hp.value_at_quantile(0.5)) - us(hd.value_at_quantile(0.5)),
            us(hp.value_at_quantile(0.99)) - us(hd.value_at_quantile(0.99))
        );
    });
}
