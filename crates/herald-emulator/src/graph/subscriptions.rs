//! Change-notification subscriptions for presence (`/subscriptions`).
//!
//! Creation validates the body (only `updated`; resource `communications/presences/{id}` or
//! `/communications/presences?$filter=id in ('…',…)` with at most `max_bulk_ids` ids; `clientState` required;
//! expiry at most `max_subscription_minutes` ahead; a delegated token when configured), then performs the
//! validation handshake: `POST {notificationUrl}?validationToken=…` (`text/plain`), which must answer 200 with the
//! token as body within the timeout, for the notification URL and the lifecycle URL. Only then is the subscription
//! created (201). Presence changes are POSTed as basic notifications (`resourceData` carries the id only; rich
//! notifications with encrypted content are not emulated) until the subscription expires.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::{authorize, error};
use crate::botconnector::TeamsWorld;

/// A subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Id.
    pub id: String,
    /// The resource as given.
    pub resource: String,
    /// The user ids it covers.
    pub ids: Vec<String>,
    /// Where notifications go.
    pub notification_url: String,
    /// Where lifecycle notifications go.
    pub lifecycle_url: Option<String>,
    /// The secret echoed in every notification.
    pub client_state: String,
    /// Expiry.
    pub expires: DateTime<Utc>,
    /// The app that created it.
    pub app_id: String,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn to_json(s: &Subscription) -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
        "id": s.id, "resource": s.resource, "changeType": "updated",
        "notificationUrl": s.notification_url, "lifecycleNotificationUrl": s.lifecycle_url,
        "clientState": s.client_state, "expirationDateTime": iso(s.expires),
        "applicationId": s.app_id, "includeResourceData": false,
        "latestSupportedTlsVersion": "v1_2", "notificationContentType": "application/json",
    })
}

/// The user ids a presence resource names.
pub fn parse_resource(resource: &str) -> Option<Vec<String>> {
    let r = resource.trim_start_matches('/');
    if let Some(id) = r.strip_prefix("communications/presences/") {
        return (!id.is_empty() && !id.contains(['/', '?'])).then(|| vec![id.to_string()]);
    }
    let filter = r.strip_prefix("communications/presences?$filter=")?;
    let inner = filter.trim().strip_prefix("id in (")?.strip_suffix(')')?;
    let ids: Vec<String> =
        inner.split(',').map(|p| p.trim().trim_matches('\'').to_string()).filter(|s| !s.is_empty()).collect();
    (!ids.is_empty()).then_some(ids)
}

async fn handshake(world: &TeamsWorld, url: &str) -> bool {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let query = serde_urlencoded::to_string([("validationToken", token.as_str())]).unwrap_or_default();
    let sep = if url.contains('?') { '&' } else { '?' };
    let target = format!("{url}{sep}{query}");
    let timeout = std::time::Duration::from_millis(world.inner.config.validation_timeout_ms.max(100));
    let resp =
        world.inner.http.post(target).timeout(timeout).header("content-type", "text/plain; charset=utf-8").send().await;
    match resp {
        Ok(r) if r.status() == reqwest::StatusCode::OK => r.text().await.map(|t| t == token).unwrap_or(false),
        _ => false,
    }
}

fn expiry(v: &Value, max_minutes: i64) -> Result<DateTime<Utc>, Response> {
    let raw = v.get("expirationDateTime").and_then(Value::as_str).unwrap_or_default();
    let t = DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| error(StatusCode::BAD_REQUEST, "InvalidRequest", "expirationDateTime is not a valid date."))?;
    let now = Utc::now();
    if t <= now {
        return Err(error(StatusCode::BAD_REQUEST, "InvalidRequest", "Subscription expiration must be in the future."));
    }
    if t > now + Duration::minutes(max_minutes) + Duration::seconds(30) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            &format!("Subscription expiration can only be {max_minutes} minutes in the future."),
        ));
    }
    Ok(t)
}

pub(crate) async fn create(State(world): State<TeamsWorld>, headers: HeaderMap, body: Bytes) -> Response {
    let issued = match authorize(&world, &headers) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let cfg = &world.inner.config;
    if cfg.subscriptions_require_delegated && issued.user.is_none() {
        return error(
            StatusCode::FORBIDDEN,
            "ExtensionError",
            "Operation: Create; Exception: [Status Code: Forbidden; Reason: presence subscriptions support delegated permissions only]",
        );
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => return error(StatusCode::BAD_REQUEST, "BadRequest", "Unable to read JSON request payload."),
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    if s("changeType").as_deref() != Some("updated") {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Presence subscriptions support changeType 'updated' only.",
        );
    }
    let resource = s("resource").unwrap_or_default();
    let Some(ids) = parse_resource(&resource) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Unsupported resource; expected communications/presences.",
        );
    };
    if ids.len() > cfg.max_bulk_ids {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            &format!("A presence subscription filter may name at most {} ids.", cfg.max_bulk_ids),
        );
    }
    let Some(notification_url) = s("notificationUrl").filter(|u| u.starts_with("http")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "notificationUrl is required and must be an http(s) URL.",
        );
    };
    let Some(client_state) = s("clientState").filter(|c| !c.is_empty() && c.len() <= 128) else {
        return error(StatusCode::BAD_REQUEST, "InvalidRequest", "clientState is required (at most 128 characters).");
    };
    let expires = match expiry(&v, cfg.max_subscription_minutes) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let lifecycle_url = s("lifecycleNotificationUrl");
    let mut ok = handshake(&world, &notification_url).await;
    if ok {
        if let Some(l) = &lifecycle_url {
            ok = handshake(&world, l).await;
        }
    }
    if !ok {
        world.inner.graph.data.lock().counters.validations_failed += 1;
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
        );
    }
    let sub = Subscription {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        ids,
        notification_url,
        lifecycle_url,
        client_state,
        expires,
        app_id: issued.app_id,
    };
    let body = to_json(&sub);
    let mut data = world.inner.graph.data.lock();
    data.counters.subscriptions_created += 1;
    data.subscriptions.insert(sub.id.clone(), sub);
    (StatusCode::CREATED, Json(body)).into_response()
}

