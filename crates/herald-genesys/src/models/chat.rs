//! Legacy web chat (removed from current SDKs; kept for deployments that still run it).

use serde::{Deserialize, Serialize};

use super::string_enum;

string_enum! {
    /// `bodyType` of a chat message.
    ChatBodyType {
        /// A normal message.
        Standard = "standard",
        /// A notice.
        Notice = "notice",
        /// Member joined.
        MemberJoin = "member-join",
        /// Member left.
        MemberLeave = "member-leave",
        /// Media request.
        MediaRequest = "media-request",
    }
}

/// Body of `POST /api/v2/conversations/chats/{cId}/communications/{commId}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageRequest {
    /// The text (≤ 4000 characters).
    pub body: String,
    /// Body type (default `standard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_type: Option<ChatBodyType>,
}

impl ChatMessageRequest {
    /// A standard chat message.
    pub fn standard(body: impl Into<String>) -> Self {
        ChatMessageRequest { body: body.into(), body_type: Some(ChatBodyType::Standard) }
    }
}

/// `WebChatMemberInfo`: a member of a chat; its `id` is the member's communication id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebChatMemberInfo {
    /// Member id (= communication id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// AGENT | CUSTOMER | WORKFLOW | ACD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// CONNECTED | DISCONNECTED | ALERTING.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// A reference to the chat conversation of a message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebChatConversationRef {
    /// Conversation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Self URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// `WebChatMessage`, the answer to a chat send.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebChatMessage {
    /// Message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<WebChatConversationRef>,
    /// The sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<WebChatMemberInfo>,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Body type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_type: Option<ChatBodyType>,
    /// Timestamp (ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Self URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}
