//! Errors as `application/problem+json` (RFC 9457), naming the offending field.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One field-level error inside a problem.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field (`target.id`, `text`).
    pub field: String,
    /// What is wrong and what to send instead.
    pub message: String,
}

/// A problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened and what to do.
    pub detail: String,
    /// The main offending field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field error, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem with a status, a type slug and a detail.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("https://herald.invalid/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
        }
    }

    /// A 422/400 naming a field.
    pub fn field(status: StatusCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        let mut p = Problem::new(status, "invalid-field", format!("`{field}`: {message}"));
        p.errors.push(FieldError { field: field.clone(), message });
        p.field = Some(field);
        p
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown API key; send `Authorization: Bearer <key>` with a key from `[service] api_keys`",
        )
    }

    /// 404 for an id.
    pub fn not_found(what: &str, id: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", format!("no {what} with id `{id}`"))
    }

    /// 500/503 for a store failure (details go to the log, not the client).
    pub fn store(e: &herald_core::StoreError) -> Self {
        tracing::error!(error = %e, "Store failure while serving a request.");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "the store is unavailable; nothing was changed; retry later",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}
