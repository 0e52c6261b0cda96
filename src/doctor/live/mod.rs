//! `herald doctor --live`: fills the corrected request's `{placeholders}` with real ids and, with `--send`, sends it
//! and reports the upstream's real answer.
//!
//! Each placeholder is resolved from, in order:
//!
//! 1. `--set NAME=VALUE`;
//! 2. herald's **session store**, through a running service's API when `--herald URL` is given
//!    (`GET /v1/sessions/{conversationId}`, or `GET /v1/sessions?customer=…` to find the conversation of a customer);
//! 3. the **Genesys API** of the integration (`GET /api/v2/conversations/{conversationId}`: the connected agent's
//!    `messages[].id` — `chats[].id` for legacy chat —, participant and user ids, the customer's external contact id);
//! 4. the integration's **config** (`settings.deployment_id`).
//!
//! The report says, for every placeholder, where its value came from, or why it could not be found and what to pass.
//! Neither the client secret, the access token nor herald's API key is ever printed.
//!
//! - [`target`]: the integration's environment and OAuth client, from the config file;
//! - [`genesys`]: the token, the conversation GET and the send;
//! - [`store`]: herald's sessions API.

pub mod genesys;
pub mod store;
pub mod target;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::catalog::{catalog, fill_template};
use super::diagnose::{diagnose, is_placeholder_like};
use super::report::{CorrectedRequest, Report, Severity};
use genesys::{Answer, GenesysClient};
use store::{Family, SessionStore};

