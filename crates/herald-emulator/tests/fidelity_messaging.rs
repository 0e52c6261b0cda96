//! Fidelity: messaging conversations as the Python SDK drives them (ConversationsApi):
//! GETs, send (AdditionalMessage → MessageData), typing, PATCH disconnects, threading timeline.

mod common;

use common::*;
use serde_json::json;

/// A guest conversation routed to an agent: (emulator, guest, conversation id, agent comm id).
async fn routed() -> (Emulator2, Guest, String, String) {
    let e = start().await;
    let (mut g, _) = e.guest("fidelity-guest").await;
    g.say("hello", "t-1").await;
    g.next(|f| f["body"]["direction"] == "Inbound").await;
    let (cid, comm) = e.wait_agent("fidelity-guest").await;
    (e, g, cid, comm)
}

#[tokio::test]
async fn generic_and_media_conversation_shapes() {
    let (e, _g, cid, comm) = routed().await;
    let r = e.get(&format!("/api/v2/conversations/{cid}")).await;
    assert_eq!(r.status, 200);
    let parts = r.body["participants"].as_array().expect("participants");
    let customer = parts.iter().find(|p| p["purpose"] == "customer").expect("customer");
    assert_eq!(customer["messages"][0]["state"], "connected");
    assert!(customer["externalContactId"].is_string());
    assert_eq!(customer["messages"][0]["type"], "webmessaging");
    let agent = parts.iter().find(|p| p["purpose"] == "agent").expect("agent");
    assert!(agent["userId"].is_string());
    assert_eq!(agent["queueId"], QUEUE);
    assert_eq!(agent["messages"][0]["id"], comm.as_str());
    assert_eq!(agent["messages"][0]["state"], "connected");
    assert!(parts.iter().any(|p| p["purpose"] == "acd" && p["messages"][0]["state"] == "disconnected"));

    let r = e.get(&format!("/api/v2/conversations/messages/{cid}")).await;
    assert_eq!(r.status, 200);
    let customer = r.body["participants"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["purpose"] == "customer").cloned())
        .expect("customer");
    assert_eq!(customer["type"], "webmessaging");
    assert!(customer["externalContact"]["id"].is_string());
    assert!(customer["messages"][0]["messageId"].is_string());
    assert_eq!(customer["messages"][0]["messageStatus"], "received");
}

