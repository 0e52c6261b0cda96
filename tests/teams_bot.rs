//! The Teams bot end to end: herald's `/api/messages` against the Bot Connector emulator's signer. Every forged
//! token variant is refused with nothing changed; malformed activities get 400; a valid installation stores the
//! conversation reference; a command is answered; a proactive message reaches the agent's Teams transcript; a user
//! who blocked the bot makes the delivery fail permanently and drops the reference.

mod teams_support;

use herald_emulator::botconnector::signer::ActivityKind;
use herald_emulator::botconnector::Forgery;
use teams_support::{until, Env, Options, ALICE, ALICE_AAD};

async fn references(env: &Env) -> String {
    env.health().await.get("references").cloned().unwrap_or_default()
}

#[tokio::test]
async fn every_forged_token_is_refused_without_side_effect() {
    let env = Env::start(Options::default()).await;
    let world = env.teams.world();
    let kinds = [
        ActivityKind::ConversationUpdate,
        ActivityKind::InstallationUpdate,
        ActivityKind::Message { text: "link 11111111-aaaa-4bbb-8ccc-000000000001".into() },
    ];
    for forgery in Forgery::REFUSED {
        for kind in &kinds {
            let status = world.send_to_bot(&env.bot_url(), ALICE_AAD, kind, forgery).await.expect("post");
            let expected: &[u16] = match forgery {
                Forgery::UnendorsedKey | Forgery::ServiceUrlMismatch => &[403],
                _ => &[401],
            };
            assert!(expected.contains(&status), "{forgery:?} {kind:?} answered {status}");
        }
    }
    // Nothing changed: no reference stored, no reply sent, a proactive message has nowhere to go.
    assert_eq!(references(&env).await, "0 stored");
    assert!(world.transcript(ALICE_AAD).is_empty());
    assert_eq!(world.connector_counters().activities_sent, 0);
    let id = env.notify_agent(ALICE, "should not arrive").await;
    let v = env.wait_final(&id).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert!(world.transcript(ALICE_AAD).is_empty());
}

#[tokio::test]
async fn malformed_activities_get_400_and_change_nothing() {
    let env = Env::start(Options::default()).await;
    let world = env.teams.world();
    let valid = world.activity(ALICE_AAD, &ActivityKind::ConversationUpdate).expect("activity");
    let token = world.sign(&valid, Forgery::None).expect("sign").expect("token");
    let mut no_service_url = valid.clone();
    no_service_url.as_object_mut().expect("object").remove("serviceUrl");
    let mut wrong_type = valid.clone();
    wrong_type["from"] = serde_json::json!("29:not-an-object");
    let mut empty_conversation = valid.clone();
    empty_conversation["conversation"]["id"] = serde_json::json!("");
    let bodies: Vec<Vec<u8>> = vec![
        b"not json".to_vec(),
        b"{}".to_vec(),
        b"[]".to_vec(),
        serde_json::to_vec(&no_service_url).expect("json"),
        serde_json::to_vec(&wrong_type).expect("json"),
        serde_json::to_vec(&empty_conversation).expect("json"),
    ];
    for body in bodies {
        let status = world.post_to_bot(&env.bot_url(), body.clone(), Some(&token)).await.expect("post");
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    }
    assert_eq!(references(&env).await, "0 stored");
    // The same token with the intact activity is accepted: the 400s were about the bodies.
    let status =
        world.post_to_bot(&env.bot_url(), serde_json::to_vec(&valid).expect("json"), Some(&token)).await.expect("post");
    assert_eq!(status, 200);
    assert_eq!(references(&env).await, "1 stored");
}

#[tokio::test]
async fn installation_command_and_proactive_message_reach_the_agent() {
    let env = Env::start(Options::default()).await;
    let world = env.teams.world();
    let ok = world.send_to_bot(&env.bot_url(), ALICE_AAD, &ActivityKind::InstallationUpdate, Forgery::None).await;
    assert_eq!(ok, Ok(200));
    assert_eq!(references(&env).await, "1 stored");

    let help = ActivityKind::Message { text: "<at>herald</at> help".into() };
    assert_eq!(world.send_to_bot(&env.bot_url(), ALICE_AAD, &help, Forgery::None).await, Ok(200));
    assert!(until(|| async { world.transcript(ALICE_AAD).iter().any(|a| a.text.contains("Commands:")) }).await);
    let reply = world.transcript(ALICE_AAD).remove(0);
    assert!(reply.reply_to_id.is_some(), "a command is answered as a reply: {reply:?}");

    let id = env.notify_agent(ALICE, "Customer 42 has waited 5 minutes").await;
    let v = env.wait_final(&id).await;
    assert_eq!(v["status"], "delivered", "{v}");
    let t = world.transcript(ALICE_AAD);
    let last = t.last().expect("a message");
    assert_eq!(last.text, "Customer 42 has waited 5 minutes");
    assert_eq!(v["receipt"]["upstream_message_id"].as_str(), Some(last.activity_id.as_str()), "{v}");

    // The user blocks the bot: the next delivery fails for good and the reference is dropped.
    world.set_blocked(ALICE_AAD, true);
    let id = env.notify_agent(ALICE, "after the block").await;
    let v = env.wait_final(&id).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert!(v.to_string().contains("blocked the bot"), "{v}");
    assert_eq!(references(&env).await, "0 stored");
    assert_eq!(world.connector_counters().blocked_refusals, 1);
}

