//! Regressions for what the official Python SDK (PureCloudPlatformClientV2 269.0.0, legacy chat on 263.0.0) found
//! when `tests/sdk/python/fidelity.py` drove the emulator (docs/emulator.md, "Checked with the official Python
//! SDK"). CI does not run the SDK; these replay its requests and pin the fixed shapes.
//!
//! The field lists are the SDK models' JSON names (`attribute_map` values): the SDK drops any other key silently,
//! so an emulator field outside them is one a real response does not have.

mod common;

use common::*;
use serde_json::{json, Value};

const DAVE: &str = "e1e2e3e4-0000-4000-8000-000000000002";

/// `Participant` (generic `GET /api/v2/conversations/{id}`) in PY269.
const SDK_PARTICIPANT: &[&str] = &[
    "id",
    "startTime",
    "endTime",
    "connectedTime",
    "name",
    "userUri",
    "userId",
    "externalContactId",
    "externalContactInitialDivisionId",
    "externalOrganizationId",
    "queueId",
    "groupId",
    "teamId",
    "queueName",
    "purpose",
    "participantType",
    "consultParticipantId",
    "address",
    "ani",
    "aniName",
    "dnis",
    "locale",
    "wrapupRequired",
    "wrapupPrompt",
    "wrapupTimeoutMs",
    "wrapupSkipped",
    "wrapup",
    "mediaRoles",
    "conversationRoutingData",
    "alertingTimeoutMs",
    "monitoredParticipantId",
    "coachedParticipantId",
    "attributes",
    "calls",
    "callbacks",
    "chats",
    "cobrowsesessions",
    "emails",
    "messages",
    "internalMessages",
    "screenMonitorings",
    "screenshares",
    "socialExpressions",
    "videos",
    "evaluations",
    "screenRecordingState",
    "flaggedReason",
    "startAcwTime",
    "endAcwTime",
    "bargedParticipantId",
];

/// `UcUserPresence` (items of `GET /api/v2/users/presences/purecloud/bulk`) in PY269.
const SDK_UC_USER_PRESENCE: &[&str] =
    &["id", "name", "userId", "source", "sourceId", "presenceDefinition", "message", "modifiedDate", "selfUri"];

/// `WebChatMessageEntityList` (agent and guest chat message lists) in PY263.
const SDK_WEBCHAT_MESSAGE_LIST: &[&str] = &["pageSize", "entities", "previousPage", "next", "selfUri"];

fn extra_keys(v: &Value, allowed: &[&str]) -> Vec<String> {
    v.as_object().map(|o| o.keys().filter(|k| !allowed.contains(&k.as_str())).cloned().collect()).unwrap_or_default()
}