/// What `--live` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// The herald config file holding the integration.
    pub config: PathBuf,
    /// The integration whose Genesys environment and OAuth client are used.
    pub integration: String,
    /// A running herald service whose session store is asked first.
    pub herald: Option<String>,
    /// Its API key.
    pub api_key: Option<String>,
    /// The customer (external contact id, customer key or guest id) whose newest conversation the session store
    /// resolves.
    pub customer: Option<String>,
    /// Values given on the command line, by placeholder name.
    pub set: Vec<(String, String)>,
    /// Send the request once every placeholder is resolved.
    pub send: bool,
}

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
    fn new(name: &str, value: &str, source: Source, from: String) -> Found {
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
        if !self.errors.is_empty() {
            let _ = writeln!(out, "\nerrors:");
            for e in &self.errors {
                let _ = writeln!(out, "  - {e}");
            }
        }
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
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nnotes:");
            for n in &self.notes {
                let _ = writeln!(out, "  - {n}");
            }
        }
        if let Some(r) = &self.request {
            let _ = writeln!(out, "\nrequest to send:");
            let what = if r.method == "WS" { "WebSocket" } else { r.method.as_str() };
            let _ = writeln!(out, "  {what} {}", r.path);
            if let Some(b) = &r.body {
                let _ = writeln!(out);
                for line in serde_json::to_string_pretty(b).unwrap_or_default().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        if let Some(a) = &self.agentless_instead {
            let _ = writeln!(out, "\nthe conversation has ended; send agentless instead (not sent):");
            let _ = writeln!(out, "  {} {}", a.method, a.path);
            if let Some(b) = &a.body {
                let _ = writeln!(out);
                for line in serde_json::to_string_pretty(b).unwrap_or_default().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        if let Some(a) = &self.sent {
            let verb = if a.is_success() { "sent" } else { "sent, refused" };
            let corr = a.correlation_id.as_deref().unwrap_or("(none)");
            let _ = writeln!(out, "\n{verb}: {} {}  ININ-Correlation-Id: {corr}", a.status, a.reason);
            if let Some(e) = &a.error {
                let _ = writeln!(out, "  code:      {}", e.code.as_deref().unwrap_or("(none)"));
                let _ = writeln!(out, "  message:   {}", e.message.as_deref().unwrap_or("(none)"));
                let _ = writeln!(out, "  contextId: {}", e.context_id.as_deref().unwrap_or("(none)"));
                if !e.fields.is_empty() {
                    let _ = writeln!(out, "  fields:    {}", e.fields.join(", "));
                }
            } else if !a.body.is_null() {
                for line in serde_json::to_string_pretty(&a.body).unwrap_or_default().lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
        }
        if let Some(n) = &self.not_sent {
            let _ = writeln!(out, "\nnot sent: {n}");
        }
        out
    }
}

/// The ids `--live` has learnt so far, and which placeholders it must fill.
struct Resolver {
    needed: Vec<String>,
    values: BTreeMap<String, String>,
    resolved: Vec<Found>,
    why: BTreeMap<String, String>,
    /// A source said the conversation has ended.
    ended: bool,
}

impl Resolver {
    fn missing(&self, name: &str) -> bool {
        self.needed.iter().any(|n| n == name) && !self.resolved.iter().any(|f| f.name == name)
    }

    fn any_missing(&self) -> bool {
        self.needed.iter().any(|n| self.missing(n))
    }

    /// Records a value: it fills its placeholder if that one is still open, and is known for later look-ups.
    fn learn(&mut self, f: Found) {
        if self.missing(&f.name) {
            self.values.insert(f.name.clone(), f.value.clone());
            self.resolved.push(f);
        } else {
            self.values.entry(f.name.clone()).or_insert(f.value);
        }
    }

    /// Remembers why `names` could not be found (the first reason wins: it comes from the first source asked).
    fn because(&mut self, names: &[&str], why: &str) {
        for n in names {
            self.why.entry((*n).to_string()).or_insert_with(|| why.to_string());
        }
    }
}

/// Ids the connected agent gives (missing together when no agent is connected).
const AGENT_IDS: [&str; 3] = ["communicationId", "participantId", "userId"];

/// Ids a conversation look-up gives.
const CONVERSATION_IDS: [&str; 5] = ["communicationId", "participantId", "userId", "externalContactId", "queueId"];

/// Runs `--live` for a diagnosed request. `original` is the body (or frame) as given, `query` the original query
/// string (without `?`), used when the request is sent as it was written.
pub async fn run(report: &Report, original: Option<&Value>, query: &str, opts: &LiveOptions) -> LiveReport {
    let mut live = LiveReport {
        integration: opts.integration.clone(),
        send_requested: opts.send,
        herald: opts.herald.clone(),
        ..LiveReport::default()
    };
    let lookup = |v: &str| std::env::var(v).ok();
    let target = match target::load_target(&opts.config, &opts.integration, &lookup) {
        Ok(t) => t,
        Err(e) => {
            live.errors.push(e.to_string());
            if opts.send {
                live.not_sent = Some("the integration could not be read (see errors)".into());
            }
            return live;
        }
    };
    live.environment = Some(target.environment.api_base());
    live.oauth_client = Some(target.client_id.clone());
    let client = match GenesysClient::connect(&target).await {
        Ok(c) => {
            live.token = true;
            Some(c)
        }
        Err(e) => {
            live.errors.push(e.to_string());
            None
        }
    };
    let Some(mut req) = request_to_send(report, original, query, &target.environment) else {
        live.notes.push("no real endpoint to resolve ids for: fix the endpoint first (see the findings)".into());
        if opts.send {
            live.not_sent = Some("the request names no real endpoint".into());
        }
        return live;
    };
    let mut r = Resolver {
        needed: placeholders_in(&req),
        values: known_from_request(report, original),
        resolved: Vec::new(),
        why: BTreeMap::new(),
        ended: false,
    };
    for (name, value) in &opts.set {
        if !r.needed.contains(name) && !matches!(name.as_str(), "conversationId" | "externalContactId") {
            live.notes.push(format!("--set {name}: the request has no {{{name}}} placeholder; ignored"));
        }
        r.learn(Found::new(name, value, Source::Option, format!("--set {name}=…")));
    }
    if r.any_missing() {
        if let Some(base) = &opts.herald {
            from_session_store(&mut r, &mut live, base, opts, Family::of(&req.path)).await;
        }
    }
    if CONVERSATION_IDS.iter().any(|n| r.missing(n)) {
        match (&client, r.values.get("conversationId").cloned()) {
            (Some(c), Some(cid)) => from_genesys(&mut r, c, &cid).await,
            (None, Some(_)) => r.because(&CONVERSATION_IDS, "no Genesys token for the integration (see errors)"),
            (_, None) => {}
        }
    }
    if r.missing("deploymentId") {
        match &target.deployment_id {
            Some(d) => r.learn(Found::new(
                "deploymentId",
                d,
                Source::Config,
                format!("integration `{}` {}", target.integration, target.deployment_key),
            )),
            None => r.because(
                &["deploymentId"],
                &format!("integration `{}` has no settings.deployment_id", target.integration),
            ),
        }
    }
    live.unresolved = unresolved(&r, opts);
    if r.ended && r.missing("communicationId") {
        live.agentless_instead = agentless_instead(&req, &r, &target);
    }
    fill(&mut req, &r.values);
    req.placeholders.retain(|k, _| live.unresolved.iter().any(|u| &u.name == k));
    live.resolved = r.resolved;
    let still_wrong = (live.unresolved.is_empty() && req.method != "WS")
        .then(|| diagnose(&req.method, &req.path, req.body.as_ref()))
        .filter(Report::has_errors);
    if let Some(again) = &still_wrong {
        let what: Vec<String> = again
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{} {}", f.path, f.message))
            .collect();
        live.notes.push(format!("the filled request still has findings: {}", what.join("; ")));
    }
    if opts.send {
        live.not_sent = if req.method == "WS" {
            Some("a guest WebSocket frame is sent by a guest over the socket, not by herald doctor".into())
        } else if client.is_none() {
            Some("no Genesys token for the integration (see errors)".into())
        } else if !live.unresolved.is_empty() {
            let names: Vec<&str> = live.unresolved.iter().map(|u| u.name.as_str()).collect();
            Some(format!("unresolved placeholders: {} (see unresolved)", names.join(", ")))
        } else if still_wrong.is_some() {
            Some("the request would be rejected (see notes)".into())
        } else {
            None
        };
        if let (None, Some(c)) = (&live.not_sent, &client) {
            match c.call(&req.method, &req.path, req.body.as_ref()).await {
                Ok(answer) => live.sent = Some(answer),
                Err(e) => {
                    live.errors.push(e);
                    live.not_sent = Some("the request did not reach Genesys (see errors)".into());
                }
            }
        }
    }
    live.request = Some(req);
    live
}

/// Asks herald's session store: by conversation id when known, else by customer.
async fn from_session_store(
    r: &mut Resolver,
    live: &mut LiveReport,
    base: &str,
    opts: &LiveOptions,
    family: Option<Family>,
) {
    let Some(key) = opts.api_key.as_deref().filter(|k| !k.is_empty()) else {
        live.errors.push(format!("--herald {base} needs herald's API key: pass --api-key KEY or set HERALD_API_KEY"));
        return;
    };
    let store = match SessionStore::new(base, key) {
        Ok(s) => s,
        Err(e) => {
            live.errors.push(e);
            return;
        }
    };
    let at = format!("herald at {}", store.base());
    if let Some(cid) = r.values.get("conversationId").cloned() {
        match store.by_conversation(&cid).await {
            Ok(Some(session)) => {
                let (found, why) = store::ids_from_session(&session, &format!("GET /v1/sessions/{cid}"));
                r.ended |= !session.is_open();
                found.into_iter().for_each(|f| r.learn(f));
                if let Some(w) = why {
                    r.because(&AGENT_IDS, &w);
                }
            }
            Ok(None) => live.notes.push(format!("the session store ({at}) has no session for conversation {cid}")),
            Err(e) => live.errors.push(format!("session store: {e}")),
        }
        return;
    }
    let customer = opts.customer.clone().or_else(|| r.values.get("externalContactId").cloned());
    let Some(customer) = customer else {
        r.because(
            &["conversationId"],
            "the request does not name the conversation, and the session store needs a customer to find it",
        );
        return;
    };
    match store.by_customer(&customer).await {
        Ok(sessions) => match store::choose(&sessions, &opts.integration, family) {
            Some(session) => {
                let which = if session.is_open() { "newest open session" } else { "newest session (closed)" };
                let from = format!("GET /v1/sessions?customer={customer} (the customer's {which})");
                let (found, why) = store::ids_from_session(session, &from);
                r.ended |= !session.is_open();
                found.into_iter().for_each(|f| r.learn(f));
                if let Some(w) = why {
                    r.because(&AGENT_IDS, &w);
                }
            }
            None => r.because(
                &["conversationId"],
                &format!("the session store ({at}) has no session for customer {customer}"),
            ),
        },
        Err(e) => {
            live.errors.push(format!("session store: {e}"));
            r.because(&["conversationId"], "the session store could not be asked (see errors)");
        }
    }
}

/// Asks `GET /api/v2/conversations/{cid}`.
async fn from_genesys(r: &mut Resolver, client: &GenesysClient, cid: &str) {
    let path = format!("/api/v2/conversations/{cid}");
    match client.call("GET", &path, None).await {
        Ok(a) if a.is_success() => {
            let ids = genesys::ids_from_conversation(cid, &a.body);
            r.ended |= ids.ended;
            ids.found.into_iter().for_each(|f| r.learn(f));
            if let Some(w) = ids.no_communication {
                r.because(&AGENT_IDS, &w);
            }
        }
        Ok(a) => {
            let error = a.error.map(|e| e.to_string()).unwrap_or_default();
            let hint = match a.status {
                404 => "; check the conversation id (is it from this org and region?)",
                401 | 403 => {
                    "; the OAuth client needs conversation:communication:view (or a conversation view permission)"
                }
                _ => "",
            };
            let why = format!(
                "GET {path} answered {} {error} (ININ-Correlation-Id {}){hint}",
                a.status,
                a.correlation_id.unwrap_or_default()
            );
            r.because(&CONVERSATION_IDS, &why);
        }
        Err(e) => r.because(&CONVERSATION_IDS, &e),
    }
}

/// The agentless request that reaches the customer of an ended web messaging conversation with the same content.
fn agentless_instead(req: &CorrectedRequest, r: &Resolver, target: &target::LiveTarget) -> Option<CorrectedRequest> {
    let agent_send = req.method == "POST"
        && req.path.starts_with("/api/v2/conversations/messages/")
        && req.path.contains("/communications/")
        && req.path.ends_with("/messages");
    if !agent_send || target.kind != "webmessaging" {
        return None;
    }
    let body = req.body.as_ref()?;
    let content = ["textBody", "messagingTemplate"].into_iter().find_map(|k| body.get(k).map(|v| (k, v.clone())))?;
    let value = |name: &str, fallback: Option<&String>| {
        r.values.get(name).or(fallback).cloned().unwrap_or_else(|| format!("{{{name}}}"))
    };
    let mut out = serde_json::Map::new();
    out.insert("fromAddress".into(), Value::String(value("deploymentId", target.deployment_id.as_ref())));
    out.insert("toAddressMessengerType".into(), Value::String("webmessaging".into()));
    out.insert("externalContactId".into(), Value::String(value("externalContactId", None)));
    out.insert(content.0.to_string(), content.1);
    let mut alt = CorrectedRequest {
        method: "POST".into(),
        path: "/api/v2/conversations/messages/agentless".into(),
        body: Some(Value::Object(out)),
        placeholders: BTreeMap::new(),
    };
    let docs = catalog().ok().map(|c| &c.placeholder_docs);
    for name in placeholders_in(&alt) {
        let doc = docs.and_then(|d| d.get(&name)).cloned().unwrap_or_default();
        alt.placeholders.insert(name, doc);
    }
    Some(alt)
}

/// The request to resolve: the corrected one, or the original when it is valid as written.
fn request_to_send(
    report: &Report,
    original: Option<&Value>,
    query: &str,
    env: &herald_genesys::Environment,
) -> Option<CorrectedRequest> {
    let ws_base = env.webmessaging_ws_base();
    let mut req = match (&report.corrected, &report.endpoint) {
        (Some(c), _) => c.clone(),
        (None, Some(ep)) if ep.method == "WS" => CorrectedRequest {
            method: "WS".into(),
            path: "wss://webmessaging.<domain>/v1?deploymentId={deploymentId}".into(),
            body: original.cloned(),
            placeholders: BTreeMap::new(),
        },
        (None, Some(ep)) => {
            let params = ep.params.iter().filter(|(k, v)| !is_placeholder_like(v, k));
            let params = params.map(|(k, v)| (k.clone(), v.clone())).collect();
            let mut path = fill_template(&ep.template, &params);
            if !query.is_empty() {
                path = format!("{path}?{query}");
            }
            CorrectedRequest { method: ep.method.clone(), path, body: original.cloned(), placeholders: BTreeMap::new() }
        }
        (None, None) => return None,
    };
    if req.method == "WS" {
        req.path = req.path.replace("wss://webmessaging.<domain>", &ws_base);
    }
    Some(req)
}

/// Ids the request itself carries (path parameters, top-level body fields): known, so used for look-ups.
fn known_from_request(report: &Report, original: Option<&Value>) -> BTreeMap<String, String> {
    let mut known = BTreeMap::new();
    let endpoints = [report.suggestion.as_ref().map(|s| &s.endpoint), report.endpoint.as_ref()];
    for ep in endpoints.into_iter().flatten() {
        for (k, v) in &ep.params {
            if !is_placeholder_like(v, k) {
                known.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    for name in ["conversationId", "externalContactId"] {
        let v = original.and_then(|b| b.get(name)).and_then(Value::as_str).filter(|v| !is_placeholder_like(v, name));
        if let Some(v) = v {
            known.entry(name.to_string()).or_insert_with(|| v.to_string());
        }
    }
    known
}

/// `{name}` placeholders of a request, in order of appearance: path segments and query values, and body strings
/// that are a placeholder as a whole.
pub fn placeholders_in(req: &CorrectedRequest) -> Vec<String> {
    fn name_of(s: &str) -> Option<&str> {
        let n = s.strip_prefix('{')?.strip_suffix('}')?;
        let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        ok.then_some(n)
    }
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(n) = name_of(s) {
                    out.push(n.to_string());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for part in req.path.split(['/', '?', '&', '=']) {
        if let Some(n) = name_of(part) {
            out.push(n.to_string());
        }
    }
    if let Some(b) = &req.body {
        walk(b, &mut out);
    }
    out.extend(req.placeholders.keys().cloned());
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|n| seen.insert(n.clone()));
    out
}

/// Replaces `{name}` placeholders in the request's path and in body strings that are a placeholder as a whole.
pub fn fill(req: &mut CorrectedRequest, ids: &BTreeMap<String, String>) {
    fn walk(v: &mut Value, ids: &BTreeMap<String, String>) {
        match v {
            Value::String(s) => {
                if let Some(x) = s.strip_prefix('{').and_then(|t| t.strip_suffix('}')).and_then(|n| ids.get(n)) {
                    *s = x.clone();
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, ids)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, ids)),
            _ => {}
        }
    }
    for (k, v) in ids {
        req.path = req.path.replace(&format!("{{{k}}}"), v);
    }
    if let Some(b) = req.body.as_mut() {
        walk(b, ids);
    }
}

/// The placeholders left, each with why and what to pass.
fn unresolved(r: &Resolver, opts: &LiveOptions) -> Vec<Unresolved> {
    let docs = catalog().ok().map(|c| &c.placeholder_docs);
    r.needed
        .iter()
        .filter(|n| r.missing(n))
        .map(|name| {
            let why = r.why.get(name).cloned().unwrap_or_else(|| default_why(name, r, opts));
            let mut fix = match name.as_str() {
                "communicationId" | "participantId" if r.ended => {
                    "none: a communication id of an ended conversation is refused; send agentless instead (below)"
                        .to_string()
                }
                "conversationId" if opts.herald.is_some() => {
                    "pass --set conversationId=…, or --customer ID to find the customer's conversation".to_string()
                }
                "conversationId" => "pass --set conversationId=…, or --herald URL --customer ID to find the \
                                     customer's conversation in herald's session store"
                    .to_string(),
                _ => format!("pass --set {name}=…"),
            };
            if let Some(doc) = docs.and_then(|d| d.get(name)).filter(|_| !fix.starts_with("none")) {
                let _ = write!(fix, " ({doc})");
            }
            Unresolved { name: name.clone(), why, fix }
        })
        .collect()
}

fn default_why(name: &str, r: &Resolver, opts: &LiveOptions) -> String {
    let has_conversation = r.values.contains_key("conversationId");
    match name {
        "conversationId" if opts.herald.is_none() => {
            "the request does not name the conversation, and Genesys cannot look one up by customer".into()
        }
        "conversationId" => "the session store did not give a conversation".into(),
        n if CONVERSATION_IDS.contains(&n) && !has_conversation => "no conversation id to look it up with".into(),
        n if CONVERSATION_IDS.contains(&n) => "the conversation does not show it".into(),
        _ => "it is not an id herald can look up: only you know its value".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(path: &str, body: Value) -> CorrectedRequest {
        CorrectedRequest { method: "POST".into(), path: path.into(), body: Some(body), placeholders: BTreeMap::new() }
    }

    #[test]
    fn placeholders_are_found_in_order_and_filled() {
        let mut r = req(
            "/api/v2/conversations/messages/{conversationId}/communications/{communicationId}/messages",
            json!({"fromAddress": "{deploymentId}", "textBody": "Hi {name}, {{AGENT_NAME}} here", "x": ["{text}"]}),
        );
        assert_eq!(placeholders_in(&r), ["conversationId", "communicationId", "deploymentId", "text"]);
        let ids: BTreeMap<String, String> =
            [("conversationId", "c1"), ("communicationId", "m1"), ("deploymentId", "d1")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        fill(&mut r, &ids);
        assert_eq!(r.path, "/api/v2/conversations/messages/c1/communications/m1/messages");
        assert_eq!(
            r.body,
            Some(json!({"fromAddress": "d1", "textBody": "Hi {name}, {{AGENT_NAME}} here", "x": ["{text}"]}))
        );
        assert_eq!(placeholders_in(&r), ["text"]);
    }

    #[test]
    fn query_placeholders_count() {
        let r = CorrectedRequest {
            method: "WS".into(),
            path: "ws://127.0.0.1:1/v1?deploymentId={deploymentId}".into(),
            body: None,
            placeholders: BTreeMap::new(),
        };
        assert_eq!(placeholders_in(&r), ["deploymentId"]);
    }

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
