//! The `teams` adapter: the bot endpoint, proactive messages to agents, and presence sync.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use herald_core::template::render;
use herald_core::{
    ChannelContext, ChannelError, ConfigProblem, Content, Delivery, Health, HealthStatus, HttpInbound,
    MessagingChannel, PresenceSync, Receipt, Target,
};
use herald_genesys::GenesysClient;
use tokio_util::sync::CancellationToken;

use crate::bot::{self, Bot};
use crate::connector::{Connector, ConnectorError, RetryPolicy};
use crate::graph::{budget_limiter, GraphClient};
use crate::identity::IdentityCheck;
use crate::jwt::BotAuthenticator;
use crate::openid::KeyCache;
use crate::presence::{subscribe, Engine};
use crate::references::ReferenceStore;
use crate::settings::TeamsSettings;
use crate::stats::{names, Stats};
use crate::throttle::Throttle;
use crate::tokens::{Grant, TokenSource};

/// Scope of Bot Connector tokens.
pub const BOT_SCOPE: &str = "https://api.botframework.com/.default";
/// Scope of Graph application tokens.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// One Teams integration.
pub struct TeamsAdapter {
    name: String,
    settings: TeamsSettings,
    refs: Arc<ReferenceStore>,
    connector: Arc<Connector>,
    bot: Arc<Bot>,
    presence: Option<Arc<Engine>>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    started: AtomicBool,
}

fn problem(path: &str, msg: impl Into<String>) -> Vec<ConfigProblem> {
    vec![ConfigProblem::new(path, msg)]
}

impl TeamsAdapter {
    /// Builds the adapter (no network). `path` is the settings' key path for error messages.
    pub fn build(name: &str, settings: TeamsSettings, path: &str) -> Result<Self, Vec<ConfigProblem>> {
        let problems = settings.problems(path);
        if !problems.is_empty() {
            return Err(problems);
        }
        herald_genesys::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| problem(path, format!("cannot build the HTTP client: {e}")))?;
        let auth = BotAuthenticator::new(&settings.app_id, KeyCache::new(http.clone(), &settings.openid_metadata_url));
        let bot_token = TokenSource::new(
            http.clone(),
            &settings.login_base,
            &settings.bot_token_tenant,
            &settings.app_id,
            settings.app_password.clone(),
            BOT_SCOPE,
            Grant::ClientCredentials,
        );
        let policy = RetryPolicy {
            max_retries: settings.max_retries,
            max_retry_after: Duration::from_secs(settings.max_retry_after_secs),
            backoff_base: Duration::from_millis(500),
        };
        let connector = Arc::new(Connector::new(
            http.clone(),
            bot_token,
            Throttle::new(settings.tenant_rps),
            policy,
            &settings.app_id,
        ));
        let links: Vec<(String, String)> =
            settings.links.iter().map(|l| (l.genesys_user_id.clone(), l.teams_aad_id.clone())).collect();
        let refs = Arc::new(ReferenceStore::new(name, settings.state_path.clone(), &links));
        let stats = Arc::new(Stats::default());
        let mut identity = None;
        let presence = match &settings.genesys {
            Some(g) => {
                let genesys =
                    GenesysClient::new(g.clone()).map_err(|e| problem(&format!("{path}.genesys"), e.to_string()))?;
                let graph_id = settings.graph.client_id.clone().unwrap_or_else(|| settings.app_id.clone());
                let graph_secret =
                    settings.graph.client_secret.clone().unwrap_or_else(|| settings.app_password.clone());
                let app_token = TokenSource::new(
                    http.clone(),
                    &settings.login_base,
                    &settings.tenant_id,
                    &graph_id,
                    graph_secret.clone(),
                    GRAPH_SCOPE,
                    Grant::ClientCredentials,
                );
                let delegated = settings.graph.delegated.as_ref().map(|d| {
                    TokenSource::new(
                        http.clone(),
                        &settings.login_base,
                        &settings.tenant_id,
                        &graph_id,
                        graph_secret.clone(),
                        GRAPH_SCOPE,
                        Grant::Password { username: d.username.clone(), password: d.password.clone() },
                    )
                });
                let p = &settings.presence;
                let budget =
                    budget_limiter(p.budget_requests, Duration::from_secs(p.budget_window_secs), p.budget_share);
                let graph =
                    Arc::new(GraphClient::new(http, settings.graph_base(), app_token, delegated, budget, graph_id));
                identity = Some(Arc::new(IdentityCheck::new(graph.clone(), genesys.clone())));
                (p.teams_to_genesys || p.genesys_to_teams)
                    .then(|| Arc::new(Engine::new(p.clone(), refs.clone(), graph, genesys, stats.clone())))
            }
            None => None,
        };
        let bot = Arc::new(Bot {
            auth,
            refs: refs.clone(),
            connector: connector.clone(),
            presence: presence.clone(),
            stats: stats.clone(),
            app_id: settings.app_id.clone(),
            tenant_id: settings.tenant_id.clone(),
            identity,
        });
        Ok(TeamsAdapter {
            name: name.to_string(),
            settings,
            refs,
            connector,
            bot,
            presence,
            stats,
            cancel: CancellationToken::new(),
            started: AtomicBool::new(false),
        })
    }

    /// The reference and link store.
    pub fn references(&self) -> &Arc<ReferenceStore> {
        &self.refs
    }

    /// The presence engine, when presence sync is configured.
    pub fn presence_engine(&self) -> Option<&Arc<Engine>> {
        self.presence.as_ref()
    }

    fn text_of(content: &Content) -> Result<String, ChannelError> {
        let text = match content {
            Content::Text { text } => text.clone(),
            Content::Template { template, variables } => {
                render(template, |k| variables.get(k).cloned()).map_err(|e| {
                    ChannelError::invalid("content.variables", e.to_string(), "give a value for every placeholder")
                })?
            }
            Content::CannedResponse { .. } => {
                return Err(ChannelError::invalid(
                    "content.type",
                    "canned responses are a Genesys chat feature and cannot be sent to Teams",
                    "send `text` or a `template`",
                ))
            }
        };
        if text.trim().is_empty() {
            return Err(ChannelError::invalid("content.text", "is empty", "send a non-empty message"));
        }
        Ok(text)
    }
}

