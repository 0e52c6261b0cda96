//! The HTTP API (axum): notifications, sessions, events, health, metrics, OpenAPI.

// A `Problem` is only built on the error path of a request, where its size (a few strings) costs nothing; boxing it
// everywhere would only add noise.
#![allow(clippy::result_large_err)]

mod auth;
pub mod body;
mod doctor;
mod events;
mod health;
mod notifications;
mod openapi;
pub mod problem;
mod sessions;

use std::sync::Arc;

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use herald_core::{Event, Outbox, SessionStore};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::trace::TraceLayer;

use crate::config::Secret;
use crate::dispatcher::{Channels, Dispatcher};
pub use events::EventRequest;
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
    /// Where posted events go.
    pub events: tokio::sync::mpsc::Sender<Event>,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Prometheus renderer.
    pub metrics: Option<PrometheusHandle>,
}

/// The API router. `extra` holds adapter routes (Teams bot endpoint, webhooks), mounted at the root without API-key
/// auth (they authenticate their callers themselves).
pub fn router(state: AppState, api_keys: Vec<Secret>, extra: Vec<Router>) -> Router {
    let keys = auth::ApiKeys(Arc::new(api_keys));
    let protected = Router::new()
        .route("/v1/notifications", post(notifications::create).get(notifications::list))
        .route("/v1/notifications/{id}", get(notifications::get))
        .route("/v1/sessions", get(sessions::list))
        .route("/v1/sessions/{id}", get(sessions::get))
        .route("/v1/events", post(events::post_event))
        .route("/v1/doctor", post(doctor::doctor))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .route("/metrics", get(health::metrics))
        .route_layer(middleware::from_fn_with_state(keys, auth::require_api_key));
    let mut app = Router::new().route("/healthz", get(health::healthz)).merge(protected).with_state(state);
    for r in extra {
        app = app.merge(r);
    }
    app.fallback(|| async {
        problem::Problem::new(
            axum::http::StatusCode::NOT_FOUND,
            "no-route",
            "no such endpoint; see GET /v1/openapi.json",
        )
    })
    .layer(TraceLayer::new_for_http())
}
