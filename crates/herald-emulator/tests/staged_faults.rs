//! Staged faults through the control API: latency before and after a request takes effect, a connection dropped
//! after the request took effect, 429 storms of a given length, scoping to a method and path pattern, and the
//! listing / removal / validation of staged faults. Every wait is a bounded poll of the control API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use herald_emulator::faults::{FaultScope, FaultSpec};
use serde_json::{json, Value};

const WM_SEND: &str = "/api/v2/conversations/messages/*/communications/*/messages";
const CHAT_SEND: &str = "/api/v2/conversations/chats/*/communications/*/messages";

/// A guest conversation routed to an agent: (emulator, guest, conversation id, agent comm id).
async fn routed(name: &str) -> (Emulator2, Guest, String, String) {
    let e = start().await;
    let (mut g, _) = e.guest(name).await;
    g.say("hello", "t-1").await;
    g.next(|f| f["body"]["direction"] == "Inbound").await;
    let (cid, comm) = e.wait_agent(name).await;
    (e, g, cid, comm)
}

/// How many transcript lines of `cid` carry `text`.
fn stored(e: &Emulator2, cid: &str, text: &str) -> usize {
    e.handle.control().transcript(cid).expect("transcript").iter().filter(|l| l.text == text).count()
}

/// Polls `cond` every 5 ms until it holds; false after `WAIT`.
async fn until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

/// Sends `text` as the agent on a spawned task (raw reqwest: the caller inspects transport errors).
fn spawn_send(
    e: &Emulator2,
    path: &str,
    body: Value,
) -> tokio::task::JoinHandle<(Result<reqwest::Response, reqwest::Error>, Duration)> {
    let (http, url, token) = (e.http.clone(), e.url(path), e.token.clone());
    tokio::spawn(async move {
        let t = Instant::now();
        let r = http.post(url).bearer_auth(token).json(&body).send().await;
        (r, t.elapsed())
    })
}

