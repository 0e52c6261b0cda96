//! The web messaging guest protocol client: headless guests for tests, load tests (`herald guests`) and demos.
//!
//! A [`GuestClient`] speaks the guest WebSocket protocol (`wss://webmessaging.<domain>/v1?deploymentId=…`):
//! `configureSession`, `onMessage`, `echo`, `getJwt`, `closeSession`, and parses every server frame into a typed
//! [`GuestEvent`]. It handles the protocol's own situations: 4029 rate limiting (resend after `retryAfter`), read-only
//! disconnects (409; [`GuestClient::start_new`] begins a new conversation) and session expiry.
//!
//! ```no_run
//! use std::time::Duration;
//! use herald_webmessaging::guest::{GuestClient, GuestConfig};
//!
//! # async fn demo() -> Result<(), herald_webmessaging::guest::GuestError> {
//! let config = GuestConfig::new("ws://127.0.0.1:8089", "c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50");
//! let mut guest = GuestClient::connect(config).await?;
//! let tracing_id = guest.send_text("Where is my order?").await?;
//! guest.wait_for(|e| e.is_echo_of(&tracing_id), Duration::from_secs(5)).await?;
//! let answer = guest.next_outbound(Duration::from_secs(30)).await?;
//! println!("agent said: {:?}", answer.text);
//! if guest.is_read_only() {
//!     guest.start_new(Duration::from_secs(5)).await?;
//! }
//! guest.close().await?;
//! # Ok(()) }
//! ```

pub mod client;
pub mod error;
pub mod frames;
pub mod history;

pub use client::{GuestClient, GuestConfig};
pub use error::GuestError;
pub use frames::{Direction, GuestEvent, SessionInfo, StructuredMessage};
/// Genesys environments (region, domain or base URL) for [`GuestConfig::for_environment`].
pub use herald_genesys::region::{Environment, Region};
