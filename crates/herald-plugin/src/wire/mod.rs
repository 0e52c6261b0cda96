//! The JSON shapes that cross the plugin boundary.
//!
//! Types of `herald-core` that already derive serde (`Receipt`, `Health`, `EventKind`, `Notification`) cross as
//! they are. The others get a mirror here: [`WireError`] for `ChannelError` (whose `Duration` has no stable JSON
//! form), [`WireDelivery`] for `Delivery`, [`WireProblem`] for `ConfigProblem`. Every call's result is a
//! [`Reply`]. Any change to these shapes bumps [`crate::abi::ABI_VERSION`]; fields added in ABI 2 default when an
//! ABI 1 side leaves them out. Inbound HTTP requests and answers are in [`http`].

pub mod http;

/// Inbound HTTP across the boundary, re-exported at the top of the wire module.
pub use http::{HttpRequest, HttpResponse, WireRoute};

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::{ChannelError, ConfigProblem, Delivery, DeliveryGuarantee, DeliveryMode, Notification};
use serde::{Deserialize, Serialize};

/// The result of any plugin call: `{"ok": value}` or `{"error": value}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply<T, E = WireError> {
    /// Success.
    Ok(T),
    /// Failure.
    Error(E),
}

impl<T, E> From<Result<T, E>> for Reply<T, E> {
    fn from(r: Result<T, E>) -> Self {
        match r {
            Ok(v) => Reply::Ok(v),
            Err(e) => Reply::Error(e),
        }
    }
}

impl<T, E> From<Reply<T, E>> for Result<T, E> {
    fn from(r: Reply<T, E>) -> Self {
        match r {
            Reply::Ok(v) => Ok(v),
            Reply::Error(e) => Err(e),
        }
    }
}

/// What `herald_plugin_describe` returns: who the plugin is, for the loader and `herald plugins list`.
///
/// Unknown fields are ignored, so a newer SDK may add fields without breaking older hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// The plugin's own kind name (e.g. `open_messaging`).
    pub kind: String,
    /// One line saying what it bridges.
    pub description: String,
    /// The plugin's version (its crate version).
    pub version: String,
    /// The ABI version it was built against (must equal the one `herald_plugin_abi_version` returned).
    pub abi_version: u32,
    /// The version of the `herald-plugin` SDK it was built with, when built with the SDK.
    #[serde(default)]
    pub sdk_version: Option<String>,
    /// ABI 2: whether it implements `confirm_delivery` (`exactly_once`) or not (`at_least_once`). Absent (ABI 1)
    /// means at-least-once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_guarantee: Option<DeliveryGuarantee>,
    /// ABI 2: whether its instances serve inbound HTTP routes on herald's server. Absent (ABI 1) means no.
    #[serde(default)]
    pub inbound_http: bool,
    /// ABI 2: whether its instances keep presence in sync (and report counters through `presence_stats`).
    #[serde(default)]
    pub presence: bool,
    /// Where the library was loaded from (filled in by the host, not sent by the plugin).
    #[serde(default, skip_deserializing, skip_serializing_if = "is_empty")]
    pub path: PathBuf,
}

fn is_empty(p: &std::path::Path) -> bool {
    p.as_os_str().is_empty()
}

impl PluginInfo {
    /// What the plugin can promise: at-least-once unless it declared (ABI 2) that it confirms deliveries.
    pub fn guarantee(&self) -> DeliveryGuarantee {
        match (self.abi_version, self.delivery_guarantee) {
            (v, Some(g)) if v >= crate::abi::ABI_VERSION => g,
            _ => DeliveryGuarantee::AtLeastOnce,
        }
    }

    /// One line for `herald plugins list`: `exactly-once, inbound HTTP`, `at-least-once, no inbound`, …
    pub fn capabilities(&self) -> String {
        let guarantee = match self.guarantee() {
            DeliveryGuarantee::ExactlyOnce => "exactly-once",
            DeliveryGuarantee::AtLeastOnce => "at-least-once",
        };
        let inbound = if self.inbound_http && self.abi_version >= crate::abi::ABI_VERSION {
            "inbound HTTP"
        } else {
            "no inbound"
        };
        let presence = if self.presence && self.abi_version >= crate::abi::ABI_VERSION { ", presence" } else { "" };
        format!("{guarantee}, {inbound}{presence}")
    }
}

/// What `herald_plugin_create` answers on success in ABI 2 (`{"ok": InstanceInfo}`); ABI 1 answers `{"ok": null}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// The HTTP routes this instance serves on herald's server (its settings may choose the paths).
    #[serde(default)]
    pub routes: Vec<WireRoute>,
}
/// The JSON given to `herald_plugin_create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// The integration name from the config.
    pub name: String,
    /// The integration's settings table, as JSON, with `${VAR}` already expanded.
    pub settings: serde_json::Value,
}

