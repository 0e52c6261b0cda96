//! The web chat adapter driven directly (no herald service): the session events it publishes from the
//! `…conversations.chats` stream, a queued chat answered `transient` until an agent joins, and the after-crash
//! check (`confirm_delivery`) finding a send in the chat. Everything waits on events or deadlines, never sleeps.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use herald_core::store::memory::MemorySessionStore;
use herald_core::{
    AdapterFactory, ChannelContext, ClosedPolicy, Content, Delivery, DeliveryMode, ErrorClass, Event, EventKind,
    EventSink, IntegrationSpec, MessagingChannel, Notification, SessionState, SessionStore, Target,
};
use herald_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use herald_webchat::guest::{ChatGuest, GuestEvent, GuestOptions};
use herald_webchat::WebChatFactory;
use tokio::sync::mpsc;

const SUPPORT_QUEUE: &str = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10";
const ALICE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const WAIT: Duration = Duration::from_secs(20);

struct Rig {
    emulator: EmulatorHandle,
    adapter: Arc<dyn MessagingChannel>,
    sessions: Arc<MemorySessionStore>,
    events: mpsc::UnboundedReceiver<Event>,
    shutdown: tokio_util::sync::CancellationToken,
    guest_opts: GuestOptions,
}

/// The seeded emulator with a request limit high enough for 1,000 chats, and guest options for its chat
/// deployment.
async fn emulator() -> (EmulatorHandle, GuestOptions) {
    herald::tls::install_crypto_provider();
    let mut cfg = EmulatorConfig::default_org();
    cfg.limits.requests_per_minute = 1_000_000;
    let org = cfg.org.id.clone();
    let deployment = cfg.chat_deployments.first().map(|d| d.id.clone()).expect("chat deployment");
    let emulator = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("emulator");
    let guest_opts = GuestOptions::new(emulator.base_url(), org, deployment, "Support", "Gus Guest");
    (emulator, guest_opts)
}

impl Rig {
    async fn start() -> Rig {
        let (emulator, guest_opts) = emulator().await;
        Rig::start_on(emulator, guest_opts).await
    }

