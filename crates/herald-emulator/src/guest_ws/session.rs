//! Guest session bookkeeping: creation, lookup by external contact, expiry.

use chrono::Duration;

use crate::guest_ws::frames;
use crate::state::AppState;
use crate::world::guest::{GuestSession, Outgoing};
use crate::world::World;

/// Creates the session for `token` unless it exists; returns whether it was created.
pub fn ensure(
    state: &AppState,
    world: &mut World,
    token: &str,
    deployment_id: &str,
    customer_id: Option<&str>,
) -> bool {
    if world.guests.contains_key(token) {
        return false;
    }
    let contact = world.contact_for_guest(token, customer_id);
    let now = state.clock.now();
    world.guests.insert(
        token.to_string(),
        GuestSession {
            token: token.to_string(),
            deployment_id: deployment_id.to_string(),
            external_contact_id: contact,
            conversation_id: None,
            read_only: false,
            expires_at: now + Duration::seconds(state.config.behaviour.guest_session_seconds as i64),
            sockets: Default::default(),
            rate_window_start_ms: 0,
            rate_count: 0,
        },
    );
    true
}

/// Extends a session's inactivity expiry.
pub fn touch(state: &AppState, session: &mut GuestSession) {
    session.expires_at = state.clock.now() + Duration::seconds(state.config.behaviour.guest_session_seconds as i64);
}

/// The guest token of an external contact on a deployment: a live session (one with sockets
/// first), else a seeded token (its session is created without sockets).
pub fn token_for_contact(state: &AppState, world: &mut World, contact: &str, deployment: &str) -> Option<String> {
    let tokens = world.guest_tokens_of_contact(contact);
    let live = tokens
        .iter()
        .filter(|t| world.guests.get(*t).is_some_and(|s| s.deployment_id == deployment))
        .max_by_key(|t| world.guests.get(*t).map(|s| (!s.sockets.is_empty(), s.expires_at)))
        .cloned();
    if live.is_some() {
        return live;
    }
    let seeded = tokens.into_iter().next()?;
    ensure(state, world, &seeded, deployment, None);
    Some(seeded)
}

/// Expires sessions whose inactivity lifetime passed: `SessionExpiredEvent`, then close.
pub fn expire(state: &AppState, world: &mut World) -> usize {
    let now = state.clock.now();
    let expired: Vec<String> = world.guests.values().filter(|s| s.expires_at <= now).map(|s| s.token.clone()).collect();
    for t in &expired {
        if let Some(s) = world.guests.remove(t) {
            let frame = frames::envelope("response", "SessionExpiredEvent", 200, serde_json::json!({}), None);
            for tx in s.sockets.values() {
                let _ = tx.send(Outgoing::Text(frame.clone()));
                let _ = tx.send(Outgoing::Close(1000, "session expired".into()));
            }
        }
    }
    expired.len()
}
