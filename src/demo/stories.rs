//! The stories of the integrators' reports, played against the emulator, each ending in pass or fail.

use std::time::Duration;

use anyhow::{bail, Context};
use herald_webmessaging::guest::frames::GuestEvent;
use herald_webmessaging::guest::{GuestClient, GuestConfig};
use serde_json::json;

use super::timeline::Timeline;
use super::world::{history, World, BOB_AAD, DEPLOYMENT};

const WAIT: Duration = Duration::from_secs(15);
const ALICE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
const BOB: &str = "11111111-aaaa-4bbb-8ccc-000000000002";
const CAROL_TOKEN: &str = "carol-guest-token";
const CAROL: &str = "e1e2e3e4-0000-4000-8000-000000000001";

async fn guest(w: &World, token: &str) -> anyhow::Result<GuestClient> {
    let config = GuestConfig::new(w.emulator.ws_base_url(), DEPLOYMENT).with_token(token);
    GuestClient::connect(config).await.with_context(|| format!("guest `{token}` could not open a session"))
}

async fn outbound_containing(g: &mut GuestClient, needle: &str) -> anyhow::Result<String> {
    let event = g
        .wait_for(|e| e.as_outbound_text().and_then(|m| m.text.as_deref()).is_some_and(|t| t.contains(needle)), WAIT)
        .await
        .with_context(|| format!("the guest never received a message containing `{needle}`"))?;
    Ok(event.as_outbound_text().and_then(|m| m.text.clone()).unwrap_or_default())
}

fn show_upstream(w: &World, t: &Timeline, needle: &str) {
    if let Some((line, body)) = w.upstream_request(needle) {
        t.detail(format!("herald → {line}"));
        if !body.is_empty() {
            t.detail(format!("payload {body}"));
        }
    }
}

/// Story 1: a business event becomes a proactive message in the customer's live web messaging conversation.
pub async fn story1(w: &World, t: &Timeline) -> anyhow::Result<String> {
    const S: &str = "story 1";
    let mut carol = guest(w, CAROL_TOKEN).await?;
    carol.send_text("Hi, any news about my order?").await?;
    let reply = carol.next_outbound(WAIT).await.context("no agent answered")?;
    t.step(S, format!("guest Carol opened a session; agent answered: \"{}\"", reply.text.unwrap_or_default()));
    let session = w.wait_session(CAROL, "connected", WAIT).await?;
    t.step(
        S,
        format!(
            "herald tracks conversation {} (customer {CAROL}, agents {})",
            session["conversation_id"].as_str().unwrap_or("?"),
            session["agent_ids"]
        ),
    );
    let (status, _) = w
        .api(
            reqwest::Method::POST,
            "/v1/events",
            Some(json!({"name": "order_shipped", "attributes": {"customer_id": CAROL, "customer_name": "Carol", "order_id": "A-1001"}})),
        )
        .await?;
    if status != 202 {
        bail!("POST /v1/events answered {status}");
    }
    t.step(S, "the order system posted event `order_shipped` → rule `order-shipped` targets customer Carol");
    let text = outbound_containing(&mut carol, "A-1001").await?;
    show_upstream(w, t, "/communications/");
    t.step(S, format!("Carol's browser received an Outbound StructuredMessage: \"{text}\""));
    let _ = carol.close().await;
    Ok("a business event reached the customer's live conversation as the agent".into())
}

