//! A herald dynamic plugin: Genesys **Open Messaging**, which connects any third-party messaging platform to
//! Genesys Cloud.
//!
//! - **Deliver** (herald → Genesys): a notification for a customer of the third-party platform becomes an inbound
//!   Open Messaging message from that customer (`POST /api/v2/conversations/messages/{integrationId}/inbound/open/message`);
//!   the receipt names the Genesys message id and conversation.
//! - **Webhook** (Genesys → herald → third party): agent messages POSTed by Genesys to the plugin's own HTTP
//!   server are verified (`X-Hub-Signature-256`, base64 HMAC-SHA256), forwarded to `outbound_url`, published as
//!   `message_received` events and acknowledged with a `Delivered` receipt.
//!
//! Built as a `cdylib` with `herald_plugin::export_plugin!`; `docs/plugins.md` walks through it.

pub mod deliver;
pub mod genesys;
pub mod settings;
pub mod signature;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use herald_plugin::core::{ChannelError, ConfigProblem, Delivery, Health, HealthStatus, Receipt};
use herald_plugin::sdk::{decode_settings, CreateContext, EventPublisher, HostLog, Plugin, PluginAdapter};
use parking_lot::Mutex;

use genesys::Genesys;
use settings::Settings;
use webhook::{Stats, Webhook};

/// The plugin (factory).
pub struct OpenMessagingPlugin;

impl Plugin for OpenMessagingPlugin {
    type Adapter = OpenMessaging;
    const KIND: &'static str = "open_messaging";
    const DESCRIPTION: &'static str =
        "Genesys Open Messaging: third-party customer messages into Genesys, signed agent webhooks out to the platform";

    fn create(ctx: CreateContext, settings: serde_json::Value) -> Result<OpenMessaging, Vec<ConfigProblem>> {
        let settings: Settings = decode_settings(settings)?;
        let endpoints = settings.validate()?;
        // reqwest here is built without a TLS provider of its own: install ring once for this library.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .build()
            .map_err(|e| vec![ConfigProblem::new("", format!("cannot build the HTTP client: {e}"))])?;
        let genesys =
            Arc::new(Genesys::new(http.clone(), endpoints, settings.client_id.clone(), settings.client_secret.clone()));
        Ok(OpenMessaging {
            name: ctx.name,
            settings,
            genesys,
            http,
            log: ctx.log,
            server: Mutex::new(None),
            stats: Arc::new(Stats::default()),
            last_error: Mutex::new(None),
        })
    }
}

/// One Open Messaging integration.
pub struct OpenMessaging {
    name: String,
    settings: Settings,
    genesys: Arc<Genesys>,
    http: reqwest::Client,
    log: HostLog,
    server: Mutex<Option<(tokio::task::JoinHandle<()>, SocketAddr)>>,
    stats: Arc<Stats>,
    last_error: Mutex<Option<String>>,
}

#[async_trait]
impl PluginAdapter for OpenMessaging {
    async fn start(&self, events: EventPublisher) -> Result<(), ChannelError> {
        let listen = self.settings.listen;
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            ChannelError::permanent(format!(
                "cannot listen for Open Messaging webhooks on {listen}: {e}; change `listen`"
            ))
        })?;
        let addr = listener.local_addr().unwrap_or(listen);
        let hook = Arc::new(Webhook::new(
            self.settings.secret.as_bytes().to_vec(),
            self.settings.outbound_url.clone(),
            self.name.clone(),
            self.settings.integration_id.clone(),
            self.http.clone(),
            self.genesys.clone(),
            events,
            self.log.clone(),
            self.stats.clone(),
        ));
        let app = webhook::router(&self.settings.webhook_path, hook);
        let log = self.log.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                log.error(format!("The Open Messaging webhook server stopped: {e}"));
            }
        });
        if let Some((old, _)) = self.server.lock().replace((task, addr)) {
            old.abort();
        }
        self.log.info(format!("Open Messaging webhook listening on http://{addr}{}", self.settings.webhook_path));
        Ok(())
    }

    async fn deliver(&self, delivery: Delivery) -> Result<Receipt, ChannelError> {
        let body = deliver::inbound_message(&delivery, self.settings.customer_nickname.as_deref())?;
        let path = deliver::inbound_message_path(&self.settings.integration_id);
        let result = self.genesys.post(&path, &body).await.and_then(|answer| deliver::receipt(&answer));
        *self.last_error.lock() = result.as_ref().err().map(ToString::to_string);
        result
    }

    async fn health(&self) -> Health {
        let mut health = Health::healthy();
        match self.server.lock().as_ref() {
            Some((task, addr)) if !task.is_finished() => {
                health.checks.insert("webhook".into(), format!("listening on {addr}"));
            }
            _ => {
                health.status = HealthStatus::Unhealthy;
                health.checks.insert("webhook".into(), "not listening".into());
            }
        }
        health.checks.insert(
            "webhooks".into(),
            format!(
                "{} forwarded, {} refused (signature), {} forward failures",
                self.stats.forwarded.load(Ordering::Relaxed),
                self.stats.refused.load(Ordering::Relaxed),
                self.stats.forward_failures.load(Ordering::Relaxed)
            ),
        );
        if let Err(e) = self.genesys.check_token().await {
            health.status = HealthStatus::Unhealthy;
            health.checks.insert("token".into(), e.to_string());
        } else {
            health.checks.insert("token".into(), "ok".into());
        }
        if let Some(e) = self.last_error.lock().clone() {
            if health.status == HealthStatus::Healthy {
                health.status = HealthStatus::Degraded;
            }
            health.checks.insert("deliveries".into(), format!("last delivery failed: {e}"));
        }
        health
    }

    async fn shutdown(&self) {
        if let Some((task, _)) = self.server.lock().take() {
            task.abort();
        }
    }
}

herald_plugin::export_plugin!(OpenMessagingPlugin);
