//! The web messaging integration under faults: the notification stream survives `socket_closing`, a dropped
//! socket and token revocation without losing a session update; a burst stays inside the emulator's default
//! request budget (no 429); a 429 storm, 5xx answers and refused credentials end in clear recorded outcomes.

mod webmessaging_support;

use std::time::Duration;

use herald_emulator::control::DropTarget;
use serde_json::{json, Value};
use webmessaging_support::{last_reason, Env, Guest, Options, ALICE, DEPLOYMENT};

async fn new_conversation(env: &Env) -> (Guest, String) {
    let mut guest = Guest::connect(&env.emulator.ws_base_url(), DEPLOYMENT).await;
    guest.configure(false).await;
    guest.say("hello").await;
    let conv = env.wait_guest_conversation(&guest.token, None).await;
    (guest, conv)
}

/// (f) socket_closing, a dropped socket and token revocation: updates made while the stream was away are known
/// after the resync, and deliveries keep working.
#[tokio::test]
async fn stream_survives_closing_drops_and_revocation() {
    let env = Env::start(Options::default()).await;
    let (_g0, c0) = env.connected_guest().await;

    // socket_closing: herald moves to a new channel first; a conversation started afterwards is seen.
    assert!(env.control().socket_closing() >= 1);
    let (_g1, c1) = new_conversation(&env).await;
    env.wait_session(&c1, "connected").await;

    // Dropped socket while channel creation fails for a while: the conversation started and the agent
    // disconnect made during the outage are known after the resync.
    env.control().inject_errors(8, 503);
    env.control().drop_sockets(DropTarget::Notifications);
    let (_g2, c2) = new_conversation(&env).await;
    env.control().disconnect_agent(&c0, ALICE).expect("disconnect c0");
    env.wait_session(&c2, "connected").await;
    env.wait_session(&c0, "closed").await;

    // Token revocation: channels and tokens are gone; herald fetches a new token and resubscribes.
    assert!(env.control().revoke_tokens(Some("herald-demo")) >= 1);
    let (mut g3, c3) = new_conversation(&env).await;
    env.wait_session(&c3, "connected").await;
    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": c3}, "text": "Still here after the revocation."}))
        .await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    g3.wait_outbound("Still here after the revocation.").await;
    assert_eq!(env.control().counters().too_many_requests, 0);
    env.stop().await;
}

/// (g) 200 notifications at once, with the emulator's default budget (300/min per token) and herald's default
/// budget: all delivered, in order, and not one 429.
#[tokio::test]
async fn burst_never_draws_a_429() {
    let env = Env::start(Options::default()).await;
    let (mut guest, conv) = env.connected_guest().await;
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(
            env.notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": format!("burst {i}")}))
                .await,
        );
    }
    for id in &ids {
        let view = env.wait_status_for(id, &["delivered", "failed"], Duration::from_secs(120)).await;
        assert_eq!(view["status"], "delivered", "{view:#}");
    }
    for i in 0..200 {
        guest.wait_outbound(&format!("burst {i}")).await;
    }
    let counters = env.control().counters();
    assert_eq!(counters.too_many_requests, 0, "{counters:?}");
    assert!(counters.agent_messages >= 200);
    env.stop().await;
}

/// A 429 storm is waited out (Retry-After honoured), 5xx answers are retried and then dead-lettered with the
/// status in the reason, and refused credentials fail saying what to check.
#[tokio::test]
async fn rate_limits_server_errors_and_bad_credentials_end_clearly() {
    let env = Env::start(Options { bad_integration: true, max_attempts: 3, ..Options::default() }).await;
    let (mut guest, conv) = env.connected_guest().await;

    env.control().inject_429(6, 1);
    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "after the storm"}))
        .await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    guest.wait_outbound("after the storm").await;
    assert!(env.control().counters().too_many_requests >= 6);

    env.control().inject_errors(2, 503);
    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "after two 503s"}))
        .await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");

    env.control().inject_errors(1000, 503);
    let id =
        env.notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "never"})).await;
    let view = env.wait_status_for(&id, &["delivered", "failed"], Duration::from_secs(60)).await;
    env.control().clear_faults();
    assert_eq!(view["status"], "failed", "{view:#}");
    let why = last_reason(&view);
    assert!(why.contains("503") && why.contains("dead letter"), "{why}");

    let id = env
        .notify(
            json!({"integration": "wm-bad", "target": {"type": "conversation", "id": conv}, "text": "never either"}),
        )
        .await;
    let view = env.wait_status_for(&id, &["delivered", "failed"], Duration::from_secs(60)).await;
    assert_eq!(view["status"], "failed", "{view:#}");
    let why = last_reason(&view);
    assert!(why.contains("unauthorized"), "{why}");
    env.stop().await;
}

/// A send answered 500 may have been applied upstream: herald does not post it again blindly. The attempt's
/// outcome is unknown, the dispatcher asks the adapter, which finds nothing (the emulator's injected 500 applies
/// nothing), and only then is it sent again: the guest sees it exactly once.
#[tokio::test]
async fn a_500_on_the_send_is_checked_before_it_is_sent_again() {
    let env = Env::start(Options::default()).await;
    let (mut guest, conv) = env.connected_guest().await;
    let first = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "warm-up"}))
        .await;
    assert_eq!(env.wait_status(&first, &["delivered", "failed"]).await["status"], "delivered");
    guest.wait_outbound("warm-up").await;

    // The session and its agent communication are known: the next API request is the send.
    env.control().inject_errors(1, 500);
    let text = "Sent once despite a 500.";
    let id =
        env.notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": text})).await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    let reasons: Vec<String> = view["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|e| e["reason"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    assert!(
        reasons.iter().any(|r| r.contains("outcome unknown") && r.contains("500")),
        "the 500 was an unknown outcome, checked before another send: {reasons:#?}"
    );
    guest.wait_outbound(text).await;
    let copies = env.control().transcript(&conv).expect("transcript").into_iter().filter(|l| l.text == text).count();
    assert_eq!(copies, 1, "exactly one copy upstream");
    env.stop().await;
}

/// The ingestion task runs under the service's supervisor: when it dies (a panic injected into it), `/healthz`
/// names it, it comes back with a new stream, and conversations opened afterwards are still ingested.
#[tokio::test]
async fn a_killed_ingest_task_comes_back_and_keeps_ingesting() {
    let env = Env::start(Options::default()).await;
    let (_first, _conv) = env.connected_guest().await;
    let task = "webmessaging-ingest:wm";
    let health = || async {
        env.http
            .get(format!("{}/healthz", env.base))
            .send()
            .await
            .expect("healthz")
            .json::<Value>()
            .await
            .expect("json")
    };
    assert_eq!(health().await["tasks"][task]["state"], "running", "{}", health().await);
    assert!(env.herald.supervisor.inject_panic(task), "the ingest task is supervised under its name");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let h = health().await;
        if h["tasks"][task]["restarts"] == 1 && h["tasks"][task]["state"] == "running" {
            assert!(h["tasks"][task]["last_failure"].as_str().unwrap_or("").contains("panicked"), "{h}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the ingest task did not come back: {h}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A conversation opened after the restart is ingested by the new incarnation (and its new stream).
    let (_second, conv) = env.connected_guest().await;
    assert!(!conv.is_empty());
    env.stop().await;
}
