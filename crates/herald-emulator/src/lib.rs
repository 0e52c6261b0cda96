//! An in-memory emulator of the part of Genesys Cloud that herald and its users touch, for
//! offline development and tests (the Bot Connector and Microsoft Graph join it later).
//!
//! One listener serves every host role of the platform (see `docs/emulator.md`):
//!
//! | platform host            | emulator path                                        |
//! |--------------------------|------------------------------------------------------|
//! | `login.<domain>`         | `POST /oauth/token`                                  |
//! | `api.<domain>`           | `/api/v2/...`                                        |
//! | `webmessaging.<domain>`  | `GET /v1?deploymentId=…` (also `/webmessaging/v1`)   |
//! | `streaming.<domain>`     | `GET /channels/{id}` (notification `connectUri`)     |
//! | `api-cdn.<domain>`       | `GET /webdeployments/v1/deployments/{id}/config.json`|
//! | (emulator only)          | `/emulator/v1/...` control API                       |
//!
//! Fidelity is the contract: the official SDKs pointed at [`EmulatorHandle::base_url`] work
//! unchanged. The emulator takes its schemas from the reference on its own and shares no
//! request or response types with herald's client crates.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analytics;
pub mod api_error;
pub mod botconnector;
pub mod chat;
pub mod clock;
pub mod config;
pub mod control;
pub mod deployments;
pub mod error;
pub mod faults;
pub mod graph;
pub mod guest_ws;
pub mod http;
pub mod messaging;
pub mod notifications;
pub mod oauth;
pub mod open_messaging;
pub mod presence;
pub mod publish;
pub mod ratelimit;
pub mod responses;
pub mod routing;
pub mod state;
pub mod users;
pub mod world;

use std::net::SocketAddr;

use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::EmulatorConfig;
pub use control::Control;
pub use error::EmulatorError;
pub use state::{AppState, Shared};

/// Composes every emulated service on one router.
pub fn router(state: AppState) -> Router {
    // Platform API (api host role): body limit, request log and faults apply here only.
    let api = Router::new()
        .merge(messaging::router())
        .merge(notifications::router())
        .merge(presence::router())
        .merge(users::router())
        .merge(responses::router())
        .merge(chat::router())
        .merge(analytics::router())
        .layer(from_fn_with_state(state.clone(), http::faults::apply))
        .layer(from_fn_with_state(state.clone(), http::body_limit_and_log));
    // Login host role.
    let login = Router::new().route("/oauth/token", post(oauth::token));
    // WebSocket host roles (webmessaging, streaming) and the api-cdn role.
    let alias = format!("{}/v1", state.config.behaviour.guest_ws_alias_prefix.trim_end_matches('/'));
    let mut sockets = Router::new()
        .route("/v1", get(guest_ws::upgrade))
        .merge(notifications::socket_router())
        .route("/webdeployments/v1/deployments/{id}/config.json", get(deployments::config_json));
    if alias != "/v1" && alias.starts_with('/') {
        sockets = sockets.route(&alias, get(guest_ws::upgrade));
    }
    Router::new()
        .merge(api)
        .merge(login)
        .merge(sockets)
        .nest("/emulator/v1", control::http::router())
        .merge(botconnector::default_routes())
        .merge(open_messaging::routes(open_messaging::OpenMessagingState::new(state.clone())))
        // Extension point for further emulated services sharing this listener, e.g.
        //   .merge(botconnector::router())      // Bot Framework Connector (src/botconnector/)
        //   .nest("/graph", graph::router())    // Microsoft Graph (src/graph/)
        // Their state goes next to `world` in `state::Shared`.
        .fallback(http::not_found)
        .layer(from_fn(http::correlation))
        .with_state(state)
}

/// Starts emulators.
pub struct Emulator;

impl Emulator {
    /// Binds `addr` (use `127.0.0.1:0` in tests), spawns the server on the current tokio
    /// runtime and returns at once.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> Result<EmulatorHandle, EmulatorError> {
        // The Bot Connector and Graph parts make outbound HTTPS-capable calls (signed activities, validation
        // handshakes): rustls needs a process-wide crypto provider before any client is built.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| EmulatorError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| EmulatorError::Bind { addr, source })?;
        let state = Shared::new(config);
        let app = router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .map_err(EmulatorError::Serve)
        });
        tracing::info!(addr = %local, "genesys cloud emulator listening");
        Ok(EmulatorHandle { addr: local, state, shutdown: Some(tx), task })
    }
}

/// A running emulator.
pub struct EmulatorHandle {
    addr: SocketAddr,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), EmulatorError>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT` — serves the api, login and api-cdn roles.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT` — serves the webmessaging and streaming roles.
    pub fn ws_base_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// In-process control (same operations as `/emulator/v1/`).
    pub fn control(&self) -> Control {
        Control::new(self.state.clone())
    }

    /// Stops the server: sockets are dropped, in-flight requests finish.
    pub async fn shutdown(mut self) {
        self.control().drop_sockets(control::DropTarget::All);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut self.task).await;
    }
}

/// Runs the emulator until ctrl-c or SIGTERM (the `herald emulator` subcommand).
pub async fn serve(config: EmulatorConfig, addr: SocketAddr) -> Result<(), EmulatorError> {
    let handle = Emulator::start(config, addr).await?;
    shutdown_signal().await;
    handle.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
