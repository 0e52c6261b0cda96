//! The request `--live` works on: which one it is (the corrected request, or the original when it is valid as
//! written), the `{placeholders}` it has, the ids it already carries, and filling the placeholders in.
//!
//! Kept apart from where the values come from ([`super::resolve`]) so that both the request to send and the
//! agentless suggestion ([`super::agentless`]) are read and filled the same way.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::doctor::catalog::fill_template;
use crate::doctor::diagnose::is_placeholder_like;
use crate::doctor::report::{CorrectedRequest, Report};

/// The request to resolve: the corrected one, or the original when it is valid as written. `None` when the report
/// names no real endpoint.
pub(super) fn request_to_send(
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
pub(super) fn known_from_request(report: &Report, original: Option<&Value>) -> BTreeMap<String, String> {
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
    let mut seen = BTreeSet::new();
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
}
