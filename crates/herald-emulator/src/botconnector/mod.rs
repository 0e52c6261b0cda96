//! The Microsoft side of Teams: login (Entra token endpoint), the Bot Framework Connector (OpenID metadata, JWKS,
//! signed activities to a bot, `/v3/conversations`) and, through [`crate::graph`], Microsoft Graph presence.
//!
//! Self-contained: all state lives in a [`TeamsWorld`], and [`routes`] returns a router that any axum server can
//! merge (the Genesys emulator mounts it on its listener; tests may run it alone with [`TeamsEmulator::start`]).
//!
//! | upstream host                    | emulator path                                             |
//! |----------------------------------|-----------------------------------------------------------|
//! | `login.microsoftonline.com`      | `POST /{tenant}/oauth2/v2.0/token` (`botframework.com` too) |
//! | `login.botframework.com`         | `GET /v1/.well-known/openidconfiguration`, `…/keys`       |
//! | `smba.trafficmanager.net/teams/` | `/v3/conversations…` (the `serviceUrl` is the emulator's base URL) |
//! | `graph.microsoft.com`            | `/v1.0/…`, `/beta/…` (see [`crate::graph`])               |
//! | (emulator only)                  | `/emulator/v1/teams/…` control                            |

// Handlers use `Result<_, Response>` so early returns carry the upstream error shape; the size is irrelevant here.
#![allow(clippy::result_large_err)]

pub mod config;
pub mod connector;
pub mod control;
pub mod keys;
pub mod login;
pub mod signer;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

pub use config::{TeamsConfig, TeamsUserConfig};
pub use connector::{ConnectorCounters, ReceivedActivity};
pub use signer::{Forgery, SignedActivity};

use crate::graph::GraphState;

/// A Teams user as the emulator knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsUser {
    /// Entra object id.
    pub aad_id: String,
    /// Teams user id (`29:…`).
    pub teams_id: String,
    /// Display name.
    pub name: String,
}

pub(crate) struct Inner {
    pub(crate) config: TeamsConfig,
    pub(crate) keys: Arc<keys::KeySet>,
    pub(crate) base_url: RwLock<Option<String>>,
    pub(crate) users: RwLock<Vec<TeamsUser>>,
    pub(crate) tokens: login::TokenStore,
    pub(crate) connector: Mutex<connector::ConnectorState>,
    pub(crate) graph: GraphState,
    pub(crate) http: reqwest::Client,
}

/// All state of the emulated Microsoft side. Cheap to clone.
#[derive(Clone)]
pub struct TeamsWorld {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for TeamsWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsWorld").field("tenant", &self.inner.config.tenant_id).finish_non_exhaustive()
    }
}

impl TeamsWorld {
    /// A world for `config` (generates or reuses the signing keys).
    pub fn new(config: TeamsConfig) -> Result<Self, String> {
        let keys = keys::KeySet::shared(config.key_bits.max(512))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(config.validation_timeout_ms.max(100)))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let users = config
            .users
            .iter()
            .map(|u| TeamsUser {
                aad_id: u.aad_id.clone(),
                teams_id: if u.teams_id.is_empty() { config::derive_teams_id(&u.aad_id) } else { u.teams_id.clone() },
                name: u.name.clone(),
            })
            .collect();
        let graph = GraphState::new(&config);
        Ok(TeamsWorld {
            inner: Arc::new(Inner {
                keys,
                base_url: RwLock::new(None),
                users: RwLock::new(users),
                tokens: login::TokenStore::default(),
                connector: Mutex::new(connector::ConnectorState::default()),
                graph,
                http,
                config,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TeamsConfig {
        &self.inner.config
    }

    /// The base URL the world is reached at (the `serviceUrl` of its activities), once known.
    pub fn base_url(&self) -> Option<String> {
        self.inner.base_url.read().clone()
    }

    /// Sets the base URL (done by [`TeamsEmulator::start`]; otherwise learnt from the first request's `Host`).
    pub fn set_base_url(&self, url: impl Into<String>) {
        *self.inner.base_url.write() = Some(url.into().trim_end_matches('/').to_string());
    }

    /// The `serviceUrl` put in activities: the base URL with a trailing slash, as Teams sends it.
    pub fn service_url(&self) -> String {
        format!("{}/", self.base_url().unwrap_or_else(|| "http://127.0.0.1".into()))
    }

    /// Adds a Teams user (or returns the existing one with that object id).
    pub fn add_user(&self, aad_id: &str, name: &str) -> TeamsUser {
        let mut users = self.inner.users.write();
        if let Some(u) = users.iter().find(|u| u.aad_id == aad_id) {
            return u.clone();
        }
        let u = TeamsUser { aad_id: aad_id.into(), teams_id: config::derive_teams_id(aad_id), name: name.into() };
        users.push(u.clone());
        u
    }

    /// A user by object id or Teams id.
    pub fn user(&self, id: &str) -> Option<TeamsUser> {
        self.inner.users.read().iter().find(|u| u.aad_id == id || u.teams_id == id).cloned()
    }

    /// Number of users.
    pub fn user_count(&self) -> usize {
        self.inner.users.read().len()
    }
}

/// Every route of the Microsoft side (login, connector, Graph, control), with its own state, for any server.
pub fn routes<S: Clone + Send + Sync + 'static>(world: TeamsWorld) -> Router<S> {
    Router::new()
        .route("/v1/.well-known/openidconfiguration", get(openid_metadata))
        .route("/v1/.well-known/keys", get(jwks))
        .merge(login::router())
        .merge(connector::router())
        .merge(crate::graph::router())
        .nest("/emulator/v1/teams", control::router())
        .layer(from_fn_with_state(world.clone(), learn_base_url))
        .with_state(world)
}

/// The routes of a world made from the default configuration (the line the Genesys emulator mounts).
pub fn default_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    match TeamsWorld::new(TeamsConfig::default()) {
        Ok(world) => routes(world),
        Err(e) => {
            tracing::error!(error = %e, "the Teams emulator could not start; its routes are not served");
            Router::new()
        }
    }
}

async fn learn_base_url(State(world): State<TeamsWorld>, req: Request, next: Next) -> Response {
    if world.inner.base_url.read().is_none() {
        if let Some(host) = req.headers().get(HOST).and_then(|h| h.to_str().ok()) {
            world.set_base_url(format!("http://{host}"));
        }
    }
    next.run(req).await
}

fn base_from(world: &TeamsWorld) -> String {
    world.base_url().unwrap_or_else(|| "http://127.0.0.1".into())
}

async fn openid_metadata(State(world): State<TeamsWorld>) -> Json<Value> {
    let base = base_from(&world);
    Json(json!({
        "issuer": "https://api.botframework.com",
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{base}/v1/.well-known/keys"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
}

async fn jwks(State(world): State<TeamsWorld>) -> Json<Value> {
    Json(world.inner.keys.jwks())
}

/// A Teams emulator on its own listener.
pub struct TeamsEmulator {
    world: TeamsWorld,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl TeamsEmulator {
    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves [`routes`] on the current runtime.
    pub async fn start(config: TeamsConfig, addr: SocketAddr) -> Result<TeamsEmulator, String> {
        let world = TeamsWorld::new(config)?;
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot bind {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("no local address: {e}"))?;
        world.set_base_url(format!("http://{addr}"));
        let app: Router = routes(world.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(TeamsEmulator { world, addr, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The world (in-process control).
    pub fn world(&self) -> &TeamsWorld {
        &self.world
    }

    /// Stops serving.
    pub fn shutdown(self) {
        self.task.abort();
    }
}
