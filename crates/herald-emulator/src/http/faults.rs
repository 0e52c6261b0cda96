//! The fault middleware of the platform API: applies what [`crate::faults::Faults::decide`] chose for a request.
//!
//! Order: a delay before the handler, an answer instead of the handler (429, 5xx), the handler, then an
//! after-effect — a delayed answer, or a dropped connection. The drop answers with a body stream that fails at
//! once: the server then aborts the connection before the response head is flushed, so the client sees a reset
//! with no HTTP answer while the request has taken effect (the emulated "stored upstream, answer lost").

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::api_error::ApiError;
use crate::faults::{AfterEffect, FaultDecision};
use crate::state::{AppState, Counters};

/// API middleware: applies armed faults (count-based and staged).
pub async fn apply(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let d = state.faults.decide(req.method().as_str(), req.uri().path());
    match d.latency_ms {
        // Held upstream and applied regardless of the client: the rest runs on its own task, which finishes even
        // when the client closes the connection (and this future is dropped) during the delay.
        Some(ms) if d.apply_when_abandoned => {
            let task = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                after_delay(state, d, req, next).await
            });
            task.await.unwrap_or_else(|_| injected_error(500))
        }
        Some(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            after_delay(state, d, req, next).await
        }
        None => after_delay(state, d, req, next).await,
    }
}

/// Everything after the delay: an injected answer, or the handler and its after-effect.
async fn after_delay(state: AppState, d: FaultDecision, req: Request, next: Next) -> Response {
    if let Some(retry) = d.too_many {
        Counters::bump(&state.counters.too_many_requests);
        return ApiError::too_many_requests(retry).into_response();
    }
    if let Some(status) = d.error_status {
        Counters::bump(&state.counters.injected_errors);
        return injected_error(status);
    }
    let resp = next.run(req).await;
    match d.after {
        None => resp,
        Some(AfterEffect::Delay(ms)) => {
            Counters::bump(&state.counters.delayed_answers);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            resp
        }
        Some(AfterEffect::Drop) => {
            Counters::bump(&state.counters.dropped_connections);
            dropped()
        }
    }
}

fn injected_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let code = match status.as_u16() {
        502 => "bad.gateway",
        503 => "service.unavailable",
        504 => "gateway.timeout",
        _ => "internal.server.error",
    };
    ApiError::new(status, code, "The service is temporarily unavailable (injected fault)").into_response()
}

/// A response whose body fails before its first byte: the connection is reset without an answer.
fn dropped() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault: connection dropped after the request took effect",
        ))
    });
    Response::new(Body::from_stream(failing))
}
