//! `GET /healthz` (no auth) and `GET /metrics` (Prometheus text).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use herald_core::{Health, HealthStatus};
use serde::Serialize;

use super::AppState;

/// Health of the service and of each integration.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HealthReport {
    /// `healthy`, `degraded` or `unhealthy` (the worst integration).
    pub status: String,
    /// Per integration: status and checks.
    #[schema(value_type = Object)]
    pub integrations: BTreeMap<String, Health>,
    /// Notifications queued or in flight in this process.
    pub queued: usize,
}

/// Per-integration health. 200 unless an integration is unhealthy (503).
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = HealthReport), (status = 503, body = HealthReport)))]
pub async fn healthz(State(state): State<AppState>) -> Response {
    let mut integrations = BTreeMap::new();
    let mut worst = HealthStatus::Healthy;
    for (name, route) in state.routes.iter() {
        let h = route.channel.health().await;
        worst = match (worst, h.status) {
            (_, HealthStatus::Unhealthy) | (HealthStatus::Unhealthy, _) => HealthStatus::Unhealthy,
            (_, HealthStatus::Degraded)
            | (HealthStatus::Degraded, _)
            | (_, HealthStatus::Starting)
            | (HealthStatus::Starting, _) => HealthStatus::Degraded,
            _ => HealthStatus::Healthy,
        };
        integrations.insert(name.clone(), h);
    }
    let status = match worst {
        HealthStatus::Healthy => "healthy",
        HealthStatus::Degraded | HealthStatus::Starting => "degraded",
        HealthStatus::Unhealthy => "unhealthy",
    };
    let code = if worst == HealthStatus::Unhealthy { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (code, Json(HealthReport { status: status.into(), integrations, queued: state.dispatcher.queued() }))
        .into_response()
}

/// Prometheus metrics: intake, deliveries by outcome, latency histograms.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")), security(("api_key" = [])))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
