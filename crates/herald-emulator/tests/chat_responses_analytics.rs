//! Legacy web chat (agent + guest round trip), canned responses, analytics.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn guest_chat_round_trip() {
    let e = start().await;
    let create = json!({
        "organizationId": ORG, "deploymentId": CHAT_DEPLOYMENT,
        "routingTarget": {"targetType": "QUEUE", "targetAddress": "Support"},
        "memberInfo": {"displayName": "Erin Guest"}
    });
    let r = common::to_resp(
        e.http.post(e.url("/api/v2/webchat/guest/conversations")).json(&create).send().await.expect("send"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["id"].as_str().expect("id").to_string();
    let jwt = r.body["jwt"].as_str().expect("jwt").to_string();
    let member = r.body["member"]["id"].as_str().expect("member").to_string();
    let stream = r.body["eventStreamUri"].as_str().expect("eventStreamUri").to_string();
    // No routing before the stream attaches.
    assert!(e.handle.control().conversation(&cid).expect("c").agent_ids.is_empty());
    let mut ws = channel_socket(&stream).await;
    // Agent joins (member event), guest sends, agent auto-replies.
    let joined = next_matching(&mut ws, |f| {
        f["topicName"] == format!("v2.conversations.chats.{cid}.members")
            && f["eventBody"]["member"]["role"] == "AGENT"
            && f["eventBody"]["member"]["state"] == "CONNECTED"
    })
    .await;
    assert_eq!(joined["metadata"]["type"], "member-change", "guest chat clients dispatch on metadata.type");
    let r = e
        .call_as(
            &jwt,
            "POST",
            &format!("/api/v2/webchat/guest/conversations/{cid}/members/{member}/messages"),
            Some(json!({"body": "hello", "bodyType": "standard"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sender"]["id"], member.as_str());
    assert_eq!(r.body["bodyType"], "standard");
    let hello = next_matching(&mut ws, |f| f["eventBody"]["body"] == "hello").await;
    assert_eq!(hello["metadata"]["type"], "message");
    assert_eq!(hello["eventBody"]["sender"]["role"], "CUSTOMER");
    let reply = next_matching(&mut ws, |f| {
        f["topicName"] == format!("v2.conversations.chats.{cid}.messages")
            && f["eventBody"]["sender"]["id"] != member.as_str()
    })
    .await;
    assert!(reply["eventBody"]["body"].is_string());
    assert_eq!(reply["eventBody"]["sender"]["role"], "AGENT");
    // A message the socket does not handle gets an explicit answer instead of silence.
    use futures::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Text(r#"{"message":"subscribe"}"#.into())).await.expect("send");
    let answer = next_matching(&mut ws, |f| {
        f["topicName"] == "channel.metadata"
            && f["eventBody"]["message"].as_str().is_some_and(|m| m.contains("unsupported socket message"))
    })
    .await;
    assert!(answer["eventBody"]["message"].as_str().is_some_and(|m| m.contains("subscriptions")), "{answer}");
    // Agent side: generic GET shows chats[]; send via REST.
    let conv = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    let agent_comm = conv["participants"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["purpose"] == "agent"))
        .and_then(|p| p["chats"][0]["id"].as_str())
        .expect("agent chat")
        .to_string();
    let r = e
        .post(
            &format!("/api/v2/conversations/chats/{cid}/communications/{agent_comm}/messages"),
            json!({"body": "from agent", "bodyType": "standard"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["conversation"]["id"], cid.as_str());
    next_matching(&mut ws, |f| f["eventBody"]["body"] == "from agent").await;
    let r = e
        .post(
            &format!("/api/v2/conversations/chats/{cid}/communications/{agent_comm}/messages"),
            json!({"body": "x".repeat(4001)}),
        )
        .await;
    assert_eq!(r.fields(), vec!["body"]);
    assert_eq!(e.get(&format!("/api/v2/conversations/chats/{cid}")).await.status, 200);
    // Paging back with `before`: newest first, then the page before the oldest one seen.
    let base = format!("/api/v2/conversations/chats/{cid}/messages?sortOrder=descending");
    let list = |q: String| {
        let path = format!("{base}{q}");
        let e = &e;
        async move { e.get(&path).await }
    };
    let all = list(String::new()).await.body["entities"].as_array().cloned().unwrap_or_default();
    assert!(all.len() >= 3, "{all:?}");
    let first = list("&maxResults=2".into()).await.body["entities"].as_array().cloned().unwrap_or_default();
    assert_eq!(first, all[..2].to_vec());
    let oldest = first[1]["id"].as_str().expect("id");
    let older = list(format!("&maxResults=2&before={oldest}")).await.body["entities"].as_array().cloned();
    assert_eq!(older.unwrap_or_default(), all[2..all.len().min(4)].to_vec(), "the next page back");
    list("&before=no-such-message".into()).await.assert_error(400, "invalid.query.param.value");
    list("&maxResults=101".into()).await.assert_error(400, "invalid.query.param.value");
    let members = e.call_as(&jwt, "GET", &format!("/api/v2/webchat/guest/conversations/{cid}/members"), None).await;
    assert!(members.body["entities"].as_array().is_some_and(|m| m.iter().any(|m| m["role"] == "CUSTOMER")));
    // Bad JWT.
    e.call_as("nope", "GET", &format!("/api/v2/webchat/guest/conversations/{cid}/members"), None)
        .await
        .assert_error(401, "bad.credentials");
    // The guest leaves: the chat ends.
    let r =
        e.call_as(&jwt, "DELETE", &format!("/api/v2/webchat/guest/conversations/{cid}/members/{member}"), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(e.handle.control().conversation(&cid).expect("c").state, "disconnected");
}

#[tokio::test]
async fn guest_chat_validation() {
    let e = start().await;
    let bad = json!({"organizationId": ORG, "deploymentId": CHAT_DEPLOYMENT,
        "routingTarget": {"targetType": "QUEUE", "targetAddress": "Nowhere"}, "memberInfo": {"displayName": "x"}});
    let r = common::to_resp(
        e.http.post(e.url("/api/v2/webchat/guest/conversations")).json(&bad).send().await.expect("send"),
    )
    .await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["routingTarget.targetAddress"]);
}

#[tokio::test]
async fn canned_responses() {
    let e = start().await;
    let r = e.get(&format!("/api/v2/responsemanagement/responses/{RESPONSE_SHIPPED}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["libraries"][0]["id"], LIBRARY);
    assert_eq!(r.body["texts"][0]["contentType"], "text/plain");
    assert_eq!(r.body["substitutions"][0]["id"], "order_id");
    assert_eq!(r.body["substitutions"][0]["defaultValue"], "(unknown)");
    let r = e.get(&format!("/api/v2/responsemanagement/responses?libraryId={LIBRARY}")).await;
    assert_eq!(r.body["total"], 3, "the seeded Proactive library holds three responses");
    let r = e.get("/api/v2/responsemanagement/responses").await;
    assert_eq!(r.fields(), vec!["libraryId"]);
    let r =
        e.post("/api/v2/responsemanagement/responses/query", json!({"queryPhrase": "shipped", "pageSize": 25})).await;
    assert_eq!(r.body["results"]["total"], 1);
    e.get("/api/v2/responsemanagement/responses/nope").await.assert_error(404, "not.found");
}

#[tokio::test]
async fn analytics_conversation_details_query() {
    let e = start().await;
    let (mut g, _) = e.guest("analytics-guest").await;
    g.say("hi", "t").await;
    let (cid, _) = e.wait_agent("analytics-guest").await;
    let now = chrono::Utc::now();
    let interval = format!(
        "{}/{}",
        (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        (now + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3fZ")
    );
    let q = json!({"interval": interval, "order": "desc", "orderBy": "conversationStart",
        "paging": {"pageSize": 25, "pageNumber": 1},
        "segmentFilters": [{"type": "and", "predicates": [
            {"type": "dimension", "dimension": "mediaType", "operator": "matches", "value": "message"},
            {"type": "dimension", "dimension": "messageType", "operator": "matches", "value": "webmessaging"},
            {"type": "dimension", "dimension": "queueId", "operator": "matches", "value": QUEUE}]}],
        "conversationFilters": [{"type": "and", "predicates": [{"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"}]}]});
    let r = e.post("/api/v2/analytics/conversations/details/query", q.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalHits"], 1);
    let c = &r.body["conversations"][0];
    assert_eq!(c["conversationId"], cid.as_str());
    let sess = &c["participants"][0]["sessions"][0];
    assert_eq!(sess["mediaType"], "message");
    assert_eq!(sess["messageType"], "webmessaging");
    e.handle.control().disconnect_conversation(&cid).expect("disconnect");
    let r = e.post("/api/v2/analytics/conversations/details/query", q).await;
    assert_eq!(r.body["totalHits"], 0);
    let r = e.post("/api/v2/analytics/conversations/details/query", json!({"interval": "bad"})).await;
    r.assert_error(400, "invalid.date");
}

#[tokio::test]
async fn control_http_api() {
    let e = start().await;
    let (mut g, _) = e.guest("control-guest").await;
    g.say("hello", "t").await;
    let (cid, _) = e.wait_agent("control-guest").await;
    let r = e.control_call("GET", "/conversations", None).await;
    assert!(r.body["entities"].as_array().is_some_and(|c| c.iter().any(|c| c["id"] == cid.as_str())));
    let r =
        e.control_call("POST", &format!("/conversations/{cid}/messages"), Some(json!({"text": "via control"}))).await;
    assert_eq!(r.status, 200);
    g.next(|f| f["body"]["text"] == "via control").await;
    let r = e.control_call("GET", &format!("/conversations/{cid}/transcript"), None).await;
    let lines = r.body["entities"].as_array().expect("lines");
    assert_eq!(lines[0]["direction"], "inbound");
    assert_eq!(lines[0]["sender"], "customer");
    assert!(lines.iter().any(|l| l["text"] == "via control" && l["sender"] == format!("agent:{ALICE}")));
    let r = e.control_call("POST", "/conversations/close-all", None).await;
    assert_eq!(r.body["closed"], 1);
    let r = e.control_call("GET", "/counters", None).await;
    assert!(r.body["guestMessages"].as_u64().is_some_and(|n| n >= 1));
    assert_eq!(e.control_call("GET", "/conversations/nope", None).await.status, 404);
    assert_eq!(
        e.control_call("PUT", &format!("/agents/{BOB}/presence"), Some(json!({"presence": "On Queue"}))).await.status,
        204
    );
}
