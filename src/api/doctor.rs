//! `POST /v1/doctor`: explains, before anything is sent, why a Genesys Cloud request would be rejected.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::body::read_json;
use super::AppState;
use crate::doctor::{diagnose_request, DoctorRequest};

/// Diagnose a request (`method` + `path` + `body`), a guest WebSocket `frame`, or pasted `text`; answers the report.
#[utoipa::path(post, path = "/v1/doctor",
    request_body(content = Object, description = "`{method, path, body}`, `{frame}` or `{text}`"),
    responses((status = 200, description = "the report: verdict, findings by JSON path, the corrected request"),
              (status = 422, body = super::problem::Problem)),
    security(("api_key" = [])))]
pub async fn doctor(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match read_json::<DoctorRequest>(&headers, body, state.max_body_bytes).await {
        Ok(req) => Json(diagnose_request(&req)).into_response(),
        Err(p) => p.into_response(),
    }
}
