//! `POST /api/v2/analytics/conversations/details/query`: finding conversations of a customer or queue.

use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// A predicate `{type, dimension, operator, value}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Predicate {
    /// `dimension`, `property` or `metric`.
    #[serde(rename = "type")]
    pub predicate_type: String,
    /// The dimension (`mediaType`, `queueId`, `externalContactId`, `conversationEnd`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    /// `matches`, `exists` or `notExists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The value for `matches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Predicate {
    /// `dimension matches value`.
    pub fn matches(dimension: &str, value: impl Into<String>) -> Self {
        Predicate {
            predicate_type: "dimension".into(),
            dimension: Some(dimension.into()),
            operator: Some("matches".into()),
            value: Some(value.into()),
        }
    }

    /// `dimension notExists`.
    pub fn not_exists(dimension: &str) -> Self {
        Predicate {
            predicate_type: "dimension".into(),
            dimension: Some(dimension.into()),
            operator: Some("notExists".into()),
            value: None,
        }
    }
}

/// A filter `{type: and|or, predicates}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// `and` or `or`.
    #[serde(rename = "type")]
    pub filter_type: String,
    /// The predicates.
    #[serde(default)]
    pub predicates: Vec<Predicate>,
}

/// Paging `{pageSize, pageNumber}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    /// Page size.
    pub page_size: u32,
    /// Page number (1-based).
    pub page_number: u32,
}

/// `ConversationQuery`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationQuery {
    /// ISO-8601 interval `start/end`.
    pub interval: String,
    /// `asc`, `desc`, `unordered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// `conversationStart`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// Paging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<Paging>,
    /// Segment filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_filters: Vec<Filter>,
    /// Conversation filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversation_filters: Vec<Filter>,
}

/// Builds the query "web messaging conversations of external contact X / queue Q in the last N hours, still open".
#[derive(Debug, Clone)]
pub struct OpenConversationsQuery {
    end: DateTime<Utc>,
    hours: i64,
    media_type: String,
    message_type: Option<String>,
    external_contact_id: Option<String>,
    queue_id: Option<String>,
    only_open: bool,
    page_size: u32,
    page_number: u32,
}

impl OpenConversationsQuery {
    /// Web messaging conversations of the last `hours` hours up to `now`, still open, newest first.
    pub fn webmessaging(now: DateTime<Utc>, hours: u32) -> Self {
        OpenConversationsQuery {
            end: now,
            hours: i64::from(hours.max(1)),
            media_type: "message".into(),
            message_type: Some("webmessaging".into()),
            external_contact_id: None,
            queue_id: None,
            only_open: true,
            page_size: 25,
            page_number: 1,
        }
    }

    /// Legacy web chat conversations instead (media type `chat`, no message type).
    pub fn chat(mut self) -> Self {
        self.media_type = "chat".into();
        self.message_type = None;
        self
    }

    /// Only conversations of this external contact.
    pub fn external_contact(mut self, id: impl Into<String>) -> Self {
        self.external_contact_id = Some(id.into());
        self
    }

    /// Only conversations routed through this queue.
    pub fn queue(mut self, id: impl Into<String>) -> Self {
        self.queue_id = Some(id.into());
        self
    }

    /// Include conversations that have ended.
    pub fn include_closed(mut self) -> Self {
        self.only_open = false;
        self
    }

    /// Page size (default 25).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, 100);
        self
    }

    /// Page number, 1-based (default 1).
    pub fn page(mut self, n: u32) -> Self {
        self.page_number = n.max(1);
        self
    }

    /// The request body.
    pub fn build(&self) -> ConversationQuery {
        let start = self.end - ChronoDuration::hours(self.hours);
        let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let mut predicates = vec![Predicate::matches("mediaType", self.media_type.clone())];
        if let Some(m) = &self.message_type {
            predicates.push(Predicate::matches("messageType", m.clone()));
        }
        if let Some(q) = &self.queue_id {
            predicates.push(Predicate::matches("queueId", q.clone()));
        }
        if let Some(c) = &self.external_contact_id {
            predicates.push(Predicate::matches("externalContactId", c.clone()));
        }
        ConversationQuery {
            interval: format!("{}/{}", fmt(start), fmt(self.end)),
            order: Some("desc".into()),
            order_by: Some("conversationStart".into()),
            paging: Some(Paging { page_size: self.page_size, page_number: self.page_number }),
            segment_filters: vec![Filter { filter_type: "and".into(), predicates }],
            conversation_filters: if self.only_open {
                vec![Filter { filter_type: "and".into(), predicates: vec![Predicate::not_exists("conversationEnd")] }]
            } else {
                Vec::new()
            },
        }
    }
}

/// A segment of an analytics session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSegment {
    /// Segment type (`interact`, `alert`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_type: Option<String>,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_start: Option<DateTime<Utc>>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_end: Option<DateTime<Utc>>,
    /// Queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Disconnect type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<String>,
}

/// An analytics session; `sessionId` is the communication id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsSession {
    /// The communication id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Media type (`message`, `chat`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Message type (`webmessaging`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    /// Direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// Journey customer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journey_customer_id: Option<String>,
    /// Segments.
    #[serde(default)]
    pub segments: Vec<AnalyticsSegment>,
}

/// An analytics participant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsParticipant {
    /// Participant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_name: Option<String>,
    /// Purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// User id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// External contact id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_contact_id: Option<String>,
    /// Sessions.
    #[serde(default)]
    pub sessions: Vec<AnalyticsSession>,
}

/// A conversation in an analytics answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsConversation {
    /// Conversation id.
    #[serde(default)]
    pub conversation_id: String,
    /// Start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_start: Option<DateTime<Utc>>,
    /// End, once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_end: Option<DateTime<Utc>>,
    /// Originating direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originating_direction: Option<String>,
    /// Participants.
    #[serde(default)]
    pub participants: Vec<AnalyticsParticipant>,
}

/// The answer `{conversations, totalHits}` (`conversations` is absent when nothing matched).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationQueryResponse {
    /// Matching conversations.
    #[serde(default)]
    pub conversations: Vec<AnalyticsConversation>,
    /// Total matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_hits: Option<u64>,
}
