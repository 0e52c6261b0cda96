//! `POST /v1/notifications`, `GET /v1/notifications/{id}`, `GET /v1/notifications`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use herald_core::{
    ClosedPolicy, Content, Enqueued, Notification, NotificationStatus, OutboxFilter, OutboxRecord, Receipt,
    StatusChange, Target,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::body::{query, read_json};
use super::problem::Problem;
use super::AppState;

/// The body of `POST /v1/notifications`. Exactly one of `text`, `template`, `canned_response_id`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    /// The integration (config `[[integration]] name`) that delivers it.
    pub integration: String,
    /// The recipient: `{"type":"conversation"|"customer"|"guest"|"agent","id":"…"}`.
    pub target: Target,
    /// Plain text.
    #[serde(default)]
    pub text: Option<String>,
    /// A template with `{{name}}` placeholders filled from `variables`.
    #[serde(default)]
    pub template: Option<String>,
    /// A Genesys Response Management response id; its substitutions are filled from the session and `variables`.
    #[serde(default)]
    pub canned_response_id: Option<String>,
    /// Values for template placeholders or canned-response substitutions.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Not delivered after this instant (RFC 3339).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Overrides the integration's closed-session policy.
    #[serde(default)]
    pub closed_policy: Option<ClosedPolicy>,
}

/// A notification as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationView {
    /// herald's id.
    pub id: Uuid,
    /// Current status.
    pub status: NotificationStatus,
    /// The integration.
    pub integration: String,
    /// The recipient (after `defer`, the conversation it was moved to).
    pub target: Target,
    /// What is sent.
    pub content: Content,
    /// The caller's idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The rule that produced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When accepted.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Next attempt (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// For deferred: the customer waited for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deferred_for: Option<String>,
    /// Set when delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
    /// Every status change with its reason.
    pub history: Vec<StatusChange>,
}

impl From<OutboxRecord> for NotificationView {
    fn from(r: OutboxRecord) -> Self {
        let n = r.notification;
        NotificationView {
            id: n.id,
            status: r.status,
            integration: n.integration,
            target: n.target,
            content: n.content,
            idempotency_key: n.idempotency_key,
            rule: n.rule,
            attempts: r.attempts,
            created_at: n.created_at,
            expires_at: n.expires_at,
            next_attempt_at: r.next_attempt_at,
            deferred_for: r.deferred_for,
            receipt: r.receipt,
            history: r.history,
        }
    }
}

/// The answer to an accepted notification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// herald's id; poll `GET /v1/notifications/{id}`.
    pub id: Uuid,
    /// Status at acceptance (`pending`), or the current status of the original for a repeated key.
    pub status: NotificationStatus,
    /// Whether this answer is the original notification of a repeated `Idempotency-Key`.
    pub duplicate: bool,
}

/// Turn a request into content, checking that exactly one kind was given.
fn content_of(req: &NotificationRequest) -> Result<Content, Problem> {
    let given =
        [req.text.is_some(), req.template.is_some(), req.canned_response_id.is_some()].iter().filter(|b| **b).count();
    if given != 1 {
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
            "give exactly one of `text`, `template` or `canned_response_id`",
        ));
    }
    if let Some(text) = &req.text {
        if text.trim().is_empty() {
            return Err(Problem::field(StatusCode::UNPROCESSABLE_ENTITY, "text", "must not be empty"));
        }
        return Ok(Content::Text { text: text.clone() });
    }
    if let Some(template) = &req.template {
        for name in herald_core::template::placeholders(template) {
            if !req.variables.contains_key(&name) {
                return Err(Problem::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("variables.{name}"),
                    format!("the template uses `{{{{{name}}}}}` but `variables` has no `{name}`"),
                ));
            }
        }
        return Ok(Content::Template { template: template.clone(), variables: req.variables.clone() });
    }
    let response_id = req.canned_response_id.clone().unwrap_or_default();
    if response_id.trim().is_empty() {
        return Err(Problem::field(StatusCode::UNPROCESSABLE_ENTITY, "canned_response_id", "must not be empty"));
    }
    Ok(Content::CannedResponse { response_id, variables: req.variables.clone() })
}

/// Accept a notification: durable on disk before the 202.
#[utoipa::path(post, path = "/v1/notifications", request_body = NotificationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "the same key returns the original notification")),
    responses((status = 202, body = Accepted, description = "durably accepted"), (status = 200, body = Accepted, description = "the original of a repeated Idempotency-Key"),
              (status = 422, body = Problem, description = "invalid field, or an Idempotency-Key reused with a different body"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 413, body = Problem)),
    security(("api_key" = [])))]
pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = std::time::Instant::now();
    let result = accept(&state, &headers, body).await;
    metrics::histogram!("herald_intake_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(Enqueued::Created(record)) => {
            metrics::counter!("herald_intake_total", "outcome" => "accepted").increment(1);
            let accepted = Accepted { id: record.id(), status: record.status, duplicate: false };
            state.dispatcher.schedule(record);
            (StatusCode::ACCEPTED, Json(accepted)).into_response()
        }
        Ok(Enqueued::Existing(record)) => {
            metrics::counter!("herald_intake_total", "outcome" => "duplicate").increment(1);
            (StatusCode::OK, Json(Accepted { id: record.id(), status: record.status, duplicate: true })).into_response()
        }
        Err(problem) => {
            metrics::counter!("herald_intake_total", "outcome" => "rejected").increment(1);
            problem.into_response()
        }
    }
}

