//! Emulator throughput: the load the in-process Genesys Cloud emulator sustains, to show that it is not the
//! bottleneck of herald's own benchmarks. Printed as markdown tables.
//!
//! `cargo bench -p herald-emulator --bench emulator_throughput` (release). Environment: `EMU_BENCH_SECS` (seconds per
//! measured row, default 10), `EMU_BENCH_CONVERSATIONS` (conversations the send rows spread over, default 256),
//! `EMU_BENCH_GUESTS` (guest counts of the guest socket rows, default `1,100,1000`), `EMU_BENCH_GUEST_WINDOW`
//! (onMessage frames each guest keeps unanswered, default 4), `EMU_BENCH_AGENTS` (agents whose presence topics
//! the channel rows subscribe, default 1000 = one channel's topic limit), `EMU_BENCH_GROWTH` (messages sent into one
//! conversation by the transcript rows, default 6000), `EMU_BENCH_ONLY` (comma-separated sections to run: `send`,
//! `growth`, `guests`, `channel`; default all).
//!
//! 1. Message send endpoint: K web messaging conversations routed to an agent (K guests on the guest socket, the
//!    agent auto-answers); C concurrent HTTP/1.1 keep-alive clients POST `AdditionalMessage`s round-robin over the
//!    conversations. Requests/s, latency, errors; every accepted message must reach its guest's socket. Rows with a
//!    notification channel subscribed to the queue's conversation topic repeat the load herald's web messaging
//!    adapter puts on the emulator (every send publishes a conversation event).
//! 2. Transcript length: the same send into one conversation, in blocks, with and without that subscription — the
//!    conversation event lists every message, so its cost grows with the transcript.
//! 3. Guest socket: G guests each keep W `onMessage` frames unanswered (the echo answers one); the agent's
//!    auto-reply answers each message too. Frames/s in and out.
//! 4. Notification channel: a channel subscribed to the `v2.users.{id}.presence` topics of many agents; presence
//!    changes driven over HTTP (`PATCH …/presences/purecloud`) or in-process; event frames/s received on the socket.
//!
//! The emulator and the load generator share this process and a 2-worker tokio runtime, like herald's benchmarks:
//! the figures are what the emulator does while its clients use the same cores.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt as _};
use futures::SinkExt;
use hdrhistogram::Histogram;
use herald_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CLIENT_ID: &str = "herald-demo";
const CLIENT_SECRET: &str = "herald-demo-secret";
const DEPLOYMENT: &str = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50";
const QUEUE: &str = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10";
const ALICE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const BOB: &str = "11111111-aaaa-4bbb-8ccc-000000000002";
const AVAILABLE: &str = "6a3af858-942f-489d-9700-5f9bcdcdae9b";
const BUSY: &str = "31fe3bac-dea6-44b7-bed7-47f91660a1a0";
const WAIT: Duration = Duration::from_secs(30);
/// Substrings that classify frames without parsing them (the load generator stays cheap).
const OUTBOUND: &str = "\"direction\":\"Outbound\"";
const INBOUND: &str = "\"direction\":\"Inbound\"";
const EVENT_TOPIC: &str = "\"topicName\":\"v2.";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The default org with the limits that would interfere raised: per-token budget, guest message rate, Alice's
/// capacity (every conversation is routed to her); plus `extra_agents` agents (Available, never routed).
fn config(extra_agents: usize) -> EmulatorConfig {
    let mut cfg = EmulatorConfig::default_org();
    cfg.limits.requests_per_minute = 1_000_000_000;
    cfg.limits.guest_messages_per_window = 1_000_000_000;
    for a in &mut cfg.agents {
        if a.id == ALICE {
            a.capacity = 1_000_000;
        }
    }
    if let Some(template) = cfg.agents.iter().find(|a| a.id == BOB).cloned() {
        for i in 0..extra_agents {
            let mut a = template.clone();
            a.id = agent_id(i);
            a.name = format!("Bench Agent {i}");
            a.alias = None;
            a.email = format!("bench{i}@example.com");
            a.presence = "Available".into();
            cfg.agents.push(a);
        }
    }
    cfg
}