    /// Builds and starts the adapter against `emulator` and waits for its stream.
    async fn start_on(emulator: EmulatorHandle, guest_opts: GuestOptions) -> Rig {
        let settings = format!(
            "base_url = \"{}\"\nclient_id = \"herald-demo\"\nclient_secret = \"herald-demo-secret\"\nqueue_ids = [\"{SUPPORT_QUEUE}\"]\nrequests_per_minute = 600000\nburst = 1000\n[stream]\nreconnect_base_ms = 50\nreconnect_max_secs = 1",
            emulator.base_url()
        );
        let spec = IntegrationSpec {
            name: "wc".into(),
            kind: "webchat".into(),
            closed_policy: ClosedPolicy::Defer,
            settings: toml::from_str(&settings).expect("settings"),
            path: "integration[0]".into(),
        };
        let adapter = WebChatFactory.build(&spec).expect("build");
        assert_eq!(adapter.delivery_guarantee(), herald_core::DeliveryGuarantee::ExactlyOnce);
        assert!(!adapter.ready().await, "not ready before start");
        let sessions = Arc::new(MemorySessionStore::new());
        let (sink, mut rx) = EventSink::channel("wc", 4096);
        let (tx, events) = mpsc::unbounded_channel();
        let store = sessions.clone();
        // The host's part: apply session events to the store, then hand them to the test.
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if let Some(s) = ev.kind.session() {
                    let _ = store.upsert(s.clone()).await;
                }
                if tx.send(ev).is_err() {
                    break;
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
        let mut rig = Rig { emulator, adapter, sessions, events, shutdown, guest_opts };
        rig.wait_stream().await;
        rig
    }

    /// Waits until the adapter's stream is connected (health), so no chat event is missed.
    async fn wait_stream(&mut self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.adapter.health().await.status != herald_core::HealthStatus::Healthy {
            assert!(
                tokio::time::Instant::now() < deadline,
                "stream did not connect: {:?}",
                self.adapter.health().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The next session event about `conv` in `state`; panics after `WAIT`.
    async fn wait_event(&mut self, conv: &str, state: SessionState) -> EventKind {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ev = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no session event for {conv} in {state:?}"))
                .expect("event channel open");
            if ev.kind.session().is_some_and(|s| s.conversation_id == conv && s.state == state) {
                return ev.kind;
            }
        }
    }

    async fn stop(self) {
        self.adapter.shutdown().await;
        self.shutdown.cancel();
        self.emulator.shutdown().await;
    }
}

fn delivery(target: Target, text: &str, previous_attempt_at: Option<chrono::DateTime<Utc>>) -> Delivery {
    Delivery {
        notification: Notification {
            id: uuid::Uuid::new_v4(),
            idempotency_key: None,
            integration: "wc".into(),
            target,
            content: Content::Text { text: text.into() },
            created_at: Utc::now(),
            expires_at: None,
            closed_policy: None,
            rule: None,
        },
        mode: DeliveryMode::Normal,
        attempt: 1,
        previous_attempt_at,
        deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(30),
    }
}

/// Session events from the stream carry the agent communication and the guest member id; a queued chat is
/// `transient` until an agent joins; a closed chat is `target_closed` naming the guest as customer.
#[tokio::test]
async fn webchat_adapter_tracks_chats_and_classifies_queued_and_closed() {
    let mut rig = Rig::start().await;
    let control = rig.emulator.control();
    control.set_presence(ALICE, "Available").expect("alice off queue");
    let mut guest = ChatGuest::join(&rig.guest_opts).await.expect("join");
    let conv = guest.conversation_id().to_string();
    let target = Target::Conversation { id: conv.clone() };

    let err = rig.adapter.deliver(&delivery(target.clone(), "Still there?", None)).await.expect_err("queued");
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert!(err.to_string().contains("waiting in queue"), "{err}");

    control.set_presence(ALICE, "On Queue").expect("alice on queue");
    let connected = rig.wait_event(&conv, SessionState::Connected).await;
    let session = connected.session().expect("a session event").clone();
    assert!(session.agent_communication_id().is_some(), "{session:?}");
    assert_eq!(session.customer.guest_id.as_deref(), Some(guest.member_id()));
    assert_eq!(session.media, herald_core::MediaKind::WebChat);

    let receipt =
        rig.adapter.deliver(&delivery(target.clone(), "An agent is with you now.", None)).await.expect("sent");
    assert_eq!(receipt.route, "chat");
    let seen = guest.wait_agent_message(WAIT, |m| m.body == "An agent is with you now.").await.expect("guest sees it");
    assert_eq!(receipt.upstream_message_id.as_deref(), Some(seen.id.as_str()));

    let member = guest.member_id().to_string();
    guest.leave().await.expect("leave");
    rig.wait_event(&conv, SessionState::Closed).await;
    match rig.adapter.deliver(&delivery(target, "Too late", None)).await {
        Err(herald_core::ChannelError::TargetClosed { conversation_id, customer, .. }) => {
            assert_eq!(conversation_id, conv);
            assert_eq!(customer.as_deref(), Some(member.as_str()));
        }
        other => panic!("{other:?}"),
    }
    assert!(rig.sessions.get(&conv).await.expect("store").is_some_and(|s| s.state == SessionState::Closed));
    rig.stop().await;
}

/// After a crash between send and record, `confirm_delivery` finds the message in the chat (no double send),
/// and says "not sent" for a text that is not there.
#[tokio::test]
async fn webchat_adapter_confirms_interrupted_sends() {
    let mut rig = Rig::start().await;
    let mut guest = ChatGuest::join(&rig.guest_opts).await.expect("join");
    guest
        .wait_for(WAIT, |e| matches!(e, GuestEvent::Member(m) if m.role == "AGENT" && m.state == "CONNECTED"))
        .await
        .expect("agent joins");
    let conv = guest.conversation_id().to_string();
    rig.wait_event(&conv, SessionState::Connected).await;
    let target = Target::Conversation { id: conv.clone() };
    let before = Utc::now();
    let sent = rig.adapter.deliver(&delivery(target.clone(), "Your order shipped.", None)).await.expect("sent");
    let twice = rig.adapter.deliver(&delivery(target.clone(), "Your order shipped.", None)).await.expect("sent");
    assert_ne!(sent.upstream_message_id, twice.upstream_message_id);

    // Both same-text messages are candidates, oldest first, each naming its message and chat.
    let again = delivery(target.clone(), "Your order shipped.", Some(before));
    let found = rig.adapter.confirm_delivery(&again).await.expect("check");
    let ids: Vec<_> = found.iter().map(|r| r.upstream_message_id.clone()).collect();
    assert_eq!(ids, vec![sent.upstream_message_id.clone(), twice.upstream_message_id.clone()], "{found:?}");
    assert!(found.iter().all(|r| r.conversation_id.as_deref() == Some(conv.as_str())), "{found:?}");

    let never = delivery(target, "A text never sent.", Some(before));
    assert_eq!(rig.adapter.confirm_delivery(&never).await.expect("check"), Vec::new());
    rig.stop().await;
}

/// A (re)start with 1,000 open chats upstream that herald's store does not know: discovery pages through the
/// queue's open chats in analytics and the store holds every one once the adapter is ready.
#[tokio::test]
async fn webchat_adapter_start_learns_all_of_a_thousand_open_chats() {
    let (emulator, guest_opts) = emulator().await;
    let mut guests = Vec::new();
    for _ in 0..20 {
        let batch = (0..50).map(|_| ChatGuest::join(&guest_opts));
        for g in futures::future::join_all(batch).await {
            guests.push(g.expect("join"));
        }
    }
    let ids: Vec<String> = guests.iter().map(|g| g.conversation_id().to_string()).collect();
    let rig = Rig::start_on(emulator, guest_opts).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while !(rig.adapter.ready().await && rig.sessions.len().await.expect("store") >= 1_000) {
        assert!(tokio::time::Instant::now() < deadline, "store knows {:?} chats", rig.sessions.len().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rig.sessions.len().await.expect("store"), 1_000);
    for id in &ids {
        let s = rig.sessions.get(id).await.expect("store").unwrap_or_else(|| panic!("{id} unknown to herald"));
        assert!(s.is_open(), "{s:?}");
    }
    drop(guests);
    rig.stop().await;
}
