//! The shape of `--live`'s outcome: every placeholder with its value and source ([`Found`]) or with why it is missing
//! and what to pass ([`Unresolved`]), gathered in a [`LiveReport`], which is printed after the offline report and is
//! the `live` object of `--format json`.
//!
//! The field names and their order are the JSON contract described in docs/doctor.md; the text rendering is what
//! people read. Neither ever holds the client secret, the access token or herald's API key.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use super::genesys::Answer;
use super::send;
use crate::doctor::report::CorrectedRequest;

/// Where a placeholder's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `--set NAME=VALUE`.
    Option,
    /// herald's session store (`--herald`).
    SessionStore,
    /// The Genesys API of the integration.
    GenesysApi,
    /// The integration's settings.
    Config,
}

impl Source {
    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Source::Option => "--set",
            Source::SessionStore => "the session store",
            Source::GenesysApi => "the Genesys API",
            Source::Config => "the config",
        }
    }
}

/// One value found for a placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The placeholder's name (`communicationId`).
    pub name: String,
    /// Its value.
    pub value: String,
    /// Where it came from.
    pub source: Source,
    /// Exactly which request or key gave it.
    pub from: String,
}

impl Found {
    /// A value for `name` from `source`; `from` names the request or key that gave it.
    pub(super) fn new(name: &str, value: &str, source: Source, from: String) -> Found {
        Found { name: name.to_string(), value: value.to_string(), source, from }
    }

    /// A value read from the Genesys API.
    pub fn genesys(name: &str, value: &str, from: String) -> Found {
        Found::new(name, value, Source::GenesysApi, from)
    }

    /// A value read from herald's session store.
    pub fn store(name: &str, value: &str, from: String) -> Found {
        Found::new(name, value, Source::SessionStore, from)
    }
}

/// A placeholder nothing could fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unresolved {
    /// The placeholder's name.
    pub name: String,
    /// Why it could not be resolved.
    pub why: String,
    /// What to pass instead, and where to find the value.
    pub fix: String,
}

/// The outcome of `--live`, printed after the offline report (and as `live` in `--format json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveReport {
    /// The integration used.
    pub integration: String,
    /// Its Platform API base URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Its OAuth client id (never the secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth_client: Option<String>,
    /// Whether a token was obtained for it.
    pub token: bool,
    /// The herald service asked first, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub herald: Option<String>,
    /// Every placeholder resolved, with where its value came from.
    pub resolved: Vec<Found>,
    /// Every placeholder left, with why and what to pass.
    pub unresolved: Vec<Unresolved>,
    /// Facts found on the way (a closed conversation, a session store that did not answer, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What stopped `--live` or a source it was asked to use: the config, the credentials, the network, the session
    /// store.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The request with every resolved placeholder filled in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<CorrectedRequest>,
    /// The upstream's answer, when the request was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<Answer>,
    /// For a web messaging send into a conversation that has ended: the agentless request that reaches the same
    /// customer (not sent: check and send it with `--path /api/v2/conversations/messages/agentless --send`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agentless_instead: Option<CorrectedRequest>,
    /// Why the request was not sent although `--send` asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_sent: Option<String>,
    /// Whether `--send` was given.
    #[serde(skip)]
    pub send_requested: bool,
}

impl LiveReport {
    /// Whether `--live` failed: an error, a `--send` that did not happen, or an upstream answer that is not 2xx.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
            || (self.send_requested && self.sent.is_none())
            || self.sent.as_ref().is_some_and(|a| !a.is_success())
    }

    /// Human-readable rendering, after the offline report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let env = self.environment.as_deref().unwrap_or("?");
        let client = self.oauth_client.as_deref().unwrap_or("?");
        let token = if self.token { "token ok" } else { "no token" };
        let _ = writeln!(out, "\nlive: integration `{}` at {env}, OAuth client `{client}` ({token})", self.integration);
        if let Some(h) = &self.herald {
            let _ = writeln!(out, "  session store: herald at {h}");
        }
        write_list(&mut out, "errors", &self.errors);
        if !self.resolved.is_empty() {
            let _ = writeln!(out, "\nresolved:");
            let width = self.resolved.iter().map(|f| f.name.len()).max().unwrap_or(0);
            for f in &self.resolved {
                let _ = writeln!(out, "  {:<width$} = {}", f.name, f.value);
                let from = if f.source == Source::Option { String::new() } else { format!(": {}", f.from) };
                let _ = writeln!(out, "  {:<width$}   from {}{from}", "", f.source.label());
            }
        }
        if !self.unresolved.is_empty() {
            let _ = writeln!(out, "\nunresolved:");
            for u in &self.unresolved {
                let _ = writeln!(out, "  {}: {}", u.name, u.why);
                let _ = writeln!(out, "      fix: {}", u.fix);
            }
        }
        write_list(&mut out, "notes", &self.notes);
        if let Some(r) = &self.request {
            write_request(&mut out, "request to send", r);
        }
        if let Some(a) = &self.agentless_instead {
            write_request(&mut out, "the conversation has ended; send agentless instead (not sent)", a);
        }
        send::write_outcome(&mut out, self.sent.as_ref(), self.not_sent.as_deref());
        out
    }
}

/// A `heading:` and its items as `  - item`; nothing when there are none.
fn write_list(out: &mut String, heading: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{heading}:");
    for item in items {
        let _ = writeln!(out, "  - {item}");
    }
}

/// A `heading:`, the request line (a guest frame as `WebSocket`) and the body, pretty-printed.
fn write_request(out: &mut String, heading: &str, req: &CorrectedRequest) {
    let _ = writeln!(out, "\n{heading}:");
    let what = if req.method == "WS" { "WebSocket" } else { req.method.as_str() };
    let _ = writeln!(out, "  {what} {}", req.path);
    if let Some(b) = &req.body {
        let _ = writeln!(out);
        write_json(out, b);
    }
}

/// A JSON value, pretty-printed and indented by two spaces.
pub(super) fn write_json(out: &mut String, value: &Value) {
    for line in serde_json::to_string_pretty(value).unwrap_or_default().lines() {
        let _ = writeln!(out, "  {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_report_fails_on_errors_unsent_requests_and_refusals() {
        let mut l = LiveReport::default();
        assert!(!l.failed());
        l.send_requested = true;
        assert!(l.failed());
        l.sent = Some(Answer {
            status: 202,
            reason: "Accepted".into(),
            correlation_id: Some("c".into()),
            body: Value::Null,
            error: None,
        });
        assert!(!l.failed());
        if let Some(a) = l.sent.as_mut() {
            a.status = 400;
        }
        assert!(l.failed());
    }
}
