//! The Open Messaging plugin end to end: loaded from its library through a config (`plugin = "open_messaging"`,
//! its declared kind), delivering into the emulator's Open Messaging endpoints, confirming an attempt whose answer
//! was lost without sending it twice, receiving a signed agent webhook on herald's own server and forwarding it to
//! the third party (event → rule → notification, receipt back to Genesys), and refusing unsigned or badly signed
//! webhooks with nothing forwarded.

mod plugins_support;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use herald_emulator::open_messaging::{OpenMessagingState, TranscriptEntry};
use herald_emulator::{EmulatorConfig, Shared};
use herald_plugin::host::PluginOptions;
use plugins_support::{load_with_plugins_env, plugins_dir};
use serde_json::{json, Value};
use support::{wait_final, Receiver, API_KEY};

const WEBHOOK_SECRET: &str = "whsec-open-messaging-test-0123";

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

struct World {
    om: OpenMessagingState,
    om_base: String,
    integration_id: String,
    third_party: Receiver,
    rules: Receiver,
    svc: herald::service::RunningService,
    base: String,
    client: reqwest::Client,
    webhook_url: String,
}

/// The emulator (login on one listener, Open Messaging on another, sharing the token store), a third-party
/// receiver, an integration created through the API, and herald running the plugin from a config.
async fn world() -> World {
    let client = support::client();
    let app = Shared::new(EmulatorConfig::default_org());
    let login_base = serve(herald_emulator::router(app.clone())).await;
    let om = OpenMessagingState::new(app.clone()).with_webhook_retry_delay(Duration::from_millis(50));
    let om_base = serve(herald_emulator::open_messaging::routes(om.clone())).await;
    let (third_party, outbound_url) = Receiver::start().await;

    let token: Value = client
        .post(format!("{login_base}/oauth/token"))
        .basic_auth("herald-demo", Some("herald-demo-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    // The webhook is served by herald itself, on the integration's route.
    let port = support::free_port();
    let webhook_url = format!("http://127.0.0.1:{port}/open-messaging/om/webhook");
    let created: Value = client
        .post(format!("{om_base}/api/v2/conversations/messaging/integrations/open"))
        .bearer_auth(token["access_token"].as_str().expect("access token"))
        .json(&json!({
            "name": "test platform",
            "outboundNotificationWebhookUrl": webhook_url,
            "outboundNotificationWebhookSignatureSecretToken": WEBHOOK_SECRET,
        }))
        .send()
        .await
        .expect("create integration")
        .json()
        .await
        .expect("integration json");
    let integration_id = created["id"].as_str().expect("integration id").to_string();
    assert!(created.get("outboundNotificationWebhookSignatureSecretToken").is_none(), "secret echoed: {created}");

    // A separate receiver for rule notifications keeps the third party's count exact.
    let (rules, rules_url) = Receiver::start().await;
    let text = format!(
        r#"
[service]
listen = "127.0.0.1:{port}"
api_keys = ["{API_KEY}"]
[store]
path = ":memory:"
[dispatcher]
max_attempts = 2
backoff_initial_ms = 20
[plugins]
dir = "{dir}"

[[integration]]
name = "om"
plugin = "open_messaging"
closed_policy = "fail"
[integration.settings]
api_base_url = "{om_base}"
login_base_url = "{login_base}"
client_id = "herald-demo"
client_secret = "${{OM_CLIENT_SECRET}}"
integration_id = "{integration_id}"
secret = "${{OM_WEBHOOK_SECRET}}"
outbound_url = "{outbound_url}"
customer_nickname = "Customer"

[[integration]]
name = "agent-replies"
kind = "webhook"
[integration.settings]
url = "{rules_url}"

[[rule]]
name = "copy-agent-replies"
when = "message_received"
[rule.if]
integration = "om"
sender = "agent"
[rule.then]
integration = "agent-replies"
target = "conversation"
text = "an agent replied"
"#,
        dir = plugins_dir().display()
    );
    let env = |name: &str| match name {
        "OM_CLIENT_SECRET" => Some("herald-demo-secret".to_string()),
        "OM_WEBHOOK_SECRET" => Some(WEBHOOK_SECRET.to_string()),
        _ => None,
    };
    let loaded = load_with_plugins_env(&text, PluginOptions::default(), &env).expect("config loads");
    let svc = herald::service::start(loaded).await.expect("service starts");
    let base = format!("http://{}", svc.addr);
    World { om, om_base, integration_id, third_party, rules, svc, base, client, webhook_url }
}

async fn agent_says(w: &World, to: &str, text: &str, signing: &str) -> Value {
    w.client
        .post(format!("{}/emulator/v1/openmessaging/integrations/{}/agent-messages", w.om_base, w.integration_id))
        .json(&json!({"to": to, "text": text, "nickname": "Dana", "signing": signing, "retry": false}))
        .send()
        .await
        .expect("agent message")
        .json()
        .await
        .expect("agent message json")
}

fn receipts(w: &World) -> Vec<Value> {
    w.om.transcript(&w.integration_id)
        .into_iter()
        .filter_map(|e| match e {
            TranscriptEntry::Receipt { body } => Some(body),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_into_genesys_and_forwards_signed_agent_replies() {
    let w = world().await;

    // herald → Genesys: a notification for the third-party customer becomes an inbound Open Messaging message.
    let resp = w
        .client
        .post(format!("{}/v1/notifications", w.base))
        .bearer_auth(API_KEY)
        .header("Idempotency-Key", "order-42")
        .json(
            &json!({"integration": "om", "target": {"type": "customer", "id": "wa-42"}, "text": "Your order shipped"}),
        )
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 202);
    let id = resp.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();
    let view = wait_final(&w.client, &w.base, &id, Duration::from_secs(15)).await;
    assert_eq!(view["status"], "delivered", "{view}");
    assert!(view["receipt"]["upstream_message_id"].as_str().is_some_and(|s| !s.is_empty()), "{view}");
    assert!(view["receipt"]["conversation_id"].as_str().is_some(), "{view}");
    assert_eq!(view["receipt"]["route"], "open_messaging");
    let inbound: Vec<Value> =
        w.om.transcript(&w.integration_id)
            .into_iter()
            .filter_map(|e| match e {
                TranscriptEntry::InboundMessage { message } => Some(message),
                _ => None,
            })
            .collect();
    assert_eq!(inbound.len(), 1, "{inbound:?}");
    let m = &inbound[0]["message"];
    assert_eq!(m["channel"]["from"]["id"], "wa-42");
    assert_eq!(m["channel"]["from"]["idType"], "Opaque");
    assert_eq!(m["channel"]["messageId"], "order-42");
    assert_eq!(m["text"], "Your order shipped");
    assert_eq!(inbound[0]["conversationId"], view["receipt"]["conversation_id"]);

    // The answer of an attempt may be lost (timeout, crash): the check finds the message by its stable messageId
    // and names it, and Genesys still has exactly one.
    let channel = w.svc.routes.get("om").expect("om route").channel.clone();
    assert_eq!(channel.delivery_guarantee(), herald_core::DeliveryGuarantee::ExactlyOnce);
    let notification = herald_core::Notification {
        id: uuid::Uuid::new_v4(),
        idempotency_key: Some("order-42".into()),
        integration: "om".into(),
        target: herald_core::Target::Customer { id: "wa-42".into() },
        content: herald_core::Content::Text { text: "Your order shipped".into() },
        created_at: chrono::Utc::now(),
        expires_at: None,
        closed_policy: None,
        rule: None,
    };
    let mut again =
        herald_core::Delivery::new(notification, herald_core::DeliveryMode::Normal, 2, Duration::from_secs(10));
    again.previous_attempt_at = Some(chrono::Utc::now());
    let found = channel.confirm_delivery(&again).await.expect("the check runs");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].upstream_message_id.as_deref(), view["receipt"]["upstream_message_id"].as_str());
    let inbound_count =
        w.om.transcript(&w.integration_id)
            .into_iter()
            .filter(|e| matches!(e, TranscriptEntry::InboundMessage { .. }))
            .count();
    assert_eq!(inbound_count, 1, "the check sent the message a second time");

    // Genesys → herald → third party: a signed agent reply is forwarded, published and acknowledged.
    let sent = agent_says(&w, "wa-42", "Hi, this is Dana", "valid").await;
    assert_eq!(sent["webhookStatus"], 200, "{sent}");
    assert!(w.third_party.wait_for(1, Duration::from_secs(5)).await, "nothing forwarded");
    let forwarded = &w.third_party.bodies()[0];
    assert_eq!(forwarded["to"], "wa-42");
    assert_eq!(forwarded["text"], "Hi, this is Dana");
    assert_eq!(forwarded["from"]["nickname"], "Dana");
    assert_eq!(forwarded["integration"], "om");
    // The message_received event reached herald's rules, which sent a notification through another integration.
    assert!(w.rules.wait_for(1, Duration::from_secs(10)).await, "no rule notification");
    assert_eq!(w.rules.bodies()[0]["target"]["id"], view["receipt"]["conversation_id"]);
    // The Delivered receipt reached Genesys.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while receipts(&w).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = receipts(&w);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["id"], sent["message"]["id"]);
    assert_eq!(r[0]["status"], "Delivered");
    assert_eq!(r[0]["isFinalReceipt"], true);
    assert_eq!(r[0]["channel"]["to"]["id"], "wa-42");

    // The same webhook again (a Genesys retry) is acknowledged but not forwarded twice.
    let body = serde_json::to_vec(&sent["message"]).expect("body");
    let again = w
        .client
        .post(&w.webhook_url)
        .header("X-Hub-Signature-256", herald_emulator::open_messaging::sign(WEBHOOK_SECRET, &body))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("retry");
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(w.third_party.bodies().len(), 1);

    let health = w.svc.routes.get("om").expect("om route").channel.health().await;
    assert_eq!(health.status, herald_core::HealthStatus::Healthy, "{health:?}");
    assert!(health.checks["webhooks"].starts_with("1 forwarded"), "{health:?}");
    w.svc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_or_missing_signatures_are_refused_and_nothing_is_forwarded() {
    let w = world().await;
    let sent = agent_says(&w, "wa-7", "forged", "invalid").await;
    assert_eq!(sent["webhookStatus"], 403, "{sent}");
    let sent = agent_says(&w, "wa-7", "unsigned", "missing").await;
    assert_eq!(sent["webhookStatus"], 401, "{sent}");
    // Signed with the right secret over a different body.
    let resp = w
        .client
        .post(&w.webhook_url)
        .header("X-Hub-Signature-256", herald_emulator::open_messaging::sign(WEBHOOK_SECRET, b"{}"))
        .header("content-type", "application/json")
        .body(r#"{"id":"x","channel":{"to":{"id":"wa-7"}},"type":"Text","text":"tampered"}"#)
        .send()
        .await
        .expect("tampered");
    assert_eq!(resp.status().as_u16(), 403);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(w.third_party.bodies().is_empty(), "forwarded: {:?}", w.third_party.bodies());
    assert!(receipts(&w).is_empty());
    assert!(w.rules.bodies().is_empty());
    let health = w.svc.routes.get("om").expect("om route").channel.health().await;
    assert!(health.checks["webhooks"].contains("3 refused"), "{health:?}");
    w.svc.shutdown().await;
}
