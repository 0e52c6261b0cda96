//! What the Genesys conversation adapters (web chat, web messaging) share: their state and their stream ingestion.
//!
//! Both adapters track conversations the same way: a notification stream feeds the session mapper, the mapped
//! sessions are published as events and cached until the host has stored them, and deliveries look sessions up
//! in the store and the cache (the newer wins) or fetch them from Genesys. What differs between them (topics,
//! media, wording of logs and errors) is a [`Profile`]; what only one of them does stays in that adapter.
//!
//! - [`state`]: [`ChannelState`], the state every part of an adapter shares, and its session look-ups;
//! - [`cache`]: the bounded, indexed cache of sessions seen on the stream;
//! - [`discovery`]: paging through the open conversations Genesys knows (start-up and after gaps);
//! - [`ingest`]: the stream loop, frame mapping and resynchronisation after gaps.

pub mod cache;
pub mod discovery;
pub mod ingest;
pub mod state;

pub use ingest::StreamSink;
pub use state::{ChannelRuntime, ChannelState};

/// The fixed facts of one adapter kind that the shared code needs: which frames are its own and how it words
/// its logs and errors (kept word for word, so both adapters log and fail as they always did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Human name of the adapter kind in log lines, e.g. `web chat` (`"web chat ingestion stopped"`).
    pub label: &'static str,
    /// What one conversation is called in log lines, e.g. `chat` or `conversation`.
    pub noun: &'static str,
    /// The end of the topics whose frames this adapter maps, e.g. `.conversations.chats`.
    pub topic_suffix: &'static str,
    /// What to check when Genesys does not know a conversation (the `NotFound` hint of a fetch).
    pub not_found_hint: &'static str,
    /// The log line when the communication ids a body lacks could not be fetched.
    pub lookup_failed: &'static str,
}
