//! The pure diagnosis: method + path + body (or a guest WebSocket frame) → [`Report`].
//!
//! Order of the questions: is it a real endpoint (then check the body, and whether the body shows the caller wants
//! something this endpoint does not do)? Is it a known invented endpoint (then say which real one does the job and
//! check the body against that one)? Does the path exist with another method? Otherwise it is unknown, and the
//! nearest real endpoints are listed.

use std::collections::BTreeMap;

use serde_json::Value;

use super::catalog::{catalog, Alternative, Catalog, Endpoint, Invented, Params, SdkMatch};
use super::check::{get_path, Checker};
use super::fix::{corrected, Carry};
use super::report::{AlternativeInfo, Code, EndpointInfo, Finding, Report, Severity, Suggestion, Verdict};

/// Diagnoses a Platform API request (`method` `WS` diagnoses `body` as a guest WebSocket frame).
///
/// `path` may be a full URL, carry a query string, or be an SDK operation name such as
/// `WebMessagingApi.post_webmessaging_send`. Pure: nothing is sent anywhere.
pub fn diagnose(method: &str, path: &str, body: Option<&Value>) -> Report {
    let method = method.trim().to_ascii_uppercase();
    if method == "WS" {
        return diagnose_frame(body);
    }
    let (path, query) = normalize_path(path);
    let cat = match catalog() {
        Ok(c) => c,
        Err(e) => return Report::unusable(&method, &path, e),
    };
    if path.is_empty() {
        return Report::unusable(&method, &path, "no path: give the endpoint as METHOD /api/v2/...");
    }
    let mut report = Report::new(&method, &path);
    if !path.starts_with('/') {
        match cat.match_sdk(&path) {
            SdkMatch::Invented(inv) => invented(cat, &mut report, inv, &Params::new(), body),
            SdkMatch::Real(ep) => real(cat, &mut report, ep, Params::new(), &query, body),
            SdkMatch::None => {
                report.findings.push(endpoint_finding(
                    Code::UnknownEndpoint,
                    format!("`{path}` is neither a Platform API path nor a known SDK operation"),
                    Some("give the HTTP method and the /api/v2/... path".into()),
                ));
            }
        }
        return finish(report);
    }
    let matches = cat.match_path(&path);
    if let Some((ep, params)) = matches.iter().find(|(e, _)| e.method == method) {
        real(cat, &mut report, ep, params.clone(), &query, body);
    } else if let Some((inv, params)) = cat.match_invented(&method, &path) {
        invented(cat, &mut report, inv, &params, body);
    } else if let Some((first, _)) = matches.first() {
        let allowed: Vec<String> = matches
            .iter()
            .filter(|(e, _)| e.path == first.path)
            .map(|(e, _)| format!("{} {}", e.method, e.path))
            .collect();
        report.findings.push(endpoint_finding(
            Code::WrongMethod,
            format!("{method} is not allowed on {}; it has: {}", first.path, allowed.join(", ")),
            None,
        ));
    } else {
        let near: Vec<String> =
            cat.nearest(&path, 3).iter().map(|e| format!("{} {}  ({})", e.method, e.path, e.summary)).collect();
        let fix = (!near.is_empty()).then(|| format!("did you mean: {}", near.join("; ")));
        report.findings.push(endpoint_finding(
            Code::UnknownEndpoint,
            format!("{method} {path} is not a Genesys Cloud endpoint herald knows"),
            fix,
        ));
    }
    finish(report)
}

