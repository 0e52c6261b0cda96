//! Integration: the web messaging guest WebSocket (reference §3) end to end.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn session_routing_agent_message_readonly_and_start_new() {
    let e = start().await;
    let (mut g, session) = e.guest("guest-a").await;
    assert_eq!(session["connected"], true);
    assert_eq!(session["newSession"], true);
    assert_eq!(session["readOnly"], false);
    assert!(session["durationSeconds"].is_number());
    assert!(session["expirationDate"].is_number());

    g.say("I need help", "trace-1").await;
    let echo = g.next(|f| f["body"]["direction"] == "Inbound").await;
    assert_eq!(echo["class"], "StructuredMessage");
    assert_eq!(echo["tracingId"], "trace-1");
    assert_eq!(echo["body"]["text"], "I need help");
    assert_eq!(echo["body"]["type"], "Text");

    // Routed to an On Queue agent who auto-replies.
    let (cid, comm) = e.wait_agent("guest-a").await;
    let reply = g.next_outbound_text().await;
    assert_eq!(reply["body"]["originatingEntity"], "Human");
    assert_eq!(reply["body"]["text"], "Thanks for your message, an agent is looking into it.");

    // Agent-side REST message arrives as Outbound StructuredMessage.
    let r = e
        .post(
            &format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages"),
            json!({"textBody": "Agent here"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let f = g.next(|f| f["body"]["text"] == "Agent here").await;
    assert_eq!(f["body"]["direction"], "Outbound");

    // The agent disconnects: Presence/Disconnect with readOnly, then 409 on send.
    e.handle.control().disconnect_agent(&cid, ALICE).expect("disconnect");
    let d = g.next(|f| f["body"]["type"] == "Event").await;
    assert_eq!(d["body"]["events"][0]["eventType"], "Presence");
    assert_eq!(d["body"]["events"][0]["presence"]["type"], "Disconnect");
    assert_eq!(d["body"]["metadata"]["readOnly"], "true");
    g.say("hello?", "trace-2").await;
    let err = g.next(|f| f["type"] == "response" && f["class"] == "string").await;
    assert_eq!(err["code"], 409);
    assert_eq!(err["body"], "Session is read-only, no new messages allowed");

    // A reconnect sees readOnly; startNew gives a new conversation.
    let again = g.configure(false).await;
    assert_eq!(again["readOnly"], true);
    assert_eq!(again["newSession"], false);
    let fresh = g.configure(true).await;
    assert_eq!(fresh["newSession"], true);
    assert_eq!(fresh["readOnly"], false);
    g.say("new question", "trace-3").await;
    g.next(|f| f["body"]["text"] == "new question").await;
    let (cid2, _) = e.wait_agent("guest-a").await;
    assert_ne!(cid, cid2);
    // Same guest token, same external contact.
    let c1 = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    let c2 = e.get(&format!("/api/v2/conversations/{cid2}")).await.body;
    let contact = |c: &serde_json::Value| {
        c["participants"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["purpose"] == "customer"))
            .map(|p| p["externalContactId"].clone())
    };
    assert_eq!(contact(&c1), contact(&c2));
}

#[tokio::test]
async fn echo_jwt_and_history() {
    let e = start().await;
    let (mut g, _) = e.guest("guest-b").await;
    g.send(json!({"action": "echo", "token": "guest-b", "tracingId": "SGVhbHRoQ2hlY2tNZXNzYWdlSWQ=",
                  "message": {"type": "Text", "text": "ping"}}))
        .await;
    let echo = g.next(|f| f["tracingId"] == "SGVhbHRoQ2hlY2tNZXNzYWdlSWQ=").await;
    assert_eq!(echo["type"], "response");
    assert_eq!(echo["class"], "StructuredMessage");
    assert_eq!(echo["body"]["text"], "ping");
    g.say("first", "t1").await;
    g.next(|f| f["body"]["text"] == "first").await;
    g.next_outbound_text().await;
    g.send(json!({"action": "getJwt", "token": "guest-b", "tracingId": "j"})).await;
    let jwt = g.next(|f| f["class"] == "JwtResponse").await;
    let token = jwt["body"]["jwt"].as_str().expect("jwt").to_string();
    assert!(jwt["body"]["exp"].is_number());
    let r = e.call_as(&token, "GET", "/api/v2/webmessaging/messages?pageSize=25&pageNumber=1", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["total"], 2);
    let entities = r.body["entities"].as_array().expect("entities");
    assert_eq!(entities[0]["direction"], "Outbound");
    assert_eq!(entities[1]["text"], "first");
    // An OAuth token is not a guest JWT.
    let r = e.get("/api/v2/webmessaging/messages").await;
    r.assert_error(401, "bad.credentials");
}

#[tokio::test]
async fn too_long_rate_limited_and_unconfigured() {
    let toml = tweak(&default_toml(), "guest_messages_per_window = 30", "guest_messages_per_window = 2");
    let e = start_toml(&toml).await;
    let mut g = Guest::connect(&e.handle.ws_base_url(), DEPLOYMENT, "guest-c").await;
    g.say("before configure", "x").await;
    let err = g.next(|f| f["class"] == "string").await;
    assert_eq!(err["code"], 4007);
    g.configure(false).await;
    g.say(&"y".repeat(4001), "long").await;
    let err = g.next(|f| f["class"] == "string").await;
    assert_eq!(err["code"], 4011);
    assert_eq!(err["tracingId"], "long");
    g.say("one", "1").await;
    g.say("two", "2").await;
    g.say("three", "3").await;
    let tm = g.next(|f| f["class"] == "TooManyRequestsErrorMessage").await;
    assert_eq!(tm["code"], 429);
    assert_eq!(tm["body"]["errorCode"], 4029);
    assert!(tm["body"]["retryAfter"].is_number());
}

#[tokio::test]
async fn unknown_deployment_handshake_is_403() {
    let e = start().await;
    let url = format!("{}/v1?deploymentId=nope", e.handle.ws_base_url());
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    // The documented alias path serves the same protocol.
    let (ws, _) = tokio_tungstenite::connect_async(format!(
        "{}/webmessaging/v1?deploymentId={DEPLOYMENT}",
        e.handle.ws_base_url()
    ))
    .await
    .expect("alias");
    drop(ws);
}

#[tokio::test]
async fn session_expiry_via_virtual_clock() {
    let e = start().await;
    let (mut g, _) = e.guest("guest-d").await;
    e.handle.control().advance_clock(Duration::from_secs(259_201));
    let f = g.next(|f| f["class"] == "SessionExpiredEvent").await;
    assert_eq!(f["code"], 200);
    assert_eq!(f["type"], "response", "the official transport's fixtures carry type `response`");
    wait_closed(&mut g.ws).await;
    // Reconnecting with the same token starts a new session.
    let (_g2, s) = e.guest("guest-d").await;
    assert_eq!(s["newSession"], true);
}

#[tokio::test]
async fn close_session_and_drop_sockets() {
    let e = start().await;
    let (mut g1, _) = e.guest("guest-e").await;
    let mut g2 = Guest::connect(&e.handle.ws_base_url(), DEPLOYMENT, "guest-e").await;
    g2.configure(false).await;
    g1.send(json!({"action": "closeSession", "token": "guest-e", "closeAllConnections": true})).await;
    let r = g1.next(|f| f["class"] == "SessionResponse").await;
    assert_eq!(r["body"]["connected"], false);
    g2.next(|f| f["class"] == "ConnectionClosedEvent").await;
    e.handle.control().drop_sockets(herald_emulator::control::DropTarget::Guests);
    wait_closed(&mut g1.ws).await;
}

#[tokio::test]
async fn deployment_config_json() {
    let e = start().await;
    let r = e.get(&format!("/webdeployments/v1/deployments/{DEPLOYMENT}/config.json")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "Active");
    assert_eq!(r.body["messenger"]["apps"]["conversations"]["conversationDisconnect"]["type"], "ReadOnly");
    assert_eq!(e.get("/webdeployments/v1/deployments/nope/config.json").await.status, 404);
}

#[tokio::test]
async fn seeded_guest_token_maps_to_seeded_contact() {
    let e = start().await;
    let (mut g, _) = e.guest(CAROL_TOKEN).await;
    g.say("hi", "t").await;
    g.next(|f| f["body"]["text"] == "hi").await;
    assert_eq!(e.handle.control().guest_contact(CAROL_TOKEN).as_deref(), Some(CAROL));
}

#[tokio::test]
async fn threading_window_after_disconnect_with_send_type() {
    let toml = tweak(
        &default_toml(),
        "conversation_disconnect_type = \"ReadOnly\"",
        "conversation_disconnect_type = \"Send\"",
    );
    let mut e = start_toml(&toml).await;
    let (mut g, _) = e.guest("guest-f").await;
    g.say("one", "1").await;
    let (cid, _) = e.wait_agent("guest-f").await;
    e.handle.control().disconnect_conversation(&cid).expect("disconnect");
    let d = g.next(|f| f["body"]["type"] == "Event").await;
    assert!(d["body"]["metadata"]["readOnly"].is_null());
    // Inside the window: the same conversation, a new customer communication.
    g.say("two", "2").await;
    g.next(|f| f["body"]["text"] == "two").await;
    let (cid2, _) = e.wait_agent("guest-f").await;
    assert_eq!(cid, cid2);
    let conv = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    let customer = conv["participants"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["purpose"] == "customer"))
        .cloned()
        .expect("c");
    assert_eq!(customer["messages"].as_array().map(Vec::len), Some(2));
    // After the window: a new conversation.
    e.handle.control().disconnect_conversation(&cid).expect("disconnect");
    e.handle.control().advance_clock(Duration::from_secs(72 * 3600 + 60));
    // The OAuth token expired meanwhile.
    e.token = e.token_for(CLIENT_ID, CLIENT_SECRET).await;
    let (mut g, _) = e.guest("guest-f").await;
    g.say("three", "3").await;
    g.next(|f| f["body"]["text"] == "three").await;
    let (cid3, _) = e.wait_agent("guest-f").await;
    assert_ne!(cid, cid3);
}
