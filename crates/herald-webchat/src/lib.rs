//! herald adapter for Genesys Cloud **legacy web chat** (`kind = "webchat"`): messages and canned responses
//! into live chats as the agent, chat tracking from the notification stream, and headless chat guests.
//!
//! Genesys has retired ACD web chat v2 (the `/api/v2/conversations/chats/*` and `/api/v2/webchat/*` operations
//! are gone from current SDKs); this crate serves deployments that still run it and migrations away from it.
//! Web messaging (`herald-webmessaging`) is the path forward.
//!
//! - [`settings`]: the `[integration.settings]` table, checked without network;
//! - [`factory`]: [`WebChatFactory`], registered under `webchat`;
//! - `adapter`: [`WebChatAdapter`], the `MessagingChannel`, and the state its parts share;
//! - `ingest`: `…conversations.chats` frames → `SessionOpened/Updated/Closed`, resync after gaps;
//! - `resolve`: conversation / customer / guest targets → the chat to deliver into;
//! - `deliver`: the agent-side chat send, closed and queued chats;
//! - `confirm`: after a crash, whether an interrupted send is already in the chat (no double sends);
//! - `content`: notification content → chat `body` (canned responses through
//!   [`herald_webmessaging::canned`], the one renderer both adapters share);
//! - [`guest`]: headless chat guests (legacy guest chat API) for tests, load tests and demos.
//!
//! See `docs/webchat.md` for the behaviour in full.

#![warn(missing_docs)]

mod adapter;
mod confirm;
mod content;
mod deliver;
pub mod factory;
pub mod guest;
mod ingest;
mod resolve;
pub mod settings;

pub use adapter::WebChatAdapter;
pub use content::CHAT_BODY_MAX;
pub use factory::WebChatFactory;
pub use settings::Settings;

/// The adapter kind in configs.
pub const KIND: &str = "webchat";
