//! The configuration file's shape.
//!
//! Every table denies unknown keys so a typo is an error with its key path, never a silently ignored setting.

use std::net::SocketAddr;
use std::path::PathBuf;

use herald_core::ClosedPolicy;
use serde::Deserialize;

use super::secret::Secret;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The HTTP service.
    #[serde(default)]
    pub service: ServiceConfig,
    /// Where sessions and the outbox live.
    #[serde(default)]
    pub store: StoreConfig,
    /// How notifications are delivered.
    #[serde(default)]
    pub dispatcher: DispatcherConfig,
    /// Dynamic plugins.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// One section per bridge.
    #[serde(default, rename = "integration")]
    pub integrations: Vec<IntegrationConfig>,
    /// Rules that turn events into notifications.
    #[serde(default, rename = "rule")]
    pub rules: Vec<crate::rules::RuleConfig>,
}

/// `[service]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// API keys accepted in `Authorization: Bearer <key>` (use `${VAR}`).
    pub api_keys: Vec<Secret>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// How long a graceful shutdown waits for in-flight deliveries, in seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: Vec::new(),
            max_body_bytes: 64 * 1024,
            shutdown_grace_secs: 20,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Directory of the sled database. `:memory:` keeps everything in memory (tests, demo; not durable).
    pub path: PathBuf,
    /// Closed sessions are removed after this many days.
    pub session_retention_days: u32,
    /// Delivered, failed and expired notifications are removed after this many days.
    pub outbox_retention_days: u32,
    /// Group commit: how long, in microseconds, the committer waits after the first durable write of a batch to
    /// gather more before one flush. 0 flushes at once (batches still form while a flush runs). The default, 250,
    /// costs a lone request a quarter of a millisecond and raised durable intake from about 18,700 to about
    /// 21,000–25,600 notifications/s at 64 concurrent clients (docs/benchmarks.md).
    pub commit_delay_us: u64,
    /// Upper bound of the store's page cache, in MiB (bounds memory; see docs/benchmarks-store.md).
    pub cache_mb: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: PathBuf::from("data/herald.sled"),
            session_retention_days: 7,
            outbox_retention_days: 30,
            commit_delay_us: 250,
            cache_mb: herald_core::store::sled::SledOptions::default().cache_capacity / (1024 * 1024),
        }
    }
}

/// `[dispatcher]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatcherConfig {
    /// Deliveries in flight at once, across conversations.
    pub concurrency: usize,
    /// After this many attempts a notification fails (dead letter).
    pub max_attempts: u32,
    /// First retry delay, in milliseconds (doubles each attempt, with full jitter).
    pub backoff_initial_ms: u64,
    /// Largest retry delay, in milliseconds.
    pub backoff_max_ms: u64,
    /// Longest a single delivery may take before it counts as a transient failure, in seconds.
    pub delivery_timeout_secs: u64,
    /// Notifications without `expires_at` expire after this many hours (0 = never).
    pub default_expiry_hours: u64,
    /// Accept notifications but deliver none (e.g. during upstream maintenance); they wait, durable, until the
    /// service is restarted without it.
    pub paused: bool,
    /// Most notifications the dispatcher holds in memory (ids only) at once; the rest wait in the store and are
    /// loaded in order as these finish, so a backlog of millions needs no more memory than this.
    pub queue_capacity: usize,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            concurrency: 64,
            max_attempts: 8,
            backoff_initial_ms: 500,
            backoff_max_ms: 300_000,
            delivery_timeout_secs: 30,
            default_expiry_hours: 72,
            paused: false,
            queue_capacity: 50_000,
        }
    }
}

/// `[plugins]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Where `plugin = "name"` is looked up (as `lib<name>.so` / `<name>.dll` / `lib<name>.dylib`).
    pub dir: Option<PathBuf>,
}

/// One `[[integration]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    /// Unique name; notifications name it.
    pub name: String,
    /// A built-in adapter kind (`webmessaging`, `webchat`, `teams`, `webhook`).
    #[serde(default)]
    pub kind: Option<String>,
    /// A dynamic plugin: a path to the library, or a name looked up in `[plugins] dir`.
    #[serde(default)]
    pub plugin: Option<String>,
    /// What to do with notifications whose conversation has closed.
    #[serde(default)]
    pub closed_policy: ClosedPolicy,
    /// The adapter's own settings.
    #[serde(default)]
    pub settings: toml::Table,
}
