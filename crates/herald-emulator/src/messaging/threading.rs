//! `GET/PUT /api/v2/conversations/messaging/threadingtimeline`.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::http::json::ApiJson;
use crate::oauth::Authed;
use crate::state::AppState;

const TYPES: &[&str] = &["sms", "facebook", "twitter", "whatsapp", "webmessaging", "instagram", "open", "apple"];
const MAX_MINUTES: u64 = 4320;

fn render(state: &AppState) -> Value {
    let w = state.world.lock();
    let settings: Vec<Value> = TYPES
        .iter()
        .map(|t| json!({"messengerType": t, "timeoutInMinutes": w.threading.window(t).num_minutes()}))
        .collect();
    json!({"settings": settings, "defaultTimeoutMinutes": w.threading.default_minutes})
}

/// GET.
pub async fn get(State(state): State<AppState>, _a: Authed) -> Json<Value> {
    Json(render(&state))
}

/// PUT: `{settings:[{messengerType, timeoutInMinutes}], defaultTimeoutMinutes?}`.
pub async fn put(State(state): State<AppState>, _a: Authed, ApiJson(body): ApiJson<Value>) -> ApiResult<Json<Value>> {
    let settings = body
        .get("settings")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::field("constraint.validation", "settings", "settings is required"))?;
    let mut per_type = Vec::new();
    for (i, s) in settings.iter().enumerate() {
        let t = s.get("messengerType").and_then(Value::as_str).filter(|t| TYPES.contains(t)).ok_or_else(|| {
            ApiError::field(
                "invalid.value",
                &format!("settings[{i}].messengerType"),
                "messengerType is missing or not a messenger type",
            )
        })?;
        let m = s.get("timeoutInMinutes").and_then(Value::as_u64).filter(|m| *m <= MAX_MINUTES).ok_or_else(|| {
            ApiError::field(
                "invalid.value",
                &format!("settings[{i}].timeoutInMinutes"),
                format!("timeoutInMinutes must be between 0 and {MAX_MINUTES}"),
            )
        })?;
        per_type.push((t.to_string(), m as u32));
    }
    let default = match body.get("defaultTimeoutMinutes") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|m| *m <= MAX_MINUTES).ok_or_else(|| {
            ApiError::field("invalid.value", "defaultTimeoutMinutes", "defaultTimeoutMinutes is out of range")
        })? as u32),
    };
    {
        let mut w = state.world.lock();
        w.threading.per_type = per_type;
        if let Some(d) = default {
            w.threading.default_minutes = d;
        }
    }
    Ok(Json(render(&state)))
}
