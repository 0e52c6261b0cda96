//! Legacy web chat end to end: the emulator and herald in-process, a headless chat guest (the crate's own
//! `guest` library) on the emulator's guest chat API, notifications posted to herald's API, and every text checked
//! where the guest sees it (its event stream). Waits are deadlines on events or polled states, never sleeps.

use std::time::Duration;

use herald_emulator::config::{ResponseConfig, ResponseTextConfig, SubstitutionConfig};
use herald_emulator::{Control, Emulator, EmulatorConfig, EmulatorHandle};
use herald_webchat::guest::{ChatGuest, GuestEvent, GuestOptions};
use serde_json::{json, Value};

const API_KEY: &str = "wc-test-key-0123456789abcdef";
const SUPPORT_QUEUE: &str = "4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10";
const ORDER_SHIPPED: &str = "9c8b7a6d-0000-4000-8000-000000000001";
const GREETING_HTML: &str = "9c8b7a6d-0000-4000-8000-000000000002";
/// A response added by these tests: `{{ticket}}` has no defaultValue.
const TICKET_UPDATE: &str = "9c8b7a6d-0000-4000-8000-0000000000c1";
const WAIT: Duration = Duration::from_secs(20);

struct Env {
    emulator: EmulatorHandle,
    herald: herald::service::RunningService,
    base: String,
    http: reqwest::Client,
    org: String,
    chat_deployment: String,
}

impl Env {
    async fn start(policy: &str) -> Env {
        herald::tls::install_crypto_provider();
        let mut cfg = EmulatorConfig::default_org();
        cfg.responses.push(ResponseConfig {
            id: TICKET_UPDATE.into(),
            name: "Ticket update".into(),
            library_id: "1b2c3d4e-0000-4000-8000-0000000000aa".into(),
            library_name: "Proactive".into(),
            interaction_type: "chat".into(),
            response_type: None,
            texts: vec![ResponseTextConfig {
                content: "Ticket {{ticket}} was updated by {{AGENT_NAME}}.".into(),
                content_type: "text/plain".into(),
                r#type: "body".into(),
            }],
            substitutions: vec![SubstitutionConfig {
                id: "ticket".into(),
                description: "Ticket number".into(),
                default_value: None,
            }],
        });
        let org = cfg.org.id.clone();
        let chat_deployment = cfg.chat_deployments.first().map(|d| d.id.clone()).expect("a seeded chat deployment");
        let emulator = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr")).await.expect("emulator");
        let emu = emulator.base_url();
        let text = format!(
            r#"
[service]
listen = "127.0.0.1:0"
api_keys = ["{API_KEY}"]

[store]
path = ":memory:"

[dispatcher]
concurrency = 16
max_attempts = 4
backoff_initial_ms = 50
backoff_max_ms = 500

[[integration]]
name = "wc"
kind = "webchat"
closed_policy = "{policy}"
[integration.settings]
base_url = "{emu}"
client_id = "herald-demo"
client_secret = "${{WC_SECRET}}"
queue_ids = ["{SUPPORT_QUEUE}"]
[integration.settings.stream]
reconnect_base_ms = 50
reconnect_max_secs = 1
"#
        );
        let registry = herald::adapters::builtin_registry();
        let lookup = |name: &str| (name == "WC_SECRET").then(|| "herald-demo-secret".to_string());
        let loaded = herald::config::load(&text, "webchat-test", &registry, &lookup).expect("config");
        let herald = herald::service::start(loaded).await.expect("herald");
        let base = format!("http://{}", herald.addr);
        let env = Env { emulator, herald, base, http: reqwest::Client::new(), org, chat_deployment };
        env.wait_stream_connected().await;
        env
    }

