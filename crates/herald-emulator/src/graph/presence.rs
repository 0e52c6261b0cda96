//! Presence of a Teams user: the Teams client's own session, app sessions (`setPresence`, keyed by `sessionId`),
//! the user-preferred presence, and how they aggregate.
//!
//! Aggregation (Graph's documented rules): no live session → `Offline`/`Offline`; a live user-preferred presence
//! wins; otherwise the strongest session by `DoNotDisturb > Busy > Available > Away`. Expiries are evaluated
//! lazily. The `Available → AvailableInactive → Away` idle ladder of app sessions is not modelled. Every change of
//! the aggregate bumps `sequenceNumber` and notifies the matching subscriptions.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::{authorize, error, spend, subscriptions};
use crate::botconnector::TeamsWorld;

/// The session id of the Teams client itself.
pub const CLIENT_SESSION: &str = "teams-client";

/// Availability values.
pub type Availability = String;

/// An availability/activity pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresenceValue {
    /// Availability (`Available`, `Busy`, `DoNotDisturb`, `Away`, `BeRightBack`, `Offline`, …).
    pub availability: Availability,
    /// Activity (`Available`, `InACall`, `Presenting`, `OffWork`, …).
    pub activity: String,
}

impl PresenceValue {
    /// A pair.
    pub fn new(availability: &str, activity: &str) -> Self {
        PresenceValue { availability: availability.into(), activity: activity.into() }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    value: PresenceValue,
    expires: Option<DateTime<Utc>>,
}

/// The presence state of one user.
#[derive(Debug, Clone)]
pub(crate) struct UserPresence {
    sessions: HashMap<String, Session>,
    preferred: Option<Session>,
    pub(crate) sequence: String,
    pub(crate) last: PresenceValue,
}

impl Default for UserPresence {
    fn default() -> Self {
        let mut sessions = HashMap::new();
        sessions.insert(
            CLIENT_SESSION.to_string(),
            Session { value: PresenceValue::new("Available", "Available"), expires: None },
        );
        UserPresence {
            sessions,
            preferred: None,
            sequence: format!("{:020}", 0),
            last: PresenceValue::new("Available", "Available"),
        }
    }
}

fn rank(availability: &str) -> u8 {
    match availability {
        "DoNotDisturb" => 5,
        "Busy" | "BusyIdle" => 4,
        "Available" | "AvailableIdle" => 3,
        "Away" | "BeRightBack" => 2,
        _ => 1,
    }
}

impl UserPresence {
    pub(crate) fn effective(&self, now: DateTime<Utc>) -> PresenceValue {
        let live = |s: &&Session| s.expires.is_none_or(|e| e > now);
        let mut sessions: Vec<&Session> = self.sessions.values().filter(live).collect();
        if sessions.is_empty() {
            return PresenceValue::new("Offline", "Offline");
        }
        if let Some(p) = self.preferred.as_ref().filter(|p| p.expires.is_none_or(|e| e > now)) {
            return p.value.clone();
        }
        sessions.sort_by_key(|s| std::cmp::Reverse(rank(&s.value.availability)));
        sessions.first().map(|s| s.value.clone()).unwrap_or_else(|| PresenceValue::new("Offline", "Offline"))
    }
}

pub(crate) fn presence_json(id: &str, p: &UserPresence) -> Value {
    json!({
        "id": id,
        "availability": p.last.availability,
        "activity": p.last.activity,
        "statusMessage": null,
        "outOfOfficeSettings": {"isOutOfOffice": false, "message": null},
        "sequenceNumber": p.sequence,
    })
}

impl TeamsWorld {
    /// Applies `f` to a user's presence; when the aggregate changes, bumps the sequence and notifies subscribers.
    /// `None` when the user does not exist.
    pub(crate) fn update_presence(
        &self,
        user: &str,
        f: impl FnOnce(&mut UserPresence) -> Result<(), Response>,
    ) -> Option<Result<(), Response>> {
        let u = self.user(user)?;
        let now = Utc::now();
        let changed = {
            let mut data = self.inner.graph.data.lock();
            data.sequence += 1;
            let seq = data.sequence;
            let p = data.presences.entry(u.aad_id.clone()).or_default();
            if let Err(r) = f(p) {
                return Some(Err(r));
            }
            let after = p.effective(now);
            if after != p.last {
                p.last = after.clone();
                p.sequence = format!("{seq:020}");
                Some(after)
            } else {
                None
            }
        };
        if changed.is_some() {
            subscriptions::notify_change(self, &u.aad_id);
        }
        Some(Ok(()))
    }