fn agent_id(i: usize) -> String {
    format!("22222222-aaaa-4bbb-8ccc-{i:012}")
}

async fn start(cfg: EmulatorConfig) -> BenchResult<EmulatorHandle> {
    Ok(Emulator::start(cfg, "127.0.0.1:0".parse()?).await?)
}

/// One keep-alive HTTP/1.1 client (one connection per sequential caller).
fn http_client() -> BenchResult<reqwest::Client> {
    Ok(reqwest::Client::builder().http1_only().build()?)
}

async fn api_token(http: &reqwest::Client, base: &str) -> BenchResult<String> {
    let r: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(r["access_token"].as_str().ok_or("no access_token")?.to_string())
}

fn histogram() -> Histogram<u64> {
    // Microseconds, 1 µs .. 60 s.
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|e| panic!("histogram: {e}"))
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn record(h: &mut Histogram<u64>, since: Instant) {
    let us = since.elapsed().as_micros().clamp(1, 60_000_000) as u64;
    let _ = h.record(us);
}

/// Thousands separators for the tables.
fn n(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Machine facts

fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string())
}

fn vm_hwm_mib() -> f64 {
    proc_field("/proc/self/status", "VmHWM")
        .and_then(|v| v.split_whitespace().next().and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU time of this process in seconds (`/proc/self/stat`, in USER_HZ = 100 ticks per second).
/// On a machine shared with other work, CPU time per request is steadier than wall-clock rates.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    f.iter().sum::<f64>() / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let mem = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.split_whitespace().next().and_then(|kb| kb.parse::<f64>().ok()))
        .map_or("?".to_string(), |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0));
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
    format!("{cpus} CPUs ({model}), {mem} RAM, {} {kernel}", std::env::consts::OS)
}

// ---------------------------------------------------------------------------------------------------------------
// Guests

async fn send_text(ws: &mut Ws, frame: &Value) -> BenchResult<()> {
    ws.send(Message::text(frame.to_string())).await?;
    Ok(())
}

async fn wait_frame(ws: &mut Ws, what: &str, mut pred: impl FnMut(&str) -> bool) -> BenchResult<()> {
    let fut = async {
        while let Some(msg) = ws.next().await {
            match msg? {
                Message::Text(t) if pred(t.as_str()) => return Ok(()),
                Message::Close(_) => return Err(format!("socket closed waiting for {what}").into()),
                _ => {}
            }
        }
        Err(format!("socket ended waiting for {what}").into())
    };
    tokio::time::timeout(WAIT, fut).await.map_err(|_| format!("timed out waiting for {what}"))?
}

/// A guest whose conversation is routed and answered, with the agent's communication id.
struct RoutedGuest {
    token: String,
    ws: Ws,
    conversation: String,
    agent_comm: String,
}

/// The agent's connected message communication id in a generic Conversation (the state lives on the
/// communication, `participants[].messages[].state`).
fn agent_comm(conv: &Value) -> Option<String> {
    conv["participants"].as_array()?.iter().find_map(|p| {
        if p["purpose"] != "agent" {
            return None;
        }
        p["messages"].as_array()?.iter().find(|m| m["state"] == "connected")?["id"].as_str().map(str::to_string)
    })
}

