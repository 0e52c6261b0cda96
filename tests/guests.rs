//! Headless guests against the in-process emulator: the guest client's protocol handling (echo, answers, read-only
//! disconnect and startNew, 4029 back-off and resend, session expiry, history) and `run_load` for both guest kinds
//! (web messaging and legacy web chat), with counts checked against the emulator's transcripts. The 1,000-guest runs
//! are `#[ignore]`d: run them explicitly (see docs/benchmarks-guests.md).

use std::net::SocketAddr;
use std::time::Duration;

use herald::guests::{run_load, Kind, LoadPlan, LoadSummary, Script};
use herald_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use herald_webmessaging::guest::{GuestClient, GuestConfig, GuestError, GuestEvent};

const DEPLOYMENT: &str = "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50";
const T: Duration = Duration::from_secs(10);

/// The default org, with agents that can take `capacity` conversations each and reply to every message.
fn org(capacity: u32) -> EmulatorConfig {
    let mut cfg = EmulatorConfig::default_org();
    for a in &mut cfg.agents {
        a.capacity = capacity;
        a.queues.clear();
        a.presence = "On Queue".into();
        a.auto_reply = Some("Thanks, an agent is on it.".into());
    }
    cfg
}

async fn start(cfg: EmulatorConfig) -> EmulatorHandle {
    herald::tls::install_crypto_provider();
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    Emulator::start(cfg, addr).await.unwrap_or_else(|e| panic!("emulator: {e}"))
}

