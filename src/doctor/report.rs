//! The doctor's answer: findings with JSON paths and reasons, the endpoint to use, and the corrected request.
//!
//! [`Report`] is plain serde data: `herald doctor --format json` prints it and `POST /v1/doctor` returns it. Finding
//! codes are stable identifiers that tests and tools match on; messages are for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How bad a finding is: errors make the request fail upstream; warnings do not (deprecations, notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Genesys Cloud would reject the request (or it does not do what the caller wants).
    Error,
    /// The request works today but should change.
    Warning,
}

/// Stable finding codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The endpoint is known to be invented (forum answers, generated sites).
    InventedEndpoint,
    /// No such endpoint.
    UnknownEndpoint,
    /// The path exists with other methods.
    WrongMethod,
    /// The endpoint exists but does not do what the body shows the caller wants.
    WrongEndpointForIntent,
    /// The endpoint is deprecated or removed from the SDKs.
    DeprecatedEndpoint,
    /// A field the model does not have.
    UnknownField,
    /// A required field is absent.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A string or array is longer than allowed.
    TooLong,
    /// A string is empty / an array has too few items / a number is too small.
    TooShort,
    /// A number is larger than allowed.
    TooLarge,
    /// A value outside the allowed set.
    NotInEnum,
    /// A string lacks a required part (e.g. the `/` of an interval).
    BadFormat,
    /// Exactly one of several fields must be present.
    ExactlyOne,
    /// A field not allowed in this situation.
    ForbiddenField,
    /// A field is deprecated.
    DeprecatedField,
    /// A body sent to an endpoint that takes none.
    BodyNotAllowed,
    /// An endpoint that needs a body got none.
    BodyRequired,
    /// A required query parameter is absent.
    MissingQueryParameter,
    /// A guest WebSocket frame names no known action.
    UnknownAction,
}

/// One problem, located by JSON path (`to`, `to[0].id`, `message.text`; empty = the whole body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// JSON path of the field, `(endpoint)` for endpoint-level findings, empty for the whole body.
    pub path: String,
    /// What is wrong and why.
    pub message: String,
    /// What to do instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The endpoint a request was matched to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Catalog id (`messaging.send`).
    pub id: String,
    /// Method (`WS` for guest WebSocket actions).
    pub method: String,
    /// Path template (or action name).
    pub template: String,
    /// What it does.
    pub summary: String,
    /// Path parameters bound from the request.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// Permissions (any of).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// Special credential, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

/// Another endpoint, for another situation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlternativeInfo {
    /// Catalog id.
    pub id: String,
    /// `METHOD /template`.
    pub endpoint: String,
    /// When to use it.
    pub when: String,
}

/// The endpoint to use instead of the one requested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The endpoint.
    pub endpoint: EndpointInfo,
    /// Why the original does not work.
    pub why: String,
    /// Others, for other situations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<AlternativeInfo>,
}

/// The request to send instead, with `{placeholders}` for ids the doctor cannot know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrectedRequest {
    /// Method, or `WS` for a guest WebSocket frame.
    pub method: String,
    /// Path with known parameters filled in (for `WS`: the socket URL template).
    pub path: String,
    /// The body (for `WS`: the frame).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Each placeholder left, with where to find its value.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub placeholders: BTreeMap<String, String>,
}

/// How the diagnosis came out, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No errors (warnings possible): exit 0.
    Valid,
    /// At least one error: exit 1.
    Findings,
    /// The input could not be understood: exit 2.
    Unusable,
}

/// The full diagnosis of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The method as given.
    pub method: String,
    /// The path as given (normalised: no scheme, host or query).
    pub path: String,
    /// Valid, findings, or unusable input.
    pub verdict: Verdict,
    /// The real endpoint the request was matched to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointInfo>,
    /// Every problem found.
    pub findings: Vec<Finding>,
    /// The endpoint to use instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
    /// The request to send instead (absent when the request is valid as is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected: Option<CorrectedRequest>,
    /// Facts worth knowing about the endpoint(s) involved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report for `method path`.
    pub fn new(method: &str, path: &str) -> Report {
        Report {
            method: method.to_string(),
            path: path.to_string(),
            verdict: Verdict::Valid,
            endpoint: None,
            findings: Vec::new(),
            suggestion: None,
            corrected: None,
            notes: Vec::new(),
        }
    }

    /// A report for input that could not be understood.
    pub fn unusable(method: &str, path: &str, why: impl Into<String>) -> Report {
        let mut r = Report::new(method, path);
        r.verdict = Verdict::Unusable;
        r.notes.push(why.into());
        r
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The process exit code: 0 valid, 1 findings, 2 unusable input.
    pub fn exit_code(&self) -> u8 {
        match self.verdict {
            Verdict::Valid => 0,
            Verdict::Findings => 1,
            Verdict::Unusable => 2,
        }
    }

    /// Whether a finding with this code exists at this path.
    pub fn has(&self, code: Code, path: &str) -> bool {
        self.findings.iter().any(|f| f.code == code && f.path == path)
    }

    /// Human-readable rendering for the terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "request: {} {}", self.method, self.path);
        if let Some(e) = &self.endpoint {
            let _ = writeln!(out, "endpoint: {} {}  [{}]", e.method, e.template, e.id);
            let _ = writeln!(out, "  {}", e.summary);
        }
        let verdict = match self.verdict {
            Verdict::Valid if self.findings.is_empty() => "valid: nothing to fix",
            Verdict::Valid => "valid, with warnings",
            Verdict::Findings => "will be rejected or does not do what you want",
            Verdict::Unusable => "unusable input",
        };
        let _ = writeln!(out, "verdict: {verdict}");
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\nfindings:");
            for f in &self.findings {
                let sev = if f.severity == Severity::Error { "error" } else { "warn " };
                let path = if f.path.is_empty() { "(body)" } else { f.path.as_str() };
                let code = serde_json::to_value(f.code).ok().and_then(|v| v.as_str().map(str::to_string));
                let _ = writeln!(out, "  {sev} {:<26} {path}", code.unwrap_or_default());
                let _ = writeln!(out, "        {}", f.message);
                if let Some(fix) = &f.fix {
                    let _ = writeln!(out, "        fix: {fix}");
                }
            }
        }
        if let Some(s) = &self.suggestion {
            let target = if s.endpoint.method == "WS" {
                format!("the guest WebSocket action `{}`", s.endpoint.template)
            } else {
                format!("{} {}", s.endpoint.method, s.endpoint.template)
            };
            let _ = writeln!(out, "\nuse instead: {target}  [{}]", s.endpoint.id);
            let _ = writeln!(out, "  {}", s.endpoint.summary);
            let _ = writeln!(out, "  why: {}", s.why);
            for a in &s.alternatives {
                let _ = writeln!(out, "  or:  {}  — {}", a.endpoint, a.when);
            }
        }
        if let Some(c) = &self.corrected {
            let _ = writeln!(out, "\ncorrected request:");
            if c.method == "WS" {
                let _ = writeln!(out, "  WebSocket {}", c.path);
            } else {
                let _ = writeln!(out, "  {} {}", c.method, c.path);
            }
            if let Some(b) = &c.body {
                let pretty = serde_json::to_string_pretty(b).unwrap_or_default();
                let _ = writeln!(out);
                for line in pretty.lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            if !c.placeholders.is_empty() {
                let _ = writeln!(out, "\nplaceholders:");
                for (k, v) in &c.placeholders {
                    let _ = writeln!(out, "  {k}: {v}");
                }
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nnotes:");
            for n in &self.notes {
                let _ = writeln!(out, "  - {n}");
            }
        }
        out
    }
}
