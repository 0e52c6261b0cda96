//! Legacy web chat ("chat" media): agent-side endpoints, guest chat and its event stream.
//! Deprecated upstream; emulated for legacy and negative tests.

pub mod agent;
pub mod events;
pub mod guest;

use axum::routing::{get, patch, post};
use axum::Router;

use crate::state::AppState;

/// Routes of the chat API (agent and guest).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/conversations/chats", get(agent::list))
        .route("/api/v2/conversations/chats/{id}", get(agent::get).patch(agent::patch_conversation))
        .route("/api/v2/conversations/chats/{id}/participants/{pid}", patch(agent::patch_participant))
        .route("/api/v2/conversations/chats/{id}/communications/{cid}/messages", post(agent::send))
        .route("/api/v2/conversations/chats/{id}/communications/{cid}/typing", post(agent::typing))
        .route("/api/v2/conversations/chats/{id}/messages", get(agent::messages))
        .route("/api/v2/webchat/guest/conversations", post(guest::create))
        .route("/api/v2/webchat/guest/conversations/{id}/members", get(guest::members))
        .route("/api/v2/webchat/guest/conversations/{id}/members/{mid}", get(guest::member).delete(guest::leave))
        .route("/api/v2/webchat/guest/conversations/{id}/members/{mid}/messages", post(guest::send))
        .route("/api/v2/webchat/guest/conversations/{id}/members/{mid}/typing", post(guest::typing))
        .route("/api/v2/webchat/guest/conversations/{id}/messages", get(guest::messages))
        .route("/api/v2/webchat/guest/conversations/{id}/messages/{msg}", get(guest::message))
}
