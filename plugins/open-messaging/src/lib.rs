//! A herald dynamic plugin: Genesys **Open Messaging**, which connects any third-party messaging platform to
//! Genesys Cloud.
//!
//! - **Deliver** (herald → Genesys): a notification for a customer of the third-party platform becomes an inbound
//!   Open Messaging message from that customer (`POST /api/v2/conversations/messages/{integrationId}/inbound/open/message`);
//!   the receipt names the Genesys message id and conversation. The attempt stops at its deadline.
//! - **Confirm** (exactly-once): `channel.messageId` is the notification's delivery key, stable across attempts, and
//!   Open Messaging answers a message whose `messageId` it already has with that first message instead of making a
//!   second one (the emulator models this; Genesys documents `messageId` as the message's unique id, the
//!   deduplication itself is UNCONFIRMED). So an attempt whose outcome is unknown is checked by posting the same
//!   message again: the answer names the earlier message if there was one, and otherwise this is the one send.
//! - **Webhook** (Genesys → herald → third party): agent messages POSTed by Genesys to herald's server (route
//!   `webhook_path`, ABI 2 inbound HTTP) are verified (`X-Hub-Signature-256`, base64 HMAC-SHA256), forwarded to
//!   `outbound_url`, published as `message_received` events and acknowledged with a `Delivered` receipt.
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
use herald_plugin::core::{ChannelError, ConfigProblem, Delivery, DeliveryGuarantee, Health, HealthStatus, Receipt};
use herald_plugin::sdk::deadline::within;
use herald_plugin::sdk::{
    decode_settings, CreateContext, EventPublisher, HostLog, HttpRequest, HttpResponse, Plugin, PluginAdapter,
    WireRoute,
};
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
    const DELIVERY_GUARANTEE: DeliveryGuarantee = DeliveryGuarantee::ExactlyOnce;
    const INBOUND_HTTP: bool = true;

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
            hook: Mutex::new(None),
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
    /// The plugin's own listener, when `listen` is set.
    server: Mutex<Option<(tokio::task::JoinHandle<()>, SocketAddr)>>,
    /// The webhook receiver, once started.
    hook: Mutex<Option<Arc<Webhook>>>,
    stats: Arc<Stats>,
    last_error: Mutex<Option<String>>,
}

#[async_trait]
impl PluginAdapter for OpenMessaging {
    async fn start(&self, events: EventPublisher) -> Result<(), ChannelError> {
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
        *self.hook.lock() = Some(hook.clone());
        let path = self.settings.webhook_path(&self.name);
        let Some(listen) = self.settings.listen else {
            self.log.info(format!("Open Messaging webhook served on herald's server at {path}"));
            return Ok(());
        };
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            ChannelError::permanent(format!(
                "cannot listen for Open Messaging webhooks on {listen}: {e}; change `listen` or remove it to use \
                 herald's server"
            ))
        })?;
        let addr = listener.local_addr().unwrap_or(listen);
        let app = webhook::router(&path, hook);
        let log = self.log.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                log.error(format!("The Open Messaging webhook server stopped: {e}"));
            }
        });
        if let Some((old, _)) = self.server.lock().replace((task, addr)) {
            old.abort();
        }
        self.log.info(format!("Open Messaging webhook also listening on http://{addr}{path}"));
        Ok(())
    }

    async fn deliver(&self, delivery: Delivery) -> Result<Receipt, ChannelError> {
        let result = self.send(&delivery).await;
        *self.last_error.lock() = result.as_ref().err().map(ToString::to_string);
        result
    }

    async fn confirm_delivery(&self, delivery: Delivery) -> Result<Vec<Receipt>, ChannelError> {
        // The same messageId again: Open Messaging answers with the message it already has, if any.
        self.send(&delivery).await.map(|r| vec![r])
    }

    fn routes(&self) -> Vec<WireRoute> {
        vec![WireRoute::post(self.settings.webhook_path(&self.name))]
    }

    async fn http(&self, request: HttpRequest) -> HttpResponse {
        let Some(hook) = self.hook.lock().clone() else {
            return HttpResponse::text(503, "the integration is not started");
        };
        let (status, text) = webhook::handle(&hook, request.header(signature::HEADER), &request.body).await;
        HttpResponse::text(status, text)
    }

    async fn health(&self) -> Health {
        let mut health = Health::healthy();
        let path = self.settings.webhook_path(&self.name);
        match (self.hook.lock().is_some(), self.settings.listen, self.server.lock().as_ref()) {
            (false, _, _) => {
                health.status = HealthStatus::Unhealthy;
                health.checks.insert("webhook".into(), "not started".into());
            }
            (true, None, _) => {
                health.checks.insert("webhook".into(), format!("served by herald at {path}"));
            }
            (true, Some(_), Some((task, addr))) if !task.is_finished() => {
                health.checks.insert("webhook".into(), format!("served by herald at {path} and on {addr}"));
            }
            (true, Some(listen), _) => {
                health.status = HealthStatus::Unhealthy;
                health.checks.insert("webhook".into(), format!("not listening on {listen}"));
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
        self.hook.lock().take();
    }
}

impl OpenMessaging {
    /// Post the delivery's inbound message, within the attempt's deadline.
    async fn send(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let body = deliver::inbound_message(delivery, self.settings.customer_nickname.as_deref())?;
        let path = deliver::inbound_message_path(&self.settings.integration_id);
        within(delivery.deadline, async { self.genesys.post(&path, &body, delivery.deadline).await })
            .await
            .and_then(|answer| deliver::receipt(&answer))
    }
}

herald_plugin::export_plugin!(OpenMessagingPlugin);