    /// Polls `/healthz` until the `wc` integration's notification stream is connected (chats that start and
    /// are answered before herald subscribes would otherwise only be learned at their next change).
    async fn wait_stream_connected(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let resp = self.http.get(format!("{}/healthz", self.base)).send().await.expect("healthz");
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            if v["integrations"]["wc"]["status"] == "healthy" {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "the webchat stream did not connect: {v:#}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn control(&self) -> Control {
        self.emulator.control()
    }

    fn guest_options(&self, name: &str) -> GuestOptions {
        GuestOptions::new(self.emulator.base_url(), &self.org, &self.chat_deployment, "Support", name)
    }

    /// A guest whose chat an agent has answered and which herald tracks as connected.
    async fn connected_guest(&self, name: &str) -> ChatGuest {
        let mut guest = ChatGuest::join(&self.guest_options(name)).await.expect("guest joins");
        guest
            .wait_for(WAIT, |e| matches!(e, GuestEvent::Member(m) if m.role == "AGENT" && m.state == "CONNECTED"))
            .await
            .expect("an agent joins the chat");
        self.wait_session(guest.conversation_id(), "connected").await;
        guest
    }

    async fn notify(&self, body: Value) -> String {
        let resp = self
            .http
            .post(format!("{}/v1/notifications", self.base))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
            .await
            .expect("post notification");
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.expect("json");
        assert_eq!(status, 202, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    async fn get(&self, path: &str) -> Option<Value> {
        let resp = self.http.get(format!("{}{path}", self.base)).bearer_auth(API_KEY).send().await.expect("get");
        if resp.status().as_u16() != 200 {
            return None;
        }
        resp.json().await.ok()
    }

    /// Polls until the notification's status is one of `want`.
    async fn wait_status(&self, id: &str, want: &[&str]) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.get(&format!("/v1/notifications/{id}")).await.unwrap_or(Value::Null);
            if want.contains(&v["status"].as_str().unwrap_or("")) {
                return v;
            }
            assert!(tokio::time::Instant::now() < deadline, "notification {id} did not reach {want:?}: {v:#}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls until herald knows the chat in `state`.
    async fn wait_session(&self, conversation_id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let s = self.get(&format!("/v1/sessions/{conversation_id}")).await;
            if let Some(s) = s.as_ref().filter(|s| s["state"] == state) {
                return s.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "herald does not know chat {conversation_id} as {state}: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn stop(self) {
        self.herald.shutdown().await;
        self.emulator.shutdown().await;
    }
}

fn last_reason(view: &Value) -> String {
    view["history"].as_array().and_then(|h| h.last()).and_then(|e| e["reason"].as_str()).unwrap_or("").to_string()
}

/// A notification with text lands in the live chat as the agent, by conversation, guest member id and customer;
/// the guest sees each on its event stream; an over-long body is refused naming `body`.
#[tokio::test]
async fn webchat_text_lands_in_live_chat_as_agent() {
    let env = Env::start("defer").await;
    let mut guest = env.connected_guest("Gus Guest").await;
    let conv = guest.conversation_id().to_string();
    let member = guest.member_id().to_string();

    let targets = [
        (json!({"type": "conversation", "id": conv}), "Your case status changed."),
        (json!({"type": "guest", "id": member}), "Your parcel is out for delivery."),
        (json!({"type": "customer", "id": member}), "Your invoice is ready."),
    ];
    for (target, text) in targets {
        let id = env.notify(json!({"integration": "wc", "target": target, "text": text})).await;
        let view = env.wait_status(&id, &["delivered", "failed"]).await;
        assert_eq!(view["status"], "delivered", "{view:#}");
        assert_eq!(view["receipt"]["route"], "chat");
        assert_eq!(view["receipt"]["conversation_id"], conv.as_str());
        let seen = guest.wait_agent_message(WAIT, |m| m.body == text).await.expect("the guest sees it");
        assert_eq!(view["receipt"]["upstream_message_id"], seen.id.as_str());
        assert_eq!(seen.body_type, "standard");
    }
    let line = env.control().transcript(&conv).expect("transcript").into_iter().last().expect("a line");
    assert!(line.sender.starts_with("agent:"), "sent as the agent: {line:?}");

    let id = env
        .notify(json!({"integration": "wc", "target": {"type": "conversation", "id": conv}, "text": "x".repeat(4001)}))
        .await;
    let view = env.wait_status(&id, &["failed", "delivered"]).await;
    assert_eq!(view["status"], "failed", "{view:#}");
    let why = last_reason(&view);
    assert!(why.contains("`body`") && why.contains("4000"), "{why}");
    env.stop().await;
}

/// Canned responses land rendered (caller variable, default, built-ins, HTML stripped); a substitution without a
/// value is refused with its name and nothing reaches the chat.
#[tokio::test]
async fn webchat_canned_response_rendered_and_missing_substitution_refused() {
    let env = Env::start("defer").await;
    let mut guest = env.connected_guest("Gus Guest").await;
    let conv = guest.conversation_id().to_string();
    let target = json!({"type": "conversation", "id": conv});

    let id = env
        .notify(json!({"integration": "wc", "target": target, "canned_response_id": ORDER_SHIPPED, "variables": {"order_id": "A-1"}}))
        .await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    let expected = "Hi Gus Guest, your order A-1 has shipped and arrives soon.";
    guest.wait_agent_message(WAIT, |m| m.body == expected).await.expect("rendered canned response");

    let id = env.notify(json!({"integration": "wc", "target": target, "canned_response_id": GREETING_HTML})).await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    let greeting = guest
        .wait_agent_message(WAIT, |m| m.body.starts_with("Hello, this is "))
        .await
        .expect("HTML response stripped");
    assert!(greeting.body.ends_with(". How can I help?") && !greeting.body.contains('<'), "{}", greeting.body);

    let before = env.control().transcript(&conv).expect("transcript").len();
    let id = env.notify(json!({"integration": "wc", "target": target, "canned_response_id": TICKET_UPDATE})).await;
    let view = env.wait_status(&id, &["failed", "delivered"]).await;
    assert_eq!(view["status"], "failed", "{view:#}");
    assert!(last_reason(&view).contains("variables.ticket"), "{view:#}");
    assert_eq!(env.control().transcript(&conv).expect("transcript").len(), before, "nothing was sent");

    let id = env
        .notify(json!({"integration": "wc", "target": target, "canned_response_id": TICKET_UPDATE, "variables": {"ticket": "T-7"}}))
        .await;
    assert_eq!(env.wait_status(&id, &["delivered", "failed"]).await["status"], "delivered");
    guest.wait_agent_message(WAIT, |m| m.body.starts_with("Ticket T-7 was updated by ")).await.expect("ticket");
    env.stop().await;
}

/// A chat that closed: policy `defer` keeps the notification (the emulator cannot link a chat customer across
/// chats, so it stays deferred and the reason says why); `fail` (per notification) fails it with the reason.
#[tokio::test]
async fn webchat_closed_chat_defers_or_fails_by_policy() {
    let env = Env::start("defer").await;
    let guest = env.connected_guest("Gus Guest").await;
    let conv = guest.conversation_id().to_string();
    let member = guest.member_id().to_string();
    guest.leave().await.expect("guest leaves");
    env.wait_session(&conv, "closed").await;

    let id = env.notify(json!({"integration": "wc", "target": {"type": "conversation", "id": conv}, "text": "Your refund was issued."})).await;
    let view = env.wait_status(&id, &["deferred", "failed", "delivered"]).await;
    assert_eq!(view["status"], "deferred", "{view:#}");
    let why = last_reason(&view);
    assert!(why.contains(&conv) && why.contains(&member) && why.contains("customer_key_attribute"), "{why}");

    let failed = env
        .notify(json!({"integration": "wc", "target": {"type": "customer", "id": member}, "text": "x", "closed_policy": "fail"}))
        .await;
    let view = env.wait_status(&failed, &["failed", "deferred", "delivered"]).await;
    assert_eq!(view["status"], "failed", "{view:#}");
    assert!(last_reason(&view).contains("policy fail"), "{view:#}");

    // The same person comes back in a new chat: a new member id, so the deferred notification stays put.
    let mut again = env.connected_guest("Gus Guest").await;
    let id2 = env.notify(json!({"integration": "wc", "target": {"type": "conversation", "id": again.conversation_id()}, "text": "Welcome back."})).await;
    assert_eq!(env.wait_status(&id2, &["delivered", "failed"]).await["status"], "delivered");
    again.wait_agent_message(WAIT, |m| m.body == "Welcome back.").await.expect("new chat works");
    assert_eq!(env.get(&format!("/v1/notifications/{id}")).await.expect("view")["status"], "deferred");
    env.stop().await;
}

/// The headless guest library on its own: the agent's message (a control-API send and the auto-reply) arrives
/// on the guest's event stream; the guest's own message is in the transcript.
#[tokio::test]
async fn webchat_headless_guest_sees_agent_messages() {
    let env = Env::start("fail").await;
    let mut guest = ChatGuest::join(&env.guest_options("Hedda Headless")).await.expect("join");
    let agent = match guest
        .wait_for(WAIT, |e| matches!(e, GuestEvent::Member(m) if m.role == "AGENT" && m.state == "CONNECTED"))
        .await
        .expect("agent joins")
    {
        GuestEvent::Member(m) => m,
        other => panic!("{other:?}"),
    };
    let conv = guest.conversation_id().to_string();
    let users = env.control().conversation(&conv).expect("summary").connected_agent_ids;
    let user = users.first().expect("a connected agent").clone();
    env.control().agent_send(&conv, Some(&user), "How can I help you today?").expect("agent sends");
    let m = guest.wait_agent_message(WAIT, |m| m.body == "How can I help you today?").await.expect("agent message");
    assert_eq!(m.sender_id, agent.id);

    let mine = guest.send("Where is my order?").await.expect("guest sends");
    assert_eq!(mine.body.as_deref(), Some("Where is my order?"));
    let transcript = env.control().transcript(&conv).expect("transcript");
    assert!(transcript.iter().any(|l| l.direction == "inbound" && l.text == "Where is my order?"), "{transcript:?}");
    guest.leave().await.expect("leave");
    env.stop().await;
}

/// The shipped example config loads (every key known, every value valid).
#[test]
fn webchat_example_config_is_valid() {
    let text = include_str!("../config/webchat.toml");
    let registry = herald::adapters::builtin_registry();
    let lookup = |name: &str| match name {
        "HERALD_API_KEY" => Some("example-key-0123456789abcdef".to_string()),
        "WEBCHAT_SECRET" => Some("herald-demo-secret".to_string()),
        _ => None,
    };
    if let Err(problems) = herald::config::load(text, "config/webchat.toml", &registry, &lookup) {
        panic!("config/webchat.toml: {problems:?}");
    }
}
