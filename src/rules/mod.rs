//! Rules: turn events into notifications.
//!
//! `[[rule]]` sections are validated at load time ([`validate_rules`]); the [`RuleEngine`] matches events against
//! them, tracks queue waits and enqueues the notifications.

mod config;
mod engine;
mod time_window;
mod validate;
mod vars;

#[cfg(test)]
mod tests;

pub use config::{RuleAction, RuleConditions, RuleConfig, RuleTarget};
pub use engine::RuleEngine;
pub use time_window::TimeWindow;
pub use validate::{validate_rules, variables_for, EVENTS};