/// Connects a guest, configures its session, sends one message and waits for the agent's auto-reply (the
/// conversation is then routed and connected); the agent's communication comes from the generic GET.
async fn routed_guest(emu: &EmulatorHandle, http: &reqwest::Client, api: &str) -> BenchResult<RoutedGuest> {
    let token = uuid::Uuid::new_v4().to_string();
    let url = format!("{}/v1?deploymentId={DEPLOYMENT}", emu.ws_base_url());
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    send_text(&mut ws, &json!({"action": "configureSession", "token": token, "deploymentId": DEPLOYMENT})).await?;
    wait_frame(&mut ws, "SessionResponse", |t| t.contains("\"class\":\"SessionResponse\"")).await?;
    let hello = json!({"action": "onMessage", "token": token, "message": {"type": "Text", "text": "hello"}});
    send_text(&mut ws, &hello).await?;
    wait_frame(&mut ws, "the agent's answer", |t| t.contains(OUTBOUND)).await?;
    let conversation = emu.control().guest_conversation(&token).ok_or("the guest has no conversation")?;
    let conv: Value = http
        .get(format!("{}/api/v2/conversations/{conversation}", emu.base_url()))
        .bearer_auth(api)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let agent_comm = agent_comm(&conv).ok_or("no connected agent communication")?;
    Ok(RoutedGuest { token, ws, conversation, agent_comm })
}

async fn routed_guests(
    emu: &EmulatorHandle,
    http: &reqwest::Client,
    api: &str,
    k: usize,
) -> BenchResult<Vec<RoutedGuest>> {
    let results: Vec<BenchResult<RoutedGuest>> =
        stream::iter(0..k).map(|_| routed_guest(emu, http, api)).buffer_unordered(64).collect().await;
    results.into_iter().collect()
}

/// Waits until `counter` reaches `target` (readers call `notify.notify_waiters()` after each increment).
async fn wait_count(counter: &AtomicU64, notify: &Notify, target: u64, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let notified = notify.notified();
        if counter.load(Ordering::Acquire) >= target {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return counter.load(Ordering::Acquire) >= target;
        }
    }
}

/// Frames counted by background socket readers.
#[derive(Default)]
struct Tally {
    frames: AtomicU64,
    last_len: AtomicU64,
    notify: Notify,
}

impl Tally {
    fn count(&self, len: usize) {
        self.last_len.store(len as u64, Ordering::Relaxed);
        self.frames.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_waiters();
    }

    fn get(&self) -> u64 {
        self.frames.load(Ordering::Acquire)
    }
}

/// Drains a guest socket, counting Outbound messages (what the agent-side sends deliver).
fn drain_guest(mut ws: Ws, tally: Arc<Tally>) {
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                if t.as_str().contains(OUTBOUND) {
                    tally.count(t.len());
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------------------------
// Notification channels

/// Creates a channel, subscribes `topics` (PUT) and reads its socket in the background, counting event frames.
async fn open_channel(http: &reqwest::Client, base: &str, api: &str, topics: &[String]) -> BenchResult<Arc<Tally>> {
    let ch: Value = http
        .post(format!("{base}/api/v2/notifications/channels"))
        .bearer_auth(api)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = ch["id"].as_str().ok_or("channel id")?;
    let uri = ch["connectUri"].as_str().ok_or("connectUri")?;
    let body: Vec<Value> = topics.iter().map(|t| json!({"id": t})).collect();
    let listed: Value = http
        .put(format!("{base}/api/v2/notifications/channels/{id}/subscriptions"))
        .bearer_auth(api)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let permitted = listed["entities"].as_array().map_or(0, |e| e.iter().filter(|t| t["state"] == "Permitted").count());
    if permitted != topics.len() {
        return Err(format!("{permitted} of {} topics permitted", topics.len()).into());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(uri).await?;
    let tally = Arc::new(Tally::default());
    let t = tally.clone();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(text) = msg {
                if text.as_str().contains(EVENT_TOPIC) {
                    t.count(text.len());
                }
            }
        }
    });
    Ok(tally)
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP load

/// When a load run stops: at the deadline or after `max` requests.
#[derive(Clone, Copy)]
struct Stop {
    deadline: Instant,
    max: u64,
}

struct Load {
    ok: u64,
    errors: u64,
    secs: f64,
    /// CPU time of the whole process (emulator and load generator) per accepted request, in µs.
    cpu_us: f64,
    hist: Histogram<u64>,
}

/// Runs `clients` sequential callers; `request(n)` builds the n-th request (n counts over all callers).
async fn run_load<F>(clients: usize, stop: Stop, request: F) -> BenchResult<Load>
where
    F: Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let issued = Arc::new(AtomicU64::new(0));
    let (started, cpu0) = (Instant::now(), cpu_secs());
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (request, issued, http) = (request.clone(), issued.clone(), http_client()?);
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut hist) = (0u64, 0u64, histogram());
            loop {
                let i = issued.fetch_add(1, Ordering::Relaxed);
                if i >= stop.max || Instant::now() >= stop.deadline {
                    break;
                }
                let t = Instant::now();
                match request(&http, i).send().await {
                    Ok(r) => {
                        let status = r.status();
                        let body = r.bytes().await;
                        record(&mut hist, t);
                        if status.is_success() && body.is_ok() {
                            ok += 1;
                        } else {
                            if errors == 0 {
                                eprintln!(
                                    "request failed: {status} {:?}",
                                    body.map(|b| String::from_utf8_lossy(&b).into_owned())
                                );
                            }
                            errors += 1;
                        }
                    }
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("request failed: {e}");
                        }
                        errors += 1;
                    }
                }
            }
            (ok, errors, hist)
        }));
    }
    let mut load = Load { ok: 0, errors: 0, secs: 0.0, cpu_us: 0.0, hist: histogram() };
    for t in tasks {
        let (ok, errors, hist) = t.await?;
        load.ok += ok;
        load.errors += errors;
        load.hist.add(&hist)?;
    }
    load.secs = started.elapsed().as_secs_f64();
    load.cpu_us = (cpu_secs() - cpu0) * 1e6 / load.ok.max(1) as f64;
    Ok(load)
}

