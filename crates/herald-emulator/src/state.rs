//! The shared state every handler, socket and background task works on.
//!
//! [`Shared`] is deliberately a flat struct of independently locked parts: the hot paths
//! (token check, rate limit, notification fan-out) never take the world lock. New emulated
//! services (Bot Connector, Graph) add their own field here next to `world`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::config::EmulatorConfig;
use crate::faults::Faults;
use crate::http::request_log::RequestLog;
use crate::notifications::hub::NotificationHub;
use crate::oauth::TokenStore;
use crate::world::World;

/// Which WebSockets a drop signal closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// Guest web messaging sockets.
    Guest,
    /// Notification channel sockets (including guest chat event streams).
    Notification,
}

/// Counters useful to tests and benchmarks (all monotonic).
#[derive(Debug, Default)]
pub struct Counters {
    /// API requests seen (after the body limit).
    pub requests: AtomicU64,
    /// 429 answers (rate limit and injected).
    pub too_many_requests: AtomicU64,
    /// Injected 5xx answers.
    pub injected_errors: AtomicU64,
    /// Answers delayed after the request took effect (staged `latencyAfter`).
    pub delayed_answers: AtomicU64,
    /// Connections dropped after the request took effect (staged `dropAfter`).
    pub dropped_connections: AtomicU64,
    /// Tokens issued.
    pub tokens_issued: AtomicU64,
    /// Messages accepted by the agent-side send endpoint.
    pub agent_messages: AtomicU64,
    /// Agentless messages accepted.
    pub agentless_messages: AtomicU64,
    /// Messages sent by guests (web messaging and chat).
    pub guest_messages: AtomicU64,
    /// Notification frames written to sockets.
    pub notification_frames: AtomicU64,
}

impl Counters {
    /// Increments a counter.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything the emulator shares between requests.
pub struct Shared {
    /// The configuration the emulator was started with.
    pub config: EmulatorConfig,
    /// The virtual clock.
    pub clock: Clock,
    /// Issued OAuth tokens and their rate windows.
    pub tokens: TokenStore,
    /// Fault injection.
    pub faults: Faults,
    /// The Genesys Cloud world (conversations, agents, guests, ...).
    pub world: Mutex<World>,
    /// Notification channels and their subscriptions.
    pub hub: NotificationHub,
    /// Counters.
    pub counters: Counters,
    /// The request log (when enabled).
    pub request_log: RequestLog,
    /// Signals sockets to close (control API "drop sockets").
    pub drop_sockets: broadcast::Sender<SocketKind>,
    /// Secret for guest JWTs (web messaging `getJwt`, guest chat).
    pub jwt_secret: Vec<u8>,
    /// Source of per-process socket ids.
    pub next_socket_id: AtomicU64,
    // Extension point: state of further emulated services (e.g. `botconnector`, `graph`) goes here.
}

/// Handle to the shared state, cloned into every handler.
pub type AppState = Arc<Shared>;

impl Shared {
    /// Builds the state for a configuration.
    pub fn new(config: EmulatorConfig) -> AppState {
        let (drop_sockets, _) = broadcast::channel(16);
        let secret: [u8; 32] = rand::random();
        Arc::new(Shared {
            world: Mutex::new(World::seed(&config)),
            tokens: TokenStore::default(),
            faults: Faults::default(),
            hub: NotificationHub::default(),
            counters: Counters::default(),
            request_log: RequestLog::new(config.diagnostics.request_log, config.diagnostics.request_log_capacity),
            clock: Clock::default(),
            drop_sockets,
            jwt_secret: secret.to_vec(),
            next_socket_id: AtomicU64::new(1),
            config,
        })
    }

    /// A fresh socket id.
    pub fn socket_id(&self) -> u64 {
        self.next_socket_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// A new platform-style id (UUID v4).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
