//! Herald never triggers its own rules, end to end against the emulator: a customer who waits in queue is greeted
//! by the queue-wait rule; after their conversation ended, herald's own agentless follow-up makes Genesys route the
//! conversation into the queue again, and the queue-wait rule does not greet them for that.

mod webmessaging_support;

use std::time::Duration;

use herald_emulator::{Emulator, EmulatorConfig};
use serde_json::json;
use webmessaging_support::{Env, Guest, ALICE, API_KEY, DEPLOYMENT, SUPPORT_QUEUE, WAIT};

const GREETING: &str = "Thanks for waiting, we will be with you shortly.";

async fn start() -> Env {
    herald::tls::install_crypto_provider();
    let emulator =
        Emulator::start(EmulatorConfig::default_org(), "127.0.0.1:0".parse().expect("addr")).await.expect("emulator");
    let emu = emulator.base_url();
    let text = format!(
        r#"
[service]
listen = "127.0.0.1:0"
api_keys = ["{API_KEY}"]

[store]
path = ":memory:"

[dispatcher]
backoff_initial_ms = 50
backoff_max_ms = 500

[[integration]]
name = "wm"
kind = "webmessaging"
closed_policy = "agentless"
[integration.settings]
base_url = "{emu}"
client_id = "herald-demo"
client_secret = "herald-demo-secret"
deployment_id = "{DEPLOYMENT}"
queue_ids = ["{SUPPORT_QUEUE}"]
[integration.settings.stream]
reconnect_base_ms = 50
reconnect_max_secs = 1

[[rule]]
name = "queue-greeting"
when = "queue_wait_exceeded"
wait_secs = 1
[rule.then]
integration = "wm"
target = "conversation"
text = "{GREETING}"
"#
    );
    let registry = herald::adapters::builtin_registry();
    let loaded = herald::config::load(&text, "rules-own-messages", &registry, &|_| None).expect("config");
    let herald = herald::service::start(loaded).await.expect("herald");
    let base = format!("http://{}", herald.addr);
    Env { emulator, herald, base, http: reqwest::Client::new() }
}

/// The value of the `own_message` suppression counter of the rule in herald's `/metrics`.
async fn own_message_suppressions(env: &Env) -> u64 {
    let text = env
        .http
        .get(format!("{}/metrics", env.base))
        .bearer_auth(API_KEY)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("herald_rule_suppressed_total{"))
        .filter(|l| l.contains("rule=\"queue-greeting\"") && l.contains("why=\"own_message\""))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .map(|v| v as u64)
        .sum()
}

#[tokio::test]
async fn herald_own_agentless_follow_up_does_not_trigger_the_queue_wait_rule() {
    let env = start().await;
    let control = env.control();

    // Grace talks with an agent (answered at once: no queue-wait greeting), then the conversation ends.
    let mut grace = Guest::connect(&env.emulator.ws_base_url(), DEPLOYMENT).await;
    grace.configure(false).await;
    grace.say("Bob, I sent you the documents.").await;
    let conv = env.wait_guest_conversation(&grace.token, None).await;
    env.wait_session(&conv, "connected").await;
    control.set_presence(ALICE, "Away").expect("nobody answers the queue from now on");
    control.disconnect_conversation(&conv).expect("disconnect");
    env.wait_session(&conv, "closed").await;

    // herald's own agentless follow-up: Genesys routes her conversation into the queue again.
    let contact = control.guest_contact(&grace.token).expect("Grace's external contact");
    let before = own_message_suppressions(&env).await;
    let id = env
        .notify(json!({"integration": "wm", "target": {"type": "customer", "id": contact}, "text": "How did we do?",
                       "closed_policy": "agentless"}))
        .await;
    let delivered = env.wait_status(&id, &["delivered"]).await;
    assert_eq!(delivered["receipt"]["route"], "agentless", "{delivered}");
    grace.wait_outbound("How did we do?").await;
    let requeued = delivered["receipt"]["conversation_id"].as_str().expect("receipt conversation").to_string();
    env.wait_session(&requeued, "queued").await;

    // The rule considers the waiting conversation once its threshold passed and holds back: herald's own message
    // began that wait.
    let deadline = tokio::time::Instant::now() + WAIT;
    while own_message_suppressions(&env).await <= before {
        assert!(tokio::time::Instant::now() < deadline, "the rule never considered the re-queued conversation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let greeted = |conv: &str| {
        control.transcript(conv).expect("transcript").into_iter().filter(|line| line.text == GREETING).count()
    };
    assert_eq!(greeted(&requeued), 0, "herald did not greet Grace for a wait its own message caused");

    // A customer waiting on their own is greeted by the same rule.
    let mut ana = Guest::connect(&env.emulator.ws_base_url(), DEPLOYMENT).await;
    ana.configure(false).await;
    ana.say("Hello, is anyone there?").await;
    ana.wait_outbound(GREETING).await;
    assert_eq!(greeted(&requeued), 0);
    env.stop().await;
}
