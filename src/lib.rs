//! herald: a bridge service for Genesys Cloud integrations.
//!
//! The binary (`herald`) is a thin CLI over this library: [`service`] runs the bridge (HTTP API, dispatcher, rules,
//! adapters), [`config`] loads and checks configuration, [`adapters`] is the table of built-in adapter kinds.

pub mod adapters;
pub mod api;
pub mod bench;
pub mod cli;
pub mod config;
#[cfg(feature = "webmessaging")]
pub mod demo;
pub mod dispatcher;
pub mod doctor;
pub mod guests;
pub mod rules;
pub mod service;
pub mod telemetry;
pub mod tls;
