//! Cross-cutting HTTP behaviour: correlation ids, body limit, request log, fault injection ([`faults`]).

pub mod faults;
pub mod json;
pub mod request_log;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_error::{ApiError, PendingErrorBody};
use crate::state::{AppState, Counters};

/// The correlation id of the current request (also `ININ-Correlation-Id` and `contextId`).
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// Outermost middleware: assigns the correlation id, sets `ININ-Correlation-Id` on every
/// response and renders pending [`ApiError`] bodies with the matching `contextId`.
pub async fn correlation(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    req.extensions_mut().insert(CorrelationId(id.clone()));
    let mut resp = next.run(req).await;
    if let Some(PendingErrorBody(err)) = resp.extensions_mut().remove::<PendingErrorBody>() {
        let headers = resp.headers().clone();
        resp = err.into_response_with(&id);
        for (k, v) in headers.iter() {
            if !resp.headers().contains_key(k) {
                resp.headers_mut().insert(k.clone(), v.clone());
            }
        }
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("inin-correlation-id", v);
    }
    resp
}

/// API middleware: enforces `request.bytes.max` (413) and records the request log.
pub async fn body_limit_and_log(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.limits.request_bytes_max;
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large(limit);
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return too_large(limit),
    };
    Counters::bump(&state.counters.requests);
    let log = state.request_log.enabled().then(|| {
        (
            parts.method.to_string(),
            parts.uri.to_string(),
            parts.extensions.get::<CorrelationId>().map(|c| c.0.clone()).unwrap_or_default(),
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    });
    let req = Request::from_parts(parts, Body::from(bytes));
    let resp = next.run(req).await;
    if let Some((method, uri, corr, body)) = log {
        state.request_log.push(&state.clock, method, uri, resp.status().as_u16(), corr, body);
    }
    resp
}

fn too_large(limit: usize) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "response.entity.too.large",
        format!("The request exceeds the maximum of {limit} bytes"),
    )
    .into_response()
}

/// Fallback for unknown routes: a 404 ErrorBody that cannot be mistaken for a missing resource on a known route
/// (which answers `not.found`): code `route.not.found`, naming the method and path.
pub async fn not_found(req: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route.not.found",
        format!(
            "No endpoint {} {}: Genesys Cloud has no such route, or the emulator does not emulate it; check the path \
             against the API reference",
            req.method(),
            req.uri().path()
        ),
    )
    .into_response()
}
