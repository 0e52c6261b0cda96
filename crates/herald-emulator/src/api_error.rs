//! The platform `ErrorBody` and how handlers answer errors.
//!
//! Handlers return [`ApiError`]. Its response carries the body in an extension without a
//! `contextId`; the correlation middleware ([`crate::http::correlation`]) fills in the request's
//! correlation id and serialises it, so `ININ-Correlation-Id` and `contextId` are always equal.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One entry of `ErrorBody.details`.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Machine-readable code of this detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The offending request field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// Entity id, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Entity name, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_name: Option<String>,
}

/// The platform's `ErrorBody`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Human-readable message.
    pub message: String,
    /// Dotted error code.
    pub code: String,
    /// HTTP status.
    pub status: u16,
    /// Correlation id (equals the `ININ-Correlation-Id` header).
    pub context_id: String,
    /// Field-level details.
    pub details: Vec<ErrorDetail>,
    /// Nested errors.
    pub errors: Vec<ErrorBody>,
}

/// An error answered to an API client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Dotted code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Details.
    pub details: Vec<ErrorDetail>,
    /// `Retry-After` seconds (429 only).
    pub retry_after: Option<u64>,
}

/// Marker extension: the response body still needs its `contextId`.
#[derive(Debug, Clone)]
pub struct PendingErrorBody(pub ApiError);

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_string(), message: message.into(), details: Vec::new(), retry_after: None }
    }

    /// 400 `bad.request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad.request", message)
    }

    /// 400 naming a field (`details[].fieldName`).
    pub fn field(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message).with_field(code, field)
    }

    /// 404 `not.found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not.found", format!("{what} not found"))
    }

    /// 429 with the platform's normalised body and `Retry-After`.
    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too.many.requests.retry.after",
            format!("Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// Adds a detail naming `field`.
    pub fn with_field(mut self, code: &str, field: &str) -> Self {
        self.details.push(ErrorDetail {
            error_code: Some(code.to_string()),
            field_name: Some(field.to_string()),
            ..Default::default()
        });
        self
    }

    /// The `ErrorBody` for a given correlation id.
    pub fn body(&self, context_id: &str) -> ErrorBody {
        ErrorBody {
            message: self.message.clone(),
            code: self.code.clone(),
            status: self.status.as_u16(),
            context_id: context_id.to_string(),
            details: self.details.clone(),
            errors: Vec::new(),
        }
    }

    /// A complete response for a known correlation id (used outside the middleware).
    pub fn into_response_with(self, context_id: &str) -> Response {
        let body = serde_json::to_vec(&self.body(context_id)).unwrap_or_default();
        let mut resp = (self.status, [("content-type", "application/json")], body).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
        }
        if let Ok(v) = HeaderValue::from_str(context_id) {
            resp.headers_mut().insert("inin-correlation-id", v);
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let retry = self.retry_after;
        let mut resp = status.into_response();
        if let Some(secs) = retry {
            resp.headers_mut().insert("retry-after", HeaderValue::from(secs));
        }
        resp.extensions_mut().insert(PendingErrorBody(self));
        resp
    }
}

/// Result type of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
