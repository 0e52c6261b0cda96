//! Rules: turn events into notifications.
//!
//! `[[rule]]` sections are validated at load time ([`validate_rules`]); the [`RuleEngine`] matches events against
//! them, tracks queue waits and enqueues the notifications. Cooldowns, rate windows and handled waiting episodes
//! are durable ([`RuleState`]); herald's own messages never trigger a rule ([`EchoMarks`], [`MarkingOutbox`]).

mod config;
mod echo;
mod engine;
mod state;
mod time_window;
mod validate;
mod vars;
mod waits;

#[cfg(test)]
mod durable_tests;
#[cfg(test)]
mod tests;

pub use config::{RuleAction, RuleConditions, RuleConfig, RuleTarget};
pub use echo::{EchoMarks, MarkingOutbox, SendWindow};
pub use engine::RuleEngine;
pub use state::RuleState;
pub use time_window::TimeWindow;
pub use validate::{validate_rules, variables_for, EVENTS};
pub use waits::MAX_WAITING;
