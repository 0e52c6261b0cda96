//! `herald doctor`: explains why a Genesys Cloud request will be rejected, and what the right one is — before
//! anything is sent.
//!
//! - [`catalog`]: the knowledge, as data (`catalog.json`): one schema per endpoint and guest WebSocket action, and
//!   the endpoints people invent with their fix;
//! - [`check`]: the generic checker walking a body against a schema;
//! - [`fix`]: the corrected request, with `{placeholders}` for ids that cannot be known offline;
//! - [`diagnose()`]: the pure entry point (also behind `POST /v1/doctor`), returning a serialisable [`Report`];
//! - [`input`]: reading pasted requests (JSON, HTTP-like text, curl);
//! - [`live`]: `--live` id resolution against the configured Genesys environment, and `--send`.

pub mod catalog;
pub mod check;
pub mod diagnose;
pub mod fix;
pub mod input;
pub mod live;
pub mod report;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

pub use diagnose::{diagnose, diagnose_frame};
pub use report::{Code, CorrectedRequest, Finding, Report, Severity, Suggestion, Verdict};

/// The body of `POST /v1/doctor`: a request (`method` + `path` + optional `body`), a guest WebSocket `frame`, or
/// pasted `text` (anything `herald doctor FILE` accepts).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DoctorRequest {
    /// HTTP method (`WS` = diagnose `body` as a guest frame).
    #[serde(default)]
    pub method: Option<String>,
    /// Path, URL or SDK operation name.
    #[serde(default)]
    pub path: Option<String>,
    /// The JSON body.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// A guest WebSocket frame.
    #[serde(default)]
    pub frame: Option<serde_json::Value>,
    /// Pasted text (HTTP-like, curl, JSON envelope); `method`/`path` override what it says.
    #[serde(default)]
    pub text: Option<String>,
}

/// Diagnoses a [`DoctorRequest`] (the `POST /v1/doctor` handler's whole job). Pure.
pub fn diagnose_request(req: &DoctorRequest) -> Report {
    if let Some(frame) = &req.frame {
        return diagnose_frame(Some(frame));
    }
    if let Some(text) = &req.text {
        return report_for_text(text, req.method.as_deref(), req.path.as_deref(), false);
    }
    match (&req.method, &req.path) {
        (Some(m), Some(p)) => diagnose(m, p, req.body.as_ref()),
        (Some(m), None) if m.eq_ignore_ascii_case("WS") => diagnose_frame(req.body.as_ref()),
        _ => Report::unusable(
            req.method.as_deref().unwrap_or_default(),
            req.path.as_deref().unwrap_or_default(),
            "give method and path (and body), a frame, or text",
        ),
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// The [`Report`] as JSON, for machines.
    Json,
}

/// `herald doctor [--method M] [--path P] [--ws] [--format text|json] [--live --config FILE --integration NAME
/// [--send]] [FILE|-]`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The request: a JSON body, a JSON `{method, path, body}`, an HTTP-like text (`POST /api/v2/...`, blank line,
    /// JSON) or a curl command. `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// The HTTP method (overrides the one in FILE).
    #[arg(long)]
    pub method: Option<String>,
    /// The path or URL, or an SDK operation name (overrides the one in FILE).
    #[arg(long)]
    pub path: Option<String>,
    /// FILE is a guest WebSocket frame (`configureSession`, `onMessage`, `echo`, `getJwt`, `closeSession`).
    #[arg(long)]
    pub ws: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Resolve the corrected request's ids from Genesys Cloud (needs --config and --integration).
    #[arg(long, requires_all = ["config", "integration"])]
    pub live: bool,
    /// The herald configuration file (for --live).
    #[arg(long, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,
    /// The integration whose Genesys environment and OAuth client --live uses.
    #[arg(long)]
    pub integration: Option<String>,
    /// With --live: send the corrected request once every id is resolved, and print the answer.
    #[arg(long, requires = "live")]
    pub send: bool,
}