/// Story 5: a notification for a customer whose conversation closed is deferred and delivered when they return.
pub async fn story5(w: &World, t: &Timeline) -> anyhow::Result<String> {
    const S: &str = "story 5";
    let token = format!("dave-{}", uuid::Uuid::new_v4().simple());
    let mut dave = guest(w, &token).await?;
    dave.send_text("I'd like a refund for my last order.").await?;
    dave.next_outbound(WAIT).await.context("no agent answered")?;
    let contact = w.emulator.control().guest_contact(&token).context("the emulator knows no contact for the guest")?;
    let session = w.wait_session(&contact, "connected", WAIT).await?;
    let first = session["conversation_id"].as_str().unwrap_or_default().to_string();
    t.step(S, format!("guest Dave (external contact {contact}) talked to an agent in conversation {first}"));
    w.emulator.control().disconnect_conversation(&first).context("disconnecting")?;
    dave.wait_for(|e| matches!(e, GuestEvent::Disconnected { .. }), WAIT).await.context("no disconnect event")?;
    w.wait_session(&contact, "closed", WAIT).await?;
    t.step(S, "the agent ended the conversation; Dave's messenger is read-only; herald marks the session closed");
    let id = w
        .notify(json!({"integration": "web", "target": {"type": "customer", "id": contact}, "text": "Good news: your refund was approved."}))
        .await?;
    let deferred = w.wait_status(&id, "deferred", WAIT).await?;
    let reason = deferred["history"].as_array().and_then(|h| h.last()).and_then(|c| c["reason"].as_str()).unwrap_or("");
    t.step(S, format!("notification {id} is deferred, not a 409: {reason}"));
    dave.start_new(WAIT).await.context("startNew")?;
    dave.send_text("Hello again!").await?;
    t.step(S, "Dave came back and started a new conversation (startNew)");
    let text = outbound_containing(&mut dave, "refund was approved").await?;
    let delivered = w.wait_status(&id, "delivered", WAIT).await?;
    let second = delivered["receipt"]["conversation_id"].as_str().unwrap_or("?").to_string();
    show_upstream(w, t, "/communications/");
    t.step(S, format!("delivered into the new conversation {second}: \"{text}\""));
    t.detail(format!("history: {}", history(&delivered)));
    if second == first {
        bail!("the deferred notification landed in the old conversation");
    }
    let _ = dave.close().await;
    Ok("the closed conversation deferred the message until the customer came back".into())
}

/// Story 4: a customer who waited too long in queue gets the standard greeting, a canned response, rendered.
pub async fn story4(w: &World, t: &Timeline) -> anyhow::Result<String> {
    const S: &str = "story 4";
    let control = w.emulator.control();
    let agents: Vec<String> =
        herald_emulator::EmulatorConfig::default_org().agents.iter().map(|a| a.id.clone()).collect();
    for a in &agents {
        control.set_presence(a, "Away").context("setting agents away")?;
    }
    t.step(S, format!("all {} agents are away, so new customers wait in queue", agents.len()));
    let token = format!("erin-{}", uuid::Uuid::new_v4().simple());
    let mut erin = guest(w, &token).await?;
    erin.send_text("Hello? I have a question about my bill.").await?;
    let contact = control.guest_contact(&token).context("no contact for the guest")?;
    w.wait_session(&contact, "queued", WAIT).await?;
    t.step(S, "guest Erin is waiting in the Support queue; rule `queue-wait-greeting` fires after 2 s");
    let text = outbound_containing(&mut erin, "Thanks for waiting").await?;
    show_upstream(w, t, "/api/v2/conversations/messages");
    t.step(S, format!("Erin received the canned greeting, substitutions filled: \"{text}\""));
    for a in &agents {
        let _ = control.set_presence(a, "On Queue");
    }
    control.set_presence(ALICE, "On Queue").context("putting Alice back on queue")?;
    let session =
        w.wait_session(&contact, "connected", WAIT).await.context("no agent picked up after the agents came back")?;
    t.step(S, format!("agents are back on queue; agent {} picked up Erin's conversation", session["agent_ids"]));
    let _ = erin.close().await;
    Ok("the waiting customer got the rendered canned greeting".into())
}

/// Story 3: 50 headless guests exchange messages with the auto-answering agents.
pub async fn story3(w: &World, t: &Timeline) -> anyhow::Result<String> {
    const S: &str = "story 3";
    let mut plan = crate::guests::LoadPlan::new(w.emulator.ws_base_url(), DEPLOYMENT, 50, Duration::from_secs(6));
    plan.rate = 100.0;
    t.step(S, "starting 50 headless web messaging guests over the guest WebSocket protocol");
    let summary = crate::guests::run_load(plan).await;
    t.step(
        S,
        format!(
            "{} sessions, {} messages sent, {} answers received, latency p50 {:.1} ms / p99 {:.1} ms, errors {:?}",
            summary.sessions_opened,
            summary.messages_sent,
            summary.messages_received,
            summary.latency_p50_ms,
            summary.latency_p99_ms,
            summary.errors
        ),
    );
    let inbound: usize = w
        .emulator
        .control()
        .conversations()
        .iter()
        .filter_map(|c| w.emulator.control().transcript(&c.id).ok())
        .flatten()
        .filter(|l| l.direction.eq_ignore_ascii_case("inbound"))
        .count();
    t.step(S, format!("the emulator's transcripts hold {inbound} guest messages in all"));
    if summary.sessions_opened < 50 || summary.messages_sent == 0 || summary.messages_received == 0 {
        bail!("expected 50 sessions exchanging messages, got {summary:?}");
    }
    if (inbound as u64) < summary.messages_sent {
        bail!("the emulator recorded {inbound} guest messages but the guests sent {}", summary.messages_sent);
    }
    Ok(format!("50 guests sent {} messages and received {} answers", summary.messages_sent, summary.messages_received))
}