#[tokio::test]
async fn transient_connector_failures_are_retried() {
    let env = Env::start(Options::default()).await;
    let world = env.teams.world();
    assert_eq!(
        world.send_to_bot(&env.bot_url(), ALICE_AAD, &ActivityKind::ConversationUpdate, Forgery::None).await,
        Ok(200)
    );
    world.inject_connector_faults(&[(412, None), (429, Some(1)), (503, None)]);
    let id = env.notify_agent(ALICE, "despite faults").await;
    let v = env.wait_final(&id).await;
    assert_eq!(v["status"], "delivered", "{v}");
    assert_eq!(world.connector_counters().faults, 3);
    assert_eq!(world.transcript(ALICE_AAD).len(), 1);
}

/// Mallory, a second Teams user of the same tenant.
const MALLORY_AAD: &str = "aaaaaaaa-0000-4000-8000-0000000000ee";

#[tokio::test]
async fn a_second_user_cannot_take_over_an_agents_link() {
    let env = Env::start(Options { users: vec![MALLORY_AAD.into()], ..Options::default() }).await;
    let world = env.teams.world();
    for aad in [ALICE_AAD, MALLORY_AAD] {
        let ok = world.send_to_bot(&env.bot_url(), aad, &ActivityKind::InstallationUpdate, Forgery::None).await;
        assert_eq!(ok, Ok(200));
    }
    let takeover = ActivityKind::Message { text: format!("link {ALICE}") };
    assert_eq!(world.send_to_bot(&env.bot_url(), MALLORY_AAD, &takeover, Forgery::None).await, Ok(200));
    assert!(until(|| async { !world.transcript(MALLORY_AAD).is_empty() }).await, "the bot answers the link command");
    let answer = world.transcript(MALLORY_AAD).remove(0).text;
    assert!(answer.contains("already linked to someone else"), "{answer}");
    assert!(!answer.contains("Linked:"), "{answer}");

    // Nothing changed: Mallory is not linked, and Alice's notifications still reach Alice only.
    let status = ActivityKind::Message { text: "status".into() };
    assert_eq!(world.send_to_bot(&env.bot_url(), MALLORY_AAD, &status, Forgery::None).await, Ok(200));
    assert!(until(|| async { world.transcript(MALLORY_AAD).len() == 2 }).await);
    let status_answer = world.transcript(MALLORY_AAD).remove(1).text;
    assert!(status_answer.contains("not linked"), "{status_answer}");
    let id = env.notify_agent(ALICE, "for Alice only").await;
    let v = env.wait_final(&id).await;
    assert_eq!(v["status"], "delivered", "{v}");
    assert!(world.transcript(ALICE_AAD).iter().any(|a| a.text == "for Alice only"));
    assert!(world.transcript(MALLORY_AAD).iter().all(|a| a.text != "for Alice only"));
}

#[tokio::test]
async fn an_activity_of_another_tenant_is_refused_with_403() {
    let env = Env::start(Options::default()).await;
    let world = env.teams.world();
    let mut foreign = world.activity(ALICE_AAD, &ActivityKind::InstallationUpdate).expect("activity");
    foreign["conversation"]["tenantId"] = serde_json::json!("99999999-0000-4000-8000-00000000ffff");
    foreign["channelData"]["tenant"]["id"] = serde_json::json!("99999999-0000-4000-8000-00000000ffff");
    let token = world.sign(&foreign, Forgery::None).expect("sign").expect("token");
    let status = world
        .post_to_bot(&env.bot_url(), serde_json::to_vec(&foreign).expect("json"), Some(&token))
        .await
        .expect("post");
    assert_eq!(status, 403, "a validly signed activity of a foreign tenant");
    let mut tenantless = world.activity(ALICE_AAD, &ActivityKind::InstallationUpdate).expect("activity");
    tenantless["conversation"].as_object_mut().expect("object").remove("tenantId");
    tenantless.as_object_mut().expect("object").remove("channelData");
    let token = world.sign(&tenantless, Forgery::None).expect("sign").expect("token");
    let status = world
        .post_to_bot(&env.bot_url(), serde_json::to_vec(&tenantless).expect("json"), Some(&token))
        .await
        .expect("post");
    assert_eq!(status, 403, "an activity naming no tenant");
    assert_eq!(references(&env).await, "0 stored", "a refused activity stores nothing");
    // The configured tenant's activity is accepted.
    assert_eq!(
        world.send_to_bot(&env.bot_url(), ALICE_AAD, &ActivityKind::InstallationUpdate, Forgery::None).await,
        Ok(200)
    );
    assert_eq!(references(&env).await, "1 stored");
}