async fn guest(emu: &EmulatorHandle) -> GuestClient {
    GuestClient::connect(GuestConfig::new(emu.ws_base_url(), DEPLOYMENT)).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn guest_sends_gets_echo_and_agent_answer_and_history() {
    let emu = start(org(10)).await;
    let mut g = guest(&emu).await;
    assert!(g.session().connected && g.session().new_session);
    let tr = g.send_text("Where is my order?").await.unwrap_or_default();
    g.wait_for(|e| e.is_echo_of(&tr), T).await.unwrap_or_else(|e| panic!("echo: {e}"));
    let answer = g.next_outbound(T).await.unwrap_or_else(|e| panic!("answer: {e}"));
    assert_eq!(answer.text.as_deref(), Some("Thanks, an agent is on it."));
    let echo = g.echo().await.unwrap_or_default();
    let pong = g
        .wait_for(
            |e| matches!(e, GuestEvent::Message(m) if m.is_response && m.tracing_id.as_deref() == Some(echo.as_str())),
            T,
        )
        .await;
    assert!(pong.is_ok(), "{pong:?}");
    let history = g.history(T).await.unwrap_or_else(|e| panic!("history: {e}"));
    let texts: Vec<&str> = history.iter().filter_map(|m| m.get("text").and_then(|t| t.as_str())).collect();
    assert!(texts.contains(&"Where is my order?") && texts.contains(&"Thanks, an agent is on it."), "{texts:?}");
    let conv = emu.control().guest_conversation(g.token()).unwrap_or_default();
    let transcript = emu.control().transcript(&conv).unwrap_or_default();
    assert_eq!(transcript.len(), 2);
    g.close().await.unwrap_or_else(|e| panic!("{e}"));
    emu.shutdown().await;
}

#[tokio::test]
async fn read_only_disconnect_then_start_new_gives_a_new_conversation() {
    let emu = start(org(10)).await;
    let mut g = guest(&emu).await;
    let tr = g.send_text("hello").await.unwrap_or_default();
    g.wait_for(|e| e.is_echo_of(&tr), T).await.unwrap_or_else(|e| panic!("{e}"));
    let first = emu.control().guest_conversation(g.token()).unwrap_or_default();
    emu.control().disconnect_conversation(&first).unwrap_or_else(|e| panic!("{e}"));
    let ev = g.wait_for(|e| matches!(e, GuestEvent::Disconnected { .. }), T).await;
    assert_eq!(ev, Ok(GuestEvent::Disconnected { read_only: true }));
    assert!(g.is_read_only());
    assert_eq!(g.send_text("anyone?").await, Err(GuestError::ReadOnly));
    let s = g.start_new(T).await.unwrap_or_else(|e| panic!("start_new: {e}"));
    assert!(s.new_session && !s.read_only);
    let tr = g.send_text("new question").await.unwrap_or_default();
    g.wait_for(|e| e.is_echo_of(&tr), T).await.unwrap_or_else(|e| panic!("{e}"));
    let second = emu.control().guest_conversation(g.token()).unwrap_or_default();
    assert_ne!(first, second);
    emu.shutdown().await;
}

#[tokio::test]
async fn reconnecting_a_read_only_session_reports_read_only() {
    let emu = start(org(10)).await;
    let mut g = guest(&emu).await;
    let tr = g.send_text("hello").await.unwrap_or_default();
    g.wait_for(|e| e.is_echo_of(&tr), T).await.unwrap_or_else(|e| panic!("{e}"));
    let conv = emu.control().guest_conversation(g.token()).unwrap_or_default();
    emu.control().disconnect_conversation(&conv).unwrap_or_else(|e| panic!("{e}"));
    g.wait_for(|e| matches!(e, GuestEvent::Disconnected { .. }), T).await.unwrap_or_else(|e| panic!("{e}"));
    // A fresh socket with the same token: configureSession says readOnly.
    let other = GuestConfig::new(emu.ws_base_url(), DEPLOYMENT).with_token(g.token());
    let g2 = GuestClient::connect(other).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(g2.session().read_only && g2.is_read_only());
    emu.shutdown().await;
}

#[tokio::test]
async fn rate_limited_messages_are_resent_after_retry_after() {
    let mut cfg = org(10);
    cfg.limits.guest_messages_per_window = 2;
    cfg.limits.guest_rate_window_seconds = 1;
    cfg.limits.guest_retry_after_seconds = 1;
    let emu = start(cfg).await;
    let mut g = guest(&emu).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(g.send_text(&format!("burst {i}")).await.unwrap_or_default());
    }
    let limited = g.wait_for(|e| matches!(e, GuestEvent::RateLimited { .. }), T).await;
    assert!(
        matches!(limited, Ok(GuestEvent::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(1))
    );
    let third = ids[2].clone();
    g.wait_for(|e| e.is_echo_of(&third), T).await.unwrap_or_else(|e| panic!("resend: {e}"));
    assert_eq!(g.unacknowledged(), 0);
    let conv = emu.control().guest_conversation(g.token()).unwrap_or_default();
    let inbound =
        emu.control().transcript(&conv).unwrap_or_default().iter().filter(|l| l.direction == "inbound").count();
    assert_eq!(inbound, 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn session_expiry_is_reported() {
    let emu = start(org(10)).await;
    let mut g = guest(&emu).await;
    let life = g.session().duration_seconds.unwrap_or(259_200);
    emu.control().advance_clock(Duration::from_secs(life + 1));
    g.wait_for(|e| matches!(e, GuestEvent::SessionExpired), T).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(g.is_expired());
    assert_eq!(g.send_text("still there?").await, Err(GuestError::SessionExpired));
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_deployment_is_refused_at_the_handshake() {
    let emu = start(org(10)).await;
    let r = GuestClient::connect(GuestConfig::new(emu.ws_base_url(), "no-such-deployment")).await;
    assert!(matches!(r, Err(GuestError::Connect(_))), "{r:?}");
    emu.shutdown().await;
}

fn chat_script() -> Script {
    Script::parse(
        "[[steps]]\nsay = \"hello from guest {guest}\"\n[[steps]]\nwait = \"answer\"\ntimeout_ms = 10000\n",
        false,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_guests_counts_match_the_emulator_transcripts() {
    let emu = start(org(100)).await;
    let mut plan = LoadPlan::new(emu.ws_base_url(), DEPLOYMENT, 50, Duration::from_secs(3));
    plan.rate = 200.0;
    plan.script = chat_script();
    let s = run_load(plan).await;
    assert_eq!(s.sessions_opened, 50, "{s:?}");
    assert_eq!(s.peak_concurrent, 50, "{s:?}");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.messages_sent, 50);
    assert_eq!(s.latency_samples, 50);
    let control = emu.control();
    let convs = control.conversations();
    assert_eq!(convs.len(), 50);
    let (mut inbound, mut outbound) = (0u64, 0u64);
    for c in &convs {
        for line in control.transcript(&c.id).unwrap_or_default() {
            if line.direction == "inbound" {
                inbound += 1;
            } else {
                outbound += 1;
            }
        }
    }
    assert_eq!(inbound, s.messages_sent);
    assert_eq!(outbound, s.messages_received);
    assert_eq!(control.counters().guest_messages, s.messages_sent);
    emu.shutdown().await;
}

/// The default org's legacy chat deployment and organization id.
fn chat_ids(cfg: &EmulatorConfig) -> (String, String) {
    let dep = cfg.chat_deployments.first().map(|d| d.id.clone()).unwrap_or_default();
    (cfg.org.id.clone(), dep)
}

/// Checks a web chat run's summary against the emulator: one chat per guest, every guest message in a transcript,
/// every agent answer received, every chat ended by the guest leaving.
fn check_webchat_counts(emu: &EmulatorHandle, s: &LoadSummary, guests: usize) {
    let control = emu.control();
    let convs = control.conversations();
    assert_eq!(convs.len(), guests, "{s:?}");
    assert!(convs.iter().all(|c| c.media == "chat"), "{convs:?}");
    let (mut inbound, mut outbound) = (0u64, 0u64);
    for c in &convs {
        for line in control.transcript(&c.id).unwrap_or_default() {
            if line.direction == "inbound" {
                inbound += 1;
            } else {
                outbound += 1;
            }
        }
    }
    assert_eq!(inbound, s.messages_sent, "{s:?}");
    assert_eq!(outbound, s.messages_received, "{s:?}");
    assert_eq!(control.counters().guest_messages, s.messages_sent);
    assert!(convs.iter().all(|c| c.state == "disconnected"), "a guest did not leave: {convs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_webchat_guests_counts_match_the_emulator_transcripts() {
    let cfg = org(100);
    let (org_id, dep) = chat_ids(&cfg);
    let emu = start(cfg).await;
    let mut plan = LoadPlan::webchat(emu.base_url(), org_id, dep, "Support", 20, Duration::from_secs(3));
    plan.rate = 200.0;
    plan.script = chat_script();
    assert_eq!(plan.kind, Kind::Webchat);
    let s = run_load(plan).await;
    assert_eq!(s.sessions_opened, 20, "{s:?}");
    assert_eq!(s.peak_concurrent, 20, "{s:?}");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.messages_sent, 20);
    assert_eq!(s.messages_echoed, 20, "every guest sees its own message on its event stream");
    assert_eq!(s.latency_samples, 20);
    assert!(s.messages_received >= 20, "{s:?}");
    check_webchat_counts(&emu, &s, 20);
    emu.shutdown().await;
}

#[tokio::test]
async fn webchat_guests_with_a_wrong_organization_count_invalid_errors() {
    let cfg = org(10);
    let (_, dep) = chat_ids(&cfg);
    let emu = start(cfg).await;
    let plan = LoadPlan::webchat(emu.base_url(), "no-such-org", dep, "Support", 3, Duration::from_secs(1));
    let s = run_load(plan).await;
    assert_eq!(s.sessions_opened, 0, "{s:?}");
    assert_eq!(s.errors.get("invalid"), Some(&3), "{:?}", s.errors);
    assert!(emu.control().conversations().is_empty());
    emu.shutdown().await;
}

/// The 1,000-guest run (results in docs/benchmarks-guests.md):
/// `cargo test --release --test guests -- --ignored --nocapture thousand_guests`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn thousand_guests() {
    let count: usize = std::env::var("GUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let secs: u64 = std::env::var("GUESTS_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let emu = start(org(count as u32)).await;
    let mut plan = LoadPlan::new(emu.ws_base_url(), DEPLOYMENT, count, Duration::from_secs(secs));
    plan.rate = 200.0;
    plan.progress = true;
    plan.script = Script::parse(
        "repeat = true\n[[steps]]\nsay = \"guest {guest} message {n}\"\n[[steps]]\nwait = \"answer\"\ntimeout_ms = 10000\n[[steps]]\nthink_ms = 1000\n",
        false,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = run_load(plan).await;
    println!("{}", s.to_text());
    println!("{}", serde_json::to_string(&s).unwrap_or_default());
    let c = emu.control().counters();
    println!("emulator: guest messages {}, agent messages {}", c.guest_messages, c.agent_messages);
    assert_eq!(s.sessions_opened as usize, count);
    assert_eq!(s.peak_concurrent as usize, count);
    assert_eq!(c.guest_messages, s.messages_sent);
    emu.shutdown().await;
}

/// The 1,000-guest legacy web chat run (results in docs/benchmarks-guests.md):
/// `cargo test --release --test guests -- --ignored --nocapture thousand_webchat_guests`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn thousand_webchat_guests() {
    let count: usize = std::env::var("GUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let secs: u64 = std::env::var("GUESTS_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let cfg = org(count as u32);
    let (org_id, dep) = chat_ids(&cfg);
    let emu = start(cfg).await;
    let mut plan = LoadPlan::webchat(emu.base_url(), org_id, dep, "Support", count, Duration::from_secs(secs));
    plan.rate = 200.0;
    plan.progress = true;
    plan.script = Script::parse(
        "repeat = true\n[[steps]]\nsay = \"guest {guest} message {n}\"\n[[steps]]\nwait = \"answer\"\ntimeout_ms = 10000\n[[steps]]\nthink_ms = 1000\n",
        false,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = run_load(plan).await;
    println!("{}", s.to_text());
    println!("{}", serde_json::to_string(&s).unwrap_or_default());
    let c = emu.control().counters();
    println!("emulator: guest messages {}, agent messages {}", c.guest_messages, c.agent_messages);
    assert_eq!(s.sessions_opened as usize, count);
    assert_eq!(c.guest_messages, s.messages_sent);
    emu.shutdown().await;
}
