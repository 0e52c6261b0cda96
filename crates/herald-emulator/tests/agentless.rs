//! Fidelity + integration: agentless web messaging (`POST /api/v2/conversations/messages/agentless`).

mod common;

use common::*;
use serde_json::json;

const PATH: &str = "/api/v2/conversations/messages/agentless";

#[tokio::test]
async fn validation_names_fields() {
    let e = start().await;
    let base = json!({"fromAddress": DEPLOYMENT, "toAddressMessengerType": "webmessaging", "externalContactId": CAROL, "textBody": "hi"});
    let mut b = base.clone();
    b["fromAddress"] = json!("not-a-deployment");
    let r = e.post(PATH, b).await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["fromAddress"]);
    let mut b = base.clone();
    b.as_object_mut().expect("obj").remove("externalContactId");
    let r = e.post(PATH, b).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.fields(), vec!["externalContactId"]);
    let mut b = base.clone();
    b["toAddress"] = json!("+15550100");
    let r = e.post(PATH, b).await;
    assert_eq!(r.fields(), vec!["toAddress"]);
    let mut b = base.clone();
    b["textBody"] = json!("x".repeat(2001));
    let r = e.post(PATH, b).await;
    assert_eq!(r.fields(), vec!["textBody"]);
    let mut b = base.clone();
    b["toAddressMessengerType"] = json!("webchat");
    let r = e.post(PATH, b).await;
    assert_eq!(r.fields(), vec!["toAddressMessengerType"]);
    let mut b = base.clone();
    b["channel"] = json!("webChat");
    let r = e.post(PATH, b).await;
    r.assert_error(400, "invalid.property");
    assert_eq!(r.fields(), vec!["channel"]);
    let mut b = base;
    b["externalContactId"] = json!("unknown-contact");
    let r = e.post(PATH, b).await;
    assert_eq!(r.fields(), vec!["externalContactId"]);
}

#[tokio::test]
async fn agentless_reaches_a_connected_guest_and_threads() {
    let e = start().await;
    let (mut g, _) = e.guest(CAROL_TOKEN).await;
    let body = json!({"fromAddress": DEPLOYMENT, "toAddressMessengerType": "webmessaging",
                      "externalContactId": CAROL, "textBody": "Your order shipped"});
    let r = e.post(PATH, body.clone()).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["messengerType"], "webmessaging");
    assert_eq!(r.body["message"]["direction"], "outbound");
    assert_eq!(r.body["message"]["normalizedMessage"]["text"], "Your order shipped");
    let cid = r.body["conversationId"].as_str().expect("conversationId").to_string();
    let f = g.next_outbound_text().await;
    assert_eq!(f["body"]["text"], "Your order shipped");
    // The conversation has an api participant and the customer.
    let conv = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    let purposes: Vec<&str> =
        conv["participants"].as_array().expect("p").iter().filter_map(|p| p["purpose"].as_str()).collect();
    assert!(purposes.contains(&"api") && purposes.contains(&"customer"), "{purposes:?}");
    // Active conversation: a second send needs useExistingActiveConversation.
    let r = e.post(PATH, body.clone()).await;
    assert_eq!(r.fields(), vec!["useExistingActiveConversation"]);
    let mut b2 = body.clone();
    b2["useExistingActiveConversation"] = json!(true);
    let r = e.post(PATH, b2).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["conversationId"], cid.as_str());
    // The guest replies into the agentless conversation; it gets routed.
    g.say("thanks!", "t").await;
    g.next(|f| f["body"]["text"] == "thanks!").await;
    let (routed, _) = e.wait_agent(CAROL_TOKEN).await;
    assert_eq!(routed, cid);
    // After disconnect (ReadOnly), inside the window the agentless message re-opens the same conversation.
    e.handle.control().disconnect_conversation(&cid).expect("disconnect");
    g.next(|f| f["body"]["type"] == "Event").await;
    let r = e.post(PATH, body).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["conversationId"], cid.as_str());
    g.next(|f| f["body"]["text"] == "Your order shipped").await;
    g.say("reply after reopen", "t2").await;
    g.next(|f| f["body"]["text"] == "reply after reopen").await;
    assert_eq!(e.handle.control().counters().agentless_messages, 3);
}

#[tokio::test]
async fn agentless_without_live_guest_is_recorded_for_history() {
    let e = start().await;
    let r = e
        .post(
            PATH,
            json!({"fromAddress": DEPLOYMENT, "toAddressMessengerType": "webmessaging",
                   "externalContactId": CAROL, "textBody": "while you were away"}),
        )
        .await;
    assert_eq!(r.status, 202);
    let (mut g, _) = e.guest(CAROL_TOKEN).await;
    g.send(json!({"action": "getJwt", "token": CAROL_TOKEN})).await;
    let jwt = g.next(|f| f["class"] == "JwtResponse").await["body"]["jwt"].as_str().expect("jwt").to_string();
    let h = e.call_as(&jwt, "GET", "/api/v2/webmessaging/messages", None).await;
    assert_eq!(h.body["entities"][0]["text"], "while you were away");
}

#[tokio::test]
async fn agentless_sms_is_cheap_but_validated() {
    let e = start().await;
    let r = e
        .post(PATH, json!({"fromAddress": "+15550000", "toAddressMessengerType": "sms", "toAddress": "+15550101"}))
        .await;
    assert_eq!(r.fields(), vec!["textBody"]);
    let r = e
        .post(PATH, json!({"fromAddress": "+15550000", "toAddressMessengerType": "sms", "toAddress": "+15550101", "textBody": "x".repeat(766)}))
        .await;
    assert_eq!(r.fields(), vec!["textBody"]);
    let r = e
        .post(PATH, json!({"fromAddress": "+15550000", "toAddressMessengerType": "sms", "toAddress": "+15550101", "textBody": "hi"}))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["message"]["messengerType"], "sms");
}
