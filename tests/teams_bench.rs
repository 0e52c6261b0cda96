//! Presence sync figures for `docs/benchmarks-teams.md` (ignored by default; run with
//! `cargo test --release --test teams_bench -- --ignored --nocapture --test-threads=1`).
//!
//! - latency from a presence change on one side to herald's write on the other (p50/p99), both directions;
//! - one poll round over 5,000 linked agents against the Graph emulator, and the agents one instance can keep in
//!   sync within Graph's presence budget.

mod teams_support;

use std::time::{Duration, Instant};

use teams_support::{until, Env, Options};

const BOB: &str = "22222222-bbbb-4bbb-8bbb-000000000002";
const BOB_AAD: &str = "bbbbbbbb-0000-4000-8000-000000000002";

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

async fn spin<F: Fn() -> bool>(what: &str, f: F) -> Duration {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() > Duration::from_secs(20) {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn presence_latency() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut opts = Options {
        presence: true,
        presence_extra: format!(
            "poll_interval_secs = 3600\necho_ttl_secs = 1\nnotification_url = \"http://127.0.0.1:{port}/api/graph/notifications\"\nclient_state = \"bench-client-state\""
        ),
        users: vec![BOB_AAD.into()],
        links: vec![(BOB.into(), BOB_AAD.into())],
        agents: vec![BOB.into()],
        ..Default::default()
    };
    opts.listen = Some(format!("127.0.0.1:{port}"));
    opts.graph_extra =
        "delegated = { username = \"presence-sync@contoso.example\", password = \"presence-sync-password\" }".into();
    let env = Env::start(opts).await;
    let world = env.teams.world().clone();
    let g = env.genesys.as_ref().expect("genesys").control();
    assert!(
        until(|| async { world.subscriptions().len() == 1 }).await,
        "{:?} {:?}",
        env.health().await,
        world.graph_counters()
    );
    assert!(until(|| async { env.health().await.get("genesys_stream").is_some_and(|s| s.starts_with("1/1")) }).await);
    assert!(until(|| async { env.stats().await.get("presence.poll_rounds").copied().unwrap_or(0) >= 1 }).await);
    let n = 200;
    // Genesys → Teams.
    let mut g2t = Vec::new();
    for i in 0..n {
        let (gp, tp) = if i % 2 == 0 { ("Away", "Away") } else { ("Available", "Available") };
        let t0 = Instant::now();
        g.set_presence(BOB, gp).expect("set");
        let w = world.clone();
        spin(&format!("g2t {i}"), move || w.graph_presence(BOB_AAD).is_some_and(|p| p.availability == tp)).await;
        g2t.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await; // let echo memories expire between the phases
                                                           // Teams → Genesys (through change notifications).
    let mut t2g = Vec::new();
    for i in 0..n {
        let (ta, gs) = if i % 2 == 0 { ("Busy", "Busy") } else { ("Available", "Available") };
        let t0 = Instant::now();
        world.set_user_status(BOB_AAD, ta, ta);
        let gc = g.clone();
        spin(&format!("t2g {i}"), move || gc.agent_status(BOB).is_some_and(|s| s.1 == gs)).await;
        t2g.push(t0.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "genesys->teams n={n} p50={:?} p99={:?}; teams->genesys (subscription) n={n} p50={:?} p99={:?}",
        pct(&mut g2t, 0.5),
        pct(&mut g2t, 0.99),
        pct(&mut t2g, 0.5),
        pct(&mut t2g, 0.99)
    );
    println!("stats: {:?}", env.stats().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn poll_capacity_5000_agents() {
    let agents = 5000usize;
    let users: Vec<String> = (0..agents).map(|i| format!("00000000-0000-4000-8000-{i:012}")).collect();
    let links: Vec<(String, String)> =
        users.iter().enumerate().map(|(i, u)| (format!("99999999-0000-4000-8000-{i:012}"), u.clone())).collect();
    let opts = Options {
        presence: true,
        presence_extra: "poll_interval_secs = 1\ngenesys_to_teams = false".into(),
        users,
        links,
        ..Default::default()
    };
    let env = Env::start(opts).await;
    let world = env.teams.world().clone();
    let rounds = |e: &std::collections::BTreeMap<String, u64>| e.get("presence.poll_rounds").copied().unwrap_or(0);
    assert!(until(|| async { rounds(&env.stats().await) >= 1 }).await);
    let r0 = rounds(&env.stats().await);
    let req0 = world.graph_counters().bulk_requests;
    let t0 = Instant::now();
    let target = r0 + 10;
    while rounds(&env.stats().await) < target {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = t0.elapsed();
    let reqs = world.graph_counters().bulk_requests - req0;
    let per_round = elapsed.as_secs_f64() / 10.0 - 1.0;
    println!(
        "{agents} agents: 10 rounds in {elapsed:?} ({reqs} getPresencesByUserId requests, {:.1} per round); \
         round work ≈ {:.0} ms excluding the 1 s interval; throttled={}",
        reqs as f64 / 10.0,
        per_round * 1000.0,
        world.graph_counters().throttled
    );
}
