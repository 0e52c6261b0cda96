//! Presence sync end to end: herald between the Genesys emulator and the Graph emulator. Teams → Genesys and
//! Genesys → Teams both arrive; herald's own writes do not bounce back (counted on both emulators); an On Queue
//! agent is left alone; with subscriptions, the validation handshake passes, a change notification is acted on and
//! one with a wrong clientState is ignored.

mod teams_support;

use teams_support::{until, Env, Options, ALICE, ALICE_AAD};

const BOB: &str = "22222222-bbbb-4bbb-8bbb-000000000002";
const BOB_AAD: &str = "bbbbbbbb-0000-4000-8000-000000000002";

fn options(extra: &str) -> Options {
    Options {
        presence: true,
        presence_extra: extra.into(),
        users: vec![BOB_AAD.into()],
        links: vec![(BOB.into(), BOB_AAD.into())],
        agents: vec![BOB.into()],
        ..Default::default()
    }
}

fn genesys_patches(env: &Env, user: &str) -> usize {
    let g = env.genesys.as_ref().expect("genesys");
    g.control()
        .request_log()
        .iter()
        .filter(|e| e.method == "PATCH" && e.path.contains(user) && e.path.contains("/presences/"))
        .count()
}

fn genesys_system(env: &Env, user: &str) -> String {
    env.genesys.as_ref().expect("genesys").control().agent_status(user).map(|s| s.1).unwrap_or_default()
}

async fn ready(env: &Env) {
    assert!(until(|| async { env.stats().await.get("presence.poll_rounds").copied().unwrap_or(0) >= 1 }).await);
    assert!(
        until(|| async { env.health().await.get("genesys_stream").is_some_and(|s| s.starts_with("1/1")) }).await,
        "{:?}",
        env.health().await
    );
}

async fn stat(env: &Env, k: &str) -> u64 {
    env.stats().await.get(k).copied().unwrap_or(0)
}

#[tokio::test]
async fn presence_flows_both_ways_without_ping_pong_and_spares_on_queue_agents() {
    let env = Env::start(options("poll_interval_secs = 1")).await;
    let world = env.teams.world();
    ready(&env).await;

    // Teams → Genesys.
    assert!(world.set_user_status(BOB_AAD, "Busy", "Busy"));
    assert!(until(|| async { genesys_system(&env, BOB) == "Busy" }).await, "{:?}", env.stats().await);
    // The Genesys event of herald's own write comes back and is recognised as an echo.
    assert!(until(|| async { stat(&env, "presence.echo_suppressed_genesys").await >= 1 }).await);
    assert_eq!(genesys_patches(&env, BOB), 1);
    assert_eq!(world.graph_counters().writes(), 0, "the echo must not be written to Teams");

    // Genesys → Teams.
    env.genesys.as_ref().expect("genesys").control().set_presence(BOB, "Away").expect("set");
    assert!(until(|| async { world.graph_presence(BOB_AAD).is_some_and(|p| p.availability == "Away") }).await);
    assert_eq!(world.graph_counters().set_preferred, 1);
    // The next poll sees herald's own Teams write: an echo, not copied back to Genesys.
    assert!(until(|| async { stat(&env, "presence.echo_suppressed_teams").await >= 1 }).await);
    assert_eq!(genesys_patches(&env, BOB), 1, "no second Genesys write");
    assert_eq!(genesys_system(&env, BOB), "Away");
    assert_eq!(world.graph_counters().writes(), 1);

    // Alice is On Queue: her Teams change is not copied.
    assert_eq!(genesys_system(&env, ALICE), "OnQueue");
    assert!(world.set_user_status(ALICE_AAD, "DoNotDisturb", "DoNotDisturb"));
    assert!(until(|| async { stat(&env, "presence.skipped_on_queue").await >= 1 }).await);
    assert_eq!(genesys_system(&env, ALICE), "OnQueue");
    assert_eq!(genesys_patches(&env, ALICE), 0);
    assert_eq!(stat(&env, "presence.genesys_writes").await, 1);
    assert_eq!(stat(&env, "presence.teams_writes").await, 1);
}

#[tokio::test]
async fn subscriptions_notify_and_wrong_client_state_is_ignored() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut opts = options(&format!(
        "poll_interval_secs = 3600\nnotification_url = \"http://127.0.0.1:{port}/api/graph/notifications\"\nclient_state = \"s3cret-client-state\""
    ));
    opts.listen = Some(format!("127.0.0.1:{port}"));
    opts.graph_extra =
        "delegated = { username = \"presence-sync@contoso.example\", password = \"presence-sync-password\" }".into();
    let env = Env::start(opts).await;
    let world = env.teams.world();
    // The subscription exists only if herald echoed the validation token.
    assert!(until(|| async { world.subscriptions().len() == 1 }).await, "{:?}", env.health().await);
    ready(&env).await;
    let sub = world.subscriptions().remove(0);
    assert_eq!(sub.ids.len(), 2);

    // A real change notification (the emulator sends one on every change) is acted on.
    world.set_client_state(BOB_AAD, Some(("Busy", "InACall")));
    assert!(until(|| async { genesys_system(&env, BOB) == "Busy" }).await, "{:?}", env.stats().await);
    assert!(stat(&env, "presence.notifications_accepted").await >= 1);
    assert_eq!(genesys_patches(&env, BOB), 1);

    // A notification with the wrong clientState is counted and ignored, even though it announces a change. (It is
    // sent once herald has settled the real one above, so the counts below cannot race with that one.)
    let before_reads = world.graph_counters().bulk_requests;
    let acknowledged = world.send_notification(&sub.id, BOB_AAD, "forged-state").await.expect("send");
    assert!(acknowledged, "herald acknowledges (2xx) but ignores it");
    assert_eq!(stat(&env, "presence.notifications_bad_client_state").await, 1);
    assert_eq!(world.graph_counters().bulk_requests, before_reads, "nothing was read for it");
    assert_eq!(genesys_patches(&env, BOB), 1);
    assert_eq!(genesys_system(&env, BOB), "Busy");

    // The next real change is acted on again.
    assert!(world.set_user_status(BOB_AAD, "Away", "Away"));
    assert!(until(|| async { genesys_system(&env, BOB) == "Away" }).await, "{:?}", env.stats().await);
    assert_eq!(genesys_patches(&env, BOB), 2);
}
