//! `/api/v2/conversations/messaging/integrations/open[/{id}]`: the integration registry.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use super::{respond, OpenIntegration, OpenMessagingState};
use crate::api_error::ApiError;
use crate::http::json::parse;
use crate::http::CorrelationId;

fn view(i: &OpenIntegration) -> Value {
    // The secret token is write-only: never echoed.
    json!({
        "id": i.id,
        "name": i.name,
        "outboundNotificationWebhookUrl": i.webhook_url,
        "status": "Active",
        "createStatus": "Completed",
        "selfUri": format!("/api/v2/conversations/messaging/integrations/open/{}", i.id),
    })
}

/// `POST …/integrations/open` `{name, outboundNotificationWebhookUrl, outboundNotificationWebhookSignatureSecretToken}`.
pub async fn create(
    State(state): State<OpenMessagingState>,
    corr: Option<Extension<CorrelationId>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let result = (|| {
        state.authorize(&headers)?;
        let body: Value = parse(&body)?;
        let field = |name: &str| -> Result<String, ApiError> {
            body[name]
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string)
                .ok_or_else(|| ApiError::field("invalid.value", name, format!("{name} is required")))
        };
        let integration = OpenIntegration {
            id: crate::state::new_id(),
            name: field("name")?,
            webhook_url: field("outboundNotificationWebhookUrl")?,
            secret: field("outboundNotificationWebhookSignatureSecretToken")?,
        };
        let v = view(&integration);
        state.inner.world.lock().integrations.insert(integration.id.clone(), integration);
        Ok((StatusCode::OK, v))
    })();
    respond(result, corr.as_deref())
}

/// `GET …/integrations/open`.
pub async fn list(
    State(state): State<OpenMessagingState>,
    corr: Option<Extension<CorrelationId>>,
    headers: HeaderMap,
) -> Response {
    let result = state.authorize(&headers).map(|()| {
        let entities: Vec<Value> = state.inner.world.lock().integrations.values().map(view).collect();
        let total = entities.len();
        (StatusCode::OK, json!({"entities": entities, "pageSize": 25, "pageNumber": 1, "total": total, "pageCount": 1}))
    });
    respond(result, corr.as_deref())
}

/// `GET …/integrations/open/{id}`.
pub async fn get_one(
    State(state): State<OpenMessagingState>,
    corr: Option<Extension<CorrelationId>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = state.authorize(&headers).and_then(|()| {
        state.integration(&id).map(|i| (StatusCode::OK, view(&i))).ok_or_else(|| ApiError::not_found("Integration"))
    });
    respond(result, corr.as_deref())
}

/// `DELETE …/integrations/open/{id}`.
pub async fn delete(
    State(state): State<OpenMessagingState>,
    corr: Option<Extension<CorrelationId>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = state.authorize(&headers).and_then(|()| match state.inner.world.lock().integrations.remove(&id) {
        Some(_) => Ok((StatusCode::NO_CONTENT, Value::Null)),
        None => Err(ApiError::not_found("Integration")),
    });
    respond(result, corr.as_deref())
}