fn live(world: &TeamsWorld, id: &str) -> Option<Subscription> {
    let now = Utc::now();
    let mut data = world.inner.graph.data.lock();
    data.subscriptions.retain(|_, s| s.expires > now);
    data.subscriptions.get(id).cloned()
}

fn missing(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, "ResourceNotFound", &format!("The object was not found: subscription '{id}'."))
}

pub(crate) async fn get_one(State(world): State<TeamsWorld>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&world, &headers) {
        return r;
    }
    live(&world, &id).map(|s| Json(to_json(&s)).into_response()).unwrap_or_else(|| missing(&id))
}

pub(crate) async fn list(State(world): State<TeamsWorld>, headers: HeaderMap) -> Response {
    let Ok(issued) = authorize(&world, &headers) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty, expired or invalid.",
        );
    };
    let now = Utc::now();
    let data = world.inner.graph.data.lock();
    let v: Vec<Value> =
        data.subscriptions.values().filter(|s| s.expires > now && s.app_id == issued.app_id).map(to_json).collect();
    Json(json!({"value": v})).into_response()
}

pub(crate) async fn renew(
    State(world): State<TeamsWorld>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&world, &headers) {
        return r;
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let expires = match expiry(&v, world.inner.config.max_subscription_minutes) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if live(&world, &id).is_none() {
        return missing(&id);
    }
    let mut data = world.inner.graph.data.lock();
    match data.subscriptions.get_mut(&id) {
        Some(s) => {
            s.expires = expires;
            Json(to_json(s)).into_response()
        }
        None => missing(&id),
    }
}

pub(crate) async fn delete(State(world): State<TeamsWorld>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&world, &headers) {
        return r;
    }
    match world.inner.graph.data.lock().subscriptions.remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => missing(&id),
    }
}

/// The notification body of one subscription for one user.
pub fn notification_body(world: &TeamsWorld, sub: &Subscription, user: &str, client_state: &str) -> Value {
    json!({"value": [{
        "subscriptionId": sub.id,
        "clientState": client_state,
        "changeType": "updated",
        "tenantId": world.inner.config.tenant_id,
        "organizationId": world.inner.config.tenant_id,
        "resource": format!("communications/presences/{user}"),
        "subscriptionExpirationDateTime": iso(sub.expires),
        "resourceData": {
            "@odata.id": format!("users/{user}/presence"),
            "@odata.type": "#microsoft.graph.presence",
            "id": user,
        },
    }]})
}

/// POSTs a notification body; whether it was acknowledged (2xx within 3 s).
pub async fn post_notification(world: &TeamsWorld, url: &str, body: &Value) -> bool {
    let resp = world.inner.http.post(url).timeout(std::time::Duration::from_secs(3)).json(body).send().await;
    let ok = matches!(resp, Ok(r) if r.status().is_success());
    let mut data = world.inner.graph.data.lock();
    if ok {
        data.counters.notifications_sent += 1;
    } else {
        data.counters.notifications_failed += 1;
    }
    ok
}

/// Notifies every live subscription covering `user` (in the background).
pub(crate) fn notify_change(world: &TeamsWorld, user: &str) {
    let now = Utc::now();
    let subs: Vec<Subscription> = world
        .inner
        .graph
        .data
        .lock()
        .subscriptions
        .values()
        .filter(|s| s.expires > now && s.ids.iter().any(|i| i == user))
        .cloned()
        .collect();
    for sub in subs {
        let world = world.clone();
        let user = user.to_string();
        tokio::spawn(async move {
            let body = notification_body(&world, &sub, &user, &sub.client_state);
            post_notification(&world, &sub.notification_url, &body).await;
        });
    }
}

impl TeamsWorld {
    /// Live subscriptions.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let now = Utc::now();
        self.inner.graph.data.lock().subscriptions.values().filter(|s| s.expires > now).cloned().collect()
    }

    /// Sends a notification for `user` on subscription `id` with a chosen `clientState` (e.g. a wrong one).
    pub async fn send_notification(&self, id: &str, user: &str, client_state: &str) -> Result<bool, String> {
        let sub = live(self, id).ok_or_else(|| format!("no live subscription `{id}`"))?;
        let body = notification_body(self, &sub, user, client_state);
        Ok(post_notification(self, &sub.notification_url, &body).await)
    }

    /// Makes a subscription expire now (to test renewal gaps).
    pub fn expire_subscription(&self, id: &str) -> bool {
        let mut data = self.inner.graph.data.lock();
        match data.subscriptions.get_mut(id) {
            Some(s) => {
                s.expires = Utc::now() - Duration::seconds(1);
                true
            }
            None => false,
        }
    }
}