async fn stage(e: &Emulator2, body: Value) -> Value {
    let r = e.control_call("POST", "/faults/staged", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

#[tokio::test]
async fn latency_after_stores_first_and_answers_late() {
    let (e, _g, cid, comm) = routed("latency-after").await;
    let f = stage(&e, json!({"kind": "latencyAfter", "ms": 1500, "method": "POST", "path": WM_SEND, "count": 1})).await;
    assert_eq!(
        (f["kind"].as_str(), f["ms"].as_u64(), f["remaining"].as_u64()),
        (Some("latencyAfter"), Some(1500), Some(1))
    );
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages");
    let send = spawn_send(&e, &path, json!({"textBody": "stored before the answer"}));
    // The message is stored while the answer is still held back.
    assert!(until(|| stored(&e, &cid, "stored before the answer") == 1).await, "the send never took effect");
    assert!(!send.is_finished(), "the answer was not delayed");
    // Other requests on the same conversation are not in scope.
    assert_eq!(e.get(&format!("/api/v2/conversations/messages/{cid}")).await.status, 200);
    let (r, took) = send.await.expect("task");
    assert_eq!(r.expect("answered").status().as_u16(), 200);
    assert!(took >= Duration::from_millis(1500), "answered after {took:?}");
    let id = f["id"].as_u64().expect("id");
    let v = e.control_call("GET", &format!("/faults/staged/{id}"), None).await.body;
    assert_eq!((v["hits"].as_u64(), v["remaining"].as_u64(), v["active"].as_bool()), (Some(1), Some(0), Some(false)));
    assert_eq!(e.handle.control().counters().delayed_answers, 1);
    // Used up: the next send answers at once.
    let t = Instant::now();
    assert_eq!(e.post(&path, json!({"textBody": "prompt"})).await.status, 200);
    assert!(t.elapsed() < Duration::from_millis(1500));
}

#[tokio::test]
async fn latency_before_holds_the_request_back() {
    let (e, _g, cid, comm) = routed("latency-before").await;
    e.handle.control().stage_fault(FaultSpec::latency_before(1500).only("POST", WM_SEND).times(1)).expect("stage");
    let requests = e.handle.control().counters().requests;
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages");
    let send = spawn_send(&e, &path, json!({"textBody": "held back"}));
    // The request arrived, but has not taken effect while it waits.
    assert!(until(|| e.handle.control().counters().requests > requests).await, "the request never arrived");
    assert_eq!(stored(&e, &cid, "held back"), 0);
    let (r, took) = send.await.expect("task");
    assert_eq!(r.expect("answered").status().as_u16(), 200);
    assert!(took >= Duration::from_millis(1500));
    assert_eq!(stored(&e, &cid, "held back"), 1);
}

#[tokio::test]
async fn drop_after_applies_the_request_and_answers_nothing() {
    let (e, _g, cid, comm) = routed("drop-after").await;
    stage(&e, json!({"kind": "dropAfter", "method": "POST", "path": WM_SEND, "count": 1})).await;
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages");
    let (r, _) = spawn_send(&e, &path, json!({"textBody": "stored, answer lost"})).await.expect("task");
    let error = r.expect_err("the connection must be dropped without an HTTP answer");
    assert!(error.status().is_none(), "an HTTP status was answered: {error}");
    assert_eq!(stored(&e, &cid, "stored, answer lost"), 1, "the request did not take effect");
    assert_eq!(e.handle.control().counters().dropped_connections, 1);
    // Used up: the next send is answered.
    assert_eq!(e.post(&path, json!({"textBody": "answered"})).await.status, 200);
    assert_eq!(stored(&e, &cid, "answered"), 1);
}

#[tokio::test]
async fn drop_after_on_web_chat_sends() {
    let e = start().await;
    let create = json!({
        "organizationId": ORG, "deploymentId": CHAT_DEPLOYMENT,
        "routingTarget": {"targetType": "QUEUE", "targetAddress": "Support"},
        "memberInfo": {"displayName": "Drop Guest"}
    });
    let r =
        to_resp(e.http.post(e.url("/api/v2/webchat/guest/conversations")).json(&create).send().await.expect("send"))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["id"].as_str().expect("id").to_string();
    let mut ws = channel_socket(r.body["eventStreamUri"].as_str().expect("stream")).await;
    next_matching(&mut ws, |f| {
        f["eventBody"]["member"]["role"] == "AGENT" && f["eventBody"]["member"]["state"] == "CONNECTED"
    })
    .await;
    let conv = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    let comm = conv["participants"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["purpose"] == "agent"))
        .and_then(|p| p["chats"][0]["id"].as_str())
        .expect("agent chat")
        .to_string();
    e.handle.control().inject_drop_after(FaultScope::only("POST", CHAT_SEND), Some(1)).expect("stage");
    let path = format!("/api/v2/conversations/chats/{cid}/communications/{comm}/messages");
    let (r, _) =
        spawn_send(&e, &path, json!({"body": "chat stored, answer lost", "bodyType": "standard"})).await.expect("task");
    assert!(r.is_err(), "the chat send was answered");
    next_matching(&mut ws, |f| f["eventBody"]["body"] == "chat stored, answer lost").await;
    assert_eq!(stored(&e, &cid, "chat stored, answer lost"), 1);
}

#[tokio::test]
async fn too_many_requests_storm_lasts_its_duration() {
    let (e, _g, cid, comm) = routed("storm").await;
    let storm = e
        .handle
        .control()
        .inject_429_storm(FaultScope::only("POST", WM_SEND), Duration::from_millis(1200), 2)
        .expect("stage");
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages");
    let started = Instant::now();
    let mut answered_429 = 0;
    // Every send during the storm answers 429 with the storm's Retry-After; GETs are out of scope.
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "the storm never ended");
        let r = e.post(&path, json!({"textBody": "after the storm"})).await;
        if r.status == 200 {
            break;
        }
        r.assert_error(429, "too.many.requests.retry.after");
        assert_eq!(r.header("retry-after").as_deref(), Some("2"));
        assert_eq!(e.get(&format!("/api/v2/conversations/messages/{cid}")).await.status, 200);
        answered_429 += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(1200), "the storm ended after {:?}", started.elapsed());
    assert!(answered_429 >= 3, "only {answered_429} sends saw the storm");
    assert_eq!(stored(&e, &cid, "after the storm"), 1);
    let v = e.handle.control().staged_fault(storm).expect("listed");
    assert_eq!((v.hits, v.active, v.remaining_ms), (answered_429, false, Some(0)));
    assert!(e.handle.control().counters().too_many_requests >= answered_429);
}

