//! The rule engine: matches events against `[[rule]]`s and enqueues the notifications they ask for.
//!
//! Rate limits (per rule, per minute) and cooldowns (per rule and target) are kept in memory: after a restart a rule
//! may fire once more for a target inside its cooldown. Every notification records the rule that produced it and
//! carries an idempotency key derived from the rule, the event and the target, so one event never produces two
//! notifications for the same target.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_core::template::render;
use herald_core::{
    Content, Enqueued, Event, EventKind, Notification, Outbox, Session, SessionQuery, SessionState, SessionStore,
    Target,
};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use super::config::{RuleConfig, RuleTarget};
use super::time_window::TimeWindow;
use super::vars;
use crate::dispatcher::Dispatcher;

/// Matches events against rules; cheap to clone.
#[derive(Clone)]
pub struct RuleEngine {
    inner: Arc<Inner>,
}

struct Inner {
    rules: Vec<RuleConfig>,
    outbox: Arc<dyn Outbox>,
    sessions: Arc<dyn SessionStore>,
    dispatcher: Dispatcher,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// (rule, target) → last time the rule notified that target.
    cooldowns: HashMap<(String, String), Instant>,
    /// rule → timestamps of notifications in the last minute.
    rates: HashMap<String, Vec<Instant>>,
    /// Conversations waiting in a queue: id → (session, integration).
    waiting: HashMap<String, (Session, String)>,
    /// (rule, conversation) pairs whose queue-wait rule already fired.
    fired_waits: BTreeSet<(String, String)>,
}

impl RuleEngine {
    /// An engine over the given rules.
    pub fn new(
        rules: Vec<RuleConfig>,
        outbox: Arc<dyn Outbox>,
        sessions: Arc<dyn SessionStore>,
        dispatcher: Dispatcher,
    ) -> Self {
        RuleEngine {
            inner: Arc::new(Inner { rules, outbox, sessions, dispatcher, state: Mutex::new(State::default()) }),
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

    /// Every second, fire queue-wait rules whose threshold has passed. Runs until `stop`.
    pub async fn run_timers(self, stop: CancellationToken) {
        if !self.inner.rules.iter().any(|r| r.when == "queue_wait_exceeded") {
            return;
        }
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => return,
            }
            self.check_waits().await;
        }
    }

    /// Fire queue-wait rules whose threshold has passed (also called by tests).
    pub async fn check_waits(&self) -> Vec<Uuid> {
        let now = Utc::now();
        let due: Vec<(RuleConfig, Event)> = {
            let mut state = self.inner.state.lock();
            let mut due = Vec::new();
            let waiting: Vec<(Session, String)> = state.waiting.values().cloned().collect();
            for (session, integration) in waiting {
                let since = session.queued_at.unwrap_or(session.opened_at);
                let waited = (now - since).num_seconds().max(0) as u64;
                for rule in self.inner.rules.iter().filter(|r| r.when == "queue_wait_exceeded") {
                    let key = (rule.name.clone(), session.conversation_id.clone());
                    if waited >= rule.wait_secs.unwrap_or(u64::MAX) && !state.fired_waits.contains(&key) {
                        state.fired_waits.insert(key);
                        let event = Event::now(
                            integration.clone(),
                            EventKind::QueueWaitExceeded { session: session.clone(), waited_secs: waited },
                        );
                        due.push((rule.clone(), event));
                    }
                }
            }
            due
        };
        let mut created = Vec::new();
        for (rule, event) in due {
            info!(rule = %rule.name, conversation = event.kind.session().map(|s| s.conversation_id.as_str()).unwrap_or(""), "Customer waited past the rule's threshold.");
            created.extend(self.fire(&rule, &event).await);
        }
        created
    }

    fn track_wait(&self, event: &Event) {
        let Some(session) = event.kind.session() else { return };
        if matches!(event.kind, EventKind::QueueWaitExceeded { .. }) {
            return;
        }
        let mut state = self.inner.state.lock();
        if session.state == SessionState::Queued {
            state.waiting.insert(session.conversation_id.clone(), (session.clone(), event.integration.clone()));
        } else {
            state.waiting.remove(&session.conversation_id);
            if session.state == SessionState::Closed {
                state.fired_waits.retain(|(_, c)| c != &session.conversation_id);
            }
        }
    }

    async fn fire(&self, rule: &RuleConfig, event: &Event) -> Vec<Uuid> {
        let vars = vars::of(event);
        if !conditions_hold(rule, event, &vars) {
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
            if !self.admit(rule, &target) {
                continue;
            }
            let notification = Notification {
                id: Uuid::new_v4(),
                idempotency_key: Some(format!(
                    "rule:{}:{}:{}",
                    rule.name,
                    event.id,
                    target.ordering_key(&rule.action.integration)
                )),
                integration: rule.action.integration.clone(),
                target,
                content: content.clone(),
                created_at: Utc::now(),
                expires_at: rule.action.expires_in_secs.map(|s| Utc::now() + chrono::Duration::seconds(s as i64)),
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
                Err(e) => warn!(rule = %rule.name, error = %e, "Could not enqueue a rule's notification."),
            }
        }
        created
    }

    /// Rate limit and cooldown; records the firing when admitted.
    fn admit(&self, rule: &RuleConfig, target: &Target) -> bool {
        let now = Instant::now();
        let mut state = self.inner.state.lock();
        let key = (rule.name.clone(), target.ordering_key(&rule.action.integration));
        if rule.action.cooldown_secs > 0 {
            if let Some(last) = state.cooldowns.get(&key) {
                if now.duration_since(*last) < Duration::from_secs(rule.action.cooldown_secs) {
                    metrics::counter!("herald_rule_suppressed_total", "rule" => rule.name.clone(), "why" => "cooldown")
                        .increment(1);
                    return false;
                }
            }
        }
        if rule.action.max_per_minute > 0 {
            let window = state.rates.entry(rule.name.clone()).or_default();
            window.retain(|t| now.duration_since(*t) < Duration::from_secs(60));
            if window.len() >= rule.action.max_per_minute as usize {
                metrics::counter!("herald_rule_suppressed_total", "rule" => rule.name.clone(), "why" => "rate")
                    .increment(1);
                return false;
            }
            window.push(now);
        }
        state.cooldowns.insert(key, now);
        true
    }

    async fn targets(
        &self,
        rule: &RuleConfig,
        event: &Event,
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
                let _ = event;
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
