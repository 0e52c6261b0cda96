//! The four attacks on exactly-once delivery, each run against one adapter kind: an answer delayed past the delivery
//! timeout, SIGKILL between "stored upstream" and "recorded by herald", a SIGKILL loop under upstream latency, and
//! a 429 storm longer than the dispatcher's attempts. Each ends with exact counts in its assertion messages.

use std::collections::BTreeMap;
use std::time::Duration;

use herald_emulator::faults::FaultScope;
use tokio::time::Instant;

use super::{Harness, Kind, Knobs, WAIT};

/// Copies upstream of each text starting with `prefix` (texts absent upstream have no entry; the agent's own
/// auto-replies are not counted).
fn copies(h: &Harness, convs: &[String], prefix: &str) -> BTreeMap<String, usize> {
    h.upstream_counts(convs).into_iter().filter(|(t, _)| t.starts_with(prefix)).collect()
}

/// The indices `{prefix}{n}` of a conversation's upstream texts in first-arrival order (repeats left out): a
/// sequence that is not increasing means the order was broken.
fn first_arrivals(h: &Harness, conv: &str, prefix: &str) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    h.upstream(conv)
        .iter()
        .filter_map(|(t, _)| t.strip_prefix(prefix).and_then(|n| n.parse().ok()))
        .filter(|n| seen.insert(*n))
        .collect()
}

/// (a) The upstream stores the send but answers only after herald's delivery timeout: exactly one message
/// upstream, and the notification is `delivered` with that message's id as its receipt.
pub async fn delayed_answer(kind: Kind) {
    let mut h = Harness::start(kind, Knobs::default()).await;
    let conv = h.conversation("Dana Delayed").await;
    // Longer than delivery_timeout_secs (2) and than one deadline-bounded client attempt.
    let fault = h.control().inject_latency_after(kind.send_scope(), 5_000, Some(1)).expect("stage latency");
    let text = "delayed-answer: your parcel left the depot";
    let id = h.notify(&conv, text, "delayed-answer-1").await;
    assert!(
        h.until(WAIT, |h| h.control().staged_fault(fault).is_some_and(|f| f.hits == 1)).await,
        "the send never reached the upstream"
    );
    let view = h.wait_final(&id, WAIT).await;
    let stored: Vec<(String, String)> = h.upstream(&conv).into_iter().filter(|(t, _)| t == text).collect();
    assert_eq!(
        stored.len(),
        1,
        "{kind:?}: the notification is upstream {} times (status {}, attempts {}); history: {}",
        stored.len(),
        view["status"],
        view["attempts"],
        view["history"]
    );
    assert_eq!(view["status"], "delivered", "{kind:?}: {view:#}");
    assert_eq!(
        view["receipt"]["upstream_message_id"].as_str(),
        Some(stored[0].1.as_str()),
        "{kind:?}: the receipt does not name the stored message: {view:#}"
    );
}

/// (a') The upstream stores the send, then drops the connection without an answer: exactly one message upstream,
/// and the notification is `delivered` with that message's id as its receipt.
pub async fn dropped_answer(kind: Kind) {
    let mut h = Harness::start(kind, Knobs::default()).await;
    let conv = h.conversation("Drew Dropped").await;
    let fault = h.control().inject_drop_after(kind.send_scope(), Some(1)).expect("stage drop");
    let text = "dropped-answer: your refund was approved";
    let id = h.notify(&conv, text, "dropped-answer-1").await;
    let view = h.wait_final(&id, WAIT).await;
    let hits = h.control().staged_fault(fault).map(|f| f.hits).unwrap_or(0);
    assert_eq!(hits, 1, "{kind:?}: the drop fault affected {hits} sends");
    let stored: Vec<(String, String)> = h.upstream(&conv).into_iter().filter(|(t, _)| t == text).collect();
    assert_eq!(
        stored.len(),
        1,
        "{kind:?}: the notification is upstream {} times (status {}, attempts {}); history: {}",
        stored.len(),
        view["status"],
        view["attempts"],
        view["history"]
    );
    assert_eq!(view["status"], "delivered", "{kind:?}: {view:#}");
    assert_eq!(
        view["receipt"]["upstream_message_id"].as_str(),
        Some(stored[0].1.as_str()),
        "{kind:?}: the receipt does not name the stored message: {view:#}"
    );
}