#[tokio::test]
async fn staged_faults_are_listed_removed_validated_and_cleared() {
    let e = start().await;
    let a = stage(&e, json!({"kind": "error", "status": 502, "method": "GET", "path": "/api/v2/users"})).await;
    stage(&e, json!({"kind": "latencyBefore", "ms": 1, "path": "/api/v2/**", "durationMs": 60000})).await;
    e.get("/api/v2/users").await.assert_error(502, "bad.gateway");
    let list = e.control_call("GET", "/faults/staged", None).await.body;
    let entities = list["entities"].as_array().expect("entities");
    assert_eq!(entities.len(), 2);
    assert_eq!((entities[0]["hits"].as_u64(), entities[0]["path"].as_str()), (Some(1), Some("/api/v2/users")));
    assert!(entities[1]["remainingMs"].as_u64().is_some_and(|ms| ms > 0 && ms <= 60000));
    let id = a["id"].as_u64().expect("id");
    assert_eq!(e.control_call("DELETE", &format!("/faults/staged/{id}"), None).await.status, 204);
    assert_eq!(e.control_call("DELETE", &format!("/faults/staged/{id}"), None).await.status, 404);
    assert_eq!(e.get("/api/v2/users").await.status, 200);
    for bad in [
        json!({"kind": "sideways"}),
        json!({"kind": "latencyAfter"}),
        json!({"kind": "error", "status": 404}),
        json!({"kind": "dropAfter", "path": "api/v2/users"}),
        json!({"kind": "dropAfter", "path": "/api/**/users"}),
        json!({"kind": "dropAfter", "colour": "red"}),
    ] {
        let r = e.control_call("POST", "/faults/staged", Some(bad.clone())).await;
        assert_eq!(r.status, 400, "{bad} → {}", r.body);
    }
    assert_eq!(e.control_call("DELETE", "/faults", None).await.status, 204);
    assert_eq!(e.control_call("GET", "/faults/staged", None).await.body["entities"], json!([]));
}

#[tokio::test]
async fn held_request_is_applied_after_the_client_gave_up_only_when_asked() {
    let (e, _g, cid, comm) = routed("held").await;
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages");
    let give_up = |text: &str| {
        e.http
            .post(e.url(&path))
            .bearer_auth(&e.token)
            .timeout(Duration::from_millis(200))
            .json(&json!({"textBody": text}))
            .send()
    };
    // Held and applied regardless of the client (a request stuck behind a slow gateway).
    let held = stage(&e, json!({"kind": "latencyBefore", "ms": 600, "applyWhenAbandoned": true, "method": "POST", "path": WM_SEND, "count": 1})).await;
    assert_eq!(held["applyWhenAbandoned"], true);
    assert!(give_up("held, then applied").await.is_err(), "the client should have timed out");
    assert_eq!(stored(&e, &cid, "held, then applied"), 0, "applied before the delay");
    assert!(until(|| stored(&e, &cid, "held, then applied") == 1).await, "the abandoned request never took effect");
    // Plain latency before: the request goes with the client. Proving an absence needs the delay to have passed:
    // wait (bounded) until well after the moment it would have been applied.
    e.handle.control().stage_fault(FaultSpec::latency_before(300).only("POST", WM_SEND).times(1)).expect("stage");
    let t = Instant::now();
    assert!(give_up("dropped with the client").await.is_err());
    assert!(until(|| t.elapsed() >= Duration::from_millis(600)).await);
    assert_eq!(stored(&e, &cid, "dropped with the client"), 0, "a plain delayed request outlived its client");
}
