//! Typed endpoint methods of [`GenesysClient`]: conversations, sends, canned responses, presence, analytics and
//! notification channels. Each method validates what it can locally, names its entity for error mapping, and
//! returns the typed model.

use herald_core::ChannelError;
use reqwest::Method;

use crate::client::{seg, GenesysClient, NoBody, Response};
use crate::errors::ErrorContext;
use crate::models::analytics::{ConversationQuery, ConversationQueryResponse};
use crate::models::chat::{ChatMessageRequest, WebChatMessage};
use crate::models::conversation::{Conversation, MessageConversation};
use crate::models::messaging::{AdditionalMessage, AgentlessRequest, AgentlessResponse, MessageData, MessengerType};
use crate::models::notifications::{Channel, ChannelTopic};
use crate::models::presence::{
    OrganizationPresence, OrganizationPresenceDefinition, RoutingStatus, RoutingStatusValue, UserPresence,
};
use crate::models::responses::CannedResponse;
use crate::models::EntityListing;
use crate::validate::{validate_additional_message, validate_agentless, validate_chat_message};

impl GenesysClient {
    /// `GET /api/v2/conversations/{id}`: the generic conversation, the one that carries communication ids.
    pub async fn get_conversation(&self, conversation_id: &str) -> Result<Response<Conversation>, ChannelError> {
        let path = format!("/api/v2/conversations/{}", seg(conversation_id));
        self.get(&path, &ErrorContext::entity("conversation", conversation_id)).await
    }

    /// `GET /api/v2/conversations/{id}` as raw JSON, for the session mapper.
    pub async fn get_conversation_json(
        &self,
        conversation_id: &str,
    ) -> Result<Response<serde_json::Value>, ChannelError> {
        let path = format!("/api/v2/conversations/{}", seg(conversation_id));
        self.get(&path, &ErrorContext::entity("conversation", conversation_id)).await
    }

    /// `GET /api/v2/conversations/messages/{id}`: the messaging view (individual messages, no communication ids).
    pub async fn get_message_conversation(
        &self,
        conversation_id: &str,
    ) -> Result<Response<MessageConversation>, ChannelError> {
        let path = format!("/api/v2/conversations/messages/{}", seg(conversation_id));
        self.get(&path, &ErrorContext::entity("conversation", conversation_id)).await
    }

    /// `POST /api/v2/conversations/messages/{cId}/communications/{commId}/messages`: send as the agent.
    ///
    /// The body is validated for `messenger` first. A 409 (or a 4xx saying the conversation is disconnected) is
    /// returned as `TargetClosed`.
    pub async fn send_message(
        &self,
        conversation_id: &str,
        communication_id: &str,
        message: &AdditionalMessage,
        messenger: &MessengerType,
    ) -> Result<Response<MessageData>, ChannelError> {
        validate_additional_message(message, messenger)?;
        let path = format!(
            "/api/v2/conversations/messages/{}/communications/{}/messages",
            seg(conversation_id),
            seg(communication_id)
        );
        let ctx = ErrorContext::entity("conversation", conversation_id)
            .closed_on_conflict(conversation_id)
            .default_field("textBody");
        self.post(&path, message, &ctx).await
    }

    /// `GET /api/v2/conversations/messages/{cId}/messages/{messageId}`: one message (to check a send happened).
    pub async fn get_message(
        &self,
        conversation_id: &str,
        message_id: &str,
    ) -> Result<Response<MessageData>, ChannelError> {
        let path = format!("/api/v2/conversations/messages/{}/messages/{}", seg(conversation_id), seg(message_id));
        self.get(&path, &ErrorContext::entity("message", message_id)).await
    }

    /// `POST /api/v2/conversations/messages/agentless`: a proactive message without an agent.
    pub async fn send_agentless(
        &self,
        request: &AgentlessRequest,
    ) -> Result<Response<AgentlessResponse>, ChannelError> {
        validate_agentless(request)?;
        let ctx = ErrorContext {
            what: Some("external contact"),
            id: request.external_contact_id.clone().or_else(|| request.to_address.clone()),
            ..Default::default()
        }
        .default_field("textBody");
        self.post("/api/v2/conversations/messages/agentless", request, &ctx).await
    }

    /// `POST /api/v2/conversations/chats/{cId}/communications/{commId}/messages`: a legacy web chat send.
    pub async fn send_chat_message(
        &self,
        conversation_id: &str,
        communication_id: &str,
        message: &ChatMessageRequest,
    ) -> Result<Response<WebChatMessage>, ChannelError> {
        validate_chat_message(message)?;
        let path = format!(
            "/api/v2/conversations/chats/{}/communications/{}/messages",
            seg(conversation_id),
            seg(communication_id)
        );
        let ctx = ErrorContext::entity("conversation", conversation_id)
            .closed_on_conflict(conversation_id)
            .default_field("body");
        self.post(&path, message, &ctx).await
    }

    /// `GET /api/v2/responsemanagement/responses/{id}`: a canned response.
    pub async fn get_canned_response(&self, response_id: &str) -> Result<Response<CannedResponse>, ChannelError> {
        let path = format!("/api/v2/responsemanagement/responses/{}", seg(response_id));
        self.get(&path, &ErrorContext::entity("canned response", response_id)).await
    }

    /// `GET /api/v2/users/{id}/presences/purecloud`.
    pub async fn get_presence(&self, user_id: &str) -> Result<Response<UserPresence>, ChannelError> {
        let path = format!("/api/v2/users/{}/presences/purecloud", seg(user_id));
        self.get(&path, &ErrorContext::entity("user", user_id)).await
    }