/// (e) The upstream holds the send past herald's delivery deadline and applies it after herald gave up on it (a
/// request stuck behind a slow gateway), for less than the deadline plus `confirm_delay_ms`: exactly one message
/// upstream. (A hold longer than both is the residual window the adapters document: the check then runs before
/// the request lands.)
pub async fn held_send(kind: Kind) {
    let knobs = Knobs { confirm_delay_ms: 5_000, ..Knobs::default() };
    let hold_ms = 4_000;
    assert!(hold_ms > knobs.delivery_timeout_secs * 1000);
    assert!(hold_ms + 1_000 < knobs.delivery_timeout_secs * 1000 + knobs.confirm_delay_ms);
    let mut h = Harness::start(kind, knobs).await;
    let conv = h.conversation("Hal Held").await;
    let spec = herald_emulator::faults::FaultSpec {
        scope: kind.send_scope(),
        count: Some(1),
        ..herald_emulator::faults::FaultSpec::held_then_applied(hold_ms)
    };
    let fault = h.control().stage_fault(spec).expect("stage hold");
    let text = "held-send: your appointment is confirmed";
    let id = h.notify(&conv, text, "held-send-1").await;
    assert!(
        h.until(WAIT, |h| h.control().staged_fault(fault).is_some_and(|f| f.hits == 1)).await,
        "the send never reached the upstream"
    );
    let view = h.wait_final(&id, WAIT).await;
    // The held request lands `hold_ms` after it arrived, whatever herald did meanwhile: wait for it.
    assert!(h.until(WAIT, |h| h.upstream_count(&conv, text) >= 1).await, "{kind:?}: never upstream: {view:#}");
    let settle = Instant::now() + Duration::from_millis(hold_ms + 500);
    h.until(WAIT, |h| h.upstream_count(&conv, text) > 1 || Instant::now() >= settle).await;
    let copies = h.upstream_count(&conv, text);
    assert_eq!(
        copies, 1,
        "{kind:?}: a send held {hold_ms} ms upstream is there {copies} times (status {}, attempts {}); history: {}",
        view["status"], view["attempts"], view["history"]
    );
    assert_eq!(view["status"], "delivered", "{kind:?}: {view:#}");
}

/// (b) SIGKILL of herald after the upstream stored the send and before herald recorded it, ten rounds: no
/// duplicate, every notification delivered. Rounds come in pairs with the same text, so the check after the restart
/// must tell the pair's first (already attributed) message from its second.
pub async fn kill_after_store(kind: Kind) {
    let mut h = Harness::start(kind, Knobs::default()).await;
    let conv = h.conversation("Kim Killed").await;
    let mut outcomes = Vec::new();
    for round in 0..10 {
        let text = format!("kill-after-store pair {}", round / 2);
        let expected = round % 2 + 1;
        // The answer is held back long enough that herald cannot record the delivery before it is killed.
        let fault = h.control().inject_latency_after(kind.send_scope(), 60_000, Some(1)).expect("stage latency");
        let id = h.notify(&conv, &text, &format!("kill-after-store-{round}")).await;
        assert!(
            h.until(WAIT, |h| h.upstream_count(&conv, &text) >= expected).await,
            "{kind:?} round {round}: the send never reached the upstream"
        );
        let before = h.view(&id).await;
        assert_ne!(before["status"], "delivered", "{kind:?} round {round}: recorded before the kill: {before:#}");
        h.kill();
        let _ = h.control().remove_fault(fault);
        h.restart().await;
        let view = h.wait_final(&id, WAIT).await;
        let receipt = view["receipt"]["upstream_message_id"].as_str().unwrap_or("").to_string();
        let copies = h.upstream_count(&conv, &text);
        outcomes.push((round, view["status"].as_str().unwrap_or("?").to_string(), copies + 1 - expected, receipt));
    }
    let stored: std::collections::HashSet<String> = h.upstream(&conv).into_iter().map(|(_, id)| id).collect();
    let duplicated: Vec<_> = outcomes.iter().filter(|(_, _, n, _)| *n > 1).collect();
    let undelivered: Vec<_> = outcomes.iter().filter(|(_, s, _, _)| s != "delivered").collect();
    let receipts: std::collections::HashSet<&String> = outcomes.iter().map(|(_, _, _, r)| r).collect();
    let unknown_receipts: Vec<_> = outcomes.iter().filter(|(_, _, _, r)| !stored.contains(r)).collect();
    assert!(
        duplicated.is_empty() && undelivered.is_empty() && receipts.len() == 10 && unknown_receipts.is_empty(),
        "{kind:?}: {} of 10 rounds upstream more than once, {} not delivered, {} distinct receipts, {} receipts of no \
         stored message; (round, status, copies of this round, receipt): {outcomes:?}",
        duplicated.len(),
        undelivered.len(),
        receipts.len(),
        unknown_receipts.len()
    );
}

