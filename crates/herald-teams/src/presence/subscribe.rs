//! Graph change-notification subscriptions for presence (needs delegated credentials and a public notification
//! URL), and the notification endpoint herald serves.
//!
//! The manager creates one subscription per 650 linked users (`clientState` = herald's secret), renews each
//! `renew_before_secs` before its expiry (≤ 1 h), rebuilds them when links change or a renewal fails, and asks the
//! poller for a full resync after every (re)build, since changes may have been missed in between.
//!
//! The endpoint answers the validation handshake (`?validationToken=` → 200 `text/plain` echo), and for
//! notifications checks `clientState` in constant time on every item: a wrong one is counted and ignored. Good items
//! are acknowledged with 202 at once; the presences are then read with `getPresencesByUserId` in the background.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

use super::Engine;
use crate::stats::names;

/// Runs until cancelled.
pub async fn run(engine: Arc<Engine>, cancel: CancellationToken) {
    let Some(url) = engine.settings().notification_url.clone() else { return };
    let minutes = engine.settings().subscription_minutes.clamp(1, 60);
    let renew_before =
        Duration::from_secs(engine.settings().renew_before_secs).min(Duration::from_secs(minutes as u64 * 30));
    let mut links = engine.links_receiver();
    let mut subs: Vec<String> = Vec::new();
    // The first creation may run before herald's listener is up (the handshake then fails): retry soon, backing off.
    let mut failures = 0u32;
    loop {
        for id in subs.drain(..) {
            let _ = engine.graph().delete_subscription(&id).await;
        }
        let mut ids: Vec<String> = engine.linked().await.into_iter().map(|(_, a)| a).collect();
        ids.sort();
        ids.dedup();
        let mut ok = true;
        for chunk in ids.chunks(650) {
            let filter = chunk.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(",");
            let body = json!({
                "changeType": "updated",
                "notificationUrl": url,
                "lifecycleNotificationUrl": url,
                "resource": format!("/communications/presences?$filter=id in ({filter})"),
                "expirationDateTime": expiry(minutes),
                "clientState": engine.client_state(),
            });
            match engine.graph().create_subscription(body).await {
                Ok(info) => subs.push(info.id),
                Err(e) => {
                    ok = false;
                    tracing::warn!(error = %e, "could not create a Graph presence subscription");
                    engine.set_health(|h| h.subscription_error = Some(e.to_string()));
                }
            }
        }
        let n = subs.len();
        engine.set_health(|h| {
            h.subscriptions = n;
            if ok {
                h.subscription_error = None;
            }
        });
        engine.request_resync();
        failures = if ok { 0 } else { failures.saturating_add(1) };
        loop {
            let wait = if ok {
                Duration::from_secs(minutes as u64 * 60).saturating_sub(renew_before)
            } else {
                Duration::from_millis(250u64.saturating_mul(1 << failures.min(7))).min(Duration::from_secs(30))
            };
            tokio::select! {
                _ = cancel.cancelled() => {
                    for id in subs.drain(..) {
                        let _ = engine.graph().delete_subscription(&id).await;
                    }
                    return;
                }
                r = links.changed() => {
                    if r.is_err() { return; }
                    break;
                }
                _ = tokio::time::sleep(wait) => {
                    if !ok { break; }
                    for id in &subs {
                        if let Err(e) = engine.graph().renew_subscription(id, &expiry(minutes)).await {
                            tracing::warn!(error = %e, "could not renew a Graph subscription; rebuilding");
                            engine.set_health(|h| h.subscription_error = Some(e.to_string()));
                            ok = false;
                        }
                    }
                    if !ok { break; }
                }
            }
        }
    }
}

fn expiry(minutes: i64) -> String {
    (Utc::now() + chrono::Duration::minutes(minutes)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The notification endpoint.
pub async fn notifications(
    State(engine): State<Arc<Engine>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(token) = q.get("validationToken") {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], token.clone()).into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(items) = v.get("value").and_then(Value::as_array) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let secret = engine.client_state().as_bytes();
    let mut ids = Vec::new();
    let mut lifecycle = false;
    for n in items {
        let cs = n.get("clientState").and_then(Value::as_str).unwrap_or_default().as_bytes();
        if cs.len() != secret.len() || !bool::from(cs.ct_eq(secret)) {
            engine.stats().incr(names::BAD_CLIENT_STATE);
            continue;
        }
        if n.get("lifecycleEvent").is_some() {
            lifecycle = true;
            continue;
        }
        let id = n
            .pointer("/resourceData/id")
            .and_then(Value::as_str)
            .or_else(|| n.get("resource").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()))
            .map(str::to_string);
        if let Some(id) = id {
            ids.push(id);
        }
    }
    if lifecycle {
        engine.request_resync();
    }
    if !ids.is_empty() {
        engine.stats().add(names::NOTIFICATIONS, ids.len() as u64);
        ids.sort();
        ids.dedup();
        let engine = engine.clone();
        tokio::spawn(async move {
            for chunk in ids.chunks(650) {
                match engine.graph().get_presences(chunk).await {
                    Ok(list) => {
                        for p in list {
                            engine.on_teams_presence(&p.id, &p.availability, &p.activity).await;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read notified presences; resyncing");
                        engine.request_resync();
                    }
                }
            }
        });
    }
    StatusCode::ACCEPTED.into_response()
}