#[async_trait]
impl MessagingChannel for TeamsAdapter {
    fn kind(&self) -> &str {
        "teams"
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn start(&self, ctx: ChannelContext) -> Result<(), ChannelError> {
        if self.started.load(Ordering::SeqCst) {
            return Ok(());
        }
        // References and links live in the host's state store from now on (the old state file is imported once).
        self.refs.attach(ctx.state.clone()).await.map_err(|e| {
            ChannelError::permanent(format!(
                "integration `{}`: cannot open its Teams references: {e}; fix or remove `state_path`",
                self.name
            ))
        })?;
        if self.started.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let cancel = ctx.shutdown.clone();
        let mine = self.cancel.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            mine.cancel();
        });
        if let Some(engine) = &self.presence {
            engine.start(&ctx, self.cancel.clone());
        }
        Ok(())
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let agent = match &delivery.notification.target {
            Target::Agent { id } => id.clone(),
            other => {
                return Err(ChannelError::invalid(
                    "target.type",
                    format!("is `{}`; the teams integration delivers to agents only", other.kind()),
                    "use {\"type\":\"agent\",\"id\":\"<genesys user id>\"}",
                ))
            }
        };
        let text = Self::text_of(&delivery.notification.content)?;
        let store_down = |e: herald_core::StoreError| {
            ChannelError::transient(format!("the Teams reference store is unavailable: {e}"))
        };
        let aad = self.refs.teams_of(&agent).await.map_err(store_down)?.ok_or_else(|| {
            ChannelError::not_found(
                "agent link",
                &agent,
                "link the agent: add a [[links]] entry or have the agent send `link <genesys-user-id>` to the bot",
            )
        })?;
        let reference = self.refs.get(&aad).await.map_err(store_down)?.ok_or_else(|| {
            ChannelError::not_found(
                "Teams conversation reference",
                &aad,
                "the agent must install the bot in Teams (personal scope) so herald receives its conversation reference",
            )
        })?;
        let conversation = match &reference.conversation_id {
            Some(c) => c.clone(),
            None => {
                let c = self
                    .connector
                    .create_conversation(&reference.service_url, &reference.teams_user_id, &reference.tenant_id)
                    .await
                    .map_err(|e| e.into_channel_error(&agent))?;
                if let Err(e) = self.refs.set_conversation(&aad, &c).await {
                    tracing::warn!(error = %e, "could not store the new 1:1 conversation id; it is created again next time");
                }
                c
            }
        };
        match self.connector.send_message(&reference.service_url, &conversation, &text, None).await {
            Ok((id, _op)) => {
                self.stats.incr(names::PROACTIVE);
                Ok(Receipt {
                    upstream_message_id: Some(id),
                    conversation_id: Some(conversation),
                    route: "teams".into(),
                    delivered_at: Utc::now(),
                })
            }
            Err(e) => {
                let forgotten = match &e {
                    ConnectorError::Blocked { .. } => self.refs.remove(&aad).await,
                    ConnectorError::ConversationNotFound => self.refs.clear_conversation(&aad).await,
                    ConnectorError::Other(_) => Ok(()),
                };
                if let Err(store) = forgotten {
                    tracing::warn!(error = %store, "could not update the Teams reference after a refused send");
                }
                Err(e.into_channel_error(&agent))
            }
        }
    }

    async fn health(&self) -> Health {
        let mut checks = BTreeMap::new();
        let mut status =
            if self.started.load(Ordering::SeqCst) { HealthStatus::Healthy } else { HealthStatus::Starting };
        let (fetched, err) = self.connector.token().status();
        checks.insert("bot_token".into(), err.clone().unwrap_or_else(|| format!("ok ({fetched} fetched)")));
        if err.is_some() {
            status = HealthStatus::Degraded;
        }
        let (refreshes, kerr, nkeys) = self.bot.auth.keys().stats();
        checks.insert(
            "signing_keys".into(),
            kerr.map(|e| format!("{nkeys} keys; last refresh failed: {e}"))
                .unwrap_or_else(|| format!("{nkeys} keys, {refreshes} refreshes")),
        );
        let references = match self.refs.reference_count().await {
            Ok(n) => format!("{n} stored"),
            Err(e) => {
                status = HealthStatus::Degraded;
                format!("store unavailable: {e}")
            }
        };
        checks.insert("references".into(), references);
        if let Some(p) = &self.presence {
            let h = p.health();
            let poll = match (&h.poll_error, h.last_poll) {
                (Some(e), _) => {
                    status = HealthStatus::Degraded;
                    format!("failing: {e}")
                }
                (None, Some(t)) => format!("last round {}", t.to_rfc3339()),
                (None, None) => "not yet run".into(),
            };
            checks.insert("presence_poll".into(), poll);
            if self.settings.presence.notification_url.is_some() {
                let s = match &h.subscription_error {
                    Some(e) => {
                        status = HealthStatus::Degraded;
                        format!("{} live; last error: {e}", h.subscriptions)
                    }
                    None => format!("{} live", h.subscriptions),
                };
                checks.insert("graph_subscriptions".into(), s);
            }
            if let Some(s) = p.stream_health() {
                if !s.connected && self.started.load(Ordering::SeqCst) {
                    status = HealthStatus::Degraded;
                }
                checks.insert(
                    "genesys_stream".into(),
                    format!("{}/{} channels connected, {} reconnects", s.connected_channels, s.channels, s.reconnects),
                );
            }
        }
        Health { status, checks }
    }

    async fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Ready once started: before that the references are not in the host's store yet.
    async fn ready(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    fn as_http_inbound(&self) -> Option<&dyn HttpInbound> {
        Some(self)
    }

    fn as_presence(&self) -> Option<&dyn PresenceSync> {
        self.presence.as_ref().map(|_| self as &dyn PresenceSync)
    }
}

impl HttpInbound for TeamsAdapter {
    fn routes(&self) -> Router {
        let mut r = Router::new().route(&self.settings.bot_path, post(bot::messages)).with_state(self.bot.clone());
        if let Some(engine) = &self.presence {
            let n = Router::new()
                .route(&self.settings.presence.notification_path, post(subscribe::notifications))
                .with_state(engine.clone());
            r = r.merge(n);
        }
        r
    }
}

#[async_trait]
impl PresenceSync for TeamsAdapter {
    async fn sync_stats(&self) -> BTreeMap<String, u64> {
        self.stats.snapshot()
    }
}
