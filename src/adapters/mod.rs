//! The built-in adapter table: one entry per kind, each behind its cargo feature.

pub mod webhook;

use std::sync::Arc;

use herald_core::Registry;

/// The registry with every built-in adapter kind compiled into this binary.
pub fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(Arc::new(webhook::WebhookFactory));
    #[cfg(feature = "webmessaging")]
    registry.register(Arc::new(herald_webmessaging::WebMessagingFactory));
    #[cfg(feature = "webchat")]
    registry.register(Arc::new(herald_webchat::WebChatFactory));
    #[cfg(feature = "teams")]
    registry.register(Arc::new(herald_teams::TeamsFactory));
    registry
}
