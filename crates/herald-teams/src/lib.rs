//! herald adapter for Microsoft Teams: a Bot Framework bot and Graph presence sync with Genesys Cloud.
//!
//! - [`settings`]: the `[integration.settings]` table;
//! - [`openid`], [`jwt`]: Bot Framework token validation of inbound activities;
//! - [`activities`], [`bot`]: the bot endpoint and its commands; [`references`]: conversation references and links
//!   (in the host's state store); [`identity`]: the proof a Teams user is the Genesys user they link;
//! - [`tokens`], [`throttle`], [`connector`]: proactive messages through the Bot Connector;
//! - [`graph`], [`presence`]: presence sync Teams ⇄ Genesys Cloud;
//! - [`adapter`], [`factory`]: the `MessagingChannel` and its registry entry; [`stats`]: counters.

#![warn(missing_docs)]

pub mod activities;
pub mod adapter;
pub mod bot;
pub mod connector;
pub mod factory;
pub mod graph;
pub mod identity;
pub mod jwt;
pub mod openid;
pub mod presence;
pub mod references;
pub mod settings;
pub mod stats;
pub mod throttle;
pub mod tokens;

pub use adapter::TeamsAdapter;
pub use factory::TeamsFactory;
pub use settings::TeamsSettings;
