//! (De)serialisation of the models against realistic bodies.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::analytics::OpenConversationsQuery;
use super::chat::{ChatBodyType, ChatMessageRequest, WebChatMessage};
use super::conversation::{CommunicationState, Conversation, MessageConversation};
use super::messaging::{
    AdditionalMessage, AgentlessRequest, AgentlessResponse, MessageData, MessageStatus, MessengerType,
};
use super::notifications::{Channel, ChannelTopic};
use super::presence::{
    normalize_system_presence, OrganizationPresenceDefinition, RoutingStatus, RoutingStatusValue, UserPresence,
};
use super::responses::CannedResponse;
use super::{Direction, EntityListing};

#[test]
fn send_bodies_use_exact_field_names() {
    assert_eq!(
        serde_json::to_value(AdditionalMessage::text("Your order shipped")).unwrap(),
        json!({"textBody": "Your order shipped"})
    );
    let agentless = AgentlessRequest::webmessaging("dep-1", "ec-1", "hello");
    assert_eq!(
        serde_json::to_value(&agentless).unwrap(),
        json!({"fromAddress": "dep-1", "externalContactId": "ec-1", "toAddressMessengerType": "webmessaging", "textBody": "hello"})
    );
    assert_eq!(
        serde_json::to_value(ChatMessageRequest::standard("hi")).unwrap(),
        json!({"body": "hi", "bodyType": "standard"})
    );
    assert_eq!(
        serde_json::to_value(UserPresence::set_definition("def-1")).unwrap(),
        json!({"presenceDefinition": {"id": "def-1"}})
    );
    assert_eq!(
        serde_json::to_value(RoutingStatus { status: Some(RoutingStatusValue::Idle), ..Default::default() }).unwrap(),
        json!({"status": "IDLE"})
    );
    assert_eq!(
        serde_json::to_value(vec![ChannelTopic::topic("v2.users.u.presence")]).unwrap(),
        json!([{"id": "v2.users.u.presence"}])
    );
}

#[test]
fn message_data_and_agentless_response_decode() {
    let d: MessageData = serde_json::from_value(json!({
        "id": "m-1", "timestamp": "2026-05-01T10:00:00.000Z", "direction": "outbound", "messengerType": "webmessaging",
        "status": "delivery-success", "normalizedMessage": {"type": "Text", "text": "Your order shipped", "futureField": 1},
        "conversationId": "c-1", "selfUri": "/api/v2/conversations/messages/c-1/messages/m-1"
    }))
    .unwrap();
    assert_eq!(d.status, Some(MessageStatus::DeliverySuccess));
    assert_eq!(d.direction, Some(Direction::Outbound));
    assert_eq!(d.normalized_message.unwrap().text.as_deref(), Some("Your order shipped"));
    let r: AgentlessResponse = serde_json::from_value(json!({
        "id": "m-2", "conversationId": "c-2", "fromAddress": "dep-1", "messengerType": "webmessaging",
        "message": {"id": "m-2", "status": "sent", "timestamp": "2026-05-01T10:00:00Z"},
        "timestamp": "2026-05-01T10:00:00Z", "user": {"id": "api-user"}
    }))
    .unwrap();
    assert_eq!(r.conversation_id.as_deref(), Some("c-2"));
    assert_eq!(r.messenger_type, Some(MessengerType::WebMessaging));
    // Unknown enum values are kept, not rejected.
    let odd: MessageData = serde_json::from_value(json!({"status": "teleported", "messengerType": "pigeon"})).unwrap();
    assert_eq!(odd.status, Some(MessageStatus::Other("teleported".into())));
    assert_eq!(serde_json::to_value(&odd).unwrap()["messengerType"], "pigeon");
}

#[test]
fn conversations_decode_both_shapes() {
    let c: Conversation = serde_json::from_value(json!({
        "id": "c-1", "startTime": "2026-05-01T10:00:00.000Z",
        "participants": [
            {"id": "p-1", "purpose": "customer", "externalContactId": "ec-1", "attributes": {"crmId": "9"},
             "messages": [{"id": "comm-1", "state": "connected", "type": "webmessaging", "direction": "inbound",
                           "toAddress": {"addressNormalized": "dep"}, "messages": [{"messageId": "m", "messageStatus": "received"}]}]},
            {"id": "p-2", "purpose": "agent", "userId": "u-1", "chats": [{"id": "chat-comm", "state": "DISCONNECTED"}]}
        ]
    }))
    .unwrap();
    let comm = &c.participants[0].messages.as_ref().unwrap()[0];
    assert_eq!(comm.id, "comm-1");
    assert_eq!(comm.state, Some(CommunicationState::Connected));
    assert_eq!(comm.messenger_type, Some(MessengerType::WebMessaging));
    let chat = &c.participants[1].chats.as_ref().unwrap()[0];
    assert!(chat.state.as_ref().unwrap().is_ended());

    let m: MessageConversation = serde_json::from_value(json!({
        "id": "c-1",
        "participants": [{"id": "p-1", "purpose": "customer", "state": "connected", "type": "webmessaging",
                          "externalContact": {"id": "ec-1"}, "queue": {"id": "q"},
                          "messages": [{"messageId": "m-1", "messageURI": "uri", "messageStatus": "read",
                                        "messageTime": "2026-05-01T10:00:00Z"}]}]
    }))
    .unwrap();
    let p = &m.participants[0];
    assert_eq!(p.external_contact.as_ref().unwrap().id.as_deref(), Some("ec-1"));
    assert_eq!(p.messages.as_ref().unwrap()[0].message_uri.as_deref(), Some("uri"));
}

