//! Messaging sends: agent-side `AdditionalMessage` → `MessageData`, and agentless sends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{string_enum, Direction, EntityRef};

string_enum! {
    /// The messaging platform of a message (`messengerType`, participant `type`).
    MessengerType {
        /// SMS.
        Sms = "sms",
        /// Facebook.
        Facebook = "facebook",
        /// Twitter / X.
        Twitter = "twitter",
        /// WhatsApp.
        WhatsApp = "whatsapp",
        /// Web messaging (Messenger).
        WebMessaging = "webmessaging",
        /// Instagram.
        Instagram = "instagram",
        /// Open Messaging.
        Open = "open",
        /// Apple Messages for Business.
        Apple = "apple",
        /// LINE.
        Line = "line",
        /// Kakao.
        Kakao = "kakao",
        /// Telegram.
        Telegram = "telegram",
        /// LinkedIn.
        LinkedIn = "linkedin",
        /// Unknown.
        Unknown = "unknown",
    }
}

string_enum! {
    /// Delivery status of a message.
    MessageStatus {
        /// Queued.
        Queued = "queued",
        /// Sent.
        Sent = "sent",
        /// Failed.
        Failed = "failed",
        /// Received.
        Received = "received",
        /// Delivered.
        DeliverySuccess = "delivery-success",
        /// Delivery failed.
        DeliveryFailed = "delivery-failed",
        /// Read.
        Read = "read",
        /// Removed.
        Removed = "removed",
        /// Published.
        Published = "published",
    }
}

/// A template parameter `{id, value}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateParameter {
    /// Parameter id.
    pub id: String,
    /// Its value.
    pub value: String,
}

/// `SendMessagingTemplateRequest`: send a Response Management response as a template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessagingTemplateRequest {
    /// The Response Management response id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// Body parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_parameters: Option<Vec<TemplateParameter>>,
    /// Header parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_parameters: Option<Vec<TemplateParameter>>,
    /// Button URL parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_url_parameters: Option<Vec<TemplateParameter>>,
}

/// `AdditionalMessage`: the body of `POST /api/v2/conversations/messages/{cId}/communications/{commId}/messages`.
///
/// Exactly one of `textBody`, `mediaIds` or `messagingTemplate` per request (see
/// [`validate_additional_message`](crate::validate::validate_additional_message)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalMessage {
    /// The text (≤ 2000 characters; 765 for SMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_body: Option<String>,
    /// Uploaded media ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_ids: Option<Vec<String>>,
    /// A template (Response Management response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_template: Option<SendMessagingTemplateRequest>,
}

impl AdditionalMessage {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        AdditionalMessage { text_body: Some(text.into()), ..Default::default() }
    }
}

/// A normalised message (`ConversationNormalizedMessage`); content items are kept as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NormalizedMessage {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Text | Structured | Receipt | Event | Message | Unknown.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Content items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<serde_json::Value>>,
    /// Sent | Delivered | Read | Failed | Published | Removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Human | Bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originating_entity: Option<String>,
    /// Inbound | Outbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// Channel data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<serde_json::Value>,
}

/// `MessageData`: a sent or received message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageData {
    /// The message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Provider message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// When it was sent (required upstream; optional here for tolerance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// Sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_address: Option<String>,
    /// Recipient address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_address: Option<String>,
    /// Direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Messenger type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messenger_type: Option<MessengerType>,
    /// Status (required upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MessageStatus>,
    /// Normalised message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized_message: Option<NormalizedMessage>,
    /// Receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized_receipts: Option<Vec<NormalizedMessage>>,
    /// The user who sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<EntityRef>,
    /// The conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Deprecated text (SDKs ≤ 264); read when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_body: Option<String>,
    /// Self URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// `SendAgentlessOutboundMessageRequest` (`POST /api/v2/conversations/messages/agentless`).
///
/// For web messaging: `fromAddress` is the **deployment id**, `externalContactId` is required and `toAddress` must
/// be absent (see [`AgentlessRequest::webmessaging`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentlessRequest {
    /// Sender: SMS number, integration id, or the web messaging deployment id.
    pub from_address: String,
    /// Recipient (not for web messaging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_address: Option<String>,
    /// External contact (required for web messaging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
    /// `sms`, `whatsapp`, `open`, `webmessaging`, `apple`.
    pub to_address_messenger_type: MessengerType,
    /// The text (≤ 2000; 765 for SMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_body: Option<String>,
    /// A template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_template: Option<SendMessagingTemplateRequest>,
    /// Send into an already active conversation instead of opening one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_existing_active_conversation: Option<bool>,
}

impl AgentlessRequest {
    /// A web messaging agentless text: `fromAddress` = deployment id, `externalContactId`, no `toAddress`.
    pub fn webmessaging(
        deployment_id: impl Into<String>,
        external_contact_id: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        AgentlessRequest {
            from_address: deployment_id.into(),
            to_address: None,
            external_contact_id: Some(external_contact_id.into()),
            to_address_messenger_type: MessengerType::WebMessaging,
            text_body: Some(text.into()),
            messaging_template: None,
            use_existing_active_conversation: None,
        }
    }
}

/// `SendAgentlessOutboundMessageResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentlessResponse {
    /// Message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The conversation the message went into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_address: Option<String>,
    /// Recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_address: Option<String>,
    /// Messenger type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messenger_type: Option<MessengerType>,
    /// Whether an active conversation was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_existing_active_conversation: Option<bool>,
    /// The message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageData>,
    /// Timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// The sending user (an API participant for client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<EntityRef>,
    /// Self URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}
