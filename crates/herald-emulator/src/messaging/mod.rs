//! Messaging conversations on the Platform API (`/api/v2/conversations/...`).

pub mod agentless;
pub mod conversations;
pub mod flow;
pub mod history;
pub mod outbound;
pub mod send;
pub mod threading;
pub mod views;

use axum::routing::{get, patch, post};
use axum::Router;

use crate::state::AppState;

/// Routes of the messaging API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/conversations/{id}", get(conversations::get_generic))
        .route("/api/v2/conversations/{id}/disconnect", post(conversations::emergency_disconnect))
        .route("/api/v2/conversations/{id}/participants/{pid}", patch(conversations::patch_participant_generic))
        .route("/api/v2/conversations/messages", post(outbound::create))
        .route("/api/v2/conversations/messages/agentless", post(agentless::send))
        .route(
            "/api/v2/conversations/messages/{id}",
            get(conversations::get_message_conversation).patch(conversations::patch_conversation),
        )
        .route("/api/v2/conversations/messages/{id}/participants/{pid}", patch(conversations::patch_participant))
        .route(
            "/api/v2/conversations/messages/{id}/participants/{pid}/communications/{cid}",
            patch(conversations::patch_communication),
        )
        .route("/api/v2/conversations/messages/{id}/communications/{cid}/messages", post(send::send))
        .route("/api/v2/conversations/messages/{id}/communications/{cid}/typing", post(send::typing))
        .route("/api/v2/conversations/messages/{id}/messages/{mid}", get(send::get_message))
        .route("/api/v2/conversations/messages/{id}/details", get(send::get_message_details))
        .route("/api/v2/conversations/messaging/threadingtimeline", get(threading::get).put(threading::put))
        .route("/api/v2/webmessaging/messages", get(history::list))
}
