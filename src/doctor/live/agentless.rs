//! The suggestion for a web messaging conversation that has ended: an agent-side send into it is refused and it
//! cannot be reopened, but `POST /api/v2/conversations/messages/agentless` reaches the same customer with the same
//! content.
//!
//! The suggestion is only built and printed, never sent: the user checks it and sends it with
//! `--path /api/v2/conversations/messages/agentless --send`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::request::placeholders_in;
use super::target::LiveTarget;
use crate::doctor::catalog::catalog;
use crate::doctor::report::CorrectedRequest;

/// The agentless request that reaches the customer of an ended web messaging conversation with the content of the
/// agent send `req`. `values` are the ids `--live` has learnt; what is still unknown is left as a `{placeholder}`
/// with its documentation. `None` when `req` is not a web messaging agent send or has no text or template.
pub(super) fn agentless_instead(
    req: &CorrectedRequest,
    values: &BTreeMap<String, String>,
    target: &LiveTarget,
) -> Option<CorrectedRequest> {
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
        values.get(name).or(fallback).cloned().unwrap_or_else(|| format!("{{{name}}}"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use herald_genesys::Secret;
    use serde_json::json;

    fn target(kind: &str) -> LiveTarget {
        LiveTarget {
            integration: "wm".into(),
            kind: kind.into(),
            environment: "http://127.0.0.1:9".parse().expect("environment"),
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            deployment_id: Some("dep-1".into()),
            deployment_key: "settings.deployment_id".into(),
        }
    }

    #[test]
    fn an_agent_send_becomes_agentless_with_what_is_known() {
        let send = CorrectedRequest {
            method: "POST".into(),
            path: "/api/v2/conversations/messages/c1/communications/{communicationId}/messages".into(),
            body: Some(json!({"textBody": "Still there?"})),
            placeholders: BTreeMap::new(),
        };
        let alt = agentless_instead(&send, &BTreeMap::new(), &target("webmessaging")).expect("agentless");
        assert_eq!(alt.path, "/api/v2/conversations/messages/agentless");
        assert_eq!(
            alt.body,
            Some(json!({"fromAddress": "dep-1", "toAddressMessengerType": "webmessaging",
                        "externalContactId": "{externalContactId}", "textBody": "Still there?"}))
        );
        assert!(alt.placeholders.contains_key("externalContactId"));
        assert!(agentless_instead(&send, &BTreeMap::new(), &target("openmessaging")).is_none());
    }
}