/// Reads the input, diagnoses it, prints the report; with `--live` resolves ids (and `--send`s).
///
/// Exit code: 0 valid, 1 findings, 2 unusable input.
pub async fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let text = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        _ => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("cannot read standard input")?;
            s
        }
    };
    let mut report = report_for_text(&text, args.method.as_deref(), args.path.as_deref(), args.ws);
    let mut live_lines = Vec::new();
    if args.live && report.verdict != Verdict::Unusable {
        live_lines = run_live(&args, &mut report).await?;
    }
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            if args.live {
                v["live"] = serde_json::json!(live_lines);
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text => {
            print!("{}", report.to_text());
            if !live_lines.is_empty() {
                println!("\nlive:");
                for l in &live_lines {
                    println!("  {l}");
                }
            }
        }
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// Diagnoses pasted text (see [`DoctorArgs::file`]); `method`/`path` override what the text says; `ws` reads it as a
/// guest WebSocket frame.
pub fn report_for_text(text: &str, method: Option<&str>, path: Option<&str>, ws: bool) -> Report {
    let parsed = match input::parse(text) {
        Ok(p) => p,
        Err(e) => return Report::unusable(method.unwrap_or_default(), path.unwrap_or_default(), e.to_string()),
    };
    let method = method.map(str::to_string).or(parsed.method);
    if ws || method.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("WS")) {
        return diagnose_frame(parsed.body.as_ref());
    }
    let path = path.map(str::to_string).or(parsed.path);
    match (method, path) {
        (Some(m), Some(p)) => diagnose(&m, &p, parsed.body.as_ref()),
        (m, p) => Report::unusable(
            m.as_deref().unwrap_or_default(),
            p.as_deref().unwrap_or_default(),
            "no endpoint: give --method and --path, or start the input with a line like `POST /api/v2/...`",
        ),
    }
}

/// `--live`: resolve placeholders, optionally send; returns lines to print.
async fn run_live(args: &DoctorArgs, report: &mut Report) -> anyhow::Result<Vec<String>> {
    let (Some(config), Some(name)) = (&args.config, &args.integration) else {
        anyhow::bail!("--live needs --config and --integration");
    };
    let target = live::load_target(config, name)?;
    let mut lines = vec![format!("environment: {}", target.api_base)];
    let client = live::LiveClient::connect(target).await?;
    // The request to resolve: the corrected one, or the original when it is valid as is.
    let mut req = match &report.corrected {
        Some(c) => c.clone(),
        None => CorrectedRequest {
            method: report.method.clone(),
            path: report.path.clone(),
            body: None,
            placeholders: Default::default(),
        },
    };
    let conversation = report
        .suggestion
        .as_ref()
        .map(|s| &s.endpoint.params)
        .and_then(|p| p.get("conversationId"))
        .or_else(|| report.endpoint.as_ref().and_then(|e| e.params.get("conversationId")))
        .cloned();
    let mut ids = std::collections::BTreeMap::new();
    if let Some(d) = client.deployment_id() {
        ids.insert("deploymentId".to_string(), d.to_string());
    }
    match conversation {
        Some(cid) => {
            let (found, notes) = client.resolve_conversation(&cid).await?;
            for (k, v) in &found {
                lines.push(format!("resolved {k} = {v} (from GET /api/v2/conversations/{cid})"));
            }
            lines.extend(notes);
            ids.extend(found);
        }
        None => lines.push("no conversation id in the request: nothing to resolve from Genesys".into()),
    }
    let open = live::fill(&mut req, &ids);
    lines.push(format!("request: {} {}", req.method, req.path));
    if let Some(b) = &req.body {
        lines.push(format!("body: {b}"));
    }
    report.corrected = Some(req.clone());
    if !args.send {
        return Ok(lines);
    }
    if !open.is_empty() {
        lines.push(format!("not sent: unresolved placeholders {}", open.join(", ")));
        return Ok(lines);
    }
    if req.method == "WS" {
        lines.push("not sent: guest WebSocket frames are sent by a guest (herald guests)".into());
        return Ok(lines);
    }
    let answer = client.call(&req.method, &req.path, req.body.as_ref()).await?;
    lines.push(format!(
        "sent: {} (ININ-Correlation-Id: {})",
        answer.status,
        answer.correlation_id.as_deref().unwrap_or("none")
    ));
    lines.push(format!("answer: {}", answer.body));
    Ok(lines)
}
