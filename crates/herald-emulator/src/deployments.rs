//! `GET /webdeployments/v1/deployments/{id}/config.json` (the api-cdn host's role).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::state::AppState;

/// The Messenger deployment configuration.
pub async fn config_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = state.config.deployments.iter().find(|d| d.id == id).ok_or_else(|| ApiError::not_found("Deployment"))?;
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    Ok(Json(json!({
        "id": d.id,
        "version": "1",
        "languages": ["en-us"],
        "defaultLanguage": "en-us",
        "apiEndpoint": format!("http://{host}"),
        "status": d.status,
        "auth": {"enabled": false, "allowSessionUpgrade": false},
        "messenger": {
            "enabled": true,
            "fileUpload": {"modes": []},
            "apps": {"conversations": {
                "messagingEndpoint": format!("ws://{host}"),
                "showAgentTypingIndicator": true,
                "showUserTypingIndicator": true,
                "autoStart": {"enabled": d.auto_start},
                "conversationDisconnect": {"enabled": d.conversation_disconnect_enabled, "type": d.conversation_disconnect_type},
                "conversationClear": {"enabled": true},
                "notifications": {"enabled": false}
            }}
        }
    })))
}
