//! herald adapter for Genesys Cloud web messaging (`kind = "webmessaging"`): agent-side sends, agentless
//! messages, canned responses, conversation tracking from the notification stream, and the guest protocol client
//! (headless guests for tests and load tests).
//!
//! - [`settings`]: the `[integration.settings]` table, checked without network;
//! - [`factory`]: [`WebMessagingFactory`], registered under `webmessaging`;
//! - `adapter`: [`WebMessagingAdapter`], the `MessagingChannel`;
//! - `ingest`: stream frames → `SessionOpened/Updated/Closed`, `MessageReceived`, resync after gaps;
//! - `resolve`: conversation / customer / guest targets → the session to deliver into;
//! - `deliver`: the send that the conversation's state allows (agent, agentless, closed);
//! - [`canned`]: canned responses rendered to text (reused by the web chat adapter);
//! - [`render`]: notification content → text (reused by the web chat adapter);
//! - `content`: that text as `textBody`, checked against the web messaging limit;
//! - `confirm`: checking after a crash whether an attempt reached Genesys;
//! - `health`: token, stream and delivery health;
//! - `seen`: the bounded memory of inbound message ids already reported.
//!
//! See `docs/webmessaging.md` for the behaviour in full.

#![warn(missing_docs)]

mod adapter;
pub mod canned;
mod confirm;
mod content;
mod deliver;
pub mod factory;
pub mod guest;
mod health;
mod ingest;
pub mod render;
mod resolve;
mod seen;
pub mod settings;

pub use adapter::WebMessagingAdapter;
pub use factory::WebMessagingFactory;
pub use settings::Settings;

/// The adapter kind in configs.
pub const KIND: &str = "webmessaging";
