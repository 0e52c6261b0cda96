//! The web messaging adapter driven directly (no herald service) against the emulator: the after-timeout check
//! (`confirm_delivery`) returns every message that could be the delivery, oldest first, also for agentless sends;
//! and a start with 1,000 open conversations upstream learns every one of them (discovery pages through
//! analytics) before the adapter says it is ready. Waits are deadlines on conditions, never sleeps.

mod webmessaging_support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use herald_core::store::memory::MemorySessionStore;
use herald_core::{
    AdapterFactory, ChannelContext, ClosedPolicy, Content, Delivery, DeliveryGuarantee, DeliveryMode, EventSink,
    IntegrationSpec, MessagingChannel, Notification, SessionState, SessionStore, Target,
};
use herald_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use herald_webmessaging::WebMessagingFactory;
use webmessaging_support::{Guest, DEPLOYMENT, SUPPORT_QUEUE, WAIT};

struct Rig {
    emulator: EmulatorHandle,
    adapter: Arc<dyn MessagingChannel>,
    sessions: Arc<MemorySessionStore>,
    shutdown: tokio_util::sync::CancellationToken,
}

/// The emulator with a request limit high enough for 1,000 conversations, and a `wm` adapter (not started).
async fn emulator() -> EmulatorHandle {
    herald::tls::install_crypto_provider();
    let mut cfg = EmulatorConfig::default_org();
    cfg.limits.requests_per_minute = 1_000_000;
    Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("emulator")
}

impl Rig {
    /// Builds and starts the adapter against `emulator`; the host's part (events → store) runs in a task.
    async fn start(emulator: EmulatorHandle) -> Rig {
        Rig::start_with(emulator, Arc::new(MemorySessionStore::new())).await
    }

