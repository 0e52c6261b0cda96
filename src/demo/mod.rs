//! `herald demo`: the emulator and herald in-process, every story of the integrators' reports played end to end,
//! with a readable timeline and a pass/fail line per scenario.

mod stories;
mod timeline;
mod world;

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

pub use timeline::Timeline;
pub use world::{World, DEMO_CONFIG};

/// Options of `herald demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Play only these stories (e.g. `--only 1 --only 5`).
    #[arg(long)]
    pub only: Vec<u8>,
}

/// The outcome of one scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Which story.
    pub story: u8,
    /// Its title.
    pub title: &'static str,
    /// Pass with a summary, or fail with the reason.
    pub result: Result<String, String>,
}

const TITLES: [(u8, &str); 5] = [
    (1, "proactive notification on a business event"),
    (2, "Teams presence → Genesys → messages to the agent's customers of the last 24 h, one closed"),
    (5, "notification after the session closed, delivered when the customer returns"),
    (4, "canned greeting after a queue wait"),
    (3, "50 headless guests exchanging messages"),
];

/// Play the scenarios against a fresh world; returns one outcome per scenario.
pub async fn play(args: &DemoArgs, timeline: &Timeline) -> anyhow::Result<Vec<Outcome>> {
    let world = World::start().await?;
    timeline.step("demo", format!("emulator at {} · herald at {}", world.emulator.base_url(), world.base));
    let mut outcomes = Vec::new();
    for (story, title) in TITLES {
        if !args.only.is_empty() && !args.only.contains(&story) {
            continue;
        }
        println!();
        println!("── story {story}: {title}");
        let result = match story {
            1 => stories::story1(&world, timeline).await,
            2 => stories::story2(&world, timeline).await,
            3 => stories::story3(&world, timeline).await,
            4 => stories::story4(&world, timeline).await,
            _ => stories::story5(&world, timeline).await,
        };
        outcomes.push(Outcome { story, title, result: result.map_err(|e| format!("{e:#}")) });
    }
    world.stop().await;
    Ok(outcomes)
}

/// `herald demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let timeline = Timeline::new();
    println!("herald demo: the Genesys Cloud emulator and herald, in-process on loopback; config/demo.toml");
    let outcomes = play(&args, &timeline).await?;
    println!();
    let mut ok = true;
    for o in &outcomes {
        match &o.result {
            Ok(summary) => println!("PASS story {}: {} ({summary})", o.story, o.title),
            Err(reason) => {
                ok = false;
                println!("FAIL story {}: {} ({reason})", o.story, o.title);
            }
        }
    }
    println!("{} scenario(s) in {:.1} s", outcomes.len(), started.elapsed().as_secs_f64());
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
