//! The HTTP API (axum): notifications, sessions, events, health, metrics, OpenAPI.

// A `Problem` is only built on the error path of a request, where its size (a few strings) costs nothing; boxing it
// everywhere would only add noise.
#![allow(clippy::result_large_err)]

mod auth;
pub mod body;
mod doctor;
mod events;
mod health;
mod limits;
mod notifications;
mod openapi;
mod paging;
pub mod problem;
mod sessions;
#[cfg(feature = "teams")]
mod teams_links;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use herald_core::{Outbox, SessionStore};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::trace::TraceLayer;

use crate::config::Secret;
use crate::dispatcher::{Channels, Dispatcher};
use crate::rules::RuleEngine;
use crate::service::supervisor::Supervisor;
pub use events::{EventProcessed, EventRequest};
pub use limits::Limits;
pub use notifications::{Accepted, NotificationRequest, NotificationView};
pub use openapi::ApiDoc;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The outbox.
    pub outbox: Arc<dyn Outbox>,
    /// The session store.
    pub sessions: Arc<dyn SessionStore>,
    /// The dispatcher (accepted notifications are scheduled at once).
    pub dispatcher: Dispatcher,
    /// The integrations.
    pub routes: Arc<Channels>,
    /// The rules: `POST /v1/events` evaluates them before it answers.
    pub rules: RuleEngine,
    /// The background tasks (their health is part of `/healthz`).
    pub supervisor: Supervisor,
    /// The state store (operator links of Teams integrations).
    pub state: Arc<dyn herald_core::StateStore>,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Prometheus renderer.
    pub metrics: Option<PrometheusHandle>,
}

/// The API router. `extra` holds adapter routes (Teams bot endpoint, webhooks), mounted at the root without API-key
/// auth (they authenticate their callers themselves).
///
/// Every route but `/healthz` is bounded by `limits`: at most `max_concurrent` requests at once (more are shed with
/// 503 and `Retry-After`) and `request_timeout` each (then 503 and `Retry-After`). `/healthz` stays outside both so
/// the service can be probed under a flood. Unknown paths answer 404 and known paths with another method 405, both
/// as problem documents.
pub fn router(state: AppState, api_keys: Vec<Secret>, extra: Vec<Router>, limits: Limits) -> Router {
    let keys = auth::ApiKeys(Arc::new(api_keys));
    let protected = Router::new()
        .route("/v1/notifications", post(notifications::create).get(notifications::list))
        .route("/v1/notifications/{id}", get(notifications::get))
        .route("/v1/sessions", get(sessions::list))
        .route("/v1/sessions/{id}", get(sessions::get))
        .route("/v1/events", post(events::post_event))
        .route("/v1/doctor", post(doctor::doctor))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .route("/metrics", get(health::metrics));
    #[cfg(feature = "teams")]
    let protected = protected.route(
        "/v1/integrations/{integration}/links/{genesys_user_id}",
        axum::routing::put(teams_links::link).delete(teams_links::unlink),
    );
    let protected = protected.route_layer(middleware::from_fn_with_state(keys, auth::require_api_key));
    let mut bounded = protected.with_state(state.clone());
    for r in extra {
        bounded = bounded.merge(r);
    }
    let bounded = limits.apply(bounded.method_not_allowed_fallback(method_not_allowed).fallback(not_found));
    Router::new()
        .route("/healthz", get(health::healthz))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .merge(bounded)
        .layer(TraceLayer::new_for_http())
}

async fn not_found() -> problem::Problem {
    problem::Problem::new(StatusCode::NOT_FOUND, "no-route", "no such endpoint; see GET /v1/openapi.json")
}

async fn method_not_allowed() -> problem::Problem {
    problem::Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this endpoint does not accept that method; see GET /v1/openapi.json",
    )
}
