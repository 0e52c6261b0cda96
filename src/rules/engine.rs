//! The rule engine: matches events against `[[rule]]`s and enqueues the notifications they ask for.
//!
//! Cooldowns (per rule and target), rate windows (per rule, a sliding minute) and "this waiting episode was already
//! handled" live in the state store ([`RuleState`]), so a restart repeats nothing inside a cooldown and greets no
//! waiting customer twice; the engine's own memory is only the bounded index of waiting conversations
//! ([`Waits`]). A rule never fires for an episode that herald's own message began ([`EchoMarks`]). Every
//! notification records the rule that produced it and carries an idempotency key derived from the rule, the event
//! (for queue waits: the conversation and the start of its waiting episode) and the target, so one event never
//! produces two notifications for the same target.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::template::render;
use herald_core::{
    Content, Enqueued, Event, EventKind, Notification, Outbox, Session, SessionQuery, SessionState, SessionStore,
    StateStore, Target,
};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::config::{RuleConfig, RuleTarget};
use super::echo::EchoMarks;
use super::state::{RuleState, Suppressed};
use super::time_window::TimeWindow;
use super::vars;
use super::waits::{Wait, Waits};
use crate::dispatcher::Dispatcher;

/// How often the timers look for due queue waits.
const TICK: Duration = Duration::from_millis(250);
/// How often expired state is purged from the store.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Matches events against rules; cheap to clone.
#[derive(Clone)]
pub struct RuleEngine {
    inner: Arc<Inner>,
}

struct Inner {
    rules: Vec<RuleConfig>,
    /// Indexes of the `queue_wait_exceeded` rules in `rules`.
    wait_rules: Vec<usize>,
    outbox: Arc<dyn Outbox>,
    sessions: Arc<dyn SessionStore>,
    state: RuleState,
    echo: EchoMarks,
    dispatcher: Dispatcher,
    waits: Mutex<Waits>,
}

/// The session an event is about and when its episode began (by the session, and by when herald saw it), for the
/// events a rule could take herald's own message for. Queue waits are checked by the timers (`fire_wait`), which
/// know when herald saw the episode begin.
fn episode_start(event: &Event) -> Option<(&Session, Vec<DateTime<Utc>>)> {
    match &event.kind {
        EventKind::SessionOpened { session } => Some((session, vec![session.opened_at, event.at])),
        _ => None,
    }
}

/// The part of the idempotency key that names the event: the waiting episode for queue waits (stable across
/// restarts, so a re-fired greeting is the same notification), else the event id.
fn event_key(event: &Event) -> String {
    match &event.kind {
        EventKind::QueueWaitExceeded { session, .. } => format!(
            "wait:{}:{}",
            session.conversation_id,
            session.queued_at.unwrap_or(session.opened_at).timestamp_millis()
        ),
        _ => event.id.to_string(),
    }
}

impl RuleEngine {
    /// An engine over the given rules, keeping its state in `state` (the service passes the store's state store,
    /// the same one the [`MarkingOutbox`](super::MarkingOutbox) given to the dispatcher records into).
    pub fn new(
        rules: Vec<RuleConfig>,
        outbox: Arc<dyn Outbox>,
        sessions: Arc<dyn SessionStore>,
        state: Arc<dyn StateStore>,
        dispatcher: Dispatcher,
    ) -> Self {
        let wait_rules =
            rules.iter().enumerate().filter(|(_, r)| r.when == "queue_wait_exceeded").map(|(i, _)| i).collect();
        RuleEngine {
            inner: Arc::new(Inner {
                rules,
                wait_rules,
                outbox,
                sessions,
                echo: EchoMarks::new(state.clone()),
                state: RuleState::new(state),
                dispatcher,
                waits: Mutex::new(Waits::default()),
            }),
        }
    }

    /// Handle one event: track queue waits, fire every matching rule. Returns the notifications created.
    pub async fn handle(&self, event: &Event) -> Vec<Uuid> {
        self.track_wait(event);
        let mut created = Vec::new();
        for rule in self.inner.rules.iter().filter(|r| matches_when(r, event)) {
            created.extend(self.fire(rule, event).await);
        }
        created
    }

