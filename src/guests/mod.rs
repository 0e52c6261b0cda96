//! `herald guests`: headless guests load-testing a web messaging deployment or a legacy web chat deployment.
//!
//! - [`script`]: what each guest says and waits for;
//! - [`stats`]: shared counters, the latency histogram and the [`LoadSummary`];
//! - [`run_load`]: the run itself (library entry for tests and `herald demo`).
//!
//! One runner drives both guest kinds ([`Kind`]) through a small trait: a web messaging guest is a
//! [`herald_webmessaging::guest::GuestClient`] on its own WebSocket; a legacy chat guest is a
//! `herald_webchat::guest::ChatGuest` (guest REST calls plus its own event stream WebSocket).

#[cfg(any(feature = "webmessaging", feature = "webchat"))]
mod runner;
pub mod script;
pub mod stats;
#[cfg(feature = "webchat")]
mod webchat;
#[cfg(feature = "webmessaging")]
mod webmessaging;

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
    /// Which guest protocol the guests speak.
    pub kind: Kind,
    /// Guest WebSocket base (`wss://webmessaging.<domain>`, or the emulator's `ws://127.0.0.1:PORT`); web messaging
    /// only.
    pub ws_base: String,
    /// Platform API base: guest history (web messaging) or the guest chat API (web chat). Derived from `ws_base`
    /// when `None` (`ws://` → `http://`, `wss://` → `https://`; right for the emulator's single base URL).
    pub api_base: Option<String>,
    /// The deployment id: a web messaging deployment, or a legacy web chat deployment for [`Kind::Webchat`].
    pub deployment_id: String,
    /// The organization id (`organizationId` of a guest chat); web chat only.
    pub organization_id: String,
    /// The queue a guest chat is routed to (`routingTarget.targetAddress`, the queue name); web chat only.
    pub queue: String,
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
    /// A web messaging plan with the default script, no progress output, a 10 s connect timeout.
    pub fn new(ws_base: impl Into<String>, deployment_id: impl Into<String>, count: usize, duration: Duration) -> Self {
        LoadPlan {
            kind: Kind::Webmessaging,
            ws_base: ws_base.into(),
            api_base: None,
            deployment_id: deployment_id.into(),
            organization_id: String::new(),
            queue: String::new(),
            count,
            rate: 0.0,
            duration,
            script: Script::default(),
            progress: false,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// A legacy web chat plan (guests of chat deployment `deployment_id` in `organization_id`, routed to the queue
    /// named `queue`) on the Platform API at `api_base`, with the same defaults as [`LoadPlan::new`].
    pub fn webchat(
        api_base: impl Into<String>,
        organization_id: impl Into<String>,
        deployment_id: impl Into<String>,
        queue: impl Into<String>,
        count: usize,
        duration: Duration,
    ) -> Self {
        let api_base: String = api_base.into();
        let mut plan = LoadPlan::new(api_base.clone(), deployment_id, count, duration);
        plan.kind = Kind::Webchat;
        plan.api_base = Some(api_base);
        plan.organization_id = organization_id.into();
        plan.queue = queue.into();
        plan
    }

    /// The Platform API base: `api_base`, or `ws_base` with its scheme mapped to http(s).
    pub fn api_base_url(&self) -> String {
        let base = match &self.api_base {
            Some(b) => b.clone(),
            None => match self.ws_base.split_once("://") {
                Some(("wss", rest)) => format!("https://{rest}"),
                Some(("ws", rest)) => format!("http://{rest}"),
                _ => self.ws_base.clone(),
            },
        };
        base.trim_end_matches('/').to_string()
    }
}

/// Runs `plan` and summarises it (see [`LoadSummary`]). Problems are counted, never returned; a guest kind this
/// build lacks counts every guest as a `not_built` error.
pub async fn run_load(plan: LoadPlan) -> LoadSummary {
    match plan.kind {
        #[cfg(feature = "webmessaging")]
        Kind::Webmessaging => runner::run_load::<webmessaging::WebMessagingGuest>(plan).await,
        #[cfg(feature = "webchat")]
        Kind::Webchat => runner::run_load::<webchat::WebChatGuest>(plan).await,
        #[allow(unreachable_patterns)]
        _ => not_built(&plan),
    }
}

/// The summary of a run whose guest kind is not compiled in.
#[allow(dead_code)]
fn not_built(plan: &LoadPlan) -> LoadSummary {
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
/// [--script FILE] [--format text|json] [--kind webmessaging|webchat [--organization ID --queue NAME]]`.
#[derive(Debug, Clone, Args)]
pub struct GuestsArgs {
    /// The deployment id: the web messaging deployment, or with `--kind webchat` the legacy chat deployment.
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
    /// The organization id (`organizationId` of each guest chat); required with `--kind webchat`.
    #[arg(long, value_name = "ID")]
    pub organization: Option<String>,
    /// The queue guest chats are routed to, by name (`routingTarget.targetAddress`); required with `--kind webchat`.
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
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
    #[cfg(not(feature = "webchat"))]
    if args.kind == Kind::Webchat {
        bail!("--kind webchat: the legacy web chat guest is not available in this build of `herald guests`");
    }
    #[cfg(not(feature = "webmessaging"))]
    if args.kind == Kind::Webmessaging {
        bail!("--kind webmessaging: the web messaging guest is not available in this build of `herald guests`");
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
    let mut plan = match args.kind {
        Kind::Webmessaging => {
            if args.organization.is_some() || args.queue.is_some() {
                bail!("--organization and --queue only apply to --kind webchat");
            }
            LoadPlan::new(ws_base, args.deployment.clone(), args.count, args.duration)
        }
        Kind::Webchat => {
            let organization = required(&args.organization, "--organization ID", "the Genesys organization id")?;
            let queue = required(&args.queue, "--queue NAME", "the name of the queue guest chats are routed to")?;
            LoadPlan::webchat(api_base.clone(), organization, args.deployment.clone(), queue, args.count, args.duration)
        }
    };
    plan.api_base = Some(api_base);
    plan.rate = args.rate;
    plan.script = script;
    plan.progress = !args.quiet;
    Ok(plan)
}

/// A non-empty option `--kind webchat` cannot do without, or an error naming it.
fn required(value: &Option<String>, option: &str, what: &str) -> anyhow::Result<String> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => bail!("--kind webchat needs {option} ({what})"),
    }
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
        match base_url {
            Some(u) if region.is_none() => {
                let api = u.trim_end_matches('/').to_string();
                Ok((api.replacen("http", "ws", 1), api))
            }
            _ => bail!("this build of herald (without the webmessaging feature) takes --base-url, not {raw:?}"),
        }
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

    fn args(kind: Kind) -> GuestsArgs {
        GuestsArgs {
            deployment: "dep-1".into(),
            region: None,
            base_url: Some("http://127.0.0.1:9".into()),
            count: 2,
            rate: 10.0,
            duration: Duration::from_secs(1),
            script: None,
            format: Format::Text,
            kind,
            organization: None,
            queue: None,
            quiet: true,
        }
    }

    #[cfg(all(feature = "webmessaging", feature = "webchat"))]
    #[test]
    fn webchat_needs_organization_and_queue() {
        let mut a = args(Kind::Webchat);
        let e = plan_from_args(&a).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("--organization ID"), "{e}");
        a.organization = Some("org-1".into());
        let e = plan_from_args(&a).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("--queue NAME"), "{e}");
        a.queue = Some("Support".into());
        let plan = plan_from_args(&a).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.kind, Kind::Webchat);
        assert_eq!((plan.organization_id.as_str(), plan.queue.as_str()), ("org-1", "Support"));
        assert_eq!(plan.api_base_url(), "http://127.0.0.1:9");
        let mut w = args(Kind::Webmessaging);
        w.queue = Some("Support".into());
        assert!(plan_from_args(&w).is_err());
        w.queue = None;
        let plan = plan_from_args(&w).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.kind, Kind::Webmessaging);
        assert_eq!(plan.ws_base, "ws://127.0.0.1:9");
    }

    #[test]
    fn api_base_is_derived_from_the_socket_base() {
        let p = LoadPlan::new("wss://webmessaging.example.test/", "d", 1, Duration::from_secs(1));
        assert_eq!(p.api_base_url(), "https://webmessaging.example.test");
        let p = LoadPlan::new("ws://127.0.0.1:8089", "d", 1, Duration::from_secs(1));
        assert_eq!(p.api_base_url(), "http://127.0.0.1:8089");
    }
}
