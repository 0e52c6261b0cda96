//! `POST /api/v2/analytics/conversations/details/query` over the in-memory conversations.
//!
//! Filters are evaluated per conversation (a predicate matches if any participant/session
//! matches), which is coarser than the platform's per-segment evaluation; see docs/emulator.md.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::clock::iso;
use crate::http::json::ApiJson;
use crate::oauth::Authed;
use crate::state::AppState;
use crate::world::conversation::{Conversation, Media};

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v2/analytics/conversations/details/query", post(query))
}

fn media_type(c: &Conversation) -> &'static str {
    match c.media {
        Media::Message => "message",
        Media::Chat => "chat",
    }
}

fn dimension_values(c: &Conversation, dim: &str) -> Vec<String> {
    let ps = c.participants.iter();
    match dim {
        "mediaType" => vec![media_type(c).into()],
        "messageType" if c.media == Media::Message => vec![c.messenger_type.clone()],
        "queueId" => ps.filter_map(|p| p.queue_id.clone()).chain(c.queue_id.clone()).collect(),
        "userId" => ps.filter_map(|p| p.user_id.clone()).collect(),
        "externalContactId" => ps.filter_map(|p| p.external_contact_id.clone()).collect(),
        "purpose" => ps.map(|p| p.purpose.clone()).collect(),
        "participantId" => ps.map(|p| p.id.clone()).collect(),
        "sessionId" => ps.flat_map(|p| p.comms.iter().map(|x| x.id.clone())).collect(),
        "conversationId" => vec![c.id.clone()],
        "conversationEnd" => c.end.map(iso).into_iter().collect(),
        "direction" | "originatingDirection" => vec!["inbound".into()],
        "disconnectType" => ps.filter_map(|p| p.disconnect_type.clone()).collect(),
        "addressTo" | "addressFrom" => ps.filter_map(|p| p.address.clone()).collect(),
        _ => Vec::new(),
    }
}

fn predicate(c: &Conversation, p: &Value) -> ApiResult<bool> {
    let dim = p
        .get("dimension")
        .or_else(|| p.get("metric"))
        .or_else(|| p.get("property"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("invalid.value", "predicates.dimension", "Every predicate needs a dimension"))?;
    let values = dimension_values(c, dim);
    Ok(match p.get("operator").and_then(Value::as_str).unwrap_or("matches") {
        "exists" => !values.is_empty(),
        "notExists" => values.is_empty(),
        "matches" => {
            let want = p.get("value").and_then(Value::as_str).unwrap_or_default();
            values.iter().any(|v| v.eq_ignore_ascii_case(want))
        }
        other => {
            return Err(ApiError::field(
                "invalid.value",
                "predicates.operator",
                format!("Unsupported operator {other:?}"),
            ))
        }
    })
}

fn filter(c: &Conversation, f: &Value) -> ApiResult<bool> {
    let or = f.get("type").and_then(Value::as_str) == Some("or");
    let mut results = Vec::new();
    for p in f.get("predicates").and_then(Value::as_array).into_iter().flatten() {
        results.push(predicate(c, p)?);
    }
    for cl in f.get("clauses").and_then(Value::as_array).into_iter().flatten() {
        results.push(filter(c, cl)?);
    }
    Ok(if or { results.iter().any(|x| *x) || results.is_empty() } else { results.iter().all(|x| *x) })
}

fn parse_interval(s: &str) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let bad = || ApiError::field("invalid.date", "interval", "interval must be ISO-8601 start/end");
    let (a, b) = s.split_once('/').ok_or_else(bad)?;
    let a = DateTime::parse_from_rfc3339(a).map_err(|_| bad())?.with_timezone(&Utc);
    let b = DateTime::parse_from_rfc3339(b).map_err(|_| bad())?.with_timezone(&Utc);
    if b <= a {
        return Err(bad());
    }
    Ok((a, b))
}