async fn accept(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Enqueued, Problem> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= 255 => Some(k.trim().to_string()),
            _ => {
                return Err(Problem::field(
                    StatusCode::BAD_REQUEST,
                    "Idempotency-Key",
                    "must be 1 to 255 visible ASCII characters",
                ))
            }
        },
    };
    let req: NotificationRequest = read_json(headers, body, state.max_body_bytes).await?;
    if !state.routes.contains_key(&req.integration) {
        let mut known: Vec<&str> = state.routes.keys().map(String::as_str).collect();
        known.sort();
        return Err(Problem::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "integration",
            format!("unknown integration `{}`; configured: {}", req.integration, known.join(", ")),
        ));
    }
    if req.target.id().trim().is_empty() {
        return Err(Problem::field(StatusCode::UNPROCESSABLE_ENTITY, "target.id", "must not be empty"));
    }
    if let Some(exp) = req.expires_at {
        if exp <= Utc::now() {
            return Err(Problem::field(StatusCode::UNPROCESSABLE_ENTITY, "expires_at", "is in the past"));
        }
    }
    let content = content_of(&req)?;
    let notification = Notification {
        id: Uuid::new_v4(),
        idempotency_key: key,
        integration: req.integration,
        target: req.target,
        content,
        created_at: Utc::now(),
        expires_at: req.expires_at,
        closed_policy: req.closed_policy,
        rule: None,
    };
    let asked = notification.clone();
    match state.outbox.enqueue(notification).await.map_err(|e| Problem::store(&e))? {
        Enqueued::Existing(original) => {
            let differing = differing_fields(&original, &asked);
            if differing.is_empty() {
                Ok(Enqueued::Existing(original))
            } else {
                Err(key_reused(asked.idempotency_key.as_deref().unwrap_or_default(), &original, &differing))
            }
        }
        created => Ok(created),
    }
}

/// The request fields in which `asked` differs from the notification first accepted under the same key. The
/// target is not compared once the original was deferred (it may since point at the customer's new conversation).
fn differing_fields(original: &OutboxRecord, asked: &Notification) -> Vec<&'static str> {
    let o = &original.notification;
    let moved = original.history.iter().any(|c| c.status == NotificationStatus::Deferred);
    let mut fields = Vec::new();
    if o.integration != asked.integration {
        fields.push("integration");
    }
    if !moved && o.target != asked.target {
        fields.push("target");
    }
    if o.content != asked.content {
        fields.push("content");
    }
    if o.expires_at != asked.expires_at {
        fields.push("expires_at");
    }
    if o.closed_policy != asked.closed_policy {
        fields.push("closed_policy");
    }
    fields
}

/// 422: the key was used for a different notification; the original stands.
fn key_reused(key: &str, original: &OutboxRecord, differing: &[&str]) -> Problem {
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        format!(
            "Idempotency-Key `{key}` was already used for notification {} with a different {}; the original is kept \
             unchanged. Send the same body to get the original back, or a new key for a new notification",
            original.id(),
            differing.join(", ")
        ),
    );
    p.field = Some("Idempotency-Key".into());
    p.errors = differing
        .iter()
        .map(|f| super::problem::FieldError {
            field: (*f).to_string(),
            message: format!("differs from the notification first accepted with Idempotency-Key `{key}`"),
        })
        .collect();
    p
}

/// One notification with its history.
#[utoipa::path(get, path = "/v1/notifications/{id}", params(("id" = Uuid, Path, description = "notification id")),
    responses((status = 200, body = NotificationView), (status = 404, body = Problem)), security(("api_key" = [])))]
pub async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Ok(uuid) = Uuid::parse_str(&id) else {
        return Problem::field(StatusCode::BAD_REQUEST, "id", format!("`{id}` is not a notification id (a UUID)"))
            .into_response();
    };
    match state.outbox.get(uuid).await {
        Ok(Some(r)) => Json(NotificationView::from(r)).into_response(),
        Ok(None) => Problem::not_found("notification", &id).into_response(),
        Err(e) => Problem::store(&e).into_response(),
    }
}

/// Query of `GET /v1/notifications`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status.
    pub status: Option<String>,
    /// Only this integration.
    pub integration: Option<String>,
    /// At most this many: 1 to 1000 (default 100).
    pub limit: Option<usize>,
    /// The next page: only notifications older than this cursor (the `X-Next-Cursor` of a previous answer).
    pub before_seq: Option<u64>,
}

/// Recent notifications, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/notifications", params(ListQuery),
    responses((status = 200, body = [NotificationView], description = "newest first; when the page is full, \
        `X-Next-Cursor` (and `Link: <…>; rel=\"next\"`) give the `before_seq` of the next page",
        headers(("X-Next-Cursor" = String, description = "the `before_seq` of the next page, when there may be one"),
                ("Link" = String, description = "`<next page URL>; rel=\"next\"`, when there may be one"))),
        (status = 400, body = Problem, description = "a bad parameter, named in `field` (e.g. `limit` outside 1..=1000)")),
    security(("api_key" = [])))]
pub async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let q: ListQuery = match query(raw.as_deref()) {
        Ok(q) => q,
        Err(p) => return p.into_response(),
    };
    let status = match q.status.as_deref().map(str::parse::<NotificationStatus>) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Problem::field(StatusCode::BAD_REQUEST, "status", e).into_response(),
    };
    let limit = match super::paging::limit(q.limit) {
        Ok(l) => l,
        Err(p) => return p.into_response(),
    };
    let filter = OutboxFilter { status, integration: q.integration, before_seq: q.before_seq, limit };
    match state.outbox.list(&filter).await {
        Ok(records) => {
            let next = (records.len() >= limit).then(|| records.iter().map(|r| r.seq).min()).flatten();
            let views = records.into_iter().map(NotificationView::from).collect::<Vec<_>>();
            super::paging::page(views, "/v1/notifications", raw.as_deref(), "before_seq", next.map(|s| s.to_string()))
        }
        Err(e) => Problem::store(&e).into_response(),
    }
}
