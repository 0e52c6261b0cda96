//! Delivery rate against a configured request budget, and dispatch overhead, against the in-process emulator.
//!
//! Run: `cargo bench -p herald-webmessaging --bench webmessaging_delivery` (env `WM_BENCH_SECS`, default 30).
//!
//! 1. Rate: one adapter with `requests_per_minute = 1200` delivers as fast as it is allowed for the duration,
//!    16 deliveries in flight, into one connected conversation; the emulator enforces the same 1200/min per token.
//!    Reports deliveries/min, the share of the budget, and the emulator's 429 count (must be 0).
//! 2. Overhead: with an effectively unlimited budget (a second OAuth client), the latency of `deliver()` (resolve
//!    from the store, render, validate, send) against the latency of the bare Genesys send of the same body;
//!    the difference is what the adapter adds to the upstream's own time.
//! 3. Overhead at the wire: the same adapter behind a recording pass-through proxy that notes the instant each
//!    send request arrives; overhead = arrival at the proxy − start of `deliver()`. This is the brief's measure
//!    ("outbox to the upstream request leaving, excluding the upstream's own time") without subtracting two noisy
//!    percentiles; it includes the loopback hop to the proxy, so it is an upper bound.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use herald_core::store::memory::MemorySessionStore;
use herald_core::{
    ChannelContext, Content, Delivery, DeliveryMode, EventSink, MessagingChannel, Notification, SessionStore, Target,
};
use herald_emulator::{Emulator, EmulatorConfig};
use herald_genesys::models::messaging::{AdditionalMessage, MessengerType};
use herald_webmessaging::{Settings, WebMessagingAdapter};
use tokio_tungstenite::tungstenite::Message;

const DEPLOYMENT: &str = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50";
const QUEUE: &str = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10";
const BUDGET: u32 = 1200;
/// Conversations section 3 spreads its deliveries over.
const WIRE_CONVERSATIONS: usize = 50;

fn settings(base: &str, client: &str, secret: &str, rpm: u32) -> Settings {
    let text = format!(
        "base_url = \"{base}\"\nclient_id = \"{client}\"\nclient_secret = \"{secret}\"\ndeployment_id = \"{DEPLOYMENT}\"\n\
         queue_ids = [\"{QUEUE}\"]\nrequests_per_minute = {rpm}\n"
    );
    match toml::from_str(&text) {
        Ok(s) => s,
        Err(e) => panic!("bench settings: {e}"),
    }
}

async fn start(name: &str, s: Settings, store: Arc<MemorySessionStore>) -> Arc<WebMessagingAdapter> {
    let adapter = Arc::new(WebMessagingAdapter::new(name, s).unwrap_or_else(|e| panic!("adapter: {e}")));
    let (events, mut rx) = EventSink::channel(name, 10_000);
    let sink_store = store.clone();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if let Some(s) = ev.kind.session() {
                let _ = sink_store.upsert(s.clone()).await;
            }
        }
    });
    let state = std::sync::Arc::new(herald_core::store::memory_state::MemoryStateStore::new());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let tasks = std::sync::Arc::new(herald_core::tasks::RestartingSpawner::new(shutdown.clone()));
    let ctx = ChannelContext { events, sessions: store, state, shutdown, tasks };
    adapter.start(ctx).await.unwrap_or_else(|e| panic!("start: {e}"));
    adapter
}

