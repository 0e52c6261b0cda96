//! Typed errors of the guest client.

use std::time::Duration;

/// What went wrong for a guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// The WebSocket could not be opened (bad URL, refused, handshake rejected — 403 for an unknown deployment).
    #[error("cannot connect the guest socket: {0}")]
    Connect(String),
    /// Nothing matching arrived in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, &'static str),
    /// The socket closed.
    #[error("the guest socket closed")]
    Closed,
    /// The session is read-only (the conversation was disconnected); call `start_new` to begin a new one.
    #[error("the session is read-only: start a new conversation (startNew) to send again")]
    ReadOnly,
    /// The session expired (4006 or `SessionExpiredEvent`); connect again with a new token.
    #[error("the guest session expired")]
    SessionExpired,
    /// The server rejected a request with an error frame.
    #[error("rejected with code {code}: {message}")]
    Rejected {
        /// The frame's code.
        code: u16,
        /// Its text.
        message: String,
    },
    /// Sending failed on the socket.
    #[error("cannot write to the guest socket: {0}")]
    Send(String),
    /// The history request failed.
    #[error("history request failed: {0}")]
    History(String),
}

impl GuestError {
    /// A short stable label (for error counts): `connect`, `timeout`, `closed`, `read_only`, `expired`, the code of a
    /// rejection, `send`, `history`.
    pub fn label(&self) -> String {
        match self {
            GuestError::Connect(_) => "connect".into(),
            GuestError::Timeout(..) => "timeout".into(),
            GuestError::Closed => "closed".into(),
            GuestError::ReadOnly => "409".into(),
            GuestError::SessionExpired => "4006".into(),
            GuestError::Rejected { code, .. } => code.to_string(),
            GuestError::Send(_) => "send".into(),
            GuestError::History(_) => "history".into(),
        }
    }
}