fn conversation_view(c: &Conversation) -> Value {
    let participants: Vec<Value> = c
        .participants
        .iter()
        .map(|p| {
            let sessions: Vec<Value> = p
                .comms
                .iter()
                .map(|s| {
                    let mut seg = json!({"segmentType": if s.connected.is_some() { "interact" } else { "alert" }, "segmentStart": iso(s.start)});
                    if let Some(e) = s.end {
                        seg["segmentEnd"] = json!(iso(e));
                    }
                    if let Some(d) = &s.disconnect_type {
                        seg["disconnectType"] = json!(d);
                    }
                    if let Some(q) = &p.queue_id {
                        seg["queueId"] = json!(q);
                    }
                    let mut m = Map::new();
                    m.insert("sessionId".into(), json!(s.id));
                    m.insert("mediaType".into(), json!(media_type(c)));
                    if c.media == Media::Message {
                        m.insert("messageType".into(), json!(c.messenger_type));
                    }
                    m.insert("direction".into(), json!(p.direction));
                    if let Some(a) = &p.address {
                        m.insert("addressTo".into(), json!(a));
                    }
                    m.insert("segments".into(), json!([seg]));
                    Value::Object(m)
                })
                .collect();
            let mut m = Map::new();
            m.insert("participantId".into(), json!(p.id));
            if let Some(n) = &p.name {
                m.insert("participantName".into(), json!(n));
            }
            m.insert("purpose".into(), json!(p.purpose));
            if let Some(u) = &p.user_id {
                m.insert("userId".into(), json!(u));
            }
            if let Some(x) = &p.external_contact_id {
                m.insert("externalContactId".into(), json!(x));
            }
            m.insert("sessions".into(), Value::Array(sessions));
            Value::Object(m)
        })
        .collect();
    let mut v = json!({
        "conversationId": c.id,
        "conversationStart": iso(c.start),
        "originatingDirection": "inbound",
        "divisionIds": [],
        "participants": participants,
    });
    if let Some(e) = c.end {
        v["conversationEnd"] = json!(iso(e));
    }
    v
}

async fn query(State(s): State<AppState>, _a: Authed, ApiJson(body): ApiJson<Value>) -> ApiResult<Json<Value>> {
    let interval = body
        .get("interval")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::field("constraint.validation", "interval", "interval is required"))?;
    let (start, end) = parse_interval(interval)?;
    let size = body.pointer("/paging/pageSize").and_then(Value::as_u64).unwrap_or(25) as usize;
    if !(1..=100).contains(&size) {
        return Err(ApiError::field("invalid.value", "paging.pageSize", "pageSize must be between 1 and 100"));
    }
    let number = body.pointer("/paging/pageNumber").and_then(Value::as_u64).unwrap_or(1).max(1) as usize;
    let desc = body.get("order").and_then(Value::as_str) == Some("desc");
    let by_end = body.get("orderBy").and_then(Value::as_str) == Some("conversationEnd");
    let w = s.world.lock();
    let mut hits: Vec<&Conversation> = Vec::new();
    for c in w.conversations.values() {
        let day = c.start.date_naive();
        if day < start.date_naive() || day > end.date_naive() {
            continue;
        }
        let mut ok = true;
        for key in ["segmentFilters", "conversationFilters"] {
            for f in body.get(key).and_then(Value::as_array).into_iter().flatten() {
                ok = ok && filter(c, f)?;
            }
        }
        if ok {
            hits.push(c);
        }
    }
    hits.sort_by_key(|c| if by_end { c.end.unwrap_or(c.start) } else { c.start });
    if desc {
        hits.reverse();
    }
    let total = hits.len();
    let page: Vec<Value> = hits.into_iter().skip((number - 1) * size).take(size).map(conversation_view).collect();
    let mut out = json!({"totalHits": total});
    if !page.is_empty() {
        out["conversations"] = Value::Array(page);
    }
    Ok(Json(out))
}