    /// `PATCH /api/v2/users/{id}/presences/purecloud` with `{presenceDefinition:{id}}`.
    pub async fn set_presence(
        &self,
        user_id: &str,
        definition_id: &str,
    ) -> Result<Response<UserPresence>, ChannelError> {
        let path = format!("/api/v2/users/{}/presences/purecloud", seg(user_id));
        let body = UserPresence::set_definition(definition_id);
        // Setting a presence to a given value is idempotent: repeating it after a timeout is harmless.
        let ctx = ErrorContext::entity("user", user_id).default_field("presenceDefinition.id").retry_safe();
        self.request_with(Method::PATCH, &path, Some(&body), &ctx).await
    }

    /// `GET /api/v2/presencedefinitions` (deprecated listing; old `systemPresence` spellings).
    pub async fn list_presence_definitions_legacy(
        &self,
    ) -> Result<Response<EntityListing<OrganizationPresence>>, ChannelError> {
        self.get("/api/v2/presencedefinitions?pageSize=100", &ErrorContext::default()).await
    }

    /// `GET /api/v2/presence/definitions`.
    pub async fn list_presence_definitions(
        &self,
    ) -> Result<Response<EntityListing<OrganizationPresenceDefinition>>, ChannelError> {
        self.get("/api/v2/presence/definitions", &ErrorContext::default()).await
    }

    /// `GET /api/v2/users/{id}/routingstatus`.
    pub async fn get_routing_status(&self, user_id: &str) -> Result<Response<RoutingStatus>, ChannelError> {
        let path = format!("/api/v2/users/{}/routingstatus", seg(user_id));
        self.get(&path, &ErrorContext::entity("user", user_id)).await
    }

    /// `PUT /api/v2/users/{id}/routingstatus` with `{status}`.
    pub async fn set_routing_status(
        &self,
        user_id: &str,
        status: RoutingStatusValue,
    ) -> Result<Response<RoutingStatus>, ChannelError> {
        let path = format!("/api/v2/users/{}/routingstatus", seg(user_id));
        let body = RoutingStatus { status: Some(status), ..Default::default() };
        let ctx = ErrorContext::entity("user", user_id).default_field("status");
        self.request_with(Method::PUT, &path, Some(&body), &ctx).await
    }

    /// `POST /api/v2/analytics/conversations/details/query` (see
    /// [`OpenConversationsQuery`](crate::models::analytics::OpenConversationsQuery)).
    pub async fn query_conversations(
        &self,
        query: &ConversationQuery,
    ) -> Result<Response<ConversationQueryResponse>, ChannelError> {
        // A query changes nothing: safe to repeat after any failure.
        let ctx = ErrorContext::default().default_field("interval").retry_safe();
        self.post("/api/v2/analytics/conversations/details/query", query, &ctx).await
    }

    /// `POST /api/v2/notifications/channels`: a new channel (at most 20 per OAuth client; a 21st evicts one).
    pub async fn create_channel(&self) -> Result<Response<Channel>, ChannelError> {
        self.request_with::<NoBody, Channel>(
            Method::POST,
            "/api/v2/notifications/channels",
            None,
            &ErrorContext::default(),
        )
        .await
    }

    /// `PUT` (replace, `replace = true`) or `POST` (add) `…/channels/{id}/subscriptions` with the topics.
    ///
    /// Re-PUTting the same list also extends the channel's 24 h lifetime.
    pub async fn subscribe(
        &self,
        channel_id: &str,
        topics: &[String],
        replace: bool,
    ) -> Result<Response<EntityListing<ChannelTopic>>, ChannelError> {
        let path = format!("/api/v2/notifications/channels/{}/subscriptions", seg(channel_id));
        let body: Vec<ChannelTopic> = topics.iter().map(ChannelTopic::topic).collect();
        let method = if replace { Method::PUT } else { Method::POST };
        // Adding topics that are already subscribed changes nothing: safe to repeat.
        let ctx = ErrorContext::entity("notification channel", channel_id).default_field("[].id").retry_safe();
        self.request_with(method, &path, Some(&body), &ctx).await
    }

    /// `GET …/channels/{id}/subscriptions`.
    pub async fn get_subscriptions(
        &self,
        channel_id: &str,
    ) -> Result<Response<EntityListing<ChannelTopic>>, ChannelError> {
        let path = format!("/api/v2/notifications/channels/{}/subscriptions", seg(channel_id));
        self.get(&path, &ErrorContext::entity("notification channel", channel_id)).await
    }

    /// `DELETE …/channels/{id}/subscriptions`: removes every subscription.
    pub async fn delete_subscriptions(&self, channel_id: &str) -> Result<(), ChannelError> {
        let path = format!("/api/v2/notifications/channels/{}/subscriptions", seg(channel_id));
        let ctx = ErrorContext::entity("notification channel", channel_id);
        self.request_with::<NoBody, serde_json::Value>(Method::DELETE, &path, None, &ctx).await.map(|_| ())
    }

    /// `HEAD …/channels/{id}`: whether the channel still exists (404 → `false`).
    pub async fn channel_exists(&self, channel_id: &str) -> Result<bool, ChannelError> {
        let path = format!("/api/v2/notifications/channels/{}", seg(channel_id));
        let ctx = ErrorContext::entity("notification channel", channel_id);
        match self.request_with::<NoBody, serde_json::Value>(Method::HEAD, &path, None, &ctx).await {
            Ok(_) => Ok(true),
            Err(ChannelError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