#[tokio::test]
async fn a_user_cannot_link_a_genesys_user_who_is_not_provably_them() {
    // Bob's Genesys user is free (no link), but nothing in the directory says Mallory is Bob.
    const BOB: &str = "22222222-bbbb-4bbb-8bbb-000000000002";
    let env = Env::start(Options {
        presence: true,
        users: vec![MALLORY_AAD.into()],
        agents: vec![BOB.into()],
        ..Options::default()
    })
    .await;
    let world = env.teams.world();
    let link = ActivityKind::Message { text: format!("link {BOB}") };
    assert_eq!(world.send_to_bot(&env.bot_url(), MALLORY_AAD, &link, Forgery::None).await, Ok(200));
    assert!(until(|| async { !world.transcript(MALLORY_AAD).is_empty() }).await, "the bot answers");
    let answer = world.transcript(MALLORY_AAD).remove(0).text;
    assert!(answer.contains("is not you"), "{answer}");
    let status = ActivityKind::Message { text: "status".into() };
    assert_eq!(world.send_to_bot(&env.bot_url(), MALLORY_AAD, &status, Forgery::None).await, Ok(200));
    assert!(until(|| async { world.transcript(MALLORY_AAD).len() == 2 }).await);
    assert!(world.transcript(MALLORY_AAD)[1].text.contains("not linked"), "nothing was linked");
}

/// Where the bot cannot prove who is who, an operator links through the authenticated API: the link takes effect
/// for deliveries, and is removed the same way. Unknown integrations, missing keys and bad bodies change nothing.
#[tokio::test]
async fn an_operator_links_and_unlinks_through_the_api() {
    const BOB: &str = "22222222-bbbb-4bbb-8bbb-000000000002";
    let env = Env::start(Options { users: vec![MALLORY_AAD.into()], ..Options::default() }).await;
    let world = env.teams.world();
    let ok = world.send_to_bot(&env.bot_url(), MALLORY_AAD, &ActivityKind::InstallationUpdate, Forgery::None).await;
    assert_eq!(ok, Ok(200));
    let path = |integration: &str, user: &str| format!("{}/v1/integrations/{integration}/links/{user}", env.base);
    let body = serde_json::json!({"aad_object_id": MALLORY_AAD});

    let unauthenticated = env.http.put(path("teams", BOB)).json(&body).send().await.expect("put");
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let unknown = env.http.put(path("nope", BOB)).bearer_auth(teams_support::API_KEY).json(&body).send().await;
    assert_eq!(unknown.expect("put").status().as_u16(), 404);
    let bad = env
        .http
        .put(path("teams", BOB))
        .bearer_auth(teams_support::API_KEY)
        .json(&serde_json::json!({"aad": MALLORY_AAD}))
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status().as_u16(), 422, "an unknown field is named");
    let id = env.notify_agent(BOB, "before the link").await;
    assert_eq!(env.wait_final(&id).await["status"], "failed", "Bob is linked to nobody yet");

    let linked = env.http.put(path("teams", BOB)).bearer_auth(teams_support::API_KEY).json(&body).send().await;
    let linked = linked.expect("put");
    assert_eq!(linked.status().as_u16(), 200);
    let id = env.notify_agent(BOB, "for Bob, in Mallory's Teams").await;
    let v = env.wait_final(&id).await;
    assert_eq!(v["status"], "delivered", "{v}");
    assert!(world.transcript(MALLORY_AAD).iter().any(|a| a.text == "for Bob, in Mallory's Teams"));

    let unlinked = env.http.delete(path("teams", BOB)).bearer_auth(teams_support::API_KEY).send().await;
    let unlinked: serde_json::Value = unlinked.expect("delete").json().await.expect("json");
    assert_eq!(unlinked["aad_object_id"], MALLORY_AAD);
    let again = env.http.delete(path("teams", BOB)).bearer_auth(teams_support::API_KEY).send().await;
    assert_eq!(again.expect("delete").status().as_u16(), 404);
    let id = env.notify_agent(BOB, "after the unlink").await;
    assert_eq!(env.wait_final(&id).await["status"], "failed");
    assert!(world.transcript(MALLORY_AAD).iter().all(|a| a.text != "after the unlink"));
}
