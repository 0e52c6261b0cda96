//! The fault endpoints of the control API (under `/emulator/v1/faults`): count-based faults for the next N
//! requests, staged faults (scoped, counted, timed) and their listing and removal. Thin over
//! [`Control`](crate::control::Control)'s fault methods.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

use crate::control::http::{ctl, err};
use crate::error::EmulatorError;
use crate::faults::{FaultKind, FaultScope, FaultSpec};
use crate::state::AppState;

/// Fault routes (merged under `/emulator/v1`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/faults/too-many-requests", post(f429))
        .route("/faults/errors", post(ferrors))
        .route("/faults/latency", post(flatency))
        .route("/faults", delete(fclear))
        .route("/faults/staged", get(staged_list).post(stage))
        .route("/faults/staged/{id}", get(staged_one).delete(staged_remove))
}

/// `{count, retryAfter?, status?, ms?}` of the count-based faults.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fault {
    count: u32,
    retry_after: Option<u64>,
    status: Option<u16>,
    ms: Option<u64>,
}

async fn f429(State(s): State<AppState>, Json(f): Json<Fault>) -> Response {
    ctl(s).inject_429(f.count, f.retry_after.unwrap_or(1));
    StatusCode::NO_CONTENT.into_response()
}

async fn ferrors(State(s): State<AppState>, Json(f): Json<Fault>) -> Response {
    let status = f.status.unwrap_or(503);
    if !(500..600).contains(&status) {
        return err(EmulatorError::Invalid("status must be a 5xx".into()));
    }
    ctl(s).inject_errors(f.count, status);
    StatusCode::NO_CONTENT.into_response()
}

async fn flatency(State(s): State<AppState>, Json(f): Json<Fault>) -> Response {
    ctl(s).inject_latency(f.count, f.ms.unwrap_or(0));
    StatusCode::NO_CONTENT.into_response()
}

async fn fclear(State(s): State<AppState>) -> Response {
    ctl(s).clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

/// `{kind, ms?, applyWhenAbandoned?, retryAfter?, status?, method?, path?, count?, durationMs?}` of a staged fault.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Staged {
    kind: String,
    ms: Option<u64>,
    retry_after: Option<u64>,
    status: Option<u16>,
    method: Option<String>,
    path: Option<String>,
    count: Option<u32>,
    duration_ms: Option<u64>,
    apply_when_abandoned: Option<bool>,
}

impl Staged {
    fn spec(self) -> Result<FaultSpec, EmulatorError> {
        let need_ms = |kind: &str| {
            self.ms.ok_or_else(|| EmulatorError::Invalid(format!("kind {kind:?} needs `ms` (milliseconds)")))
        };
        let kind = match self.kind.as_str() {
            "latencyBefore" => FaultKind::LatencyBefore {
                ms: need_ms("latencyBefore")?,
                apply_when_abandoned: self.apply_when_abandoned.unwrap_or(false),
            },
            "latencyAfter" => FaultKind::LatencyAfter { ms: need_ms("latencyAfter")? },
            "dropAfter" => FaultKind::DropAfter,
            "tooManyRequests" => FaultKind::TooManyRequests { retry_after: self.retry_after.unwrap_or(1).max(1) },
            "error" => FaultKind::Error { status: self.status.unwrap_or(503) },
            other => {
                return Err(EmulatorError::Invalid(format!(
                    "kind {other:?}; use latencyBefore, latencyAfter, dropAfter, tooManyRequests or error"
                )))
            }
        };
        Ok(FaultSpec {
            kind,
            scope: FaultScope { method: self.method, path: self.path },
            count: self.count,
            duration: self.duration_ms.map(Duration::from_millis),
        })
    }
}

async fn stage(
    State(s): State<AppState>,
    body: Result<Json<Staged>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let spec = match body {
        Ok(Json(b)) => b.spec(),
        Err(e) => Err(EmulatorError::Invalid(e.body_text())),
    };
    let c = ctl(s);
    match spec.and_then(|spec| c.stage_fault(spec)) {
        Ok(id) => match c.staged_fault(id) {
            Some(f) => (StatusCode::CREATED, Json(f)).into_response(),
            None => err(EmulatorError::NotFound("staged fault".into())),
        },
        Err(e) => err(e),
    }
}

async fn staged_list(State(s): State<AppState>) -> Response {
    Json(json!({"entities": ctl(s).staged_faults()})).into_response()
}

async fn staged_one(State(s): State<AppState>, Path(id): Path<u64>) -> Response {
    match ctl(s).staged_fault(id) {
        Some(f) => Json(f).into_response(),
        None => err(EmulatorError::NotFound("staged fault".into())),
    }
}

async fn staged_remove(State(s): State<AppState>, Path(id): Path<u64>) -> Response {
    match ctl(s).remove_fault(id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => err(e),
    }
}