/// What every send of the kill loop meets upstream (after it took effect).
#[derive(Debug, Clone, Copy)]
pub enum LoopFault {
    /// The answer comes 150 ms late.
    LatencyAfter,
    /// No answer: the connection is reset, every outcome is unknown to herald.
    DropAfter,
}

/// (c) SIGKILL and restart herald every ~1–2 s (on upstream progress) while 500 notifications over five
/// conversations are delivered with 150 ms upstream latency after each send took effect: none lost, none
/// duplicated, order kept per conversation.
pub async fn kill_loop(kind: Kind, upstream: LoopFault) {
    const CONVS: usize = 5;
    const PER_CONV: usize = 100;
    const TOTAL: usize = CONVS * PER_CONV;
    let mut h = Harness::start(kind, Knobs::default()).await;
    let mut convs = Vec::new();
    for c in 0..CONVS {
        convs.push(h.conversation(&format!("Loop Guest {c}")).await);
    }
    match upstream {
        LoopFault::LatencyAfter => h.control().inject_latency_after(kind.send_scope(), 150, None),
        LoopFault::DropAfter => h.control().inject_drop_after(kind.send_scope(), None),
    }
    .expect("stage the upstream fault");
    let mut ids = Vec::new();
    for i in 0..PER_CONV {
        for (c, conv) in convs.iter().enumerate() {
            let text = format!("loop c{c} n{i:03}");
            ids.push((c, i, h.notify(conv, &text, &format!("loop-{c}-{i}")).await));
        }
    }
    // Kill after every 30 new messages upstream (or 2 s without that much progress), until all are upstream.
    let loop_deadline = Instant::now() + Duration::from_secs(120);
    // Each kill: the texts upstream just before it, and the time just after it. A notification upstream before a
    // kill and recorded as delivered after it was caught in the window this attack aims at.
    let mut kills: Vec<(chrono::DateTime<chrono::Utc>, BTreeMap<String, usize>)> = Vec::new();
    loop {
        let seen = copies(&h, &convs, "loop ").len();
        if seen >= TOTAL || kills.len() >= 60 || Instant::now() >= loop_deadline {
            break;
        }
        h.until(Duration::from_secs(2), |h| copies(h, &convs, "loop ").len() >= seen + 30).await;
        let upstream = copies(&h, &convs, "loop ");
        h.kill();
        kills.push((chrono::Utc::now(), upstream));
        h.restart().await;
    }
    let kills_made = kills.len();
    // Let the last incarnation finish.
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut lost = Vec::new();
    let mut caught = 0;
    for (c, i, id) in &ids {
        let view = h.wait_final(id, WAIT).await;
        let status = view["status"].as_str().unwrap_or("?").to_string();
        if status != "delivered" {
            lost.push(format!("c{c} n{i:03}: {status}"));
        }
        *statuses.entry(status).or_default() += 1;
        let text = format!("loop c{c} n{i:03}");
        let recorded = view["history"]
            .as_array()
            .and_then(|h| h.iter().rev().find(|e| e["status"] == "delivered"))
            .and_then(|e| e["at"].as_str())
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
        if recorded.is_some_and(|r| kills.iter().any(|(at, up)| up.contains_key(&text) && r > *at)) {
            caught += 1;
        }
    }
    let counts = copies(&h, &convs, "loop ");
    let missing = ids.iter().filter(|(c, i, _)| !counts.contains_key(&format!("loop c{c} n{i:03}"))).count();
    let twice: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let mut disorder = Vec::new();
    for (c, conv) in convs.iter().enumerate() {
        let seq = first_arrivals(&h, conv, &format!("loop c{c} n"));
        if let Some(w) = seq.windows(2).find(|w| w[0] >= w[1]) {
            disorder.push(format!("c{c}: {} then {}", w[0], w[1]));
        }
    }
    eprintln!(
        "{kind:?} kill loop ({upstream:?}): {kills_made} kills, {caught} notifications stored upstream before a kill and recorded \
         after it, statuses {statuses:?}, {} duplicated, {missing} missing",
        twice.len()
    );
    assert!(
        kills_made >= 5 && caught > 0,
        "{kind:?}: the loop made {kills_made} kills and caught {caught} in the window"
    );
    assert!(
        lost.is_empty() && missing == 0 && twice.is_empty() && disorder.is_empty(),
        "{kind:?} ({upstream:?}) after {kills_made} SIGKILLs ({caught} caught between store and record) over {TOTAL} notifications: \
         statuses {statuses:?}; {} not delivered {:?}; {missing} never upstream; {} upstream more than once {:?}; order broken: {disorder:?}",
        lost.len(),
        lost.iter().take(10).collect::<Vec<_>>(),
        twice.len(),
        twice.iter().take(10).collect::<Vec<_>>()
    );
}