/// Diagnoses a guest WebSocket frame (`{"action": ..., "token": ..., ...}`).
pub fn diagnose_frame(frame: Option<&Value>) -> Report {
    let cat = match catalog() {
        Ok(c) => c,
        Err(e) => return Report::unusable("WS", "", e),
    };
    let Some(frame) = frame.filter(|f| f.is_object()) else {
        return Report::unusable("WS", "", "a guest WebSocket frame is a JSON object with an `action`");
    };
    let action = frame.get("action").and_then(Value::as_str).unwrap_or_default();
    let mut report = Report::new("WS", action);
    if let Some(ep) = cat.ws_action(action) {
        real(cat, &mut report, ep, Params::new(), &BTreeMap::new(), Some(frame));
    } else if let Some((inv, params)) = cat.match_invented("WS", action) {
        invented(cat, &mut report, inv, &params, Some(frame));
    } else {
        let known: Vec<&str> = cat.endpoints.iter().filter(|e| e.is_ws()).map(|e| e.path.as_str()).collect();
        let what =
            if action.is_empty() { "the frame has no `action`".to_string() } else { format!("no action `{action}`") };
        report.findings.push(Finding {
            code: Code::UnknownAction,
            severity: Severity::Error,
            path: "action".into(),
            message: format!("{what}; the guest WebSocket knows: {}", known.join(", ")),
            fix: Some("to send a message: {\"action\":\"onMessage\",\"token\":\"…\",\"message\":{\"type\":\"Text\",\"text\":\"…\"}}".into()),
        });
    }
    finish(report)
}

fn finish(mut report: Report) -> Report {
    report.verdict = if report.verdict == Verdict::Unusable {
        Verdict::Unusable
    } else if report.has_errors() {
        Verdict::Findings
    } else {
        Verdict::Valid
    };
    let mut seen = std::collections::BTreeSet::new();
    report.notes.retain(|n| seen.insert(n.clone()));
    report
}

fn endpoint_finding(code: Code, message: String, fix: Option<String>) -> Finding {
    Finding { code, severity: Severity::Error, path: "(endpoint)".into(), message, fix }
}

fn info(ep: &Endpoint, params: &Params) -> EndpointInfo {
    EndpointInfo {
        id: ep.id.clone(),
        method: ep.method.clone(),
        template: ep.path.clone(),
        summary: ep.summary.clone(),
        params: params.clone(),
        permissions: ep.permissions.clone(),
        auth: ep.auth.clone(),
    }
}

fn alternatives(cat: &Catalog, alts: &[Alternative]) -> Vec<AlternativeInfo> {
    alts.iter()
        .filter_map(|a| {
            cat.endpoint(&a.endpoint).map(|e| AlternativeInfo {
                id: e.id.clone(),
                endpoint: if e.is_ws() { format!("guest WebSocket `{}`", e.path) } else { e.display() },
                when: a.when.clone(),
            })
        })
        .collect()
}

/// Path parameters of `target` known from the original path parameters and top-level body fields of the same name.
fn carry_params(target: &Endpoint, from_path: &Params, body: Option<&Value>) -> Params {
    let mut out = Params::new();
    for seg in target.path.split('/') {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let v = from_path
            .get(name)
            .cloned()
            .or_else(|| body.and_then(|b| b.get(name)).and_then(Value::as_str).map(str::to_string));
        if let Some(v) = v.filter(|v| !is_placeholder_like(v, name)) {
            out.insert(name.to_string(), v);
        }
    }
    out
}

/// `{id}`, `:id`, `<id>` and the like are not real ids.
pub(crate) fn is_placeholder_like(v: &str, _name: &str) -> bool {
    v.is_empty() || v.starts_with('{') || v.starts_with(':') || v.starts_with('<') || v.starts_with('$')
}

