//! Presence sync between Teams and Genesys Cloud, both ways, without ping-pong.
//!
//! - [`poll`]: Graph `getPresencesByUserId` in batches within the presence budget (Teams → Genesys);
//! - [`subscribe`]: Graph change notifications (delegated credentials), with the validation handshake,
//!   `clientState` checks, renewal and a resync after any gap;
//! - [`genesys`]: the Genesys notification stream (`v2.users.{id}.presence`) (Genesys → Teams, and the On Queue
//!   guard's knowledge);
//! - [`echo`]: recognises herald's own writes coming back;
//! - [`map`]: the mapping tables.
//!
//! The [`Engine`] holds what each side last reported per linked agent and applies the rules: publish
//! `AgentPresenceChanged`/`AgentBecameAvailable`, skip echoes, never touch an On Queue agent (when guarded), skip
//! no-op writes, then write and remember the write.

pub mod echo;
pub mod genesys;
pub mod map;
pub mod poll;
pub mod subscribe;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::{ChannelError, EventKind, EventSink, PresenceSource};
use herald_genesys::stream::StreamHealthHandle;
use herald_genesys::GenesysClient;
use parking_lot::Mutex;
use tokio::sync::{watch, Notify};

use crate::graph::GraphClient;
use crate::references::ReferenceStore;
use crate::settings::{PresenceSettings, TeamsWriteMode};
use crate::stats::{names, Stats};
use echo::{Direction, EchoGuard};
use map::Mapping;

/// What herald last saw of one agent.
#[derive(Debug, Clone, Default)]
struct AgentState {
    teams_availability: Option<String>,
    teams_activity: Option<String>,
    genesys_definition: Option<String>,
    genesys_system: Option<String>,
}

/// Health facts of the sync.
#[derive(Debug, Clone, Default)]
pub struct SyncHealth {
    /// Last complete poll round.
    pub last_poll: Option<DateTime<Utc>>,
    /// Last poll error.
    pub poll_error: Option<String>,
    /// Live subscriptions.
    pub subscriptions: usize,
    /// Last subscription error.
    pub subscription_error: Option<String>,
}

/// The sync engine.
pub struct Engine {
    settings: PresenceSettings,
    refs: Arc<ReferenceStore>,
    graph: Arc<GraphClient>,
    genesys: GenesysClient,
    stats: Arc<Stats>,
    mapping: Mapping,
    echo: EchoGuard,
    agents: Mutex<HashMap<String, AgentState>>,
    events: OnceLock<EventSink>,
    links: watch::Sender<u64>,
    resync: Notify,
    health: Mutex<SyncHealth>,
    stream: Mutex<Option<StreamHealthHandle>>,
    client_state: String,
}

impl Engine {
    /// An engine (nothing runs until [`Engine::start`]).
    pub fn new(
        settings: PresenceSettings,
        refs: Arc<ReferenceStore>,
        graph: Arc<GraphClient>,
        genesys: GenesysClient,
        stats: Arc<Stats>,
    ) -> Self {
        let mapping = Mapping::new(&settings.teams_to_genesys_map, &settings.genesys_to_teams_map);
        let client_state = match &settings.client_state {
            Some(s) if !s.is_empty() => s.expose().to_string(),
            _ => format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
        };
        Engine {
            echo: EchoGuard::new(Duration::from_secs(settings.echo_ttl_secs)),
            settings,
            refs,
            graph,
            genesys,
            stats,
            mapping,
            agents: Mutex::new(HashMap::new()),
            events: OnceLock::new(),
            links: watch::channel(0).0,
            resync: Notify::new(),
            health: Mutex::new(SyncHealth::default()),
            stream: Mutex::new(None),
            client_state,
        }
    }

    /// Starts the poller, the subscription manager and the Genesys stream reader as supervised tasks of the host
    /// (`ctx.spawn_task`): one that ends while `cancel` is not cancelled is restarted and reported.
    pub fn start(self: &Arc<Self>, ctx: &herald_core::ChannelContext, cancel: tokio_util::sync::CancellationToken) {
        let _ = self.events.set(ctx.events.clone());
        if self.settings.teams_to_genesys {
            self.supervise(ctx, "poll", &cancel, poll::run);
            if self.settings.notification_url.is_some() && self.graph.has_delegated() {
                self.supervise(ctx, "subscriptions", &cancel, subscribe::run);
            }
        }
        if self.settings.genesys_to_teams {
            self.supervise(ctx, "genesys-stream", &cancel, genesys::run);
        }
    }

