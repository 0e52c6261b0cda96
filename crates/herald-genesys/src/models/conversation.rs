//! Conversations: the generic `GET /api/v2/conversations/{id}` model and the media-specific
//! `GET /api/v2/conversations/messages/{id}` model.
//!
//! The generic model is the one that exposes **communication ids**: `participants[].messages[].id` (message
//! media) and `participants[].chats[].id` (legacy chat). The media-specific `MessageConversation` lists individual
//! messages under `participants[].messages[]` instead, and has no communication id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{string_enum, Address, Direction, EntityRef};
use crate::errors::ErrorBody;
use crate::models::messaging::{MessageStatus, MessengerType};

string_enum! {
    /// State of a participant or communication (lower-case upstream).
    CommunicationState {
        /// Ringing an agent.
        Alerting = "alerting",
        /// Dialing out.
        Dialing = "dialing",
        /// Contacting.
        Contacting = "contacting",
        /// Offered to an agent.
        Offering = "offering",
        /// Connected.
        Connected = "connected",
        /// Disconnected.
        Disconnected = "disconnected",
        /// Terminated.
        Terminated = "terminated",
        /// Converting.
        Converting = "converting",
        /// Uploading.
        Uploading = "uploading",
        /// Transmitting.
        Transmitting = "transmitting",
        /// Parked.
        Parked = "parked",
        /// No state.
        None = "none",
    }
}

impl CommunicationState {
    /// Whether the participant or communication has left (disconnected or terminated).
    pub fn is_ended(&self) -> bool {
        matches!(self, CommunicationState::Disconnected | CommunicationState::Terminated)
    }
}

/// A conversation as returned by `GET /api/v2/conversations/{conversationId}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// Conversation id.
    #[serde(default)]
    pub id: String,
    /// Conversation name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// End time, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Participants.
    #[serde(default)]
    pub participants: Vec<ConversationParticipant>,
    /// Write-only upstream (set `disconnected` to end the conversation); present here for PATCH bodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CommunicationState>,
    /// Self URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// A participant of the generic conversation model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationParticipant {
    /// Participant id.
    #[serde(default)]
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `customer`, `agent`, `acd`, `api`, `workflow`, ... (free string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Participant state. Not in the generic SDK model (state lives on each communication) but sent by some
    /// event bodies; accepted when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CommunicationState>,
    /// User id of an agent participant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Queue the communication came in on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Queue name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    /// External contact id of a customer participant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
    /// External organisation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_organization_id: Option<String>,
    /// Address (ANI for calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// When the participant joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// When it connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<DateTime<Utc>>,
    /// When it left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// Participant attributes (participant data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
    /// Message communications; `messages[].id` is the communication id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageCommunication>>,
    /// Legacy web chat communications; `chats[].id` is the communication id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chats: Option<Vec<ChatCommunication>>,
}

/// A message communication (`Message` in the SDKs): one leg of a participant in a messaging conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageCommunication {
    /// The communication id (what send and typing take).
    #[serde(default)]
    pub id: String,
    /// alerting | connected | parked | disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CommunicationState>,
    /// Initial state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_state: Option<CommunicationState>,
    /// Direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<bool>,
    /// Why it disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<String>,
    /// Messenger type (`webmessaging`, `sms`, ...).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub messenger_type: Option<MessengerType>,
    /// Recipient address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_address: Option<Address>,
    /// Sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_address: Option<Address>,
    /// The messages of this communication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageDetails>>,
    /// The peer communication id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// Provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Connected time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<DateTime<Utc>>,
    /// Disconnected time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_time: Option<DateTime<Utc>>,
}

/// A legacy web chat communication (`ConversationChat`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatCommunication {
    /// The communication id (for the guest, its member id).
    #[serde(default)]
    pub id: String,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CommunicationState>,
    /// Direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Room id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    /// Why it disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<String>,
    /// Provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Connected time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<DateTime<Utc>>,
    /// Disconnected time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_time: Option<DateTime<Utc>>,
}

/// One message of a messaging participant (`MessageDetails`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDetails {
    /// The message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The message URI.
    #[serde(default, rename = "messageURI", skip_serializing_if = "Option::is_none")]
    pub message_uri: Option<String>,
    /// Delivery status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<MessageStatus>,
    /// Segment count (SMS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_segment_count: Option<u32>,
    /// When it was sent or received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_time: Option<DateTime<Utc>>,
    /// Error, when delivery failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_info: Option<ErrorBody>,
}

/// `GET /api/v2/conversations/messages/{conversationId}` → `MessageConversation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageConversation {
    /// Conversation id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Participants.
    #[serde(default)]
    pub participants: Vec<MessageMediaParticipant>,
    /// Other media of the same conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_media_uris: Option<Vec<String>>,
    /// Inactivity timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactivity_timeout: Option<DateTime<Utc>>,
    /// Self URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// A participant of a `MessageConversation` (and of message conversation event bodies).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageMediaParticipant {
    /// Participant id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Start time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// Connected time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<DateTime<Utc>>,
    /// End time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// Purpose (free string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CommunicationState>,
    /// Direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Why it disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<String>,
    /// The agent user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<EntityRef>,
    /// The queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<EntityRef>,
    /// The external contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact: Option<EntityRef>,
    /// Participant attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
    /// Recipient address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_address: Option<Address>,
    /// Sender address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_address: Option<Address>,
    /// Individual messages (not communications).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageDetails>>,
    /// Messenger type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub messenger_type: Option<MessengerType>,
    /// Peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}