    /// The user's aggregated presence (object id or Teams id).
    pub fn graph_presence(&self, user: &str) -> Option<PresenceValue> {
        let u = self.user(user)?;
        let now = Utc::now();
        let mut data = self.inner.graph.data.lock();
        let p = data.presences.entry(u.aad_id).or_default();
        p.last = p.effective(now);
        Some(p.last.clone())
    }

    /// The user picks a status in the Teams client (a user-preferred presence), as the Teams client would.
    pub fn set_user_status(&self, user: &str, availability: &str, activity: &str) -> bool {
        let v = PresenceValue::new(availability, activity);
        self.update_presence(user, |p| {
            p.preferred = Some(Session { value: v, expires: None });
            Ok(())
        })
        .is_some()
    }

    /// The Teams client's automatic state changes (in a call, presenting, idle…); `None` signs the client out.
    pub fn set_client_state(&self, user: &str, value: Option<(&str, &str)>) -> bool {
        self.update_presence(user, |p| {
            match value {
                Some((a, act)) => {
                    p.sessions
                        .insert(CLIENT_SESSION.into(), Session { value: PresenceValue::new(a, act), expires: None });
                }
                None => {
                    p.sessions.remove(CLIENT_SESSION);
                }
            }
            Ok(())
        })
        .is_some()
    }
}

fn body_json(body: &Bytes) -> Result<Value, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(error(StatusCode::BAD_REQUEST, "BadRequest", "Unable to read JSON request payload.")),
    }
}

fn not_found(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, "NotFound", &format!("User '{id}' was not found."))
}

/// Parses an ISO-8601 duration of the `PT#H#M#S` form.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let rest = s.strip_prefix("PT")?;
    let (mut total, mut num) = (0i64, String::new());
    for c in rest.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().ok()?;
        num.clear();
        total += match c {
            'H' => n * 3600,
            'M' => n * 60,
            'S' => n,
            _ => return None,
        };
    }
    (num.is_empty() && total > 0).then(|| Duration::seconds(total))
}

pub(crate) async fn get_one(State(world): State<TeamsWorld>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let issued = match authorize(&world, &headers) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if let Err(r) = spend(&world, &issued.app_id) {
        return r;
    }
    let Some(u) = world.user(&id) else { return not_found(&id) };
    world.graph_presence(&u.aad_id);
    let mut data = world.inner.graph.data.lock();
    data.counters.presence_gets += 1;
    let p = data.presences.entry(u.aad_id.clone()).or_default().clone();
    Json(presence_json(&u.aad_id, &p)).into_response()
}

pub(crate) async fn get_bulk(State(world): State<TeamsWorld>, headers: HeaderMap, body: Bytes) -> Response {
    let issued = match authorize(&world, &headers) {
        Ok(i) => i,
        Err(r) => return r,
    };
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(ids) = v.get("ids").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "BadRequest", "The request body must contain 'ids'.");
    };
    let max = world.inner.config.max_bulk_ids;
    if ids.is_empty() || ids.len() > max {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("The number of ids must be between 1 and {max}; got {}.", ids.len()),
        );
    }
    if let Err(r) = spend(&world, &issued.app_id) {
        return r;
    }
    let now = Utc::now();
    let known: Vec<Option<String>> =
        ids.iter().map(|i| i.as_str().and_then(|s| world.user(s)).map(|u| u.aad_id)).collect();
    let mut data = world.inner.graph.data.lock();
    data.counters.bulk_requests += 1;
    data.counters.bulk_ids += ids.len() as u64;
    let mut out = Vec::with_capacity(ids.len());
    for (raw, aad) in ids.iter().zip(known) {
        match aad {
            Some(aad) => {
                let p = data.presences.entry(aad.clone()).or_default();
                p.last = p.effective(now);
                out.push(presence_json(&aad, p));
            }
            None => out.push(json!({
                "id": raw, "availability": "PresenceUnknown", "activity": "PresenceUnknown",
                "statusMessage": null, "outOfOfficeSettings": {"isOutOfOffice": false, "message": null},
            })),
        }
    }
    Json(json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.presence)", "value": out}))
        .into_response()
}