    /// Resume tracking the conversations the session store says are waiting (after a restart), then every
    /// [`TICK`] fire queue-wait rules whose threshold has passed, and every [`PURGE_EVERY`] purge expired state.
    /// Runs until `stop`.
    pub async fn run_timers(self, stop: CancellationToken) {
        if !self.inner.wait_rules.is_empty() {
            self.resume_waits().await;
        }
        let mut tick = tokio::time::interval(TICK);
        let mut purge = tokio::time::interval(PURGE_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => { self.check_waits().await; }
                _ = purge.tick() => self.purge_expired().await,
                _ = stop.cancelled() => return,
            }
        }
    }

    /// Track every session the store holds as queued (a restarted engine learns who is waiting without waiting
    /// for their next event). At most [`MAX_WAITING`](super::waits::MAX_WAITING). Returns how many.
    pub async fn resume_waits(&self) -> usize {
        let mut after = None;
        let mut count = 0;
        while count < super::waits::MAX_WAITING {
            let query =
                SessionQuery { state: Some(SessionState::Queued), after: after.clone(), ..SessionQuery::default() };
            let page = match self.inner.sessions.query(&query).await {
                Ok(p) => p,
                Err(e) => {
                    warn!(error = %e, "could not read the waiting sessions to resume queue-wait rules");
                    break;
                }
            };
            let Some(last) = page.last() else { break };
            after = Some((last.updated_at, last.conversation_id.clone()));
            let mut waits = self.inner.waits.lock();
            for s in &page {
                waits.insert(&s.conversation_id, &s.integration, s.queued_at.unwrap_or(s.opened_at), None);
                count += 1;
            }
        }
        if count > 0 {
            info!(count, "Resumed queue-wait tracking of waiting conversations.");
        }
        count
    }

    /// Remove expired rule state (cooldowns, rate windows, episode marks) from the store.
    pub async fn purge_expired(&self) {
        match self.inner.state.store().purge_expired(Utc::now()).await {
            Ok(0) => {}
            Ok(n) => debug!(count = n, "purged expired state"),
            Err(e) => warn!(error = %e, "could not purge expired state"),
        }
    }

    /// Number of conversations tracked as waiting, and the size of their index (for tests of boundedness).
    pub fn waiting_sizes(&self) -> (usize, usize) {
        self.inner.waits.lock().sizes()
    }

    /// Fire queue-wait rules whose threshold has passed (also called by tests).
    pub async fn check_waits(&self) -> Vec<Uuid> {
        let inner = &self.inner;
        let Some(shortest) = inner.wait_rules.iter().map(|&i| inner.rules[i].wait_secs.unwrap_or(u64::MAX)).min()
        else {
            return Vec::new();
        };
        let now = Utc::now();
        // A threshold beyond chrono's range can never be reached.
        let Some(cutoff) = i64::try_from(shortest).ok().and_then(chrono::Duration::try_seconds).map(|d| now - d) else {
            return Vec::new();
        };
        let candidates = inner.waits.lock().began_by(cutoff);
        let mut created = Vec::new();
        for wait in candidates {
            let waited = u64::try_from((now - wait.since).num_seconds()).unwrap_or(0);
            for &index in &inner.wait_rules {
                let rule = &inner.rules[index];
                if wait.fired.contains(&index) || waited < rule.wait_secs.unwrap_or(u64::MAX) {
                    continue;
                }
                created.extend(self.fire_wait(index, &wait, waited, now).await);
            }
        }
        created
    }

    /// Fire queue-wait rule `index` for one waiting episode, unless it was handled before (durable mark) or the
    /// conversation is not waiting in that episode any more; then mark it handled.
    async fn fire_wait(&self, index: usize, wait: &Wait, waited: u64, now: DateTime<Utc>) -> Vec<Uuid> {
        let inner = &self.inner;
        let rule = &inner.rules[index];
        let conv = wait.conversation_id.as_str();
        match inner.state.fired(&rule.name, conv, wait.since, now).await {
            Ok(false) => {}
            Ok(true) => {
                inner.waits.lock().mark_fired(conv, wait.since, index, &inner.wait_rules);
                return Vec::new();
            }
            Err(e) => {
                warn!(rule = %rule.name, conversation = conv, error = %e, "cannot tell whether a queue-wait rule fired already; trying on the next tick");
                return Vec::new();
            }
        }
        let session = match inner.sessions.get(conv).await {
            Ok(Some(s)) if s.state == SessionState::Queued && s.queued_at.unwrap_or(s.opened_at) == wait.since => s,
            Ok(_) => {
                // Connected, closed, re-queued or purged meanwhile: this episode is over.
                inner.waits.lock().remove(conv);
                return Vec::new();
            }
            Err(e) => {
                warn!(conversation = conv, error = %e, "cannot read a waiting session; trying on the next tick");
                return Vec::new();
            }
        };
        let starts: Vec<DateTime<Utc>> = std::iter::once(wait.since).chain(wait.seen_at).collect();
        let created = if self.began_with_herald(rule, conv, &starts, "queue_wait_exceeded").await {
            Vec::new()
        } else {
            let event =
                Event::now(wait.integration.clone(), EventKind::QueueWaitExceeded { session, waited_secs: waited });
            info!(rule = %rule.name, conversation = conv, waited_secs = waited, "Customer waited past the rule's threshold.");
            self.fire(rule, &event).await
        };
        if let Err(e) = inner.state.mark_fired(&rule.name, conv, wait.since, now).await {
            warn!(rule = %rule.name, conversation = conv, error = %e, "could not record a fired queue-wait rule; its notification's idempotency key still prevents a second one");
        }
        inner.waits.lock().mark_fired(conv, wait.since, index, &inner.wait_rules);
        created
    }

    fn track_wait(&self, event: &Event) {
        let Some(session) = event.kind.session() else { return };
        if matches!(event.kind, EventKind::QueueWaitExceeded { .. }) || self.inner.wait_rules.is_empty() {
            return;
        }
        let mut waits = self.inner.waits.lock();
        if session.state == SessionState::Queued {
            let since = session.queued_at.unwrap_or(session.opened_at);
            waits.insert(&session.conversation_id, &event.integration, since, Some(event.at));
        } else {
            waits.remove(&session.conversation_id);
        }
    }

    /// Whether the event is about an episode herald's own message began (then no rule fires for it).
    async fn own_echo(&self, rule: &RuleConfig, event: &Event) -> bool {
        let Some((session, starts)) = episode_start(event) else { return false };
        self.began_with_herald(rule, &session.conversation_id, &starts, event.kind.name()).await
    }

    /// Whether an episode of `conversation` that began at one of `starts` began with herald's own message; counted
    /// and logged when so. A failed check counts as "yes": better no rule message than one answering herald itself.
    async fn began_with_herald(
        &self,
        rule: &RuleConfig,
        conversation: &str,
        starts: &[DateTime<Utc>],
        event: &str,
    ) -> bool {
        match self.inner.echo.began_with_herald(conversation, starts).await {
            Ok(false) => false,
            Ok(true) => {
                info!(rule = %rule.name, conversation, event, "Not firing: herald's own message began this episode.");
                metrics::counter!("herald_rule_suppressed_total", "rule" => rule.name.clone(), "why" => "own_message")
                    .increment(1);
                true
            }
            Err(e) => {
                warn!(rule = %rule.name, error = %e, "cannot check herald's own messages; not firing rather than risk answering ourselves");
                true
            }
        }
    }

    async fn fire(&self, rule: &RuleConfig, event: &Event) -> Vec<Uuid> {
        let vars = vars::of(event);
        if !conditions_hold(rule, event, &vars) || self.own_echo(rule, event).await {
            return Vec::new();
        }
        let targets = match self.targets(rule, event, &vars).await {
            Ok(t) => t,
            Err(why) => {
                warn!(rule = %rule.name, event = event.kind.name(), "Rule matched but no target: {why}");
                return Vec::new();
            }
        };
        let content = match content(rule, &vars) {
            Ok(c) => c,
            Err(why) => {
                warn!(rule = %rule.name, "Rule matched but its content cannot be rendered: {why}");
                return Vec::new();
            }
        };
        let mut created = Vec::new();
        for target in targets {
            let target_key = target.ordering_key(&rule.action.integration);
            let now = Utc::now();
            let a = &rule.action;
            if let Err(why) =
                self.inner.state.admit(&rule.name, &target_key, a.cooldown_secs, a.max_per_minute, now).await
            {
                metrics::counter!("herald_rule_suppressed_total", "rule" => rule.name.clone(), "why" => why.label())
                    .increment(1);
                if why == Suppressed::Store {
                    warn!(rule = %rule.name, target = %target, "Rule message held back: its state is unavailable.");
                }
                continue;
            }
            let notification = Notification {
                id: Uuid::new_v4(),
                idempotency_key: Some(format!("rule:{}:{}:{}", rule.name, event_key(event), target_key)),
                integration: rule.action.integration.clone(),
                target,
                content: content.clone(),
                created_at: now,
                expires_at: rule
                    .action
                    .expires_in_secs
                    .map(|s| herald_core::retry::add_to(now, Duration::from_secs(s))),
                closed_policy: rule.action.closed_policy,
                rule: Some(rule.name.clone()),
            };
            match self.inner.outbox.enqueue(notification).await {
                Ok(Enqueued::Created(record)) => {
                    info!(rule = %rule.name, notification = %record.id(), target = %record.notification.target, "Rule produced a notification.");
                    metrics::counter!("herald_rule_notifications_total", "rule" => rule.name.clone()).increment(1);
                    created.push(record.id());
                    self.inner.dispatcher.schedule(record);
                }
                Ok(Enqueued::Existing(_)) => {}
                Err(e) => {
                    warn!(rule = %rule.name, error = %e, "Could not enqueue a rule's notification.");
                    if rule.action.cooldown_secs > 0 {
                        self.inner.state.release_cooldown(&rule.name, &target_key).await;
                    }
                }
            }
        }
        created
    }

    async fn targets(
        &self,
        rule: &RuleConfig,
        _event: &Event,
        vars: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Target>, String> {
        let need = |k: &str| vars.get(k).cloned().ok_or_else(|| format!("the event has no `{k}`"));
        match rule.action.target {
            RuleTarget::Conversation => Ok(vec![Target::Conversation { id: need("conversation_id")? }]),
            RuleTarget::Customer => Ok(vec![Target::Customer { id: need("customer_id")? }]),
            RuleTarget::Agent => Ok(vec![Target::Agent { id: need("agent_id")? }]),
            RuleTarget::AgentCustomers | RuleTarget::QueueCustomers => {
                let since = Utc::now() - chrono::Duration::hours(rule.action.since_hours.unwrap_or(24) as i64);
                let mut query = SessionQuery { since: Some(since), ..SessionQuery::default() };
                let queue = if rule.action.target == RuleTarget::AgentCustomers {
                    query.agent = Some(need("agent_id")?);
                    None
                } else {
                    Some(need("queue_id")?)
                };
                let sessions = self.inner.sessions.query(&query).await.map_err(|e| e.to_string())?;
                let mut seen = BTreeSet::new();
                let mut out = Vec::new();
                for s in sessions {
                    if queue.as_ref().is_some_and(|q| s.queue_id.as_ref() != Some(q)) {
                        continue;
                    }
                    if let Some(c) = s.customer.primary() {
                        if seen.insert(c.to_string()) {
                            out.push(Target::Customer { id: c.to_string() });
                        }
                    }
                }
                Ok(out)
            }
        }
    }
}