    /// Run `task` under the host's supervision until `cancel`; after `cancel` an incarnation waits for its stop
    /// (the integration is shutting down: not a failure).
    fn supervise<Fut>(
        self: &Arc<Self>,
        ctx: &herald_core::ChannelContext,
        what: &str,
        cancel: &tokio_util::sync::CancellationToken,
        task: fn(Arc<Engine>, tokio_util::sync::CancellationToken) -> Fut,
    ) where
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (engine, cancel) = (self.clone(), cancel.clone());
        ctx.spawn_task(format!("teams-presence-{what}:{}", ctx.events.integration()), move |stop| {
            let (engine, cancel) = (engine.clone(), cancel.clone());
            async move {
                tokio::select! {
                    _ = task(engine, cancel.clone()) => {}
                    _ = stop.cancelled() => return,
                }
                if cancel.is_cancelled() {
                    stop.cancelled().await;
                }
            }
        });
    }

    /// The settings.
    pub fn settings(&self) -> &PresenceSettings {
        &self.settings
    }

    /// The `clientState` of herald's subscriptions.
    pub(crate) fn client_state(&self) -> &str {
        &self.client_state
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Health facts.
    pub fn health(&self) -> SyncHealth {
        self.health.lock().clone()
    }

    /// The Genesys stream's health, once it runs.
    pub fn stream_health(&self) -> Option<herald_genesys::StreamHealth> {
        self.stream.lock().as_ref().map(StreamHealthHandle::get)
    }

    /// Links changed (bot `link`/`unlink`): the stream and subscriptions are rebuilt, the poller picks them up.
    pub fn links_changed(&self) {
        self.links.send_modify(|n| *n += 1);
        self.resync.notify_one();
    }

    /// Asks the poller for an immediate full resync.
    pub fn request_resync(&self) {
        self.resync.notify_one();
    }

    /// `(genesys user id, aad id)` of every linked agent (only the config's when the store cannot be read).
    pub async fn linked(&self) -> Vec<(String, String)> {
        match self.refs.links().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the stored agent links; using the config's only");
                self.refs.config_links()
            }
        }
    }

    /// Checks that a Genesys user exists (for the bot's `link`).
    pub async fn check_genesys_user(&self, id: &str) -> Result<(), ChannelError> {
        self.genesys.get_presence(id).await.map(|_| ())
    }

    /// One line about an agent's presence on both sides (the bot's `status`).
    pub fn describe(&self, genesys_id: &str) -> String {
        let a = self.agents.lock().get(genesys_id).cloned().unwrap_or_default();
        format!(
            "Teams: {}; Genesys Cloud: {}.",
            a.teams_availability.as_deref().unwrap_or("unknown yet"),
            a.genesys_system.as_deref().unwrap_or("unknown yet")
        )
    }

    async fn publish(&self, kind: EventKind) {
        if let Some(sink) = self.events.get() {
            sink.publish(kind).await;
        }
    }

    /// A Teams presence observed (poll or notification) for the Teams user `aad`.
    pub async fn on_teams_presence(&self, aad: &str, availability: &str, activity: &str) {
        let agent = match self.refs.genesys_of(aad).await {
            Ok(Some(a)) => a,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the agent links; Teams presence change ignored");
                return;
            }
        };
        let previous = {
            let mut agents = self.agents.lock();
            let st = agents.entry(agent.clone()).or_default();
            let prev = st.teams_availability.clone();
            if prev.as_deref() == Some(availability) && st.teams_activity.as_deref() == Some(activity) {
                return;
            }
            st.teams_availability = Some(availability.to_string());
            st.teams_activity = Some(activity.to_string());
            prev
        };
        let Some(prev) = previous else { return }; // first observation: the baseline
        self.publish(EventKind::AgentPresenceChanged {
            agent_id: agent.clone(),
            source: PresenceSource::Teams,
            presence: availability.to_string(),
            previous: Some(prev),
        })
        .await;
        if self.echo.is_echo(&agent, Direction::ToTeams, availability) {
            self.stats.incr(names::ECHO_TEAMS);
            return;
        }
        if !self.settings.teams_to_genesys {
            return;
        }
        let Some(definition) = self.mapping.genesys_for(availability, activity).map(str::to_string) else {
            self.stats.incr(names::UNMAPPED);
            return;
        };
        let (current_def, current_sys) = match self.genesys_now(&agent).await {
            Ok(x) => x,
            Err(e) => {
                self.stats.incr(names::WRITE_ERRORS);
                tracing::warn!(agent = %agent, error = %e, "could not read the Genesys presence; change not copied");
                return;
            }
        };
        if self.settings.guard_on_queue && current_sys.as_deref().is_some_and(map::is_on_queue) {
            self.stats.incr(names::GUARD_ON_QUEUE);
            return;
        }
        if self.echo.is_noop(&agent, Direction::ToGenesys, &definition, current_def.as_deref()) {
            return;
        }
        self.echo.remember(&agent, Direction::ToGenesys, &definition);
        match self.genesys.set_presence(&agent, &definition).await {
            Ok(_) => self.stats.incr(names::GENESYS_WRITES),
            Err(e) => {
                self.stats.incr(names::WRITE_ERRORS);
                tracing::warn!(agent = %agent, error = %e, "could not write the Genesys presence");
            }
        }
    }

    /// The agent's Genesys presence: as tracked from the stream, else read (and tracked).
    async fn genesys_now(&self, agent: &str) -> Result<(Option<String>, Option<String>), ChannelError> {
        if let Some(st) = self.agents.lock().get(agent).filter(|s| s.genesys_system.is_some()) {
            return Ok((st.genesys_definition.clone(), st.genesys_system.clone()));
        }
        let p = self.genesys.get_presence(agent).await?.body;
        let def = p.presence_definition.unwrap_or_default();
        let mut agents = self.agents.lock();
        let st = agents.entry(agent.to_string()).or_default();
        st.genesys_definition = def.id.clone();
        st.genesys_system = def.system_presence.clone();
        Ok((def.id, def.system_presence))
    }

    /// Forgets the tracked Genesys presence of every agent (after a stream gap), so the guard reads it fresh.
    pub(crate) fn forget_genesys(&self) {
        for st in self.agents.lock().values_mut() {
            st.genesys_system = None;
            st.genesys_definition = None;
        }
    }

    /// A Genesys presence event for `agent`.
    pub async fn on_genesys_presence(&self, agent: &str, definition: Option<String>, system: &str) {
        if !matches!(self.refs.teams_of(agent).await, Ok(Some(_))) {
            return;
        }
        let previous = {
            let mut agents = self.agents.lock();
            let st = agents.entry(agent.to_string()).or_default();
            let prev = st.genesys_system.clone();
            let same_def = definition.is_some() && st.genesys_definition == definition;
            if same_def && prev.as_deref() == Some(system) {
                return;
            }
            st.genesys_definition = definition.clone();
            st.genesys_system = Some(system.to_string());
            prev
        };
        self.publish(EventKind::AgentPresenceChanged {
            agent_id: agent.to_string(),
            source: PresenceSource::Genesys,
            presence: system.to_string(),
            previous: previous.clone(),
        })
        .await;
        if map::is_available(system) && previous.as_deref().is_some_and(|p| !map::is_available(p)) {
            self.publish(EventKind::AgentBecameAvailable { agent_id: agent.to_string() }).await;
        }
        if let Some(def) = &definition {
            if self.echo.is_echo(agent, Direction::ToGenesys, def) {
                self.stats.incr(names::ECHO_GENESYS);
                return;
            }
        }
        if !self.settings.genesys_to_teams {
            return;
        }
        let Some((availability, activity)) =
            self.mapping.teams_for(system).map(|(a, b)| (a.to_string(), b.to_string()))
        else {
            self.stats.incr(names::UNMAPPED);
            return;
        };
        let Ok(Some(aad)) = self.refs.teams_of(agent).await else { return };
        let teams_now = self.agents.lock().get(agent).and_then(|s| s.teams_availability.clone());
        if self.echo.is_noop(agent, Direction::ToTeams, &availability, teams_now.as_deref()) {
            return;
        }
        self.echo.remember(agent, Direction::ToTeams, &availability);
        let exp = self.settings.expiration.as_deref();
        let result = match self.settings.write_mode {
            TeamsWriteMode::Preferred => self.graph.set_preferred(&aad, &availability, &activity, exp).await,
            TeamsWriteMode::Session => {
                let (a, b) = map::session_pair(&availability, &activity);
                self.graph.set_session(&aad, &a, &b, exp).await
            }
        };
        match result {
            Ok(()) => self.stats.incr(names::TEAMS_WRITES),
            Err(e) => {
                self.stats.incr(names::WRITE_ERRORS);
                tracing::warn!(agent = %agent, error = %e, "could not write the Teams presence");
            }
        }
    }

    pub(crate) fn set_health(&self, f: impl FnOnce(&mut SyncHealth)) {
        f(&mut self.health.lock());
    }

    pub(crate) fn set_stream(&self, h: Option<StreamHealthHandle>) {
        *self.stream.lock() = h;
    }

    pub(crate) fn links_receiver(&self) -> watch::Receiver<u64> {
        self.links.subscribe()
    }

    pub(crate) fn graph(&self) -> &GraphClient {
        &self.graph
    }

    pub(crate) fn resync_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.resync.notified()
    }
}