fn real(cat: &Catalog, report: &mut Report, ep: &Endpoint, params: Params, query: &Params, body: Option<&Value>) {
    report.endpoint = Some(info(ep, &params));
    if let Some(d) = &ep.deprecated {
        report.findings.push(Finding {
            code: Code::DeprecatedEndpoint,
            severity: Severity::Warning,
            path: "(endpoint)".into(),
            message: d.clone(),
            fix: None,
        });
    }
    for (name, q) in &ep.query {
        if cat.resolve(q).required && !query.contains_key(name) {
            report.findings.push(Finding {
                code: Code::MissingQueryParameter,
                severity: Severity::Error,
                path: format!("?{name}"),
                message: format!("the query parameter `{name}` is required"),
                fix: None,
            });
        }
    }
    let no_renames = BTreeMap::new();
    report.findings.extend(Checker::new(cat, ep, &no_renames).check(body));
    report.notes.extend(ep.notes.iter().cloned());
    let misuse = body
        .and_then(Value::as_object)
        .and_then(|b| ep.misuse.iter().find(|m| m.if_any.iter().any(|f| b.contains_key(f))));
    if let Some(m) = misuse {
        if let Some(target) = cat.endpoint(&m.suggest) {
            report.findings.insert(0, endpoint_finding(Code::WrongEndpointForIntent, m.reason.clone(), None));
            let tparams = carry_params(target, &params, body);
            report.suggestion = Some(Suggestion {
                endpoint: info(target, &tparams),
                why: m.reason.clone(),
                alternatives: alternatives(cat, &m.alternatives),
            });
            let carry = Carry { params: tparams, ..Carry::default() };
            report.corrected = Some(corrected(cat, target, body, &carry));
            report.notes.extend(target.notes.iter().cloned());
            return;
        }
    }
    if report.has_errors() {
        // `:id`, `<id>` and `{id}` written in the path are not ids: the corrected path keeps `{id}` for them.
        let known = params.iter().filter(|(k, v)| !is_placeholder_like(v, k)).map(|(k, v)| (k.clone(), v.clone()));
        let carry = Carry { params: known.collect(), ..Carry::default() };
        report.corrected = Some(corrected(cat, ep, body, &carry));
    }
}

fn invented(cat: &Catalog, report: &mut Report, inv: &Invented, params: &Params, body: Option<&Value>) {
    let Some(target) = cat.endpoint(&inv.suggest) else {
        return;
    };
    let use_it = if target.is_ws() {
        format!("the guest WebSocket action `{}` (wss://webmessaging.<domain>/v1?deploymentId=…)", target.path)
    } else {
        target.display()
    };
    report.findings.push(endpoint_finding(Code::InventedEndpoint, inv.why.clone(), Some(format!("use {use_it}"))));
    let mut from_path = Params::new();
    for (to, from) in &inv.params {
        if let Some(v) = params.get(from) {
            from_path.insert(to.clone(), v.clone());
        }
    }
    for (k, v) in params {
        from_path.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (to, body_path) in &inv.params_from_body {
        if let Some(v) = body.and_then(|b| get_path(b, body_path)).and_then(Value::as_str) {
            from_path.insert(to.clone(), v.to_string());
        }
    }
    let tparams = carry_params(target, &from_path, body);
    let renames: BTreeMap<String, String> = inv.map.iter().map(|m| (m.from.clone(), m.to.clone())).collect();
    let mut body_findings = Checker::new(cat, target, &renames).check(body);
    // The body was written for an endpoint that does not exist; a missing body is reported by the corrected request.
    body_findings.retain(|f| f.code != Code::BodyRequired);
    report.findings.extend(body_findings);
    report.suggestion = Some(Suggestion {
        endpoint: info(target, &tparams),
        why: inv.why.clone(),
        alternatives: alternatives(cat, &inv.alternatives),
    });
    let carry = Carry {
        maps: inv.map.iter().map(|m| (m.from.clone(), m.to.clone())).collect(),
        set: Some(&inv.set),
        params: tparams,
    };
    report.corrected = Some(corrected(cat, target, body, &carry));
    report.notes.extend(inv.notes.iter().cloned());
    report.notes.extend(target.notes.iter().cloned());
}

/// Strips scheme, host, `{base_url}`-style prefixes and the query string; returns the path and the query pairs.
pub fn normalize_path(raw: &str) -> (String, Params) {
    let mut p = raw.trim().trim_matches(|c| c == '"' || c == '\'').to_string();
    if let Some(i) = p.find("/api/v2/") {
        p = p[i..].to_string();
    } else if let Some(rest) = p.strip_prefix("https://").or_else(|| p.strip_prefix("http://")) {
        p = rest.find('/').map(|i| rest[i..].to_string()).unwrap_or_default();
    }
    let mut query = Params::new();
    if let Some((path, q)) = p.split_once('?') {
        for pair in q.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            query.insert(k.to_string(), v.to_string());
        }
        p = path.to_string();
    }
    let trimmed = p.trim_end_matches('/');
    let p = if trimmed.is_empty() && p.starts_with('/') { "/".to_string() } else { trimmed.to_string() };
    (p, query)
}
