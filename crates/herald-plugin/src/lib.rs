//! The C-ABI plugin SDK for herald adapters, and the host-side loader.
//!
//! Rust has no stable ABI and tokio does not cross a `dlopen` boundary, so a plugin is a `cdylib` that speaks a
//! small C ABI with JSON across it ([`abi`], [`wire`]):
//!
//! - **Plugin authors** implement [`sdk::Plugin`] and [`sdk::PluginAdapter`] (the async adapter contract of
//!   `herald_core::MessagingChannel`) and write [`export_plugin!`] once. The SDK runs the plugin's own tokio
//!   runtime, catches every panic, and speaks JSON to the host.
//! - **The host** loads a library with [`host::load_factory`] (ABI version checked before anything else, every
//!   symbol checked, libraries never unloaded) and registers the returned factory; its
//!   [`host::PluginChannel`] implements `MessagingChannel`, so nothing else in herald can tell a plugin from a
//!   built-in adapter.
//!
//! `docs/plugins.md` is the guide; `plugins/open-messaging` is the worked example.

pub mod abi;
pub mod dev;
pub mod host;
mod macros;
pub mod sdk;
pub mod wire;

/// The core contracts, re-exported so a plugin needs no direct `herald-core` dependency.
pub use herald_core as core;