#[test]
fn canned_response_presence_and_channels_decode() {
    let r: CannedResponse = serde_json::from_value(json!({
        "id": "r-1", "name": "Shipping", "version": 3, "libraries": [{"id": "lib-1", "name": "Support"}],
        "texts": [{"content": "Hi {{CUSTOMER_NAME}}, order {{order_id}} shipped", "contentType": "text/plain"},
                  {"content": "Subject", "contentType": "text/plain", "type": "subject"}],
        "interactionType": "chat",
        "substitutions": [{"id": "order_id", "description": "Order", "defaultValue": "your order"}]
    }))
    .unwrap();
    assert_eq!(r.body_text().unwrap().content, "Hi {{CUSTOMER_NAME}}, order {{order_id}} shipped");
    assert_eq!(r.substitutions[0].default_value.as_deref(), Some("your order"));

    let defs: EntityListing<OrganizationPresenceDefinition> = serde_json::from_value(json!({
        "total": 1, "entities": [{"id": "d-1", "type": "System", "systemPresence": "OnQueue", "languageLabels": {"en_US": "On Queue"}}]
    }))
    .unwrap();
    assert_eq!(
        normalize_system_presence(defs.entities[0].system_presence.as_deref().unwrap()),
        normalize_system_presence("ON_QUEUE")
    );
    assert_eq!(normalize_system_presence("On Queue"), "onqueue");

    let ch: Channel = serde_json::from_value(json!({
        "connectUri": "wss://streaming.mypurecloud.com/channels/streaming-0-abc", "id": "streaming-0-abc",
        "expires": "2026-05-02T10:00:00.000Z"
    }))
    .unwrap();
    assert_eq!(ch.expires, Some(Utc.with_ymd_and_hms(2026, 5, 2, 10, 0, 0).unwrap()));
    let t: ChannelTopic =
        serde_json::from_value(json!({"id": "x", "state": "Rejected", "missingPermissions": ["a:b:c"]})).unwrap();
    assert!(t.is_rejected());

    let w: WebChatMessage = serde_json::from_value(json!({
        "id": "wm", "conversation": {"id": "c"}, "sender": {"id": "member", "role": "AGENT"},
        "body": "hi", "bodyType": "member-join", "timestamp": "2026-05-01T10:00:00Z"
    }))
    .unwrap();
    assert_eq!(w.body_type, Some(ChatBodyType::MemberJoin));
}

#[test]
fn open_conversations_query_matches_the_reference_shape() {
    let now = Utc.with_ymd_and_hms(2025, 6, 2, 10, 0, 0).unwrap();
    let q = OpenConversationsQuery::webmessaging(now, 24).queue("q-1").build();
    assert_eq!(
        serde_json::to_value(&q).unwrap(),
        json!({"interval": "2025-06-01T10:00:00.000Z/2025-06-02T10:00:00.000Z", "order": "desc", "orderBy": "conversationStart",
               "paging": {"pageSize": 25, "pageNumber": 1},
               "segmentFilters": [{"type": "and", "predicates": [
                   {"type": "dimension", "dimension": "mediaType", "operator": "matches", "value": "message"},
                   {"type": "dimension", "dimension": "messageType", "operator": "matches", "value": "webmessaging"},
                   {"type": "dimension", "dimension": "queueId", "operator": "matches", "value": "q-1"}]}],
               "conversationFilters": [{"type": "and", "predicates": [
                   {"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"}]}]})
    );
    let c = OpenConversationsQuery::webmessaging(now, 2).external_contact("ec-1").include_closed().build();
    let v = serde_json::to_value(&c).unwrap();
    assert!(v.get("conversationFilters").is_none());
    assert_eq!(v["segmentFilters"][0]["predicates"][2]["dimension"], "externalContactId");
}
