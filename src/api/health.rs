//! `GET /healthz` (no auth) and `GET /metrics` (Prometheus text).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_core::{Health, HealthStatus};
use serde::Serialize;

use super::AppState;
use crate::service::supervisor::TaskReport;

/// Health of the service: its integrations and its background tasks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// `healthy`, `degraded` or `unhealthy`: the worst of the integrations and the tasks.
    pub status: String,
    /// Per integration: status, checks, readiness and delivery guarantee.
    pub integrations: BTreeMap<String, IntegrationHealth>,
    /// Per background task (event loop, rule workers, timers, maintenance): state and restarts.
    pub tasks: BTreeMap<String, TaskReport>,
    /// Notifications queued or in flight in this process.
    pub queued: usize,
}

/// One integration's health.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntegrationHealth {
    /// The adapter's own report: `status` and `checks`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub health: Health,
    /// Whether it can deliver now (it is connected and has what it needs).
    pub ready: bool,
    /// `exactly_once` (it can check whether an interrupted attempt landed, so nothing is sent twice) or
    /// `at_least_once` (after a crash or timeout at the wrong moment, a notification may be sent again).
    pub delivery_guarantee: String,
}

/// The worse of two statuses (`starting` counts as degraded).
fn worse(a: HealthStatus, b: HealthStatus) -> HealthStatus {
    match (a, b) {
        (_, HealthStatus::Unhealthy) | (HealthStatus::Unhealthy, _) => HealthStatus::Unhealthy,
        (_, HealthStatus::Degraded)
        | (HealthStatus::Degraded, _)
        | (_, HealthStatus::Starting)
        | (HealthStatus::Starting, _) => HealthStatus::Degraded,
        _ => HealthStatus::Healthy,
    }
}

/// The health of every integration and background task. 200 unless one is unhealthy (503); a task that is down or
/// crash-looping is unhealthy, one that restarted in the last five minutes degraded.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = HealthReport), (status = 503, body = HealthReport)))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    let mut integrations = BTreeMap::new();
    let mut worst = HealthStatus::Healthy;
    for (name, route) in state.routes.iter() {
        let health = route.channel.health().await;
        worst = worse(worst, health.status);
        let view = IntegrationHealth {
            health,
            ready: route.channel.ready().await,
            delivery_guarantee: route.channel.delivery_guarantee().as_str().to_string(),
        };
        integrations.insert(name.clone(), view);
    }
    let tasks = state.supervisor.report();
    for task in tasks.values() {
        worst = worse(worst, task.status);
    }
    let status = match worst {
        HealthStatus::Healthy => "healthy",
        HealthStatus::Degraded | HealthStatus::Starting => "degraded",
        HealthStatus::Unhealthy => "unhealthy",
    };
    let code = if worst == HealthStatus::Unhealthy { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let report = HealthReport { status: status.into(), integrations, tasks, queued: state.dispatcher.queued() };
    (code, Json(report)).into_response()
}

/// Prometheus metrics: intake, deliveries by outcome, latency histograms.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")), security(("api_key" = [])))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