/// A configuration problem found by a plugin. `path` is relative to the integration's `settings` table; the host
/// prefixes it with `integration[i].settings.`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireProblem {
    /// Dotted key path inside `settings` (empty for the table itself).
    pub path: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl From<&ConfigProblem> for WireProblem {
    fn from(p: &ConfigProblem) -> Self {
        WireProblem { path: p.path.clone(), message: p.message.clone() }
    }
}

/// One delivery attempt (mirror of `herald_core::Delivery`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireDelivery {
    /// The notification.
    pub notification: Notification,
    /// How to deliver it.
    pub mode: DeliveryMode,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Start of an earlier attempt that may have been made but not recorded.
    #[serde(default)]
    pub previous_attempt_at: Option<DateTime<Utc>>,
    /// Milliseconds left until the attempt's deadline when the host made the call. The plugin must be done by
    /// then; the host abandons the attempt at that point and treats its outcome as unknown.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
}

/// The time a plugin gets when the host sent no deadline (hosts of ABI 1).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(25);

impl From<&Delivery> for WireDelivery {
    fn from(d: &Delivery) -> Self {
        WireDelivery {
            notification: d.notification.clone(),
            mode: d.mode,
            attempt: d.attempt,
            previous_attempt_at: d.previous_attempt_at,
            deadline_ms: Some(u64::try_from(d.remaining().as_millis()).unwrap_or(u64::MAX)),
        }
    }
}

impl From<WireDelivery> for Delivery {
    fn from(d: WireDelivery) -> Self {
        let timeout = d.deadline_ms.map(Duration::from_millis).unwrap_or(DEFAULT_DEADLINE);
        let mut delivery = Delivery::new(d.notification, d.mode, d.attempt, timeout);
        delivery.previous_attempt_at = d.previous_attempt_at;
        delivery
    }
}

/// A classified error (mirror of `herald_core::ChannelError`), tagged by `class`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum WireError {
    /// `ChannelError::Invalid`.
    Invalid {
        /// JSON path of the offending field.
        field: String,
        /// What is wrong.
        reason: String,
        /// What to send instead.
        fix: String,
    },
    /// `ChannelError::TargetClosed`.
    TargetClosed {
        /// The closed conversation.
        conversation_id: String,
        /// Its customer, when known.
        #[serde(default)]
        customer: Option<String>,
        /// Why it counts as closed.
        reason: String,
    },
    /// `ChannelError::NotFound`.
    NotFound {
        /// Kind of thing looked up.
        what: String,
        /// The id looked up.
        id: String,
        /// What to check.
        hint: String,
    },
    /// `ChannelError::Unauthorized`.
    Unauthorized {
        /// What was refused.
        reason: String,
        /// Upstream correlation id.
        #[serde(default)]
        correlation_id: Option<String>,
    },
    /// `ChannelError::RateLimited`, with the delay in milliseconds.
    RateLimited {
        /// `Retry-After`, in milliseconds.
        #[serde(default)]
        retry_after_ms: Option<u64>,
        /// Upstream correlation id.
        #[serde(default)]
        correlation_id: Option<String>,
    },
    /// `ChannelError::Transient`.
    Transient {
        /// What happened.
        reason: String,
        /// Upstream correlation id.
        #[serde(default)]
        correlation_id: Option<String>,
    },
    /// `ChannelError::OutcomeUnknown`.
    OutcomeUnknown {
        /// What happened.
        reason: String,
        /// Upstream correlation id.
        #[serde(default)]
        correlation_id: Option<String>,
    },
    /// `ChannelError::Permanent`.
    Permanent {
        /// What happened.
        reason: String,
        /// Upstream correlation id.
        #[serde(default)]
        correlation_id: Option<String>,
    },
    /// Only from `create`: the settings are wrong.
    Config {
        /// Every problem found.
        problems: Vec<WireProblem>,
    },
}

impl From<ChannelError> for WireError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Invalid { field, reason, fix } => WireError::Invalid { field, reason, fix },
            ChannelError::TargetClosed { conversation_id, customer, reason } => {
                WireError::TargetClosed { conversation_id, customer, reason }
            }
            ChannelError::NotFound { what, id, hint } => WireError::NotFound { what, id, hint },
            ChannelError::Unauthorized { reason, correlation_id } => WireError::Unauthorized { reason, correlation_id },
            ChannelError::RateLimited { retry_after, correlation_id } => WireError::RateLimited {
                retry_after_ms: retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                correlation_id,
            },
            ChannelError::Transient { reason, correlation_id } => WireError::Transient { reason, correlation_id },
            ChannelError::OutcomeUnknown { reason, correlation_id } => {
                WireError::OutcomeUnknown { reason, correlation_id }
            }
            ChannelError::Permanent { reason, correlation_id } => WireError::Permanent { reason, correlation_id },
        }
    }
}