    /// Like [`start`](Rig::start), with a store that already holds sessions (a restart).
    async fn start_with(emulator: EmulatorHandle, sessions: Arc<MemorySessionStore>) -> Rig {
        let settings = format!(
            "base_url = \"{}\"\nclient_id = \"herald-demo\"\nclient_secret = \"herald-demo-secret\"\n\
             deployment_id = \"{DEPLOYMENT}\"\nqueue_ids = [\"{SUPPORT_QUEUE}\"]\nrequests_per_minute = 600000\n\
             burst = 1000\n[stream]\nreconnect_base_ms = 50\nreconnect_max_secs = 1",
            emulator.base_url()
        );
        let spec = IntegrationSpec {
            name: "wm".into(),
            kind: "webmessaging".into(),
            closed_policy: ClosedPolicy::Defer,
            settings: toml::from_str(&settings).expect("settings"),
            path: "integration[0]".into(),
        };
        let adapter = WebMessagingFactory.build(&spec).expect("build");
        assert_eq!(adapter.delivery_guarantee(), DeliveryGuarantee::ExactlyOnce);
        assert!(!adapter.ready().await, "not ready before start");
        let (sink, mut rx) = EventSink::channel("wm", 4096);
        let store = sessions.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let Some(s) = ev.kind.session() {
                    let _ = store.upsert(s.clone()).await;
                }
            }
        });
        let shutdown = tokio_util::sync::CancellationToken::new();
        let ctx = ChannelContext {
            events: sink,
            sessions: sessions.clone(),
            state: std::sync::Arc::new(herald_core::store::memory_state::MemoryStateStore::new()),
            shutdown: shutdown.clone(),
            tasks: std::sync::Arc::new(herald_core::tasks::RestartingSpawner::new(shutdown.clone())),
        };
        adapter.start(ctx).await.expect("start");
        Rig { emulator, adapter, sessions, shutdown }
    }

    /// Waits until `cond` holds, polling every 20 ms; panics after `limit` with `what`.
    async fn until<F, Fut>(limit: Duration, what: &str, mut cond: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + limit;
        while !cond().await {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_ready(&self) {
        Rig::until(WAIT, "the adapter to be ready", || self.adapter.ready()).await;
    }

    /// A guest whose conversation herald knows as connected, with the agent's communication id.
    async fn connected_guest(&self) -> (Guest, String) {
        let mut guest = Guest::connect(&self.emulator.ws_base_url(), DEPLOYMENT).await;
        guest.configure(false).await;
        guest.say("Hello, I have a question").await;
        let control = self.emulator.control();
        let mut conv = String::new();
        Rig::until(WAIT, "the guest's conversation to be answered", || {
            let c = control.guest_conversation(&guest.token);
            let answered =
                c.as_ref().is_some_and(|c| control.conversation(c).is_ok_and(|s| !s.connected_agent_ids.is_empty()));
            if answered {
                conv = c.unwrap_or_default();
            }
            async move { answered }
        })
        .await;
        let sessions = self.sessions.clone();
        let id = conv.clone();
        Rig::until(WAIT, "herald to know the conversation as connected", || {
            let sessions = sessions.clone();
            let id = id.clone();
            async move {
                sessions
                    .get(&id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.state == SessionState::Connected && s.agent_communication_id().is_some())
            }
        })
        .await;
        (guest, conv)
    }

    async fn stop(self) {
        self.adapter.shutdown().await;
        self.shutdown.cancel();
        self.emulator.shutdown().await;
    }
}

fn delivery(target: Target, mode: DeliveryMode, text: &str, previous: Option<chrono::DateTime<Utc>>) -> Delivery {
    let notification = Notification {
        id: uuid::Uuid::new_v4(),
        idempotency_key: None,
        integration: "wm".into(),
        target,
        content: Content::Text { text: text.into() },
        created_at: Utc::now(),
        expires_at: None,
        closed_policy: None,
        rule: None,
    };
    let mut d = Delivery::new(notification, mode, 1, Duration::from_secs(30));
    d.previous_attempt_at = previous;
    d
}

/// Two notifications with the same text into one conversation: the check returns both messages, oldest first,
/// naming the ids the sends returned; a text never sent gives an empty answer.
#[tokio::test]
async fn confirm_returns_every_same_text_message_in_order() {
    let rig = Rig::start(emulator().await).await;
    rig.wait_ready().await;
    let (mut guest, conv) = rig.connected_guest().await;
    let target = Target::Conversation { id: conv.clone() };
    let before = Utc::now();
    let text = "Your parcel is on its way.";
    let first = rig.adapter.deliver(&delivery(target.clone(), DeliveryMode::Normal, text, None)).await.expect("first");
    let second =
        rig.adapter.deliver(&delivery(target.clone(), DeliveryMode::Normal, text, None)).await.expect("second");
    assert_ne!(first.upstream_message_id, second.upstream_message_id);
    guest.wait_outbound(text).await;

    let found = rig
        .adapter
        .confirm_delivery(&delivery(target.clone(), DeliveryMode::Normal, text, Some(before)))
        .await
        .expect("check");
    let ids: Vec<_> = found.iter().map(|r| r.upstream_message_id.clone()).collect();
    assert_eq!(ids, vec![first.upstream_message_id.clone(), second.upstream_message_id.clone()], "{found:?}");
    assert!(found.iter().all(|r| r.conversation_id.as_deref() == Some(conv.as_str())), "{found:?}");
    assert!(found[0].delivered_at <= found[1].delivered_at);

    let never = delivery(target.clone(), DeliveryMode::Normal, "A text never sent.", Some(before));
    assert_eq!(rig.adapter.confirm_delivery(&never).await.expect("check"), Vec::new());

    // A conversation Genesys does not know holds no message of the attempt.
    let unknown = Target::Conversation { id: "00000000-0000-4000-8000-00000000dead".into() };
    let nowhere = delivery(unknown, DeliveryMode::Normal, text, Some(before));
    assert_eq!(rig.adapter.confirm_delivery(&nowhere).await.expect("check"), Vec::new());

    // Messages older than the attempt (minus the clock-skew allowance) are not candidates.
    let later = delivery(target, DeliveryMode::Normal, text, Some(Utc::now() + chrono::Duration::seconds(60)));
    assert_eq!(rig.adapter.confirm_delivery(&later).await.expect("check"), Vec::new());
    rig.stop().await;
}

/// An agentless send is found by the check too (through the customer's conversations), with its message id.
#[tokio::test]
async fn confirm_finds_agentless_sends() {
    let rig = Rig::start(emulator().await).await;
    rig.wait_ready().await;
    let (mut guest, _conv) = rig.connected_guest().await;
    let contact = rig.emulator.control().guest_contact(&guest.token).expect("the guest's external contact");
    let target = Target::Customer { id: contact };
    let before = Utc::now();
    let text = "A proactive note without an agent.";
    let sent = rig.adapter.deliver(&delivery(target.clone(), DeliveryMode::Agentless, text, None)).await.expect("sent");
    assert_eq!(sent.route, "agentless");
    guest.wait_outbound(text).await;
    let found = rig
        .adapter
        .confirm_delivery(&delivery(target.clone(), DeliveryMode::Agentless, text, Some(before)))
        .await
        .expect("check");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].conversation_id, sent.conversation_id, "{found:?}");
    let never = delivery(target, DeliveryMode::Agentless, "Never sent agentless.", Some(before));
    assert_eq!(rig.adapter.confirm_delivery(&never).await.expect("check"), Vec::new());
    rig.stop().await;
}

