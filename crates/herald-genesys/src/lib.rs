//! Genesys Cloud client for herald: OAuth, regions, rate budget, retries, typed models and the notification stream.
//!
//! - [`region`]: regions and environments (which hosts to talk to);
//! - [`config`]: [`ClientConfig`] (serde, secrets redacted);
//! - [`auth`]: client-credentials tokens, cached, single-flight refresh;
//! - [`budget`]: the per-OAuth-client request budget (GCRA, shared process-wide);
//! - [`client`]: [`GenesysClient`], the generic budgeted/retried request; [`api`] adds the typed endpoints;
//! - [`errors`]: `ErrorBody` and its mapping to herald's error classes;
//! - [`outcome`]: which failures prove a request was not applied, so it may be sent again;
//! - [`deadline`]: the deadline every wait of a request ends by;
//! - [`models`]: request/response models with the exact upstream field names;
//! - [`validate`]: local checks of send bodies;
//! - [`stream`]: the supervised notification WebSocket;
//! - [`sessions`]: conversation event bodies → [`herald_core::Session`] changes;
//! - [`settings`]: the settings table keys both conversation adapters share, and their decoder;
//! - [`channel`]: the state and stream ingestion the conversation adapters (web chat, web messaging) share.

#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod budget;
pub mod channel;
pub mod client;
pub mod config;
pub mod deadline;
pub mod errors;
pub mod models;
pub mod outcome;
pub mod region;
pub mod sessions;
pub mod settings;
pub mod stream;
pub mod validate;

pub use budget::{BudgetStats, RateBudget};
pub use client::{install_crypto_provider, GenesysClient, Response};
pub use config::{ClientConfig, Secret};
pub use errors::{ErrorBody, ErrorContext, CORRELATION_HEADER};
pub use region::{Environment, Region};
pub use sessions::{MapperConfig, SessionChange};
pub use stream::{NotificationStream, StreamConfig, StreamEvent, StreamHealth};
