//! Stories 1, 2 and 5 end to end: the emulator and herald in-process, a guest on the emulator's web messaging
//! socket, notifications posted to herald's API, and the text checked where the customer sees it.

mod webmessaging_support;

use serde_json::json;
use webmessaging_support::{history, last_reason, Env, Options, ORDER_SHIPPED, SALES_QUEUE};

/// Story 1: a business event for a guest with an open session reaches that session, by conversation and by
/// customer, as agent-side sends (no invented `to`/`from`/`channel` payload).
#[tokio::test]
async fn story1_conversation_and_customer_targets_reach_the_guest() {
    let env = Env::start(Options::default()).await;
    let (mut guest, conv) = env.connected_guest().await;

    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "Your case status changed."}))
        .await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    assert_eq!(view["receipt"]["route"], "agent");
    assert_eq!(view["receipt"]["conversation_id"], conv.as_str());
    guest.wait_outbound("Your case status changed.").await;

    let contact = env.control().guest_contact(&guest.token).expect("contact");
    let id = env
        .notify(
            json!({"integration": "wm", "target": {"type": "customer", "id": contact}, "text": "Your order shipped."}),
        )
        .await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    assert_eq!(view["receipt"]["conversation_id"], conv.as_str());
    guest.wait_outbound("Your order shipped.").await;

    // A canned response rendered with its substitutions (caller variable + default).
    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv},
                       "canned_response_id": ORDER_SHIPPED, "variables": {"order_id": "A-1"}}))
        .await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    let line = env
        .control()
        .transcript(&conv)
        .expect("transcript")
        .into_iter()
        .rev()
        .find(|l| l.direction == "outbound" && l.text.contains("A-1"))
        .expect("canned text in the transcript");
    assert!(line.text.ends_with("your order A-1 has shipped and arrives soon."), "{}", line.text);
    guest.wait_outbound(&line.text).await;
    env.stop().await;
}

/// Bad input ends in a clear recorded outcome and never reaches the guest.
#[tokio::test]
async fn story1_bad_input_fails_with_the_field_and_the_fix() {
    let env = Env::start(Options::default()).await;
    let (_guest, conv) = env.connected_guest().await;
    let before = env.control().counters().agent_messages;

    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": "00000000-0000-4000-8000-00000000dead"}, "text": "hi"}))
        .await;
    let view = env.wait_status(&id, &["failed", "delivered"]).await;
    assert_eq!(view["status"], "failed", "{view:#}");
    let why = last_reason(&view);
    assert!(why.contains("conversation") && why.contains("not found"), "{why}");

    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "x".repeat(2001)}))
        .await;
    let view = env.wait_status(&id, &["failed", "delivered"]).await;
    assert_eq!(view["status"], "failed", "{view:#}");
    let why = last_reason(&view);
    assert!(why.contains("textBody") && why.contains("2000"), "{why}");

    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "customer", "id": "no-such-customer"}, "text": "hi"}))
        .await;
    let view = env.wait_status(&id, &["failed", "delivered"]).await;
    assert_eq!(view["status"], "failed", "{view:#}");
    assert!(last_reason(&view).contains("customer `no-such-customer` not found"), "{view:#}");

    let id = env.notify(json!({"integration": "wm", "target": {"type": "agent", "id": "u1"}, "text": "hi"})).await;
    let view = env.wait_status(&id, &["failed", "delivered"]).await;
    assert!(last_reason(&view).contains("target.type"), "{view:#}");

    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv},
                       "canned_response_id": ORDER_SHIPPED, "variables": {}}))
        .await;
    let view = env.wait_status(&id, &["failed", "delivered"]).await;
    assert_eq!(view["status"], "delivered", "defaults fill order_id and eta: {view:#}");

    assert_eq!(env.control().counters().agent_messages, before + 1, "only the valid canned response was sent");
    env.stop().await;
}

/// Story 2: a customer who had a session in the last 24 h, on a queue herald does not watch: the customer target is
/// resolved through analytics (externalContactId) and the store learns the session.
#[tokio::test]
async fn story2_customer_target_found_through_analytics() {
    let env = Env::start(Options { queue: SALES_QUEUE, ..Options::default() }).await;
    let mut guest =
        webmessaging_support::Guest::connect(&env.emulator.ws_base_url(), webmessaging_support::DEPLOYMENT).await;
    guest.configure(false).await;
    guest.say("Is anyone there?").await;
    let conv = env.wait_guest_conversation(&guest.token, None).await;
    assert!(env.session(&conv).await.is_none(), "herald watches another queue");
    let contact = env.control().guest_contact(&guest.token).expect("contact");

    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "customer", "id": contact}, "text": "An agent is now available."}))
        .await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    assert_eq!(view["receipt"]["conversation_id"], conv.as_str());
    guest.wait_outbound("An agent is now available.").await;
    env.wait_session(&conv, "connected").await;
    env.stop().await;
}