impl WireError {
    /// A permanent error with a reason and no correlation id.
    pub fn permanent_reason(reason: impl Into<String>) -> Self {
        WireError::Permanent { reason: reason.into(), correlation_id: None }
    }

    /// The `ChannelError` this stands for. A `Config` error outside `create` becomes a permanent error.
    pub fn into_channel_error(self) -> ChannelError {
        match self {
            WireError::Invalid { field, reason, fix } => ChannelError::Invalid { field, reason, fix },
            WireError::TargetClosed { conversation_id, customer, reason } => {
                ChannelError::TargetClosed { conversation_id, customer, reason }
            }
            WireError::NotFound { what, id, hint } => ChannelError::NotFound { what, id, hint },
            WireError::Unauthorized { reason, correlation_id } => ChannelError::Unauthorized { reason, correlation_id },
            WireError::RateLimited { retry_after_ms, correlation_id } => {
                ChannelError::RateLimited { retry_after: retry_after_ms.map(Duration::from_millis), correlation_id }
            }
            WireError::Transient { reason, correlation_id } => ChannelError::Transient { reason, correlation_id },
            WireError::OutcomeUnknown { reason, correlation_id } => {
                ChannelError::OutcomeUnknown { reason, correlation_id }
            }
            WireError::Permanent { reason, correlation_id } => ChannelError::Permanent { reason, correlation_id },
            WireError::Config { problems } => ChannelError::permanent(format!(
                "configuration problems: {}",
                problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect::<Vec<_>>().join("; ")
            )),
        }
    }
}

/// A log record sent through `HostVtable::log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The message.
    pub message: String,
    /// Structured fields (never secrets).
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi1_descriptions_read_as_at_least_once_whatever_they_claim() {
        let v1: PluginInfo = serde_json::from_str(
            r#"{"kind":"k","description":"d","version":"1","abi_version":1,"delivery_guarantee":"exactly_once","inbound_http":true}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v1.guarantee(), DeliveryGuarantee::AtLeastOnce);
        assert_eq!(v1.capabilities(), "at-least-once, no inbound");
        let v2: PluginInfo = serde_json::from_str(
            r#"{"kind":"k","description":"d","version":"1","abi_version":2,"delivery_guarantee":"exactly_once"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v2.capabilities(), "exactly-once, no inbound");
        let bare: InstanceInfo = serde_json::from_str("{}").unwrap_or_else(|e| panic!("{e}"));
        assert!(bare.routes.is_empty());
    }

    #[test]
    fn a_delivery_carries_its_deadline_both_ways() {
        let n = Notification {
            id: uuid::Uuid::new_v4(),
            idempotency_key: None,
            integration: "i".into(),
            target: herald_core::Target::Customer { id: "c".into() },
            content: herald_core::Content::Text { text: "t".into() },
            created_at: chrono::Utc::now(),
            expires_at: None,
            closed_policy: None,
            rule: None,
        };
        let d = Delivery::new(n, DeliveryMode::Normal, 3, Duration::from_secs(7));
        let wire = WireDelivery::from(&d);
        let ms = wire.deadline_ms.unwrap_or(0);
        assert!((6_000..=7_000).contains(&ms), "{ms}");
        let json = serde_json::to_string(&wire).unwrap_or_default();
        let back: Delivery =
            serde_json::from_str::<WireDelivery>(&json).map(Delivery::from).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.attempt, 3);
        assert!(back.remaining() <= Duration::from_millis(ms) && back.remaining() > Duration::from_secs(5));
        let old: WireDelivery = serde_json::from_str(&json.replace(&format!(",\"deadline_ms\":{ms}"), ""))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(Delivery::from(old).remaining() > Duration::from_secs(20), "ABI 1 host: the default 25 s");
    }

    #[test]
    fn every_channel_error_round_trips_through_json() {
        let errors = vec![
            ChannelError::invalid("text", "is empty", "send text"),
            ChannelError::TargetClosed { conversation_id: "c".into(), customer: Some("k".into()), reason: "r".into() },
            ChannelError::not_found("customer", "x", "check"),
            ChannelError::Unauthorized { reason: "no".into(), correlation_id: Some("corr".into()) },
            ChannelError::RateLimited { retry_after: Some(Duration::from_millis(1500)), correlation_id: None },
            ChannelError::transient("t"),
            ChannelError::outcome_unknown("u"),
            ChannelError::permanent("p"),
        ];
        for e in errors {
            let json = serde_json::to_string(&Reply::<(), WireError>::Error(e.clone().into())).unwrap_or_default();
            let back: Reply<(), WireError> = serde_json::from_str(&json).unwrap_or(Reply::Ok(()));
            match back {
                Reply::Error(w) => assert_eq!(w.into_channel_error(), e, "{json}"),
                Reply::Ok(()) => panic!("did not round-trip: {json}"),
            }
        }
    }
}
