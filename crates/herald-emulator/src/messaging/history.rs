//! `GET /api/v2/webmessaging/messages` — the guest's history, authorised by the guest JWT
//! from the WebSocket `getJwt` action (not by OAuth).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::guest_ws::{frames, jwt};
use crate::oauth::bearer;
use crate::state::AppState;

/// Paging parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Paging {
    page_size: Option<usize>,
    page_number: Option<usize>,
}

/// The handler: the session's current conversation, newest first.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Value>> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "bad.credentials", "Invalid login credentials.");
    let token = bearer(&headers).ok_or_else(unauthorized)?;
    let claims = jwt::verify(&state, token).ok_or_else(unauthorized)?;
    let size = p.page_size.unwrap_or(25).clamp(1, 200);
    let number = p.page_number.unwrap_or(1).max(1);
    let world = state.world.lock();
    let session = world.guests.get(&claims.sub).ok_or_else(unauthorized)?;
    let mut all: Vec<Value> = Vec::new();
    if let Some(conv) = session.conversation_id.as_ref().and_then(|c| world.conversations.get(c)) {
        for m in conv.transcript.iter().rev() {
            let body = if m.inbound {
                frames::inbound_text(&m.id, &m.text, m.time)
            } else {
                let nick = match &m.sender {
                    crate::world::conversation::Sender::Agent(u) => {
                        world.agents.get(u).map(|a| a.alias().to_string()).unwrap_or_default()
                    }
                    _ => state.config.org.name.clone(),
                };
                frames::outbound_text(
                    &m.id,
                    &m.text,
                    m.time,
                    &frames::From { nickname: &nick, originating_entity: m.originating },
                )
            };
            all.push(body);
        }
    }
    let total = all.len();
    let page: Vec<Value> = all.into_iter().skip((number - 1) * size).take(size).collect();
    Ok(Json(json!({
        "entities": page,
        "pageSize": size,
        "pageNumber": number,
        "total": total,
        "pageCount": total.div_ceil(size),
    })))
}