/// An agentless web messaging conversation with Alice connected by the control API: (conversation id, body of
/// the generic GET).
async fn agentless_with_agent(e: &Emulator2) -> (String, Value) {
    let r = e
        .post(
            "/api/v2/conversations/messages/agentless",
            json!({"fromAddress": DEPLOYMENT, "toAddressMessengerType": "webmessaging",
                   "externalContactId": DAVE, "textBody": "Your order shipped"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let cid = r.body["conversationId"].as_str().expect("conversationId").to_string();
    let c = e.control_call("POST", &format!("/conversations/{cid}/agents/{ALICE}/connect"), None).await;
    assert_eq!(c.status, 204);
    let conv = e.get(&format!("/api/v2/conversations/{cid}")).await;
    assert_eq!(conv.status, 200);
    (cid, conv.body)
}

fn agent(conv: &Value) -> Value {
    conv["participants"]
        .as_array()
        .and_then(|p| p.iter().rev().find(|p| p["purpose"] == "agent").cloned())
        .expect("agent participant")
}

/// Found by `ConversationsApi.patch_conversation_participant`: the media-independent participant PATCH answered
/// 404 (no route).
#[tokio::test]
async fn generic_participant_patch_disconnects() {
    let e = start().await;
    let (cid, conv) = agentless_with_agent(&e).await;
    let pid = agent(&conv)["id"].as_str().expect("pid").to_string();
    let r = e
        .call(
            "PATCH",
            &format!("/api/v2/conversations/{cid}/participants/{pid}"),
            Some(json!({"state": "disconnected"})),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let after = e.get(&format!("/api/v2/conversations/{cid}")).await.body;
    let a = agent(&after);
    assert_eq!(a["messages"][0]["state"], "disconnected");
    assert!(a["endTime"].is_string());
    e.call("PATCH", &format!("/api/v2/conversations/{cid}/participants/nope"), Some(json!({"state": "disconnected"})))
        .await
        .assert_error(404, "not.found");
    e.call("PATCH", "/api/v2/conversations/nope/participants/nope", Some(json!({"state": "disconnected"})))
        .await
        .assert_error(404, "not.found");
}

/// Found by the SDK's `Participant` model: the generic GET carried `state`, `direction` and `disconnectType` on
/// participants, which the generic model does not have (they live on each communication). The media-specific
/// GET keeps them (MessageMediaParticipant has them).
#[tokio::test]
async fn generic_participants_carry_only_sdk_fields() {
    let e = start().await;
    let (cid, conv) = agentless_with_agent(&e).await;
    for p in conv["participants"].as_array().expect("participants") {
        assert_eq!(extra_keys(p, SDK_PARTICIPANT), Vec::<String>::new(), "participant {p}");
        assert!(p["messages"][0]["state"].is_string(), "the communication keeps its state: {p}");
    }
    let media = e.get(&format!("/api/v2/conversations/messages/{cid}")).await.body;
    for p in media["participants"].as_array().expect("participants") {
        assert!(p["state"].is_string() && p["direction"].is_string(), "MessageMediaParticipant has state: {p}");
    }
}

/// Found while checking `get_conversation` with the SDK: an agent connected by the control API to a conversation
/// that never queued had `queueId: ""` (and `queue: {id: ""}` in the media GET).
#[tokio::test]
async fn control_connected_agent_has_no_empty_queue() {
    let e = start().await;
    let (cid, conv) = agentless_with_agent(&e).await;
    assert!(agent(&conv).get("queueId").is_none(), "{}", agent(&conv));
    let media = e.get(&format!("/api/v2/conversations/messages/{cid}")).await.body;
    assert!(agent(&media).get("queue").is_none(), "{}", agent(&media));
}

/// Found by the SDK's `UcUserPresence` model: bulk presence items carried `primary`.
#[tokio::test]
async fn bulk_presence_items_are_uc_user_presences() {
    let e = start().await;
    let r = e.get(&format!("/api/v2/users/presences/purecloud/bulk?id={ALICE},{BOB}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body.as_array().expect("array");
    assert_eq!(items.len(), 2);
    for p in items {
        assert_eq!(extra_keys(p, SDK_UC_USER_PRESENCE), Vec::<String>::new(), "{p}");
        assert!(p["userId"].is_string() && p["presenceDefinition"]["id"].is_string());
    }
}

/// Found by the SDK's `WebChatMessageEntityList` (PY263): the guest message list carried `pageNumber`, `total`
/// and `pageCount`; the agent list had no `pageSize`/`selfUri`.
#[tokio::test]
async fn chat_message_lists_are_webchat_message_entity_lists() {
    let e = start().await;
    let create = json!({"organizationId": ORG, "deploymentId": CHAT_DEPLOYMENT,
        "routingTarget": {"targetType": "QUEUE", "targetAddress": "Support"},
        "memberInfo": {"displayName": "Erin"}});
    let r =
        to_resp(e.http.post(e.url("/api/v2/webchat/guest/conversations")).json(&create).send().await.expect("send"))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cid = r.body["id"].as_str().expect("id").to_string();
    let jwt = r.body["jwt"].as_str().expect("jwt").to_string();
    let member = r.body["member"]["id"].as_str().expect("member").to_string();
    let sent = e
        .call_as(
            &jwt,
            "POST",
            &format!("/api/v2/webchat/guest/conversations/{cid}/members/{member}/messages"),
            Some(json!({"body": "hello", "bodyType": "standard"})),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);

    let guest = e.call_as(&jwt, "GET", &format!("/api/v2/webchat/guest/conversations/{cid}/messages"), None).await;
    assert_eq!(guest.status, 200);
    assert_eq!(extra_keys(&guest.body, SDK_WEBCHAT_MESSAGE_LIST), Vec::<String>::new(), "{}", guest.body);
    assert_eq!(guest.body["entities"].as_array().map(Vec::len), Some(1));
    assert!(guest.body["pageSize"].is_number() && guest.body["selfUri"].is_string());

    let agent = e.get(&format!("/api/v2/conversations/chats/{cid}/messages")).await;
    assert_eq!(agent.status, 200);
    assert_eq!(extra_keys(&agent.body, SDK_WEBCHAT_MESSAGE_LIST), Vec::<String>::new(), "{}", agent.body);
    assert!(agent.body["pageSize"].is_number() && agent.body["selfUri"].is_string());
}