/// Opens `n` guest conversations on the emulator (50 at a time); returns the guests and their conversation ids.
async fn open_conversations(emulator: &EmulatorHandle, n: usize) -> (Vec<Guest>, Vec<String>) {
    let control = emulator.control();
    let ws = emulator.ws_base_url();
    let mut guests = Vec::new();
    while guests.len() < n {
        let batch = (0..50.min(n - guests.len())).map(|i| {
            let ws = ws.clone();
            async move {
                let mut g = Guest::connect(&ws, DEPLOYMENT).await;
                g.configure(false).await;
                g.say(&format!("hello from guest {i}")).await;
                g
            }
        });
        guests.extend(futures::future::join_all(batch).await);
    }
    let mut ids: Vec<String> = Vec::new();
    Rig::until(WAIT * 3, "the guests' conversations in the emulator", || {
        ids = guests.iter().filter_map(|g| control.guest_conversation(&g.token)).collect();
        let done = ids.len() == n;
        async move { done }
    })
    .await;
    (guests, ids)
}

/// A restart whose store believes 450 conversations open (more than two resync pages) while 400 of them closed
/// upstream during the downtime: the resync pages through the store with its cursor and every closed one is
/// known closed, every open one open, before the adapter is ready.
#[tokio::test]
async fn a_restart_rereads_every_stored_open_session_page_by_page() {
    let emulator = emulator().await;
    let (guests, ids) = open_conversations(&emulator, 450).await;
    let store = Arc::new(MemorySessionStore::new());
    let stale = Utc::now() - chrono::Duration::minutes(5);
    for id in &ids {
        let mut s = herald_core::Session::new(id.clone(), "wm", herald_core::MediaKind::WebMessaging, stale);
        s.state = SessionState::Queued;
        store.upsert(s).await.expect("seed the store");
    }
    let control = emulator.control();
    let (closed, open) = ids.split_at(400);
    for id in closed {
        control.disconnect_conversation(id).expect("close upstream");
    }
    let rig = Rig::start_with(emulator, store).await;
    Rig::until(Duration::from_secs(300), "the first discovery pass", || rig.adapter.ready()).await;
    let sessions = rig.sessions.clone();
    let want_closed: Vec<String> = closed.to_vec();
    Rig::until(WAIT, "every session closed upstream to be known closed", || {
        let sessions = sessions.clone();
        let want = want_closed.clone();
        async move {
            for id in &want {
                if !sessions.get(id).await.ok().flatten().is_some_and(|s| s.state == SessionState::Closed) {
                    return false;
                }
            }
            true
        }
    })
    .await;
    for id in open {
        let s = rig.sessions.get(id).await.expect("store").expect("known");
        assert!(s.is_open(), "{s:?}");
    }
    drop(guests);
    rig.stop().await;
}

/// A (re)start with 1,000 open conversations upstream that herald's store does not know: discovery pages
/// through all of them and the store holds every one before the adapter is ready.
#[tokio::test]
async fn a_start_learns_all_of_a_thousand_open_conversations() {
    let emulator = emulator().await;
    let (guests, open) = open_conversations(&emulator, 1_000).await;

    let rig = Rig::start(emulator).await;
    Rig::until(Duration::from_secs(300), "the first discovery pass", || rig.adapter.ready()).await;
    let sessions = rig.sessions.clone();
    Rig::until(WAIT, "the host to store every discovered session", || {
        let sessions = sessions.clone();
        async move { sessions.len().await.is_ok_and(|n| n >= 1_000) }
    })
    .await;
    assert_eq!(rig.sessions.len().await.expect("store"), 1_000);
    for id in &open {
        let s = rig.sessions.get(id).await.expect("store").unwrap_or_else(|| panic!("{id} unknown to herald"));
        assert!(s.is_open(), "{s:?}");
    }
    drop(guests);
    rig.stop().await;
}
