//! The event pipeline: adapters publish events; the event loop applies them to the session store and releases
//! deferred notifications; rule workers evaluate the rules off that path.
//!
//! Rule evaluation enqueues notifications (one durable write each) and may query sessions, so it runs in
//! [`RULE_WORKERS`] workers fed by bounded queues: a slow rule no longer holds up session updates, and the event
//! loop only waits when a worker's queue is full. Events are spread over the workers by conversation (or agent, or
//! customer), so the rules see the events of one conversation in order.
//!
//! Both stages are supervised ([`super::supervisor`]): their receivers live here, outside the tasks, so a restarted
//! incarnation picks up where the failed one stopped. At shutdown each stage closes its queue and drains what is
//! already in it before it returns.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use herald_core::{Event, EventKind, SessionState, SessionStore};
use tokio::sync::mpsc::{self, Receiver, Sender};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::supervisor::Supervisor;
use crate::dispatcher::Dispatcher;
use crate::rules::RuleEngine;

/// Events adapters may publish before they wait for the event loop.
pub const EVENT_QUEUE: usize = 10_000;
/// Rule workers (each evaluates its events in order).
pub const RULE_WORKERS: usize = 4;
/// Events waiting for one rule worker before the event loop waits for it.
pub const RULE_QUEUE: usize = 1_000;
/// The event loop's task name.
pub const EVENT_LOOP_TASK: &str = "event-loop";

/// The name of rule worker `i`.
pub fn rule_worker_task(i: usize) -> String {
    format!("rule-worker-{i}")
}

type Shared<T> = Arc<Mutex<Receiver<T>>>;

/// Start the event loop and the rule workers under `supervisor`; returns the sender adapters publish into.
pub fn start(
    supervisor: &Supervisor,
    sessions: Arc<dyn SessionStore>,
    dispatcher: Dispatcher,
    rules: RuleEngine,
) -> Sender<Event> {
    let (events_tx, events_rx) = mpsc::channel::<Event>(EVENT_QUEUE);
    let events_rx: Shared<Event> = Arc::new(Mutex::new(events_rx));
    let mut rule_queues = Vec::with_capacity(RULE_WORKERS);
    for i in 0..RULE_WORKERS {
        let (tx, rx) = mpsc::channel::<Event>(RULE_QUEUE);
        rule_queues.push(tx);
        let rx: Shared<Event> = Arc::new(Mutex::new(rx));
        let rules = rules.clone();
        supervisor.spawn(&rule_worker_task(i), move |stop| rule_worker(rx.clone(), rules.clone(), stop));
    }
    let rule_queues = Arc::new(rule_queues);
    supervisor.spawn(EVENT_LOOP_TASK, move |stop| {
        event_loop(events_rx.clone(), sessions.clone(), dispatcher.clone(), rule_queues.clone(), stop)
    });
    events_tx
}

/// Receive until `stop`, then close the queue and drain what it holds.
async fn consume<F, Fut>(rx: Shared<Event>, stop: CancellationToken, mut handle: F)
where
    F: FnMut(Event) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut rx = rx.lock().await;
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(event) => handle(event).await,
                // Every sender is gone: nothing more can arrive; wait to be stopped.
                None => return stop.cancelled().await,
            },
            _ = stop.cancelled() => break,
        }
    }
    rx.close();
    let mut drained = 0usize;
    while let Some(event) = rx.recv().await {
        handle(event).await;
        drained += 1;
    }
    if drained > 0 {
        info!(count = drained, "Processed the events still queued at shutdown.");
    }
}

async fn event_loop(
    rx: Shared<Event>,
    sessions: Arc<dyn SessionStore>,
    dispatcher: Dispatcher,
    rule_queues: Arc<Vec<Sender<Event>>>,
    stop: CancellationToken,
) {
    consume(rx, stop, |event| {
        let (sessions, dispatcher, rule_queues) = (&sessions, &dispatcher, &rule_queues);
        async move {
            apply(sessions.as_ref(), dispatcher, &event).await;
            let worker = partition(&event, rule_queues.len());
            if let Some(queue) = rule_queues.get(worker) {
                if queue.send(event).await.is_err() {
                    warn!(worker, "A rule worker's queue is closed (shutting down); the event skips the rules.");
                }
            }
        }
    })
    .await
}

/// Apply a session event to the store and release the customer's deferred notifications into a connected
/// conversation.
async fn apply(sessions: &dyn SessionStore, dispatcher: &Dispatcher, event: &Event) {
    let Some(session) = event.kind.session() else { return };
    if !matches!(event.kind, EventKind::QueueWaitExceeded { .. }) {
        if let Err(e) = sessions.upsert(session.clone()).await {
            warn!(error = %e, conversation = %session.conversation_id, "Could not store a session update.");
        }
    }
    // On every event of a connected conversation, not only when it becomes connected: a notification deferred while
    // this newer conversation was already open (its target was an older, closed one) is picked up on the next
    // event. The lookup is one prefix scan of the deferred index per customer id.
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

async fn rule_worker(rx: Shared<Event>, rules: RuleEngine, stop: CancellationToken) {
    consume(rx, stop, |event| {
        let rules = &rules;
        async move {
            rules.handle(&event).await;
        }
    })
    .await
}

/// The worker for `event`: events about one conversation (or agent, or customer) always go to the same worker.
fn partition(event: &Event, workers: usize) -> usize {
    let key: &str = match &event.kind {
        EventKind::MessageReceived { conversation_id, .. } => conversation_id,
        EventKind::AgentPresenceChanged { agent_id, .. } | EventKind::AgentBecameAvailable { agent_id } => agent_id,
        EventKind::Named { name, attributes } => {
            attributes.get("conversation_id").or_else(|| attributes.get("customer_id")).unwrap_or(name)
        }
        kind => kind.session().map(|s| s.conversation_id.as_str()).unwrap_or(""),
    };
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % workers.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::{MediaKind, Session};

    #[test]
    fn one_conversation_always_goes_to_one_worker() {
        let session = Session::new("conv-1", "web", MediaKind::WebMessaging, chrono::Utc::now());
        let opened = Event::now("web", EventKind::SessionOpened { session: session.clone() });
        let message = Event::now(
            "web",
            EventKind::MessageReceived {
                conversation_id: "conv-1".into(),
                sender: herald_core::Sender::Customer,
                text: None,
            },
        );
        assert_eq!(partition(&opened, RULE_WORKERS), partition(&message, RULE_WORKERS));
        assert!(partition(&opened, RULE_WORKERS) < RULE_WORKERS);
        assert_eq!(partition(&opened, 0), 0);
    }
}