#[tokio::test]
async fn send_returns_message_data_and_reaches_the_guest() {
    let (e, mut g, cid, comm) = routed().await;
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages");
    let r = e.post(&path, json!({"textBody": "Your order shipped"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["direction"], "outbound");
    assert_eq!(r.body["messengerType"], "webmessaging");
    assert_eq!(r.body["status"], "sent");
    assert_eq!(r.body["normalizedMessage"]["type"], "Text");
    assert_eq!(r.body["normalizedMessage"]["text"], "Your order shipped");
    assert_eq!(r.body["conversationId"], cid.as_str());
    assert!(r.body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    let mid = r.body["id"].as_str().expect("id").to_string();
    // The guest may first see the auto-reply; wait for ours.
    let f = g.next(|f| f["body"]["text"] == "Your order shipped").await;
    assert_eq!(f["type"], "message");
    assert_eq!(f["class"], "StructuredMessage");
    assert_eq!(f["body"]["direction"], "Outbound");
    assert_eq!(f["body"]["originatingEntity"], "Human");
    let r = e.get(&format!("/api/v2/conversations/messages/{cid}/messages/{mid}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["normalizedMessage"]["text"], "Your order shipped");
    assert!(e.handle.control().counters().agent_messages >= 1);
}

#[tokio::test]
async fn send_validation_names_fields() {
    let (e, _g, cid, comm) = routed().await;
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages");
    let r = e.post(&path, json!({"textBody": "a", "stickerIds": ["x"]})).await;
    r.assert_error(400, "invalid.property");
    assert_eq!(r.fields(), vec!["stickerIds"]);
    let r = e.post(&path, json!({})).await;
    r.assert_error(400, "constraint.validation");
    assert_eq!(r.fields(), vec!["textBody"]);
    let r = e.post(&path, json!({"textBody": "a", "mediaIds": ["m1"]})).await;
    r.assert_error(400, "bad.request");
    let r = e.post(&path, json!({"textBody": "x".repeat(2001)})).await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["textBody"]);
    assert_eq!(e.post(&path, json!({"textBody": "x".repeat(2000)})).await.status, 200);
    let r = e.post(&path, json!({"messagingTemplate": {"responseId": "nope"}})).await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["messagingTemplate.responseId"]);
}

#[tokio::test]
async fn messaging_template_renders_canned_response() {
    let (e, mut g, cid, comm) = routed().await;
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages");
    let body = json!({"messagingTemplate": {"responseId": RESPONSE_SHIPPED, "bodyParameters": [{"id": "order_id", "value": "A-17"}]}});
    let r = e.post(&path, body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text = r.body["normalizedMessage"]["text"].as_str().expect("text").to_string();
    assert!(text.contains("order A-17 has shipped and arrives soon"), "{text}");
    g.next(|f| f["body"]["text"] == text.as_str()).await;
}

#[tokio::test]
async fn unknown_conversation_and_foreign_communication_are_404() {
    let (e, _g, cid, _comm) = routed().await;
    let r = e
        .post(
            "/api/v2/conversations/messages/00000000-0000-4000-8000-000000000000/communications/x/messages",
            json!({"textBody": "hi"}),
        )
        .await;
    r.assert_error(404, "not.found");
    let r = e
        .post(
            &format!("/api/v2/conversations/messages/{cid}/communications/not-a-comm/messages"),
            json!({"textBody": "hi"}),
        )
        .await;
    r.assert_error(404, "not.found");
    assert_eq!(r.fields(), vec!["communicationId"]);
}

#[tokio::test]
async fn customer_communication_is_rejected() {
    let (e, _g, cid, _comm) = routed().await;
    let conv = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    let cust_comm = conv["participants"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["purpose"] == "customer"))
        .and_then(|p| p["messages"][0]["id"].as_str())
        .expect("customer comm")
        .to_string();
    let r = e
        .post(
            &format!("/api/v2/conversations/messages/{cid}/communications/{cust_comm}/messages"),
            json!({"textBody": "hi"}),
        )
        .await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["communicationId"]);
}

#[tokio::test]
async fn disconnect_via_participant_patch_then_send_fails() {
    let (e, mut g, cid, comm) = routed().await;
    let conv = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    let agent_pid = conv["participants"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["purpose"] == "agent"))
        .and_then(|p| p["id"].as_str())
        .expect("agent")
        .to_string();
    let r = e
        .call(
            "PATCH",
            &format!("/api/v2/conversations/messages/{cid}/participants/{agent_pid}"),
            Some(json!({"state": "disconnected"})),
        )
        .await;
    assert_eq!(r.status, 202);
    let f = g.next(|f| f["body"]["events"][0]["presence"]["type"] == "Disconnect").await;
    assert_eq!(f["body"]["metadata"]["readOnly"], "true");
    let r = e
        .post(
            &format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages"),
            json!({"textBody": "too late"}),
        )
        .await;
    r.assert_error(400, "conversation.message.communication.disconnected");
    let conv = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    assert!(conv["endTime"].is_string());
    assert!(conv["participants"]
        .as_array()
        .expect("p")
        .iter()
        .all(|p| p["endTime"].is_string() && p["messages"][0]["state"] == "disconnected"));
}

#[tokio::test]
async fn conversation_patch_disconnects() {
    let (e, mut g, cid, _comm) = routed().await;
    let r = e
        .call(
            "PATCH",
            &format!("/api/v2/conversations/messages/{cid}"),
            Some(json!({"state": "disconnected", "startTime": "", "participants": []})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    g.next(|f| f["body"]["events"][0]["presence"]["type"] == "Disconnect").await;
    let r = e.call("PATCH", &format!("/api/v2/conversations/messages/{cid}"), Some(json!({"state": "parked"}))).await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["state"]);
}

#[tokio::test]
async fn typing_requires_type_on() {
    let (e, _g, cid, comm) = routed().await;
    let path = format!("/api/v2/conversations/messages/{cid}/communications/{comm}/typing");
    assert_eq!(e.post(&path, json!({"typing": {"type": "On"}})).await.status, 202);
    let r = e.post(&path, json!({"typing": {"type": "Off"}})).await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["typing.type"]);
    let r = e.post(&path, json!({})).await;
    assert_eq!(r.fields(), vec!["typing"]);
}

#[tokio::test]
async fn threading_timeline_get_put() {
    let e = start().await;
    let r = e.get("/api/v2/conversations/messaging/threadingtimeline").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["defaultTimeoutMinutes"], 4320);
    let r = e
        .call(
            "PUT",
            "/api/v2/conversations/messaging/threadingtimeline",
            Some(json!({"settings": [{"messengerType": "webmessaging", "timeoutInMinutes": 0}]})),
        )
        .await;
    assert_eq!(r.status, 200);
    let wm = r.body["settings"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["messengerType"] == "webmessaging"))
        .expect("webmessaging");
    assert_eq!(wm["timeoutInMinutes"], 0);
    let r = e.call("PUT", "/api/v2/conversations/messaging/threadingtimeline", Some(json!({}))).await;
    r.assert_error(400, "constraint.validation");
    assert_eq!(r.fields(), vec!["settings"]);
}

