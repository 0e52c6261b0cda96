//! Bounds on every API request: a concurrency limit that sheds load at once, and a per-request timeout.
//!
//! Both answer `503 Service Unavailable` as a problem document with `Retry-After`, so a client backs off instead of
//! piling on. Shedding is immediate (no queue): under a flood the requests already admitted keep their latency, and
//! the excess costs one small answer each. A timed-out request's handler is not cancelled half-way (it finishes in
//! the background, still holding its place in the limit); only the client stops waiting. The body-size limit is enforced where bodies are read
//! ([`super::body::read_json`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;

use super::problem::Problem;

/// Seconds a shed or timed-out client is asked to wait before retrying.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The bounds (`[service] request_timeout_secs`, `[service] max_concurrent_requests`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Requests served at once.
    pub max_concurrent: usize,
}

#[derive(Clone)]
struct Bounds {
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl Limits {
    /// `router` with both bounds applied to all its routes (and its fallbacks).
    pub fn apply(self, router: Router) -> Router {
        let bounds =
            Bounds { permits: Arc::new(Semaphore::new(self.max_concurrent.max(1))), timeout: self.request_timeout };
        router.layer(middleware::from_fn_with_state(bounds, bound))
    }
}

async fn bound(State(bounds): State<Bounds>, request: Request, next: Next) -> Response {
    let Ok(permit) = bounds.permits.clone().try_acquire_owned() else {
        metrics::counter!("herald_http_rejected_total", "why" => "overloaded").increment(1);
        return retry_later(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests in progress (`[service] max_concurrent_requests`); retry after the Retry-After delay",
        ));
    };
    // The handler runs in its own task holding the permit: a timeout stops the wait, not the work, so a request
    // that already made something durable (an accepted notification) also finishes scheduling it, and the
    // abandoned work still counts against the concurrency limit until it ends.
    let work = tokio::spawn(async move {
        let response = next.run(request).await;
        drop(permit);
        response
    });
    match tokio::time::timeout(bounds.timeout, work).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "A request handler panicked.");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request failed inside herald; see its log")
                .into_response()
        }
        Err(_) => {
            metrics::counter!("herald_http_rejected_total", "why" => "timeout").increment(1);
            retry_later(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request-timeout",
                format!(
                    "the request took longer than {}s (`[service] request_timeout_secs`) and was abandoned; \
                     what it changed before that stands (repeat it with the same Idempotency-Key)",
                    bounds.timeout.as_secs()
                ),
            ))
        }
    }
}

fn retry_later(problem: Problem) -> Response {
    let mut response = problem.into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}