/// Story 2: an agent becomes available in Teams; herald syncs it to Genesys, and the customers the agent served in the
/// last 24 hours are messaged: into the open conversation as the agent, and agentless for the one that closed.
pub async fn story2(w: &World, t: &Timeline) -> anyhow::Result<String> {
    const S: &str = "story 2";
    let control = w.emulator.control();
    control.set_presence(ALICE, "Away").context("Alice away")?;
    control.set_presence(BOB, "On Queue").context("Bob on queue")?;
    let (frank_token, grace_token) =
        (format!("frank-{}", uuid::Uuid::new_v4().simple()), format!("grace-{}", uuid::Uuid::new_v4().simple()));
    let mut frank = guest(w, &frank_token).await?;
    frank.send_text("Can Bob call me back about my contract?").await?;
    frank.next_outbound(WAIT).await.context("no agent answered Frank")?;
    let mut grace = guest(w, &grace_token).await?;
    grace.send_text("Bob, I sent you the documents.").await?;
    grace.next_outbound(WAIT).await.context("no agent answered Grace")?;
    let frank_id = control.guest_contact(&frank_token).context("Frank's contact")?;
    let grace_id = control.guest_contact(&grace_token).context("Grace's contact")?;
    w.wait_session(&frank_id, "connected", WAIT).await?;
    let grace_session = w.wait_session(&grace_id, "connected", WAIT).await?;
    t.step(S, "agent Bob talked with customers Frank and Grace today");
    let grace_conv = grace_session["conversation_id"].as_str().unwrap_or_default().to_string();
    control.disconnect_conversation(&grace_conv).context("ending Grace's conversation")?;
    grace.wait_for(|e| matches!(e, GuestEvent::Disconnected { .. }), WAIT).await.context("Grace saw no disconnect")?;
    w.wait_session(&grace_id, "closed", WAIT).await?;
    control.set_presence(BOB, "Away").context("Bob away")?;
    control.set_presence(ALICE, "On Queue").context("Alice back")?;
    t.step(S, "Grace's conversation has ended; Bob went Away in Genesys Cloud (and is Away in Teams)");

    let graph = w.teams.world();
    let polls_before = graph.graph_counters().bulk_requests;
    let deadline = tokio::time::Instant::now() + WAIT;
    while graph.graph_counters().bulk_requests <= polls_before + 1 {
        if tokio::time::Instant::now() > deadline {
            bail!("herald never polled Graph presence");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    graph.set_user_status(BOB_AAD, "Available", "Available");
    t.step(S, "Bob sets himself Available in Teams");
    let frank_text = outbound_containing(&mut frank, "available again").await?;
    t.step(S, format!("Frank (open conversation) received: \"{frank_text}\""));
    let grace_text = outbound_containing(&mut grace, "available again").await?;
    t.step(S, format!("Grace (closed conversation) received: \"{grace_text}\""));
    show_upstream(w, t, "/presences/purecloud");
    show_upstream(w, t, "/agentless");
    let (_, list) = w.api(reqwest::Method::GET, "/v1/notifications?limit=50", None).await?;
    let routes: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["rule"] == "agent-available-follow-up")
        .map(|n| {
            format!("{} → {}", n["target"]["id"].as_str().unwrap_or("?"), n["receipt"]["route"].as_str().unwrap_or("?"))
        })
        .collect();
    t.step(S, format!("rule `agent-available-follow-up` produced: {}", routes.join(", ")));
    if routes.len() != 2 {
        bail!("expected two notifications (Frank and Grace), got {routes:?}");
    }
    let _ = frank.close().await;
    let _ = grace.close().await;
    Ok("Teams → Genesys presence sync triggered messages to both of the agent's customers".into())
}