#[tokio::test]
async fn outbound_conversation_rejects_webmessaging() {
    let e = start().await;
    let r = e
        .post(
            "/api/v2/conversations/messages",
            json!({"queueId": QUEUE, "toAddress": "+15550100", "toAddressMessengerType": "webmessaging"}),
        )
        .await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["toAddressMessengerType"]);
    let r = e
        .post(
            "/api/v2/conversations/messages",
            json!({"queueId": QUEUE, "toAddress": "+15550100", "toAddressMessengerType": "sms"}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["id"].is_string());
    let again = e
        .post(
            "/api/v2/conversations/messages",
            json!({"queueId": QUEUE, "toAddress": "+15550100", "toAddressMessengerType": "sms"}),
        )
        .await;
    again.assert_error(400, "bad.request");
}

/// Shapes the official SDKs require, found by foreign clients: `recordingState` in the SDK's enum, segments with an
/// `endTime` once ended and no `howEnded: null` while live, `createdBy.version` on agent messages, and
/// `GET /messages/{messageId}/details` mapping a message to its conversation.
#[tokio::test]
async fn sdk_required_shapes_and_message_details() {
    let (e, _g, cid, comm) = routed().await;
    let r = e.get(&format!("/api/v2/conversations/{cid}")).await;
    assert_eq!(r.body["recordingState"], "NONE");
    for p in r.body["participants"].as_array().expect("participants") {
        for c in p["messages"].as_array().into_iter().flatten() {
            for s in c["segments"].as_array().into_iter().flatten() {
                assert!(s.get("howEnded").is_none_or(|h| !h.is_null()), "no null howEnded: {s}");
                if c["state"] == "disconnected" {
                    assert!(s["endTime"].is_string(), "an ended segment has its endTime: {c}");
                    assert!(s["howEnded"].is_string(), "{c}");
                } else {
                    assert!(s.get("endTime").is_none(), "a live segment has no end: {c}");
                }
            }
        }
    }
    let sent = e
        .post(
            &format!("/api/v2/conversations/messages/{cid}/communications/{comm}/messages"),
            json!({"textBody": "details please"}),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.body["createdBy"]["version"], 1, "User.version is required by the SDK: {}", sent.body);
    let mid = sent.body["id"].as_str().expect("message id");
    let details = e.get(&format!("/api/v2/conversations/messages/{mid}/details")).await;
    assert_eq!(details.status, 200, "{}", details.body);
    assert_eq!(details.body["conversationId"], cid.as_str());
    assert_eq!(details.body["id"], mid);
    assert_eq!(details.body["normalizedMessage"]["text"], "details please");
    e.get("/api/v2/conversations/messages/no-such-message/details").await.assert_error(404, "not.found");
}
