//! The bridge service: opens the store, builds the integrations, runs the dispatcher, the event loop and the
//! HTTP API, and shuts all of it down gracefully.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use herald_core::store::memory::{MemoryOutbox, MemorySessionStore};
use herald_core::store::memory_state::MemoryStateStore;
use herald_core::store::sled::{SledOptions, SledStore};
use herald_core::{
    ChannelContext, ConfigProblem, Event, EventKind, EventSink, NotificationStatus, Outbox, OutboxFilter, SessionState,
    SessionStore, StateStore, Transition,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::api::{self, AppState};
use crate::config::LoadedConfig;
use crate::dispatcher::{Channels, Dispatcher, Route};
use crate::rules::{MarkingOutbox, RuleEngine};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store could not be opened.
    #[error("cannot open the store at `{path}`: {source}; check `[store] path` and that no other herald uses it")]
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
    /// Where events go (adapters and `POST /v1/events` publish here).
    pub events: tokio::sync::mpsc::Sender<Event>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    grace: Duration,
}

impl RunningService {
    /// Stop: no new requests, in-flight deliveries finish (within the grace period), adapters stop, store flushed.
    pub async fn shutdown(self) {
        info!("Shutting down.");
        self.shutdown.cancel();
        let _ = self.server.await;
        self.dispatcher.shutdown(self.grace).await;
        for route in self.routes.values() {
            route.channel.shutdown().await;
        }
        for task in self.background {
            task.abort();
        }
        info!("Stopped.");
    }

    /// A token cancelled when shutdown begins.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// The session store, the outbox and the state store (one backend may serve all three).
pub type Stores = (Arc<dyn SessionStore>, Arc<dyn Outbox>, Arc<dyn StateStore>);

/// Open the store named by the config.
pub fn open_store(loaded: &LoadedConfig) -> Result<Stores, ServiceError> {
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
pub async fn start(loaded: LoadedConfig) -> Result<RunningService, ServiceError> {
    crate::tls::install_crypto_provider();
    let (sessions, outbox, state) = open_store(&loaded)?;
    // Deliveries are recorded as herald's own messages, so no rule answers them.
    let outbox: Arc<dyn Outbox> = Arc::new(MarkingOutbox::new(outbox, state.clone()));
    let routes = Arc::new(build_routes(&loaded)?);
    let config = &loaded.config;
    let shutdown = CancellationToken::new();
    let dispatcher = Dispatcher::new(outbox.clone(), (*routes).clone(), config.dispatcher.clone());
    match dispatcher.recover().await {
        Ok(0) => {}
        Ok(n) => info!(count = n, "Resuming unfinished notifications from the outbox."),
        Err(e) => return Err(ServiceError::Store { path: config.store.path.display().to_string(), source: e }),
    }

    let (events_tx, events_rx) = tokio::sync::mpsc::channel::<Event>(10_000);
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
        };
        if let Err(e) = route.channel.start(ctx).await {
            error!(integration = %name, error = %e, "Integration failed to start; it stays unhealthy and its notifications wait.");
        }
    }

    let rules =
        RuleEngine::new(config.rules.clone(), outbox.clone(), sessions.clone(), state.clone(), dispatcher.clone());
    let background = vec![
        tokio::spawn(event_loop(events_rx, sessions.clone(), dispatcher.clone(), rules.clone())),
        tokio::spawn(rules.clone().run_timers(shutdown.child_token())),
        tokio::spawn(maintenance(
            outbox.clone(),
            sessions.clone(),
            config.store.session_retention_days,
            config.store.outbox_retention_days,
            config.dispatcher.default_expiry_hours,
            shutdown.child_token(),
        )),
    ];

    let state = AppState {
        outbox: outbox.clone(),
        sessions: sessions.clone(),
        dispatcher: dispatcher.clone(),
        routes: routes.clone(),
        events: events_tx.clone(),
        max_body_bytes: config.service.max_body_bytes,
        metrics: crate::telemetry::metrics(),
    };
    let app = api::router(state, config.service.api_keys.clone(), extra_routes);
    let listener = tokio::net::TcpListener::bind(config.service.listen)
        .await
        .map_err(|source| ServiceError::Bind { addr: config.service.listen, source })?;
    let addr = listener.local_addr().map_err(|source| ServiceError::Bind { addr: config.service.listen, source })?;
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
        shutdown,
        server,
        background,
        grace: Duration::from_secs(config.service.shutdown_grace_secs),
    })
}

/// Apply events to the session store, release deferred notifications, hand events to the rules.
async fn event_loop(
    mut rx: tokio::sync::mpsc::Receiver<Event>,
    sessions: Arc<dyn SessionStore>,
    dispatcher: Dispatcher,
    rules: RuleEngine,
) {
    while let Some(event) = rx.recv().await {
        if let Some(session) = event.kind.session() {
            if !matches!(event.kind, EventKind::QueueWaitExceeded { .. }) {
                if let Err(e) = sessions.upsert(session.clone()).await {
                    warn!(error = %e, conversation = %session.conversation_id, "Could not store a session update.");
                }
            }
            // On every event of a connected conversation, not only when it becomes connected: a notification
            // deferred while this newer conversation was already open (its target was an older, closed one) is
            // picked up on the next event. The lookup is one prefix scan of the deferred index per customer id.
            if session.state == SessionState::Connected {
                for key in session.customer.keys() {
                    match dispatcher.release_deferred(&event.integration, key, &session.conversation_id).await {
                        Ok(0) => {}
                        Ok(n) => {
                            info!(customer = key, conversation = %session.conversation_id, count = n, "Delivering deferred notifications into the customer's new conversation.")
                        }
                        Err(e) => warn!(error = %e, "Could not release deferred notifications."),
                    }
                }
            }
        }
        rules.handle(&event).await;
    }
}

/// Every minute: expire deferred notifications past their expiry, purge old sessions and final notifications.
async fn maintenance(
    outbox: Arc<dyn Outbox>,
    sessions: Arc<dyn SessionStore>,
    session_days: u32,
    outbox_days: u32,
    default_expiry_hours: u64,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let now = Utc::now();
        if let Ok(deferred) =
            outbox.list(&OutboxFilter { status: Some(NotificationStatus::Deferred), ..OutboxFilter::default() }).await
        {
            for record in deferred {
                let expires_at = record.notification.expires_at.or_else(|| {
                    (default_expiry_hours > 0)
                        .then(|| record.notification.created_at + chrono::Duration::hours(default_expiry_hours as i64))
                });
                if expires_at.is_some_and(|e| e <= now) {
                    let t = Transition::to(
                        NotificationStatus::Expired,
                        now,
                        "the customer did not come back before the notification expired",
                    );
                    let _ = outbox.transition(record.id(), t).await;
                }
            }
        }
        let _ = sessions.purge_closed(now - chrono::Duration::days(session_days as i64)).await;
        let _ = outbox.purge_final(now - chrono::Duration::days(outbox_days as i64)).await;
    }
}
