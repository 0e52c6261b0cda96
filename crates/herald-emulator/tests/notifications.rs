//! Fidelity + integration: notification channels, subscriptions and the channel socket.

mod common;

use common::*;
use futures::SinkExt;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn channel(e: &Emulator2) -> (String, String) {
    let r = e.post("/api/v2/notifications/channels", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    let uri = r.body["connectUri"].as_str().expect("connectUri").to_string();
    assert!(uri.starts_with("ws://") && uri.ends_with(&format!("/channels/{id}")));
    assert!(r.body["expires"].is_string());
    (id, uri)
}

#[tokio::test]
async fn channel_crud_and_subscription_listing() {
    let e = start().await;
    let (id, _) = channel(&e).await;
    let list = e.get("/api/v2/notifications/channels").await;
    assert_eq!(list.body["entities"][0]["id"], id.as_str());
    assert_eq!(e.call("HEAD", &format!("/api/v2/notifications/channels/{id}"), None).await.status, 200);
    assert_eq!(e.call("HEAD", "/api/v2/notifications/channels/streaming-0-nope", None).await.status, 404);
    let subs = format!("/api/v2/notifications/channels/{id}/subscriptions");
    let r = e
        .call("PUT", &subs, Some(json!([{"id": format!("v2.users.{ALICE}.presence")}, {"id": format!("v2.users.{ALICE}.routingstatus")}])))
        .await;
    assert_eq!(r.status, 200);
    let ents = r.body["entities"].as_array().expect("entities");
    assert_eq!(ents[0]["state"], "Permitted");
    assert_eq!(ents[1]["state"], "Rejected");
    let r = e.post(&subs, json!([{"id": format!("v2.users.{BOB}.activity")}])).await;
    assert_eq!(r.body["entities"].as_array().map(Vec::len), Some(2));
    let r = e.get(&subs).await;
    assert_eq!(r.body["entities"].as_array().map(Vec::len), Some(2));
    assert_eq!(e.call("DELETE", &subs, None).await.status, 204);
    assert_eq!(e.get(&subs).await.body["entities"], json!([]));
    // Over 1,000 topics.
    let many: Vec<serde_json::Value> = (0..1001).map(|i| json!({"id": format!("v2.users.u{i}.presence")})).collect();
    let r = e.call("PUT", &subs, Some(json!(many))).await;
    r.assert_error(400, "bad.request");
    assert!(r.body["message"].as_str().is_some_and(|m| m.contains("1000")));
}

#[tokio::test]
async fn twenty_first_channel_evicts_the_oldest_and_lifetime_expires() {
    let e = start().await;
    let (first, _) = channel(&e).await;
    for _ in 0..20 {
        channel(&e).await;
    }
    assert_eq!(e.call("HEAD", &format!("/api/v2/notifications/channels/{first}"), None).await.status, 404);
    assert_eq!(e.get("/api/v2/notifications/channels").await.body["entities"].as_array().map(Vec::len), Some(20));
    e.handle.control().advance_clock(Duration::from_secs(86_401));
    let mut e = e;
    e.token = e.token_for(CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(e.get("/api/v2/notifications/channels").await.body["entities"], json!([]));
}

#[tokio::test]
async fn conversation_events_reach_queue_and_user_topics() {
    let e = start().await;
    let (id, uri) = channel(&e).await;
    let topics = json!([
        {"id": format!("v2.routing.queues.{QUEUE}.conversations.messages")},
        {"id": format!("v2.users.{ALICE}.conversations.messages")},
    ]);
    e.call("PUT", &format!("/api/v2/notifications/channels/{id}/subscriptions"), Some(topics)).await;
    let mut ws = channel_socket(&uri).await;
    let (mut g, _) = e.guest("notif-guest").await;
    g.say("hi", "t").await;
    let queued =
        next_matching(&mut ws, |f| f["topicName"] == format!("v2.routing.queues.{QUEUE}.conversations.messages")).await;
    assert_eq!(queued["version"], "2");
    assert!(queued["metadata"]["CorrelationId"].is_string());
    assert!(queued["eventBody"]["participants"].is_array());
    let connected = next_matching(&mut ws, |f| {
        f["topicName"] == format!("v2.users.{ALICE}.conversations.messages")
            && f["eventBody"]["participants"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["purpose"] == "agent" && p["state"] == "connected"))
    })
    .await;
    let cid = connected["eventBody"]["id"].as_str().expect("id").to_string();
    let agent = connected["eventBody"]["participants"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["purpose"] == "agent"))
        .cloned()
        .expect("agent");
    assert_eq!(agent["user"]["id"], ALICE);
    assert_eq!(agent["type"], "webmessaging");
    e.handle.control().disconnect_conversation(&cid).expect("disconnect");
    next_matching(&mut ws, |f| {
        f["eventBody"]["id"] == cid.as_str()
            && f["eventBody"]["participants"].as_array().is_some_and(|p| p.iter().all(|p| p["state"] == "disconnected"))
    })
    .await;
}

#[tokio::test]
async fn heartbeat_pong_and_socket_closing() {
    let toml = tweak(&default_toml(), "heartbeat_interval_ms = 30000", "heartbeat_interval_ms = 50");
    let e = start_toml(&toml).await;
    let (_, uri) = channel(&e).await;
    let mut ws = channel_socket(&uri).await;
    let hb = next_matching(&mut ws, |f| f["topicName"] == "channel.metadata").await;
    assert_eq!(hb["eventBody"]["message"], "WebSocket Heartbeat");
    ws.send(Message::Text(json!({"message": "ping"}).to_string().into())).await.expect("ping");
    next_matching(&mut ws, |f| f["eventBody"]["message"] == "pong").await;
    let r = e.control_call("POST", "/notifications/socket-closing", None).await;
    assert_eq!(r.body["channels"], 1);
    let f = next_matching(&mut ws, |f| f["topicName"] == "v2.system.socket_closing").await;
    assert!(f["eventBody"]["channelId"].is_string());
    e.handle.control().drop_sockets(herald_emulator::control::DropTarget::Notifications);
    wait_closed(&mut ws).await;
}

#[tokio::test]
async fn presence_events_on_patch() {
    let e = start().await;
    let (id, uri) = channel(&e).await;
    let topics = json!([
        {"id": format!("v2.users.{BOB}.presence")},
        {"id": format!("v2.users.{BOB}.routingStatus")},
        {"id": format!("v2.users.{BOB}.activity")},
    ]);
    e.call("PUT", &format!("/api/v2/notifications/channels/{id}/subscriptions"), Some(topics)).await;
    let mut ws = channel_socket(&uri).await;
    let r = e
        .call(
            "PATCH",
            &format!("/api/v2/users/{BOB}/presences/purecloud"),
            Some(json!({"presenceDefinition": {"id": ON_QUEUE}, "primary": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = next_matching(&mut ws, |f| f["topicName"] == format!("v2.users.{BOB}.presence")).await;
    assert_eq!(p["eventBody"]["source"], "PURECLOUD");
    assert_eq!(p["eventBody"]["presenceDefinition"]["id"], ON_QUEUE);
    assert_eq!(p["eventBody"]["presenceDefinition"]["systemPresence"], "ON_QUEUE");
    let rs = next_matching(&mut ws, |f| f["topicName"] == format!("v2.users.{BOB}.routingStatus")).await;
    assert_eq!(rs["eventBody"]["routingStatus"]["status"], "IDLE");
    let act = next_matching(&mut ws, |f| f["topicName"] == format!("v2.users.{BOB}.activity")).await;
    assert!(act["eventBody"]["presence"]["presenceDefinition"]["systemPresence"].is_string());
}