/// Story 5, policy `defer`: the notification for a closed conversation waits and is delivered into the customer's
/// next conversation.
#[tokio::test]
async fn story5_defer_delivers_into_the_next_conversation() {
    let env = Env::start(Options { policy: "defer", ..Options::default() }).await;
    let (mut guest, conv) = env.connected_guest().await;
    env.control().disconnect_agent(&conv, webmessaging_support::ALICE).expect("disconnect");
    guest.wait_disconnect().await;
    env.wait_session(&conv, "closed").await;

    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "Is there anything else we can help you with?"}))
        .await;
    let view = env.wait_status(&id, &["deferred", "failed", "delivered"]).await;
    assert_eq!(view["status"], "deferred", "{view:#}");
    let contact = env.control().guest_contact(&guest.token).expect("contact");
    assert_eq!(view["deferred_for"], contact.as_str());

    let resp = guest.configure(true).await;
    assert_eq!(resp["body"]["newSession"], true, "{resp}");
    guest.say("I am back").await;
    let next = env.wait_guest_conversation(&guest.token, Some(&conv)).await;
    guest.wait_outbound("Is there anything else we can help you with?").await;
    let view = env.wait_status(&id, &["delivered", "failed"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    assert_eq!(view["receipt"]["conversation_id"], next.as_str());
    let h = history(&view);
    assert!(h.iter().any(|s| s == "deferred") && h.last().map(String::as_str) == Some("delivered"), "{h:?}");
    env.stop().await;
}

/// Story 5, policy `agentless`: the notification reaches the customer as an agentless web message.
#[tokio::test]
async fn story5_agentless_reaches_the_customer() {
    let env = Env::start(Options { policy: "agentless", ..Options::default() }).await;
    let (mut guest, conv) = env.connected_guest().await;
    env.control().disconnect_agent(&conv, webmessaging_support::ALICE).expect("disconnect");
    env.wait_session(&conv, "closed").await;
    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "Your refund was approved."}))
        .await;
    let view = env.wait_status(&id, &["delivered", "failed", "deferred"]).await;
    assert_eq!(view["status"], "delivered", "{view:#}");
    assert_eq!(view["receipt"]["route"], "agentless");
    assert!(view["receipt"]["upstream_message_id"].is_string(), "{view:#}");
    guest.wait_outbound("Your refund was approved.").await;
    assert_eq!(env.control().counters().agentless_messages, 1);
    env.stop().await;
}

/// Story 5, policy `fail`: a clear reason saying what to do, never a bare 409.
#[tokio::test]
async fn story5_fail_says_what_to_do() {
    let env = Env::start(Options { policy: "fail", ..Options::default() }).await;
    let (_guest, conv) = env.connected_guest().await;
    env.control().disconnect_agent(&conv, webmessaging_support::ALICE).expect("disconnect");
    env.wait_session(&conv, "closed").await;
    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "Too late"}))
        .await;
    let view = env.wait_status(&id, &["failed", "delivered", "deferred"]).await;
    assert_eq!(view["status"], "failed", "{view:#}");
    let why = last_reason(&view);
    assert!(why.contains("is closed") && why.contains("new conversation"), "{why}");
    assert_eq!(env.control().counters().agent_messages, 0);
    env.stop().await;
}

/// After a crash: an attempt that reached Genesys is found (not sent again); one that did not is certainly absent.
#[tokio::test]
async fn confirm_delivery_finds_an_interrupted_send() {
    use herald_core::{Content, Delivery, DeliveryMode, Notification, Target};
    let env = Env::start(Options::default()).await;
    let (mut guest, conv) = env.connected_guest().await;
    let started = chrono::Utc::now();
    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "conversation", "id": conv}, "text": "Sent before the crash"}))
        .await;
    env.wait_status(&id, &["delivered"]).await;
    guest.wait_outbound("Sent before the crash").await;

    let channel = env.herald.routes.get("wm").expect("wm route").channel.clone();
    let attempt = |text: &str| Delivery {
        notification: Notification {
            id: uuid::Uuid::new_v4(),
            idempotency_key: None,
            integration: "wm".into(),
            target: Target::Conversation { id: conv.clone() },
            content: Content::Text { text: text.into() },
            created_at: started,
            expires_at: None,
            closed_policy: None,
            rule: None,
        },
        mode: DeliveryMode::Normal,
        attempt: 2,
        previous_attempt_at: Some(started),
        deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(30),
    };
    let found = channel.confirm_delivery(&attempt("Sent before the crash")).await.expect("check");
    let receipt = found.into_iter().next().expect("the send is found upstream");
    assert_eq!(receipt.conversation_id.as_deref(), Some(conv.as_str()));
    assert_eq!(receipt.route, "agent");
    let absent = channel.confirm_delivery(&attempt("Never sent")).await.expect("check");
    assert!(absent.is_empty());
    env.stop().await;
}

/// The example config in `config/webmessaging.toml` is valid.
#[test]
fn example_config_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/webmessaging.toml");
    let text = std::fs::read_to_string(&path).expect("read example config");
    let registry = herald::adapters::builtin_registry();
    let lookup = |name: &str| match name {
        "HERALD_API_KEY" => Some("an-api-key-0123456789".to_string()),
        "GENESYS_CLIENT_ID" | "GENESYS_CLIENT_SECRET" => Some("x".to_string()),
        _ => None,
    };
    if let Err(e) = herald::config::load(&text, "config/webmessaging.toml", &registry, &lookup) {
        panic!("{e}");
    }
}