fn matches_when(rule: &RuleConfig, event: &Event) -> bool {
    match (&event.kind, rule.when.strip_prefix("event:")) {
        (EventKind::Named { name, .. }, Some(wanted)) => name == wanted,
        (EventKind::Named { .. }, None) | (_, Some(_)) => false,
        (EventKind::QueueWaitExceeded { .. }, None) => false, // fired by the timers for the matching rule only
        (kind, None) => kind.name() == rule.when,
    }
}

fn conditions_hold(rule: &RuleConfig, event: &Event, vars: &std::collections::BTreeMap<String, String>) -> bool {
    let c = &rule.conditions;
    let eq = |want: &Option<String>, key: &str| want.as_ref().is_none_or(|w| vars.get(key) == Some(w));
    if !eq(&c.integration, "integration")
        || !eq(&c.queue, "queue_id")
        || !eq(&c.agent, "agent_id")
        || !eq(&c.sender, "sender")
    {
        return false;
    }
    if let Some(customer) = &c.customer {
        let matches = match event.kind.session() {
            Some(s) => s.belongs_to(customer),
            None => vars.get("customer_id") == Some(customer),
        };
        if !matches {
            return false;
        }
    }
    if let Some(p) = &c.presence {
        if !vars.get("presence").is_some_and(|v| v.eq_ignore_ascii_case(p)) {
            return false;
        }
    }
    if c.attributes.iter().any(|(k, v)| vars.get(&format!("attr.{k}")) != Some(v)) {
        return false;
    }
    if let Some(w) = c.between.as_deref().and_then(TimeWindow::parse) {
        if !w.contains(event.at) {
            return false;
        }
    }
    true
}

fn content(rule: &RuleConfig, vars: &std::collections::BTreeMap<String, String>) -> Result<Content, String> {
    let fill = |t: &str| render(t, |k| vars.get(k).cloned()).map_err(|e| e.to_string());
    if let Some(text) = &rule.action.text {
        return Ok(Content::Text { text: fill(text)? });
    }
    let response_id = rule.action.canned_response.clone().unwrap_or_default();
    let mut variables = std::collections::BTreeMap::new();
    for (k, v) in &rule.action.variables {
        variables.insert(k.clone(), fill(v)?);
    }
    if let Some(name) = vars.get("customer_name") {
        variables.entry("CUSTOMER_NAME".into()).or_insert_with(|| name.clone());
    }
    Ok(Content::CannedResponse { response_id, variables })
}