// ---------------------------------------------------------------------------------------------------------------
// 1 + 2. Message send endpoint

/// An emulator with K routed conversations whose guests' sockets are drained; optionally a channel subscribed to
/// the queue's conversation topic (what herald's web messaging adapter subscribes).
struct SendRig {
    emu: EmulatorHandle,
    api: String,
    urls: Arc<Vec<String>>,
    conversations: Vec<String>,
    delivered: Arc<Tally>,
    events: Option<Arc<Tally>>,
}

impl SendRig {
    async fn new(k: usize, subscribe: bool) -> BenchResult<SendRig> {
        let emu = start(config(0)).await?;
        let base = emu.base_url();
        let http = http_client()?;
        let api = api_token(&http, &base).await?;
        let events = if subscribe {
            Some(
                open_channel(&http, &base, &api, &[format!("v2.routing.queues.{QUEUE}.conversations.messages")])
                    .await?,
            )
        } else {
            None
        };
        let guests = routed_guests(&emu, &http, &api, k).await?;
        let delivered = Arc::new(Tally::default());
        let mut urls = Vec::new();
        let mut conversations = Vec::new();
        for g in guests {
            urls.push(format!(
                "{base}/api/v2/conversations/messages/{}/communications/{}/messages",
                g.conversation, g.agent_comm
            ));
            conversations.push(g.conversation);
            drain_guest(g.ws, delivered.clone());
        }
        Ok(SendRig { emu, api, urls: Arc::new(urls), conversations, delivered, events })
    }

    fn transcript_mean(&self) -> f64 {
        let c = self.emu.control();
        let total: usize = self.conversations.iter().map(|id| c.transcript(id).map_or(0, |t| t.len())).sum();
        total as f64 / self.conversations.len().max(1) as f64
    }