/// (d) A 429 storm (Retry-After 1) on the whole platform API lasting longer than `max_attempts` × (delivery
/// timeout + backoff): no
/// notification dead-lettered, each delivered exactly once after the storm, in order.
pub async fn storm(kind: Kind) {
    let knobs = Knobs::default();
    let mut h = Harness::start(kind, knobs).await;
    let convs = vec![h.conversation("Storm Guest 0").await, h.conversation("Storm Guest 1").await];
    // Longer than every attempt the dispatcher allows, each taking up to its whole deadline (the client waits out
    // Retry-After inside an attempt), plus the backoff between them.
    let per_attempt = Duration::from_secs(knobs.delivery_timeout_secs) + Duration::from_millis(knobs.backoff_max_ms);
    let length = per_attempt * knobs.max_attempts + Duration::from_secs(2);
    let storm = h
        .control()
        .inject_429_storm(FaultScope { method: None, path: Some("/api/v2/**".into()) }, length, 1)
        .expect("stage storm");
    let mut ids = Vec::new();
    for i in 0..5 {
        for (c, conv) in convs.iter().enumerate() {
            ids.push((c, i, h.notify(conv, &format!("storm c{c} n{i}"), &format!("storm-{c}-{i}")).await));
        }
    }
    let mut outcomes = BTreeMap::new();
    for (c, i, id) in &ids {
        let view = h.wait_final(id, length + WAIT).await;
        outcomes.insert(format!("storm c{c} n{i}"), (view["status"].as_str().unwrap_or("?").to_string(), view));
    }
    let hits = h.control().staged_fault(storm).map(|f| f.hits).unwrap_or(0);
    assert!(hits > 0, "{kind:?}: the storm answered no request");
    let counts = copies(&h, &convs, "storm ");
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|(_, (s, _))| s != "delivered")
        .map(|(t, (s, v))| format!("{t}: {s} after {} attempts ({})", v["attempts"], super::last_reason(v)))
        .collect();
    let wrong: Vec<(String, usize)> =
        outcomes.keys().map(|t| (t.clone(), counts.get(t).copied().unwrap_or(0))).filter(|(_, n)| *n != 1).collect();
    let mut disorder = Vec::new();
    for (c, conv) in convs.iter().enumerate() {
        let seq = first_arrivals(&h, conv, &format!("storm c{c} n"));
        if seq.windows(2).any(|w| w[0] >= w[1]) {
            disorder.push(format!("c{c}: {seq:?}"));
        }
    }
    assert!(
        failed.is_empty() && wrong.is_empty() && disorder.is_empty(),
        "{kind:?} after a {length:?} 429 storm ({hits} requests answered 429): {} of {} not delivered {failed:?}; \
         copies upstream != 1: {wrong:?}; order broken: {disorder:?}",
        failed.len(),
        ids.len()
    );
}
