//! Microsoft Graph presence, as a Teams tenant's Graph answers it: presence reads (single and bulk), app sessions
//! (`setPresence`/`clearPresence`), user-preferred presence, the aggregation rules, change-notification
//! subscriptions with the validation handshake, and the presence throttling budget.
//!
//! Served under `/v1.0/…` and `/beta/…`, with the state inside the [`TeamsWorld`](crate::botconnector::TeamsWorld)
//! (tokens come from its login endpoint). Errors use Graph's shape
//! `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.

// Handlers use `Result<_, Response>` so early returns carry the upstream error shape; the size is irrelevant here.
#![allow(clippy::result_large_err)]

pub mod presence;
pub mod subscriptions;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::json;

use crate::botconnector::config::TeamsConfig;
use crate::botconnector::login::{Audience, Issued};
use crate::botconnector::TeamsWorld;

pub use presence::{Availability, PresenceValue};
pub use subscriptions::Subscription;

/// Counters of the Graph emulator (what tests and benchmarks compare).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GraphCounters {
    /// `GET …/presence` calls answered.
    pub presence_gets: u64,
    /// `getPresencesByUserId` calls answered.
    pub bulk_requests: u64,
    /// Ids read through `getPresencesByUserId`.
    pub bulk_ids: u64,
    /// `setPresence` calls accepted.
    pub set_presence: u64,
    /// `clearPresence` calls accepted.
    pub clear_presence: u64,
    /// `setUserPreferredPresence` calls accepted.
    pub set_preferred: u64,
    /// `clearUserPreferredPresence` calls accepted.
    pub clear_preferred: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Subscriptions created.
    pub subscriptions_created: u64,
    /// Subscription creations refused because the validation handshake failed.
    pub validations_failed: u64,
    /// Change notifications POSTed (acknowledged with 2xx).
    pub notifications_sent: u64,
    /// Change notifications that were not acknowledged.
    pub notifications_failed: u64,
}

impl GraphCounters {
    /// Presence writes of any kind (app sessions and preferred presence).
    pub fn writes(&self) -> u64 {
        self.set_presence + self.clear_presence + self.set_preferred + self.clear_preferred
    }
}

#[derive(Debug, Default)]
pub(crate) struct GraphData {
    pub(crate) presences: HashMap<String, presence::UserPresence>,
    pub(crate) subscriptions: HashMap<String, Subscription>,
    budget: HashMap<String, VecDeque<Instant>>,
    pub(crate) counters: GraphCounters,
    pub(crate) sequence: u64,
}

/// The Graph state of a world.
#[derive(Debug)]
pub struct GraphState {
    pub(crate) data: Mutex<GraphData>,
    budget: u64,
    window: Duration,
}

impl GraphState {
    /// State for `config`.
    pub fn new(config: &TeamsConfig) -> Self {
        GraphState {
            data: Mutex::new(GraphData::default()),
            budget: config.presence_budget,
            window: Duration::from_secs(config.presence_window_seconds.max(1)),
        }
    }
}

/// Routes under `/v1.0` and `/beta`.
pub fn router() -> Router<TeamsWorld> {
    let mut r = Router::new();
    for v in ["/v1.0", "/beta"] {
        r = r
            .route(&format!("{v}/users/{{id}}/presence"), get(presence::get_one))
            .route(&format!("{v}/communications/presences/{{id}}"), get(presence::get_one))
            .route(&format!("{v}/communications/getPresencesByUserId"), post(presence::get_bulk))
            .route(&format!("{v}/users/{{id}}/presence/setPresence"), post(presence::set_presence))
            .route(&format!("{v}/users/{{id}}/presence/clearPresence"), post(presence::clear_presence))
            .route(&format!("{v}/users/{{id}}/presence/setUserPreferredPresence"), post(presence::set_preferred))
            .route(&format!("{v}/users/{{id}}/presence/clearUserPreferredPresence"), post(presence::clear_preferred))
            .route(&format!("{v}/subscriptions"), post(subscriptions::create).get(subscriptions::list))
            .route(
                &format!("{v}/subscriptions/{{id}}"),
                patch(subscriptions::renew).delete(subscriptions::delete).get(subscriptions::get_one),
            );
    }
    r
}

/// A Graph error response.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let rid = uuid::Uuid::new_v4().to_string();
    let body = json!({"error": {"code": code, "message": message, "innerError": {
        "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        "request-id": rid, "client-request-id": rid,
    }}});
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

/// Checks the Graph token; the error response otherwise.
pub(crate) fn authorize(world: &TeamsWorld, headers: &HeaderMap) -> Result<Issued, Response> {
    world.inner.tokens.check(headers, Audience::Graph).ok_or_else(|| {
        error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "Access token is empty, expired or invalid.")
    })
}

/// Spends one request of the app's presence budget; a 429 with a fractional `Retry-After` when it is exhausted.
pub(crate) fn spend(world: &TeamsWorld, app_id: &str) -> Result<(), Response> {
    let g = &world.inner.graph;
    let now = Instant::now();
    let mut data = g.data.lock();
    let hits = data.budget.entry(app_id.to_string()).or_default();
    while hits.front().is_some_and(|t| now.duration_since(*t) >= g.window) {
        hits.pop_front();
    }
    if g.budget > 0 && hits.len() as u64 >= g.budget {
        let wait = hits.front().map(|t| g.window.saturating_sub(now.duration_since(*t))).unwrap_or(g.window);
        data.counters.throttled += 1;
        let rid = uuid::Uuid::new_v4().to_string();
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
        let body = json!({"error": {"code": "TooManyRequests", "message": "Please retry again later.",
            "innerError": {"code": "429", "status": "429", "date": date, "request-id": rid}}});
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", wait.as_secs_f64().max(0.001))) {
            resp.headers_mut().insert("retry-after", v);
        }
        return Err(resp);
    }
    hits.push_back(now);
    Ok(())
}

impl TeamsWorld {
    /// Graph counters.
    pub fn graph_counters(&self) -> GraphCounters {
        self.inner.graph.data.lock().counters
    }
}
