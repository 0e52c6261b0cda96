//! `herald doctor`: explains why a Genesys Cloud request will be rejected, and what the right one is — before
//! anything is sent.
//!
//! - [`catalog`]: the knowledge, as data (`catalog.json`): one schema per endpoint and guest WebSocket action, and
//!   the endpoints people invent with their fix;
//! - [`check`]: the generic checker walking a body against a schema;
//! - [`fix`]: the corrected request, with `{placeholders}` for ids that cannot be known offline;
//! - [`diagnose()`]: the pure entry point (also behind `POST /v1/doctor`), returning a serialisable [`Report`];
//! - [`input`]: reading pasted requests (JSON, HTTP-like text, curl);
//! - [`live`]: `--live` id resolution (herald's session store, the Genesys API, the config) and `--send`.

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
/// [--herald URL [--api-key KEY] [--customer ID]] [--set NAME=VALUE]... [--send]] [FILE|-]`.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = DOCTOR_AFTER_HELP)]
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
    /// Fill the corrected request's `{placeholders}` with real ids: from --set, then herald's session store
    /// (--herald), then the Genesys API of the integration, then its config. Needs --config and --integration.
    #[arg(long, requires_all = ["config", "integration"])]
    pub live: bool,
    /// The herald configuration file holding the integration (for --live).
    #[arg(long, env = "HERALD_CONFIG")]
    pub config: Option<PathBuf>,
    /// The integration whose Genesys environment and OAuth client --live uses.
    #[arg(long)]
    pub integration: Option<String>,
    /// With --live: a running herald service (e.g. http://127.0.0.1:8080) whose session store resolves ids before
    /// Genesys is asked (`GET /v1/sessions/{conversationId}`, `GET /v1/sessions?customer=...`).
    #[arg(long, value_name = "URL", requires = "live")]
    pub herald: Option<String>,
    /// The API key of the --herald service (one of its `[service] api_keys`).
    #[arg(long, env = "HERALD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// With --herald: the customer (external contact id, customer key or guest id) whose newest conversation
    /// fills `{conversationId}` and the ids that follow from it.
    #[arg(long, value_name = "ID", requires = "herald")]
    pub customer: Option<String>,
    /// With --live: the value of a placeholder, as NAME=VALUE (repeatable), e.g. `--set conversationId=...`.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set, requires = "live")]
    pub set: Vec<(String, String)>,
    /// With --live: send the request once every placeholder is resolved, and print the upstream's status,
    /// `ININ-Correlation-Id` and body (its ErrorBody on failure).
    #[arg(long, requires = "live")]
    pub send: bool,
}

/// The end of `herald doctor --help`.
const DOCTOR_AFTER_HELP: &str = "\
Exit codes:
  0  the request is valid (and, with --send, the upstream answered 2xx)
  1  findings: the request would be rejected or does not do what you want (the corrected one is printed)
  2  the input could not be understood
  3  --live failed: config or credentials, an id that could not be resolved with --send, or an upstream
     answer that is not 2xx

Examples:
  herald doctor story.http
  herald doctor --method POST --path /api/v2/conversations/messages/agentless body.json --format json
  herald doctor --live --config herald.toml --integration web --send \\
      --path '/api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages' \\
      --herald http://127.0.0.1:8080 --customer <external contact id> body.json";

fn parse_set(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    let k = k.trim().trim_start_matches('{').trim_end_matches('}');
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("`{k}` is not a placeholder name (letters, digits, _), e.g. conversationId"));
    }
    if v.is_empty() {
        return Err(format!("--set {k}= has no value"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Exit code when `--live` failed (see [`DOCTOR_AFTER_HELP`]).
const EXIT_LIVE_FAILED: u8 = 3;

/// Reads the input, diagnoses it, prints the report; with `--live` resolves ids (and `--send`s).
///
/// Exit code: 0 valid (and sent with a 2xx when `--send`), 1 findings, 2 unusable input, 3 `--live` failed.
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
    let report = report_for_text(&text, args.method.as_deref(), args.path.as_deref(), args.ws);
    let live = match (&args.live, &args.config, &args.integration) {
        (true, Some(config), Some(integration)) if report.verdict != Verdict::Unusable => {
            let parsed = input::parse(&text).unwrap_or_default();
            let raw_path = args.path.clone().or(parsed.path).unwrap_or_default();
            let query = match raw_path.split_once('?') {
                Some((p, q)) if p.contains('/') => q.to_string(),
                _ => String::new(),
            };
            let opts = live::LiveOptions {
                config: config.clone(),
                integration: integration.clone(),
                herald: args.herald.clone(),
                api_key: args.api_key.clone(),
                customer: args.customer.clone(),
                set: args.set.clone(),
                send: args.send,
            };
            Some(live::run(&report, parsed.body.as_ref(), &query, &opts).await)
        }
        _ => None,
    };
    match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            if let Some(l) = &live {
                v["live"] = serde_json::to_value(l)?;
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text => {
            print!("{}", report.to_text());
            if let Some(l) = &live {
                print!("{}", l.to_text());
            }
        }
    }
    let code = match &live {
        Some(l) if l.failed() => EXIT_LIVE_FAILED,
        _ => report.exit_code(),
    };
    Ok(ExitCode::from(code))
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
