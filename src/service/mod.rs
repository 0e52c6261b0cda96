//! The bridge service: opens the store, builds the integrations, runs the dispatcher, the event pipeline and the
//! HTTP API under a supervisor, and shuts all of it down gracefully within a bounded grace.

pub mod event_loop;
pub mod maintenance;
pub mod supervisor;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use herald_core::store::memory::{MemoryOutbox, MemorySessionStore};
use herald_core::store::memory_state::MemoryStateStore;
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::{ChannelContext, ConfigProblem, Event, EventSink, Outbox, SessionStore, StateStore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::api::{self, AppState};
use crate::config::LoadedConfig;
use crate::dispatcher::{Channels, Dispatcher, Route};
use crate::rules::{MarkingOutbox, RuleEngine};
use supervisor::Supervisor;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store could not be opened.
    #[error("cannot open the store at `{path}`: {source}; check `[store]` (path for sled and that no other herald uses it, url for PostgreSQL)")]
    Store {
        /// The configured path.
        path: String,
        /// The cause.
        source: herald_core::StoreError,
    },
    /// An integration could not be built.
    #[error("integration problems:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Integrations(Vec<ConfigProblem>),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; change `[service] listen`")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running service.
pub struct RunningService {
    /// The address the API listens on.
    pub addr: SocketAddr,
    /// The dispatcher (for tests and the demo).
    pub dispatcher: Dispatcher,
    /// The outbox.
    pub outbox: Arc<dyn Outbox>,
    /// The session store.
    pub sessions: Arc<dyn SessionStore>,
    /// The integrations.
    pub routes: Arc<Channels>,
    /// Where adapters publish events (the event loop applies them; tests publish here too).
    pub events: tokio::sync::mpsc::Sender<Event>,
    /// The supervisor of the background tasks (its report is part of `/healthz`; tests inject faults through it).
    pub supervisor: Supervisor,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    grace: Duration,
}

impl RunningService {
    /// Stop within `[service] shutdown_grace_secs`: no new requests and in-flight requests finish; events already
    /// queued are applied and evaluated by the rules; in-flight deliveries finish; adapters stop. Whatever is still
    /// running at the end of the grace is dropped (notifications stay pending on disk).
    pub async fn shutdown(mut self) {
        info!(grace_secs = self.grace.as_secs(), "Shutting down.");
        let deadline = tokio::time::Instant::now() + self.grace;
        self.shutdown.cancel();
        if tokio::time::timeout_at(deadline, &mut self.server).await.is_err() {
            warn!("Requests still in flight at the end of the shutdown grace; closing the server.");
            self.server.abort();
        }
        self.supervisor.stop(&[event_loop::EVENT_LOOP_TASK], deadline).await;
        let workers: Vec<String> = (0..event_loop::RULE_WORKERS).map(event_loop::rule_worker_task).collect();
        let workers: Vec<&str> = workers.iter().map(String::as_str).collect();
        let abandoned = self.supervisor.stop(&workers, deadline).await;
        if !abandoned.is_empty() {
            warn!(tasks = ?abandoned, "Events were still queued for the rules at the end of the shutdown grace.");
        }
        self.dispatcher.shutdown(deadline.saturating_duration_since(tokio::time::Instant::now())).await;
        for (name, route) in self.routes.iter() {
            if tokio::time::timeout(ADAPTER_STOP, route.channel.shutdown()).await.is_err() {
                warn!(integration = %name, "Integration did not stop in time; leaving it.");
            }
        }
        self.supervisor.stop_all(tokio::time::Instant::now() + ADAPTER_STOP).await;
        info!("Stopped.");
    }

    /// A token cancelled when shutdown begins.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// How long an adapter (or a leftover background task) may take to stop once the grace is over.
const ADAPTER_STOP: Duration = Duration::from_secs(5);

/// The session store, the outbox and the state store (one backend may serve all three).
pub type Stores = (Arc<dyn SessionStore>, Arc<dyn Outbox>, Arc<dyn StateStore>);

/// Open the store named by the config: `[store] backend = "sled"` (embedded; `path = ":memory:"` keeps everything
/// in memory) or `"postgres"` (`url`; migrations applied under an advisory lock). The sled backend sleeps while
/// another process holds its lock, so it is opened on a blocking thread.
pub async fn open_store(loaded: &LoadedConfig) -> Result<Stores, ServiceError> {
    let store = &loaded.config.store;
    match store.backend {
        crate::config::StoreBackend::Postgres => {
            let url = store.url.as_ref().map(|u| u.expose().to_string()).unwrap_or_default();
            let config = herald_postgres::PostgresConfig {
                pool_size: store.pool_size,
                statement_timeout: Duration::from_millis(store.statement_timeout_ms),
                ..herald_postgres::PostgresConfig::new(url)
            };
            let opened = herald_postgres::open(&config)
                .await
                .map_err(|source| ServiceError::Store { path: "[store] url (PostgreSQL)".to_string(), source })?;
            Ok((Arc::new(opened.clone()), Arc::new(opened.clone()), Arc::new(opened)))
        }
        crate::config::StoreBackend::Sled => {
            let loaded = loaded.clone();
            let path = store.path.display().to_string();
            tokio::task::spawn_blocking(move || open_sled(&loaded)).await.map_err(|e| ServiceError::Store {
                path,
                source: herald_core::StoreError::Backend(format!("the store-opening thread failed: {e}")),
            })?
        }
    }
}

/// Open the sled (or in-memory) store; blocking.
fn open_sled(loaded: &LoadedConfig) -> Result<Stores, ServiceError> {
    let path = &loaded.config.store.path;
    if path.as_os_str() == ":memory:" {
        return Ok((
            Arc::new(MemorySessionStore::default()),
            Arc::new(MemoryOutbox::default()),
            Arc::new(MemoryStateStore::default()),
        ));
    }
    let options = SledOptions {
        group_commit_max_delay: Duration::from_micros(loaded.config.store.commit_delay_us),
        cache_capacity: loaded.config.store.cache_mb.saturating_mul(1024 * 1024),
        ..SledOptions::default()
    };
    let store = SledStore::open(path, options)
        .map_err(|source| ServiceError::Store { path: path.display().to_string(), source })?;
    Ok((Arc::new(store.clone()), Arc::new(store.clone()), Arc::new(store)))
}

/// Build every integration through the registry the config was loaded with (built-ins and plugins).
pub fn build_routes(loaded: &LoadedConfig) -> Result<Channels, ServiceError> {
    let registry = &loaded.registry;
    let mut routes = HashMap::new();
    let mut problems = Vec::new();
    for spec in &loaded.integrations {
        let Some(factory) = registry.get(&spec.kind) else {
            problems.push(registry.unknown_kind(&spec.path, &spec.kind));
            continue;
        };
        match factory.build(spec) {
            Ok(channel) => {
                routes.insert(spec.name.clone(), Route { channel, closed_policy: spec.closed_policy });
            }
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(routes)
    } else {
        Err(ServiceError::Integrations(problems))
    }
}

/// Start the service: everything runs on the current tokio runtime; returns once the API listens.
/// Integrations are built from `loaded.registry` (the built-in kinds plus the plugins the config names).
///
/// Order: open the store (off the async threads: the sled backend sleeps while it waits for its lock), bind the
/// listener, start the event pipeline and the integrations, wait (bounded by `[service] ready_timeout_secs`) until
/// every integration is ready, resume unfinished notifications, start the background tasks, then serve.
pub async fn start(loaded: LoadedConfig) -> Result<RunningService, ServiceError> {
    crate::tls::install_crypto_provider();
    let config = loaded.config.clone();
    let (sessions, outbox, state) = open_store(&loaded).await?;
    // Deliveries are recorded as herald's own messages, so no rule answers them.
    let outbox: Arc<dyn Outbox> = Arc::new(MarkingOutbox::new(outbox, state.clone()));
    let routes = Arc::new(build_routes(&loaded)?);
    let listener = tokio::net::TcpListener::bind(config.service.listen)
        .await
        .map_err(|source| ServiceError::Bind { addr: config.service.listen, source })?;
    let addr = listener.local_addr().map_err(|source| ServiceError::Bind { addr: config.service.listen, source })?;

    let shutdown = CancellationToken::new();
    let supervisor = Supervisor::new();
    let dispatcher = Dispatcher::new(outbox.clone(), (*routes).clone(), config.dispatcher.clone());
    let rules =
        RuleEngine::new(config.rules.clone(), outbox.clone(), sessions.clone(), state.clone(), dispatcher.clone());
    let events_tx = event_loop::start(&supervisor, sessions.clone(), dispatcher.clone(), rules.clone());

    let mut extra_routes = Vec::new();
    for (name, route) in routes.iter() {
        if let Some(inbound) = route.channel.as_http_inbound() {
            extra_routes.push(inbound.routes());
        }
        let ctx = ChannelContext {
            events: EventSink::new(name.clone(), events_tx.clone()),
            sessions: sessions.clone(),
            state: state.clone(),
            shutdown: shutdown.child_token(),
            tasks: Arc::new(supervisor.clone()),
        };
        if let Err(e) = route.channel.start(ctx).await {
            error!(integration = %name, error = %e, "Integration failed to start; it stays unhealthy and its notifications wait.");
        }
    }
    wait_ready(&routes, Duration::from_secs(config.service.ready_timeout_secs)).await;
    match dispatcher.recover().await {
        Ok(0) => {}
        Ok(n) => info!(count = n, "Resuming unfinished notifications from the outbox."),
        Err(e) => {
            shutdown.cancel();
            supervisor.stop_all(tokio::time::Instant::now() + ADAPTER_STOP).await;
            return Err(ServiceError::Store { path: config.store.path.display().to_string(), source: e });
        }
    }

    if config.rules.iter().any(|r| r.when == "queue_wait_exceeded") {
        let rules = rules.clone();
        supervisor.spawn("rule-timers", move |stop| rules.clone().run_timers(stop));
    }
    let keep = maintenance::Retention {
        session_days: config.store.session_retention_days,
        outbox_days: config.store.outbox_retention_days,
        default_expiry_hours: config.dispatcher.default_expiry_hours,
    };
    {
        let (outbox, sessions) = (outbox.clone(), sessions.clone());
        supervisor.spawn(maintenance::TASK, move |stop| maintenance::run(outbox.clone(), sessions.clone(), keep, stop));
    }

    let state = AppState {
        outbox: outbox.clone(),
        sessions: sessions.clone(),
        dispatcher: dispatcher.clone(),
        routes: routes.clone(),
        rules,
        supervisor: supervisor.clone(),
        state: state.clone(),
        max_body_bytes: config.service.max_body_bytes,
        metrics: crate::telemetry::metrics(),
    };
    let limits = api::Limits {
        request_timeout: Duration::from_secs(config.service.request_timeout_secs.get()),
        max_concurrent: config.service.max_concurrent_requests.get(),
    };
    let app = api::router(state, config.service.api_keys.clone(), extra_routes, limits);
    let stop = shutdown.clone();
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await {
            error!(error = %e, "HTTP server failed.");
        }
    });
    info!(%addr, integrations = routes.len(), "herald is listening.");
    Ok(RunningService {
        addr,
        dispatcher,
        outbox,
        sessions,
        routes,
        events: events_tx,
        supervisor,
        shutdown,
        server,
        grace: Duration::from_secs(config.service.shutdown_grace_secs),
    })
}

/// Wait until every integration reports [`MessagingChannel::ready`](herald_core::MessagingChannel::ready), or
/// `timeout` passes; then name the ones that are not. Their unfinished notifications are resumed anyway: the
/// dispatcher keeps them waiting until the adapter can take them (nothing is re-sent blindly).
async fn wait_ready(routes: &Channels, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    let mut logged = false;
    loop {
        let mut waiting = Vec::new();
        for (name, route) in routes.iter() {
            if !route.channel.ready().await {
                waiting.push(name.as_str());
            }
        }
        waiting.sort_unstable();
        if waiting.is_empty() {
            return;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            warn!(integrations = ?waiting, timeout_secs = timeout.as_secs(), "Integrations not ready in time (`[service] ready_timeout_secs`); their unfinished notifications wait for them.");
            return;
        }
        if !logged {
            info!(integrations = ?waiting, "Waiting for integrations to be ready before resuming unfinished notifications.");
            logged = true;
        }
        // `ready()` is a poll: back off gently up to a quarter second.
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}
