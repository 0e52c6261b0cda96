//! Web messaging guest sessions (keyed by the guest's token) and their live sockets.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use tokio::sync::mpsc::UnboundedSender;

/// A frame queued for a WebSocket writer.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A text frame.
    Text(String),
    /// Close the socket with a code and reason.
    Close(u16, String),
}

/// A guest session.
#[derive(Debug)]
pub struct GuestSession {
    /// The guest token.
    pub token: String,
    /// The deployment.
    pub deployment_id: String,
    /// The external contact this guest is.
    pub external_contact_id: String,
    /// The current (latest) conversation, if one was started.
    pub conversation_id: Option<String>,
    /// Read-only after a ReadOnly disconnect, until `startNew`.
    pub read_only: bool,
    /// Inactivity expiry.
    pub expires_at: DateTime<Utc>,
    /// Live sockets by socket id.
    pub sockets: HashMap<u64, UnboundedSender<Outgoing>>,
    /// Start of the current guest rate window (virtual ms).
    pub rate_window_start_ms: i64,
    /// Messages in the current guest rate window.
    pub rate_count: u32,
}

impl GuestSession {
    /// Sends a frame to every live socket of the guest.
    pub fn broadcast(&self, frame: &str) {
        for tx in self.sockets.values() {
            let _ = tx.send(Outgoing::Text(frame.to_string()));
        }
    }
}