    /// C callers sending round-robin over the conversations until `stop`; checks every accepted message reached its
    /// guest (and, when subscribed, produced one event frame).
    async fn run(&self, clients: usize, stop: Stop) -> BenchResult<SendRow> {
        let (d0, e0) = (self.delivered.get(), self.events.as_ref().map_or(0, |e| e.get()));
        let (urls, auth) = (self.urls.clone(), format!("Bearer {}", self.api));
        let cpu0 = cpu_secs();
        let mut load = run_load(clients, stop, move |http, i| {
            http.post(urls[i as usize % urls.len()].as_str())
                .header("Authorization", auth.as_str())
                .header("Content-Type", "application/json")
                .body(format!("{{\"textBody\":\"benchmark message {i}\"}}"))
        })
        .await?;
        let delivered_all = wait_count(&self.delivered.frames, &self.delivered.notify, d0 + load.ok, WAIT).await;
        let undelivered = (d0 + load.ok).saturating_sub(self.delivered.get());
        let (events, frame_bytes) = match &self.events {
            Some(t) => {
                wait_count(&t.frames, &t.notify, e0 + load.ok, WAIT).await;
                (Some(t.get() - e0), t.last_len.load(Ordering::Relaxed))
            }
            None => (None, 0),
        };
        // CPU per request including the delivery to the guest and the channel socket, which may lag the responses.
        load.cpu_us = (cpu_secs() - cpu0) * 1e6 / load.ok.max(1) as f64;
        if !delivered_all {
            eprintln!("{undelivered} accepted messages did not reach their guest");
        }
        Ok(SendRow { load, undelivered, events, frame_bytes })
    }

    async fn shutdown(self) {
        self.emu.shutdown().await;
    }
}

struct SendRow {
    load: Load,
    undelivered: u64,
    events: Option<u64>,
    frame_bytes: u64,
}

async fn send_section(secs: u64, k: usize) -> BenchResult<()> {
    println!("## 1. Message send endpoint\n");
    println!(
        "`POST /api/v2/conversations/messages/{{id}}/communications/{{commId}}/messages` `{{\"textBody\":…}}`, round-robin \
         over {k} routed web messaging conversations, {secs} s per row, one HTTP/1.1 keep-alive connection per client. \
         \"delivered\" = accepted messages that reached the guest's socket as an Outbound StructuredMessage. \
         CPU µs/request = CPU time of the whole process (emulator and clients) per accepted request.\n"
    );
    println!("| queue topic subscribed | clients | requests | requests/s | p50 ms | p99 ms | max ms | CPU µs/request | errors | delivered | event frames | msgs/conversation after |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for subscribe in [false, true] {
        let rig = SendRig::new(k, subscribe).await?;
        // Warm-up (not reported): connections, allocator, caches.
        rig.run(16, Stop { deadline: Instant::now() + Duration::from_secs(1), max: u64::MAX }).await?;
        let levels: &[usize] = if subscribe { &[16, 64] } else { &[1, 16, 64] };
        for &c in levels {
            let stop = Stop { deadline: Instant::now() + Duration::from_secs(secs), max: u64::MAX };
            let row = rig.run(c, stop).await?;
            let l = &row.load;
            println!(
                "| {} | {c} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {} | {} | {} | {:.0} |",
                if subscribe { "yes" } else { "no" },
                n(l.ok as f64),
                n(l.ok as f64 / l.secs),
                ms(&l.hist, 0.5),
                ms(&l.hist, 0.99),
                l.hist.max() as f64 / 1000.0,
                l.cpu_us,
                l.errors,
                if row.undelivered == 0 { "all".to_string() } else { format!("{} missing", row.undelivered) },
                row.events.map_or("—".to_string(), |e| format!(
                    "{} ({} B last)",
                    n(e as f64),
                    n(row.frame_bytes as f64)
                )),
                rig.transcript_mean(),
            );
        }
        rig.shutdown().await;
    }
    println!();
    Ok(())
}