fn delivery(conv: &str, i: u64) -> Delivery {
    Delivery {
        notification: Notification {
            id: uuid::Uuid::new_v4(),
            idempotency_key: None,
            integration: "bench".into(),
            target: Target::Conversation { id: conv.to_string() },
            content: Content::Text { text: format!("benchmark message {i}") },
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

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    herald_genesys::install_crypto_provider();
    let secs: u64 = std::env::var("WM_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let mut cfg = EmulatorConfig::default_org();
    cfg.limits.requests_per_minute = BUDGET;
    // Every agent takes any number of conversations, so section 3 can spread over many.
    for a in &mut cfg.agents {
        a.capacity = 1_000_000;
    }
    for c in &mut cfg.oauth.clients {
        if c.id == "herald-loadtest" {
            c.requests_per_minute = Some(10_000_000);
        }
    }
    let addr = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("addr: {e}"));
    let emu = Emulator::start(cfg, addr).await.unwrap_or_else(|e| panic!("emulator: {e}"));
    let store = Arc::new(MemorySessionStore::default());
    let rate =
        start("bench", settings(&emu.base_url(), "herald-demo", "herald-demo-secret", BUDGET), store.clone()).await;

    let control = emu.control();
    let conv = connected_conversation(&emu, &store).await;

    // 1. Rate against the budget.
    let before = control.counters();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..16u64 {
        let (rate, conv, stop, done, failed) = (rate.clone(), conv.clone(), stop.clone(), done.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                match rate.deliver(&delivery(&conv, i)).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let delivered = done.load(Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let after = control.counters();
    let per_min = delivered as f64 * 60.0 / elapsed;
    println!("rate: budget {BUDGET}/min, {secs} s, delivered {delivered} ({per_min:.0}/min = {:.1} % of budget), failed {}, emulator 429s {}, emulator API requests {}",
        per_min * 100.0 / BUDGET as f64,
        failed.load(Ordering::Relaxed),
        after.too_many_requests - before.too_many_requests,
        after.requests - before.requests);

    // 2. Dispatch overhead with an unlimited budget.
    let fast = start(
        "bench-fast",
        settings(&emu.base_url(), "herald-loadtest", "herald-loadtest-secret", 6_000_000),
        store.clone(),
    )
    .await;
    let client = fast.client().clone();
    let comm = store
        .get(&conv)
        .await
        .ok()
        .flatten()
        .and_then(|s| s.agent_communication_id().map(str::to_string))
        .unwrap_or_default();
    let n = 3000u64;
    let mut adapter_h = Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("histogram: {e}"));
    let mut raw_h = Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("histogram: {e}"));
    for i in 0..200 {
        let _ = fast.deliver(&delivery(&conv, i)).await;
    }
    for i in 0..n {
        let d = delivery(&conv, i);
        let t = Instant::now();
        fast.deliver(&d).await.unwrap_or_else(|e| panic!("deliver: {e}"));
        adapter_h.record(t.elapsed().as_micros() as u64).unwrap_or(());
        let body = AdditionalMessage::text(format!("raw message {i}"));
        let t = Instant::now();
        client
            .send_message(&conv, &comm, &body, &MessengerType::WebMessaging)
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
        raw_h.record(t.elapsed().as_micros() as u64).unwrap_or(());
    }
    println!(
        "overhead: {n} sequential deliveries; deliver() p50 {:.3} ms p99 {:.3} ms; bare send p50 {:.3} ms p99 {:.3} ms; adapter overhead p50 {:.3} ms p99 {:.3} ms",
        ms(&adapter_h, 0.5), ms(&adapter_h, 0.99), ms(&raw_h, 0.5), ms(&raw_h, 0.99),
        ms(&adapter_h, 0.5) - ms(&raw_h, 0.5), ms(&adapter_h, 0.99) - ms(&raw_h, 0.99)
    );

    // 3. Overhead at the wire, through the recording proxy.
    let arrivals = Arc::new(parking_lot::Mutex::new(Vec::<Instant>::new()));
    let proxy = start_proxy(emu.base_url(), arrivals.clone()).await;
    let wired =
        start("bench-wire", settings(&proxy, "herald-loadtest", "herald-loadtest-secret", 6_000_000), store.clone())
            .await;
    // Many short conversations: the emulator's conversation events list every message, so one long transcript would
    // make every event frame (parsed by the adapter on the same two cores) grow with the run.
    let mut conversations = Vec::new();
    for _ in 0..WIRE_CONVERSATIONS {
        conversations.push(connected_conversation(&emu, &store).await);
    }
    for (i, c) in conversations.iter().enumerate() {
        let _ = wired.deliver(&delivery(c, i as u64)).await;
    }
    let mut wire_h = Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("histogram: {e}"));
    for i in 0..n {
        arrivals.lock().clear();
        let d = delivery(&conversations[i as usize % conversations.len()], i);
        let t = Instant::now();
        wired.deliver(&d).await.unwrap_or_else(|e| panic!("deliver: {e}"));
        let arrived = arrivals.lock().first().copied().unwrap_or_else(|| panic!("delivery {i} sent nothing"));
        wire_h.record(arrived.duration_since(t).as_micros() as u64).unwrap_or(());
    }
    println!(
        "wire overhead: {n} sequential deliveries over {WIRE_CONVERSATIONS} conversations; deliver() start -> send request at the upstream: p50 {:.3} ms p90 {:.3} ms p99 {:.3} ms max {:.3} ms",
        ms(&wire_h, 0.5), ms(&wire_h, 0.9), ms(&wire_h, 0.99), wire_h.max() as f64 / 1000.0
    );
    emu.shutdown().await;
}

/// Open a guest session, say hello, and wait until herald's store knows the conversation as connected to an agent.
/// The guest's socket is drained so the emulator never waits on it.
async fn connected_conversation(emu: &herald_emulator::EmulatorHandle, store: &Arc<MemorySessionStore>) -> String {
    let url = format!("{}/v1?deploymentId={DEPLOYMENT}", emu.ws_base_url());
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap_or_else(|e| panic!("guest: {e}"));
    let (mut tx, mut rx) = ws.split();
    tokio::spawn(async move { while rx.next().await.is_some() {} });
    let token = uuid::Uuid::new_v4().to_string();
    for frame in [
        serde_json::json!({"action":"configureSession","token":token,"deploymentId":DEPLOYMENT}),
        serde_json::json!({"action":"onMessage","token":token,"message":{"type":"Text","text":"benchmark"}}),
    ] {
        tx.send(Message::text(frame.to_string())).await.unwrap_or_else(|e| panic!("guest send: {e}"));
    }
    let control = emu.control();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(c) = control.guest_conversation(&token) {
            if let Ok(Some(s)) = store.get(&c).await {
                if s.agent_communication_id().is_some() {
                    // Keep the guest's sending half (and so its session) open for the rest of the run.
                    tokio::spawn(async move {
                        let _open = tx;
                        std::future::pending::<()>().await;
                    });
                    return c;
                }
            }
        }
        assert!(Instant::now() < deadline, "the conversation never became connected in the store");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A pass-through proxy in front of the emulator's REST API that records when each message send request arrives
/// (POST …/communications/{id}/messages). Returns its base URL. Notification sockets are not proxied: the channel's
/// `connectUri` names the emulator itself, because the forwarded request carries the emulator's host.
async fn start_proxy(upstream: String, arrivals: Arc<parking_lot::Mutex<Vec<Instant>>>) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (client, upstream, arrivals) = (client.clone(), upstream.clone(), arrivals.clone());
        async move {
            if method == Method::POST && uri.path().ends_with("/messages") {
                arrivals.lock().push(Instant::now());
            }
            let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let mut request = client.request(method, format!("{upstream}{path}")).body(body);
            for (name, value) in &headers {
                if name != "host" && name != "content-length" {
                    request = request.header(name, value);
                }
            }
            match request.send().await {
                Ok(answer) => {
                    let status = answer.status();
                    let mut out = HeaderMap::new();
                    for (name, value) in answer.headers() {
                        if name != "content-length" && name != "transfer-encoding" {
                            out.insert(name, value.clone());
                        }
                    }
                    let bytes = answer.bytes().await.unwrap_or_default();
                    (status, out, bytes)
                }
                Err(e) => (StatusCode::BAD_GATEWAY, HeaderMap::new(), Bytes::from(e.to_string())),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("proxy bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("proxy addr: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
