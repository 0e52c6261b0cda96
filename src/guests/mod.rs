//! `herald guests`: headless guests load-testing a web messaging deployment (the legacy web chat kind is not wired
//! in this build).
//!
//! - [`script`]: what each guest says and waits for;
//! - [`stats`]: shared counters, the latency histogram and the [`LoadSummary`];
//! - [`run_load`]: the run itself (library entry for tests and `herald demo`).
//!
//! Each guest is a [`herald_webmessaging::guest::GuestClient`] on its own WebSocket.

#[cfg(feature = "webmessaging")]
mod runner;
pub mod script;
pub mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{Args, ValueEnum};

pub use script::{Script, Step, WaitFor};
pub use stats::LoadSummary;

/// What a load run does.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Guest WebSocket base (`wss://webmessaging.<domain>`, or the emulator's `ws://127.0.0.1:PORT`).
    pub ws_base: String,
    /// Platform API base (guest history); derived from `ws_base` when `None`.
    pub api_base: Option<String>,
    /// The web messaging deployment id.
    pub deployment_id: String,
    /// How many guests.
    pub count: usize,
    /// New sessions per second while ramping up (0 = all at once).
    pub rate: f64,
    /// How long the run lasts (guests stay connected until then).
    pub duration: Duration,
    /// What each guest does.
    pub script: Script,
    /// One progress line per second on stderr.
    pub progress: bool,
    /// Handshake + `SessionResponse` timeout per guest.
    pub connect_timeout: Duration,
}

impl LoadPlan {
    /// A plan with the default script, no progress output, a 10 s connect timeout.
    pub fn new(ws_base: impl Into<String>, deployment_id: impl Into<String>, count: usize, duration: Duration) -> Self {
        LoadPlan {
            ws_base: ws_base.into(),
            api_base: None,
            deployment_id: deployment_id.into(),
            count,
            rate: 0.0,
            duration,
            script: Script::default(),
            progress: false,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Runs `plan` and summarises it (see [`LoadSummary`]). Problems are counted, never returned.
#[cfg(feature = "webmessaging")]
pub async fn run_load(plan: LoadPlan) -> LoadSummary {
    runner::run_load(plan).await
}

/// Without the web messaging adapter there are no guests: every guest counts as a `connect` error.
#[cfg(not(feature = "webmessaging"))]
pub async fn run_load(plan: LoadPlan) -> LoadSummary {
    let s = stats::Stats::default();
    for _ in 0..plan.count {
        s.error("not_built");
    }
    s.summary(Duration::ZERO, plan.count)
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// The [`LoadSummary`] as JSON.
    Json,
}

/// Which guest protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Kind {
    /// Web messaging (the guest WebSocket).
    #[default]
    Webmessaging,
    /// Legacy web chat (guest REST + event stream).
    Webchat,
}

/// `herald guests --deployment ID (--region R | --base-url URL) [--count N] [--rate R] [--duration D]
/// [--script FILE] [--format text|json] [--kind webmessaging|webchat]`.
#[derive(Debug, Clone, Args)]
pub struct GuestsArgs {
    /// The web messaging deployment id.
    #[arg(long)]
    pub deployment: String,
    /// A Genesys region key or domain (`eu_west_1`, `mypurecloud.ie`).
    #[arg(long, conflicts_with = "base_url", required_unless_present = "base_url")]
    pub region: Option<String>,
    /// One base URL serving every role, e.g. the emulator's `http://127.0.0.1:8089`.
    #[arg(long)]
    pub base_url: Option<String>,
    /// How many guests.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// New sessions per second while ramping up (0 = all at once).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// How long the run lasts: `90s`, `5m`, `500ms`, or seconds.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// The guest script (TOML, or JSON by extension); default: one message, wait for its echo.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Guest protocol.
    #[arg(long, value_enum, default_value_t = Kind::Webmessaging)]
    pub kind: Kind,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// Parses `90s`, `5m`, `1h`, `250ms` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a duration (90s, 5m, 500ms)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("`{s}`: {e}"))
}

/// Builds the plan from the arguments, runs it, prints progress and the summary.
///
/// Exit code 0 when every guest opened a session and nothing failed, 1 otherwise.
pub async fn run(args: GuestsArgs) -> anyhow::Result<ExitCode> {
    if args.kind == Kind::Webchat {
        bail!("--kind webchat: the legacy web chat guest is not available in this build of `herald guests`");
    }
    let plan = plan_from_args(&args)?;
    let summary = run_load(plan).await;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Format::Text => print!("{}", summary.to_text()),
    }
    let ok = summary.sessions_opened as usize == summary.guests && summary.errors.is_empty();
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The [`LoadPlan`] the arguments describe.
pub fn plan_from_args(args: &GuestsArgs) -> anyhow::Result<LoadPlan> {
    let (ws_base, api_base) = endpoints(args.region.as_deref(), args.base_url.as_deref())?;
    let script = match &args.script {
        Some(p) => Script::from_file(p)?,
        None => Script::default(),
    };
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        bail!("--rate must be a number of sessions per second (0 = all at once)");
    }
    let mut plan = LoadPlan::new(ws_base, args.deployment.clone(), args.count, args.duration);
    plan.api_base = Some(api_base);
    plan.rate = args.rate;
    plan.script = script;
    plan.progress = !args.quiet;
    Ok(plan)
}

/// `(guest WebSocket base, API base)` for a region/domain or a base URL.
fn endpoints(region: Option<&str>, base_url: Option<&str>) -> anyhow::Result<(String, String)> {
    let raw = region.or(base_url).ok_or_else(|| anyhow!("give --region or --base-url"))?;
    #[cfg(feature = "webmessaging")]
    {
        let env: herald_webmessaging::guest::Environment =
            raw.parse().map_err(|_| anyhow!("unknown Genesys region, domain or URL {raw:?}"))?;
        Ok((env.webmessaging_ws_base(), env.api_base()))
    }
    #[cfg(not(feature = "webmessaging"))]
    {
        let _ = raw;
        bail!("herald was built without the webmessaging feature: no guests")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3 days").is_err());
    }
}
