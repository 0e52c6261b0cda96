//! Tests of the session mapper against realistic event and GET bodies.

use super::*;
use serde_json::json;

const CONV: &str = "7f1c9e8a-4b8e-4a53-9d7e-0c3f2b1a9e01";

fn cfg() -> MapperConfig {
    MapperConfig { customer_key_attribute: Some("crmId".into()), ..MapperConfig::new("wm-main") }
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// `v2.routing.queues.{id}.conversations.messages`: customer waiting, ACD leg alerting.
fn queued_event() -> Value {
    json!({
        "id": CONV,
        "participants": [
            {
                "id": "p-cust", "name": "Ana Silva", "purpose": "customer", "state": "connected",
                "direction": "inbound", "startTime": "2026-05-01T10:00:00.000Z",
                "connectedTime": "2026-05-01T10:00:00.100Z",
                "externalContact": {"id": "ec-42", "selfUri": "/api/v2/externalcontacts/contacts/ec-42"},
                "attributes": {"crmId": "CRM-9", "deploymentId": "dep-1"},
                "journeyContext": {"customer": {"id": "guest-token-1", "idType": "cookie"},
                                   "customerSession": {"id": "cs-1", "type": "web"}},
                "type": "webmessaging",
                "messages": [{"message": {"id": "msg-1"}, "messageTime": "2026-05-01T10:00:01.000Z",
                              "messageStatus": "received"}]
            },
            {
                "id": "p-acd", "name": "Support", "purpose": "acd", "state": "connected",
                "startTime": "2026-05-01T10:00:02.000Z",
                "queue": {"id": "q-support"}, "type": "webmessaging", "messages": []
            }
        ]
    })
}

fn connected_event() -> Value {
    let mut v = queued_event();
    let parts = v["participants"].as_array_mut().unwrap();
    parts[1]["state"] = json!("disconnected");
    parts[1]["endTime"] = json!("2026-05-01T10:01:00.000Z");
    parts.push(json!({
        "id": "p-agent", "name": "Bo Agent", "purpose": "agent", "state": "connected",
        "startTime": "2026-05-01T10:01:00.000Z", "connectedTime": "2026-05-01T10:01:02.000Z",
        "user": {"id": "u-bo"}, "queue": {"id": "q-support"}, "type": "webmessaging",
        "messages": [{"message": {"id": "msg-2"}, "messageStatus": "sent"}]
    }));
    v
}

/// `GET /api/v2/conversations/{id}`: generic shape, flat ids, communications in `messages[]` with `id` and `state`.
fn generic_get() -> Value {
    json!({
        "id": CONV, "startTime": "2026-05-01T10:00:00.000Z",
        "participants": [
            {"id": "p-cust", "name": "Ana Silva", "purpose": "customer", "externalContactId": "ec-42",
             "attributes": {"crmId": "CRM-9", "deploymentId": "dep-1"},
             "startTime": "2026-05-01T10:00:00.000Z",
             "messages": [{"id": "comm-cust", "state": "connected", "type": "webmessaging",
                           "toAddress": {"addressNormalized": "dep-1"},
                           "messages": [{"messageId": "msg-1", "messageStatus": "received"}]}]},
            {"id": "p-acd", "purpose": "acd", "queueId": "q-support", "startTime": "2026-05-01T10:00:02.000Z",
             "endTime": "2026-05-01T10:01:00.000Z",
             "messages": [{"id": "comm-acd", "state": "disconnected", "type": "webmessaging"}]},
            {"id": "p-agent", "name": "Bo Agent", "purpose": "agent", "userId": "u-bo", "queueId": "q-support",
             "startTime": "2026-05-01T10:01:00.000Z", "connectedTime": "2026-05-01T10:01:02.000Z",
             "messages": [{"id": "comm-agent", "state": "connected", "type": "webmessaging"}]}
        ]
    })
}

#[test]
fn queued_message_event_opens_a_session_with_every_id() {
    let now = t("2026-05-01T10:00:03Z");
    let change = apply_conversation(None, &queued_event(), &cfg(), now).unwrap();
    let SessionChange::Opened(s) = change else { panic!("{change:?}") };
    assert_eq!(s.conversation_id, CONV);
    assert_eq!(s.integration, "wm-main");
    assert_eq!(s.media, MediaKind::WebMessaging);
    assert_eq!(s.state, SessionState::Queued);
    assert_eq!(s.customer.external_contact_id.as_deref(), Some("ec-42"));
    assert_eq!(s.customer.customer_key.as_deref(), Some("CRM-9"));
    assert_eq!(s.customer.guest_id.as_deref(), Some("guest-token-1"));
    assert_eq!(s.customer.name.as_deref(), Some("Ana Silva"));
    assert_eq!(s.deployment_id.as_deref(), Some("dep-1"));
    assert_eq!(s.queue_id.as_deref(), Some("q-support"));
    assert_eq!(s.opened_at, t("2026-05-01T10:00:00Z"));
    assert_eq!(s.queued_at, Some(t("2026-05-01T10:00:02Z")));
    assert!(s.agent_ids.is_empty());
    // MessageDetails entries are messages, not communications.
    assert!(s.participants.iter().all(|p| p.communications.is_empty()));
    assert_eq!(s.participants[0].purpose, "customer");
}

#[test]
fn agent_connecting_updates_and_asks_for_the_communication_id() {
    let c = cfg();
    let opened = apply_conversation(None, &queued_event(), &c, t("2026-05-01T10:00:03Z")).unwrap();
    let change = apply_conversation(Some(opened.session()), &connected_event(), &c, t("2026-05-01T10:01:03Z")).unwrap();
    let SessionChange::Updated(s) = change else { panic!("{change:?}") };
    assert_eq!(s.state, SessionState::Connected);
    assert_eq!(s.agent_ids, vec!["u-bo".to_string()]);
    assert_eq!(s.queued_at, None);
    assert!(needs_communication_lookup(&s));
    assert_eq!(s.agent_name(), Some("Bo Agent"));

    // The generic GET fills in the communication ids.
    let change = apply_conversation(Some(&s), &generic_get(), &c, t("2026-05-01T10:01:04Z")).unwrap();
    let SessionChange::Updated(s2) = change else { panic!("{change:?}") };
    assert_eq!(s2.agent_communication_id(), Some("comm-agent"));
    assert!(!needs_communication_lookup(&s2));
    assert_eq!(s2.state, SessionState::Connected);
    let acd = s2.participants.iter().find(|p| p.purpose == "acd").unwrap();
    assert_eq!(acd.state, "disconnected", "state derived from the communications");

    // A later media-topic event keeps the communication ids the GET supplied.
    let change = apply_conversation(Some(&s2), &connected_event(), &c, t("2026-05-01T10:01:05Z")).unwrap();
    assert_eq!(change.session().agent_communication_id(), Some("comm-agent"));
}

#[test]
fn duplicate_event_is_unchanged() {
    let c = cfg();
    let opened = apply_conversation(None, &queued_event(), &c, t("2026-05-01T10:00:03Z")).unwrap();
    let again = apply_conversation(Some(opened.session()), &queued_event(), &c, t("2026-05-01T10:00:09Z")).unwrap();
    assert!(matches!(again, SessionChange::Unchanged(_)), "{again:?}");
    assert!(again.into_event().is_none());
}

#[test]
fn everyone_disconnected_closes_the_session() {
    let c = cfg();
    let s = apply_conversation(None, &connected_event(), &c, t("2026-05-01T10:01:03Z")).unwrap();
    let mut body = connected_event();
    for p in body["participants"].as_array_mut().unwrap() {
        p["state"] = json!("disconnected");
        p["endTime"] = json!("2026-05-01T10:05:00.000Z");
    }
    body["participants"][2]["disconnectType"] = json!("client");
    let change = apply_conversation(Some(s.session()), &body, &c, t("2026-05-01T10:05:01Z")).unwrap();
    let SessionChange::Closed(closed) = change.clone() else { panic!("{change:?}") };
    assert_eq!(closed.closed_at, Some(t("2026-05-01T10:05:00Z")));
    assert!(!closed.is_open());
    assert_eq!(closed.agent_ids, vec!["u-bo".to_string()]);
    assert!(matches!(change.into_event(), Some(EventKind::SessionClosed { .. })));
    // Seeing the closed body again changes nothing.
    let again = apply_conversation(Some(&closed), &body, &c, t("2026-05-01T10:06:00Z")).unwrap();
    assert!(matches!(again, SessionChange::Unchanged(_)));
}

#[test]
fn chat_topic_body_maps_to_web_chat() {
    let body = json!({
        "id": "chat-conv-1",
        "participants": [
            {"id": "pc", "name": "Guest", "purpose": "customer", "startTime": "2026-05-01T09:00:00Z",
             "chats": [{"id": "member-7", "state": "connected", "roomId": "room-1"}]},
            {"id": "pa", "purpose": "agent", "userId": "u-1",
             "chats": [{"id": "agent-comm", "state": "CONNECTED"}]}
        ]
    });
    let change = apply_conversation(None, &body, &MapperConfig::new("chat"), t("2026-05-01T09:00:05Z")).unwrap();
    let s = change.session();
    assert_eq!(s.media, MediaKind::WebChat);
    assert_eq!(s.state, SessionState::Connected);
    assert_eq!(s.customer.guest_id.as_deref(), Some("member-7"));
    assert_eq!(s.agent_communication_id(), Some("agent-comm"));
}

#[test]
fn bad_bodies_are_errors_not_panics() {
    let c = cfg();
    let now = Utc::now();
    assert_eq!(apply_conversation(None, &json!([1, 2]), &c, now), Err(MapError::NotAnObject));
    assert_eq!(apply_conversation(None, &json!({"participants": []}), &c, now), Err(MapError::MissingId));
    let s = apply_conversation(None, &queued_event(), &c, now).unwrap();
    let other = json!({"id": "another", "participants": "garbage"});
    assert!(matches!(apply_conversation(Some(s.session()), &other, &c, now), Err(MapError::WrongConversation { .. })));
    // Garbage participants are skipped.
    let odd = json!({"id": "x", "participants": [42, {"no": "id"}, {"id": "p", "purpose": "CUSTOMER", "state": "Connected"}]});
    let s = apply_conversation(None, &odd, &c, now).unwrap();
    assert_eq!(s.session().participants.len(), 1);
    assert_eq!(s.session().participants[0].purpose, "customer");
    assert_eq!(s.session().participants[0].state, "connected");
    assert_eq!(conversation_id(&odd), Some("x"));
}
