//! Response Management ("canned responses"): `GET /api/v2/responsemanagement/responses/{id}`.

use serde::{Deserialize, Serialize};

use super::EntityRef;

/// One text of a response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseText {
    /// The content, with `{{ID}}` placeholders.
    #[serde(default)]
    pub content: String,
    /// `text/plain` or `text/html`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `body` or `subject`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub text_type: Option<String>,
}

impl ResponseText {
    /// Whether the content is HTML (must be stripped before sending as text).
    pub fn is_html(&self) -> bool {
        self.content_type.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("text/html"))
    }

    /// Whether this is a body text (a text without `type` counts as body).
    pub fn is_body(&self) -> bool {
        self.text_type.as_deref().is_none_or(|t| t.eq_ignore_ascii_case("body"))
    }
}

/// A custom substitution of a response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseSubstitution {
    /// The placeholder id (written `{{id}}` in the content).
    #[serde(default)]
    pub id: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Value used when none is supplied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
}

/// A Response Management `Response` (a canned response).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CannedResponse {
    /// Response id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Version (needed for PUT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Libraries it belongs to.
    #[serde(default)]
    pub libraries: Vec<EntityRef>,
    /// Texts.
    #[serde(default)]
    pub texts: Vec<ResponseText>,
    /// chat | email | twitter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction_type: Option<String>,
    /// Custom substitutions.
    #[serde(default)]
    pub substitutions: Vec<ResponseSubstitution>,
    /// MessagingTemplate | CampaignSmsTemplate | ... (none for a plain canned response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// Self URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

impl CannedResponse {
    /// The first body text, if any.
    pub fn body_text(&self) -> Option<&ResponseText> {
        self.texts.iter().find(|t| t.is_body())
    }
}
