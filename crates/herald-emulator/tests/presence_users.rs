//! Fidelity: presence definitions, user presence, routing status and users.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn presence_definitions_old_and_new() {
    let e = start().await;
    let old = e.get("/api/v2/presencedefinitions").await;
    assert_eq!(old.status, 200);
    let avail = old.body["entities"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["id"] == AVAILABLE))
        .cloned()
        .expect("available");
    assert_eq!(avail["systemPresence"], "Available");
    assert_eq!(avail["languageLabels"]["en_US"], "Available");
    let onq = old.body["entities"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["id"] == ON_QUEUE))
        .cloned()
        .expect("on queue");
    assert_eq!(onq["systemPresence"], "On Queue");
    let new = e.get("/api/v2/presence/definitions").await;
    let onq = new.body["entities"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["id"] == ON_QUEUE))
        .cloned()
        .expect("on queue");
    assert_eq!(onq["systemPresence"], "OnQueue");
    assert!(new.body["total"].is_number());
    let sys = e.get("/api/v2/systempresences").await;
    assert!(sys.body.as_array().is_some_and(|a| a.iter().any(|p| p["id"] == "AVAILABLE")));
}

#[tokio::test]
async fn user_presence_and_routing_status() {
    let e = start().await;
    let r = e.get(&format!("/api/v2/users/{BOB}/presences/purecloud")).await;
    assert_eq!(r.body["presenceDefinition"]["id"], AVAILABLE);
    let r = e.get(&format!("/api/v2/users/{BOB}/routingstatus")).await;
    assert_eq!(r.body["status"], "OFF_QUEUE");
    let r = e
        .call(
            "PATCH",
            &format!("/api/v2/users/{BOB}/presences/purecloud"),
            Some(json!({"presenceDefinition": {"id": "bogus"}})),
        )
        .await;
    r.assert_error(400, "invalid.value");
    assert_eq!(r.fields(), vec!["presenceDefinition.id"]);
    let r = e.call("PUT", &format!("/api/v2/users/{BOB}/routingstatus"), Some(json!({"status": "IDLE"}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "IDLE");
    let r = e.get(&format!("/api/v2/users/{BOB}/presences/purecloud")).await;
    assert_eq!(r.body["presenceDefinition"]["systemPresence"], "On Queue");
    let r = e.get(&format!("/api/v2/users/presences/purecloud/bulk?id={ALICE},{BOB}")).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(2));
    let r = e.call("PUT", &format!("/api/v2/users/{BOB}/routingstatus"), Some(json!({"status": "BOGUS"}))).await;
    assert_eq!(r.fields(), vec!["status"]);
    e.get("/api/v2/users/nobody/presences/purecloud").await.assert_error(404, "not.found");
}

#[tokio::test]
async fn going_off_queue_stops_routing_and_on_queue_resumes() {
    let e = start().await;
    let c = e.handle.control();
    c.set_presence(ALICE, "Available").expect("presence");
    let (mut g, _) = e.guest("queued-guest").await;
    g.say("anyone?", "t").await;
    g.next(|f| f["body"]["text"] == "anyone?").await;
    let cid = c.guest_conversation("queued-guest").expect("conversation");
    assert!(c.conversation(&cid).expect("c").agent_ids.is_empty());
    c.set_presence(BOB, "On Queue").expect("presence");
    let (_, _) = e.wait_agent("queued-guest").await;
    assert_eq!(c.conversation(&cid).expect("c").connected_agent_ids, vec![BOB.to_string()]);
    assert_eq!(c.agent_status(BOB).map(|s| s.2).as_deref(), Some("INTERACTING"));
    c.disconnect_conversation(&cid).expect("disconnect");
    assert_eq!(c.agent_status(BOB).map(|s| s.2).as_deref(), Some("IDLE"));
}

#[tokio::test]
async fn users_get_and_list() {
    let e = start().await;
    let r = e.get(&format!("/api/v2/users/{ALICE}?expand=presence,routingStatus")).await;
    assert_eq!(r.body["name"], "Alice Agent");
    assert_eq!(r.body["presence"]["presenceDefinition"]["id"], ON_QUEUE);
    assert_eq!(r.body["routingStatus"]["status"], "IDLE");
    let r = e.get("/api/v2/users?pageSize=1&pageNumber=2").await;
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["pageCount"], 2);
    assert_eq!(r.body["entities"][0]["id"], BOB);
}