async fn growth_section(total: u64, secs: u64) -> BenchResult<()> {
    const BLOCK: u64 = 1000;
    let clients = 16;
    println!("## 2. Send cost against transcript length (one conversation)\n");
    println!(
        "{total} messages into one conversation, {clients} clients, measured per block of {BLOCK}; with a channel subscribed \
         to `v2.routing.queues.{{id}}.conversations.messages` every send publishes the conversation event, which lists \
         every message of the conversation.\n"
    );
    let plain = SendRig::new(1, false).await?;
    let subscribed = SendRig::new(1, true).await?;
    println!("| transcript at block start | requests/s, no subscriber | p99 ms | requests/s, queue topic subscribed | p99 ms | CPU µs/request | event frame at block end |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut errors = 0;
    for _ in 0..total.div_ceil(BLOCK) {
        let start = plain.transcript_mean();
        let stop = Stop { deadline: Instant::now() + Duration::from_secs(600), max: BLOCK };
        let a = plain.run(clients, stop).await?;
        let stop = Stop { deadline: Instant::now() + Duration::from_secs(600), max: BLOCK };
        let b = subscribed.run(clients, stop).await?;
        errors += a.load.errors + b.load.errors + a.undelivered + b.undelivered;
        println!(
            "| {} | {} | {:.2} | {} | {:.2} | {} | {} B |",
            n(start),
            n(a.load.ok as f64 / a.load.secs),
            ms(&a.load.hist, 0.99),
            n(b.load.ok as f64 / b.load.secs),
            ms(&b.load.hist, 0.99),
            n(b.load.cpu_us),
            n(b.frame_bytes as f64),
        );
    }
    subscribed.shutdown().await;
    // The plain send path over a much longer transcript: time-bound, same conversation.
    let start = plain.transcript_mean();
    let stop = Stop { deadline: Instant::now() + Duration::from_secs(secs), max: u64::MAX };
    let long = plain.run(clients, stop).await?;
    errors += long.load.errors + long.undelivered;
    println!(
        "\nNo subscriber, {secs} s more into the same conversation: {} requests/s (p99 {:.2} ms) while its transcript grew \
         from {} to {} messages.\n",
        n(long.load.ok as f64 / long.load.secs),
        ms(&long.load.hist, 0.99),
        n(start),
        n(plain.transcript_mean()),
    );
    println!("Errors or undelivered messages in this section: {errors}.\n");
    plain.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Guest socket

#[derive(Default)]
struct GuestCounters {
    sent: AtomicU64,
    echoes: AtomicU64,
    answers: AtomicU64,
    errors: AtomicU64,
    measuring: AtomicBool,
    stop: AtomicBool,
}

/// One guest: keeps `window` onMessage frames unanswered until stopped, then waits for the outstanding echoes.
async fn guest_loop(g: RoutedGuest, window: usize, c: Arc<GuestCounters>) -> Histogram<u64> {
    let (mut tx, mut rx) = g.ws.split();
    let mut hist = histogram();
    let mut pending: VecDeque<Instant> = VecDeque::new();
    let mut i = 0u64;
    loop {
        while pending.len() < window && !c.stop.load(Ordering::Relaxed) {
            i += 1;
            let frame = format!(
                "{{\"action\":\"onMessage\",\"token\":\"{}\",\"tracingId\":\"t{i}\",\"message\":{{\"type\":\"Text\",\"text\":\"guest message {i}\"}}}}",
                g.token
            );
            if tx.send(Message::text(frame)).await.is_err() {
                c.errors.fetch_add(1, Ordering::Relaxed);
                return hist;
            }
            pending.push_back(Instant::now());
            c.sent.fetch_add(1, Ordering::Relaxed);
        }
        if pending.is_empty() {
            return hist;
        }
        match tokio::time::timeout(WAIT, rx.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let t = t.as_str();
                if t.contains(INBOUND) {
                    if let Some(sent) = pending.pop_front() {
                        if c.measuring.load(Ordering::Relaxed) {
                            record(&mut hist, sent);
                        }
                    }
                    c.echoes.fetch_add(1, Ordering::Relaxed);
                } else if t.contains(OUTBOUND) {
                    c.answers.fetch_add(1, Ordering::Relaxed);
                } else if t.contains("\"class\":\"string\"") || t.contains("TooManyRequests") {
                    pending.pop_front();
                    c.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => {
                c.errors.fetch_add(pending.len() as u64, Ordering::Relaxed);
                return hist;
            }
        }
    }
}

async fn guest_section(secs: u64, counts: &[usize], window: usize) -> BenchResult<()> {
    println!("## 3. Guest WebSocket (`/v1?deploymentId=…`)\n");
    println!(
        "Each guest keeps {window} `onMessage` frames unanswered (the emulator's echo — an Inbound StructuredMessage \
         with the tracingId — answers one) for {secs} s after a 1 s warm-up; the agent (auto-answer, auto-reply) answers \
         every message with an Outbound StructuredMessage. Frames out = echoes + agent answers. Latency = onMessage \
         sent → its echo received.\n"
    );
    println!(
        "| guests | onMessage in/s | frames out/s | echoes/s | agent answers/s | echo p50 ms | echo p99 ms | errors |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &g in counts {
        let emu = start(config(0)).await?;
        let http = http_client()?;
        let api = api_token(&http, &emu.base_url()).await?;
        let guests = routed_guests(&emu, &http, &api, g).await?;
        let c = Arc::new(GuestCounters::default());
        let tasks: Vec<_> =
            guests.into_iter().map(|guest| tokio::spawn(guest_loop(guest, window, c.clone()))).collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let snap = |c: &GuestCounters| [&c.sent, &c.echoes, &c.answers].map(|a| a.load(Ordering::Relaxed) as f64);
        c.measuring.store(true, Ordering::Relaxed);
        let (s0, t0) = (snap(&c), Instant::now());
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let (s1, dt) = (snap(&c), t0.elapsed().as_secs_f64());
        c.measuring.store(false, Ordering::Relaxed);
        c.stop.store(true, Ordering::Relaxed);
        let mut hist = histogram();
        for t in tasks {
            hist.add(&t.await?)?;
        }
        let [sent, echoes, answers] = [0, 1, 2].map(|i| (s1[i] - s0[i]) / dt);
        println!(
            "| {g} | {} | {} | {} | {} | {:.2} | {:.2} | {} |",
            n(sent),
            n(echoes + answers),
            n(echoes),
            n(answers),
            ms(&hist, 0.5),
            ms(&hist, 0.99),
            c.errors.load(Ordering::Relaxed),
        );
        emu.shutdown().await;
    }
    println!();
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Notification channel

async fn channel_section(secs: u64, agents: usize) -> BenchResult<()> {
    let emu = start(config(agents)).await?;
    let base = emu.base_url();
    let http = http_client()?;
    let api = api_token(&http, &base).await?;
    let ids: Arc<Vec<String>> = Arc::new((0..agents).map(agent_id).collect());
    let topics: Vec<String> = ids.iter().map(|id| format!("v2.users.{id}.presence")).collect();
    println!("## 4. Notification channel\n");
    println!(
        "Channels subscribed to the `v2.users.{{id}}.presence` topics of {agents} agents; each presence change publishes \
         one event per subscribed channel. Driven over HTTP (`PATCH /api/v2/users/{{id}}/presences/purecloud`, \
         alternating Busy/Available round-robin over the agents, {secs} s) or in-process (`Control::set_presence` in \
         batches of 500, each batch awaited on every channel). Every event must arrive.\n"
    );
    println!("| driver | channels | changes | changes/s | event frames received/s | PATCH p50 ms | PATCH p99 ms | errors | lost frames |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");

    let one = open_channel(&http, &base, &api, &topics).await?;
    for clients in [16, 64] {
        let f0 = one.get();
        let (ids, auth) = (ids.clone(), format!("Bearer {api}"));
        let base2 = base.clone();
        let stop = Stop { deadline: Instant::now() + Duration::from_secs(secs), max: u64::MAX };
        let load = run_load(clients, stop, move |http, i| {
            let a = ids.len() as u64;
            let id = &ids[(i % a) as usize];
            let def = if (i / a) % 2 == 0 { BUSY } else { AVAILABLE };
            http.patch(format!("{base2}/api/v2/users/{id}/presences/purecloud"))
                .header("Authorization", auth.as_str())
                .header("Content-Type", "application/json")
                .body(format!("{{\"presenceDefinition\":{{\"id\":\"{def}\"}}}}"))
        })
        .await?;
        let received_in_run = one.get() - f0;
        wait_count(&one.frames, &one.notify, f0 + load.ok, WAIT).await;
        let lost = (f0 + load.ok).saturating_sub(one.get());
        println!(
            "| HTTP PATCH, {clients} clients | 1 | {} | {} | {} | {:.2} | {:.2} | {} | {lost} |",
            n(load.ok as f64),
            n(load.ok as f64 / load.secs),
            n(received_in_run as f64 / load.secs),
            ms(&load.hist, 0.5),
            ms(&load.hist, 0.99),
            load.errors,
        );
    }

    let mut channels = vec![one];
    for fanout in [1usize, 4] {
        while channels.len() < fanout {
            channels.push(open_channel(&http, &base, &api, &topics).await?);
        }
        let control = emu.control();
        let before: Vec<u64> = channels.iter().map(|c| c.get()).collect();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(secs);
        let (mut changes, mut errors, mut lost) = (0u64, 0u64, 0u64);
        while Instant::now() < deadline && lost == 0 {
            for _ in 0..500 {
                let i = changes as usize;
                let def = if (i / ids.len()) % 2 == 0 { "Busy" } else { "Available" };
                if control.set_presence(&ids[i % ids.len()], def).is_err() {
                    errors += 1;
                }
                changes += 1;
            }
            for (c, b) in channels.iter().zip(&before) {
                if !wait_count(&c.frames, &c.notify, b + changes, WAIT).await {
                    lost += (b + changes).saturating_sub(c.get());
                }
            }
        }
        let dt = started.elapsed().as_secs_f64();
        let frames: u64 = channels.iter().zip(&before).map(|(c, b)| c.get() - b).sum();
        println!(
            "| in-process | {fanout} | {} | {} | {} | — | — | {errors} | {lost} |",
            n(changes as f64),
            n(changes as f64 / dt),
            n(frames as f64 / dt),
        );
    }
    println!();
    emu.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> BenchResult<()> {
    let secs: u64 = env_or("EMU_BENCH_SECS", 10);
    let k: usize = env_or("EMU_BENCH_CONVERSATIONS", 256);
    let window: usize = env_or("EMU_BENCH_GUEST_WINDOW", 4);
    let agents: usize = env_or("EMU_BENCH_AGENTS", 1000);
    let growth: u64 = env_or("EMU_BENCH_GROWTH", 6000);
    let guests: Vec<usize> = std::env::var("EMU_BENCH_GUESTS")
        .unwrap_or_else(|_| "1,100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let started = Instant::now();
    println!("# Emulator throughput\n");
    println!("Machine: {}. Load average (1/5/15 min) at start: {}.\n", machine(), load_average());
    let only = std::env::var("EMU_BENCH_ONLY").unwrap_or_default();
    let run = |section: &str| only.is_empty() || only.split(',').any(|s| s.trim() == section);
    if run("send") {
        send_section(secs, k).await?;
    }
    if run("growth") {
        growth_section(growth, secs).await?;
    }
    if run("guests") {
        guest_section(secs, &guests, window.max(1)).await?;
    }
    if run("channel") {
        channel_section(secs, agents.max(1)).await?;
    }
    println!(
        "Load average at end: {}. Peak RSS of the process (VmHWM, emulator and load generator together): {:.0} MiB. \
         Total time {:.0} s.",
        load_average(),
        vm_hwm_mib(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