const SESSION_COMBOS: [(&str, &str); 5] = [
    ("Available", "Available"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Away", "Away"),
    ("DoNotDisturb", "Presenting"),
];

const PREFERRED_COMBOS: [(&str, &str); 6] = [
    ("Available", "Available"),
    ("Busy", "Busy"),
    ("DoNotDisturb", "DoNotDisturb"),
    ("BeRightBack", "BeRightBack"),
    ("Away", "Away"),
    ("Offline", "OffWork"),
];

fn write_prelude(world: &TeamsWorld, headers: &HeaderMap, body: &Bytes) -> Result<(String, Value), Response> {
    let issued = authorize(world, headers)?;
    let v = body_json(body)?;
    spend(world, &issued.app_id)?;
    Ok((issued.app_id, v))
}

fn pair(v: &Value) -> (String, String) {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    (s("availability"), s("activity"))
}

fn done(r: Option<Result<(), Response>>, id: &str) -> Response {
    match r {
        None => not_found(id),
        Some(Err(resp)) => resp,
        Some(Ok(())) => StatusCode::OK.into_response(),
    }
}

pub(crate) async fn set_presence(
    State(world): State<TeamsWorld>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (app_id, v) = match write_prelude(&world, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let session = v.get("sessionId").and_then(Value::as_str).unwrap_or_default().to_string();
    if session != app_id {
        return error(StatusCode::BAD_REQUEST, "BadRequest", "sessionId must be the application (client) id.");
    }
    let (a, act) = pair(&v);
    if !SESSION_COMBOS.contains(&(a.as_str(), act.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Invalid availability/activity combination {a}/{act}."),
        );
    }
    let dur = match v.get("expirationDuration").and_then(Value::as_str) {
        None => Duration::minutes(5),
        Some(s) => match parse_duration(s).filter(|d| *d >= Duration::minutes(5) && *d <= Duration::hours(4)) {
            Some(d) => d,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "expirationDuration must be between PT5M and PT4H.",
                )
            }
        },
    };
    let value = PresenceValue::new(&a, &act);
    let r = world.update_presence(&id, |p| {
        p.sessions.insert(session, Session { value, expires: Some(Utc::now() + dur) });
        Ok(())
    });
    if matches!(r, Some(Ok(()))) {
        world.inner.graph.data.lock().counters.set_presence += 1;
    }
    done(r, &id)
}

pub(crate) async fn clear_presence(
    State(world): State<TeamsWorld>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_app, v) = match write_prelude(&world, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let session = v.get("sessionId").and_then(Value::as_str).unwrap_or_default().to_string();
    let r = world.update_presence(&id, |p| match p.sessions.remove(&session) {
        Some(_) => Ok(()),
        None => Err(error(StatusCode::NOT_FOUND, "NotFound", "The presence session was not found.")),
    });
    if matches!(r, Some(Ok(()))) {
        world.inner.graph.data.lock().counters.clear_presence += 1;
    }
    done(r, &id)
}

pub(crate) async fn set_preferred(
    State(world): State<TeamsWorld>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_app, v) = match write_prelude(&world, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (a, act) = pair(&v);
    if !PREFERRED_COMBOS.contains(&(a.as_str(), act.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Invalid availability/activity combination {a}/{act}."),
        );
    }
    let default = if a == "DoNotDisturb" || a == "Busy" { Duration::days(1) } else { Duration::days(7) };
    let dur = match v.get("expirationDuration").and_then(Value::as_str) {
        None => default,
        Some(s) => match parse_duration(s) {
            Some(d) => d,
            None => {
                return error(StatusCode::BAD_REQUEST, "BadRequest", "expirationDuration is not an ISO-8601 duration.")
            }
        },
    };
    let value = PresenceValue::new(&a, &act);
    let r = world.update_presence(&id, |p| {
        p.preferred = Some(Session { value, expires: Some(Utc::now() + dur) });
        Ok(())
    });
    if matches!(r, Some(Ok(()))) {
        world.inner.graph.data.lock().counters.set_preferred += 1;
    }
    done(r, &id)
}

pub(crate) async fn clear_preferred(
    State(world): State<TeamsWorld>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = write_prelude(&world, &headers, &body) {
        return r;
    }
    let r = world.update_presence(&id, |p| {
        p.preferred = None;
        Ok(())
    });
    if matches!(r, Some(Ok(()))) {
        world.inner.graph.data.lock().counters.clear_preferred += 1;
    }
    done(r, &id)
}
