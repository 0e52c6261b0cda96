//! Validation of `[[rule]]` sections, run by `herald config check` and at start-up.

use std::collections::BTreeSet;

use herald_core::template::placeholders;
use herald_core::ConfigProblem;

use super::config::{RuleConfig, RuleTarget};

/// Events a rule may name in `when` (besides `event:<name>`).
pub const EVENTS: &[&str] = &[
    "session_opened",
    "session_updated",
    "session_closed",
    "message_received",
    "queue_wait_exceeded",
    "agent_presence_changed",
    "agent_became_available",
];

/// The template variables each event offers. Attributes are reachable as `attr.<name>`.
pub fn variables_for(when: &str) -> &'static [&'static str] {
    const SESSION: &[&str] =
        &["conversation_id", "customer_id", "customer_name", "agent_id", "agent_name", "queue_id", "integration"];
    const QUEUE_WAIT: &[&str] =
        &["conversation_id", "customer_id", "customer_name", "queue_id", "integration", "waited_secs"];
    const MESSAGE: &[&str] = &["conversation_id", "customer_id", "customer_name", "agent_id", "integration", "text"];
    const PRESENCE: &[&str] = &["agent_id", "presence", "previous_presence", "source", "integration"];
    const AVAILABLE: &[&str] = &["agent_id", "integration"];
    const NAMED: &[&str] = &["event", "customer_id", "conversation_id", "agent_id", "integration"];
    match when {
        "session_opened" | "session_updated" | "session_closed" => SESSION,
        "queue_wait_exceeded" => QUEUE_WAIT,
        "message_received" => MESSAGE,
        "agent_presence_changed" => PRESENCE,
        "agent_became_available" => AVAILABLE,
        _ => NAMED,
    }
}

/// Check every rule; problems name the key path.
pub fn validate_rules(rules: &[RuleConfig], integrations: &BTreeSet<String>, problems: &mut Vec<ConfigProblem>) {
    let mut names = BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("rule[{i}]");
        if !names.insert(rule.name.as_str()) {
            problems.push(ConfigProblem::new(format!("{path}.name"), format!("rule `{}` is defined twice", rule.name)));
        }
        let named = rule.when.strip_prefix("event:");
        if named.is_none() && !EVENTS.contains(&rule.when.as_str()) {
            problems.push(ConfigProblem::new(
                format!("{path}.when"),
                format!(
                    "unknown event `{}`; use one of {} or `event:<name>` for posted events",
                    rule.when,
                    EVENTS.join(", ")
                ),
            ));
            continue;
        }
        if named == Some("") {
            problems
                .push(ConfigProblem::new(format!("{path}.when"), "`event:` needs a name, e.g. `event:order_shipped`"));
        }
        match (rule.when.as_str(), rule.wait_secs) {
            ("queue_wait_exceeded", None) => problems.push(ConfigProblem::new(
                format!("{path}.wait_secs"),
                "required for `queue_wait_exceeded`: how many seconds a customer waits before the rule fires",
            )),
            ("queue_wait_exceeded", Some(_)) | (_, None) => {}
            (_, Some(_)) => problems.push(ConfigProblem::new(
                format!("{path}.wait_secs"),
                "only meaningful with `when = \"queue_wait_exceeded\"`; remove it",
            )),
        }
        if let Some(between) = &rule.conditions.between {
            if super::time_window::TimeWindow::parse(between).is_none() {
                problems.push(ConfigProblem::new(
                    format!("{path}.if.between"),
                    format!("`{between}` is not a window like `08:00-18:30` (UTC)"),
                ));
            }
        }
        if let Some(integration) = &rule.conditions.integration {
            if !integrations.contains(integration) {
                problems.push(unknown_integration(&format!("{path}.if.integration"), integration, integrations));
            }
        }
        let action = &rule.action;
        if !integrations.contains(&action.integration) {
            problems.push(unknown_integration(&format!("{path}.then.integration"), &action.integration, integrations));
        }
        match (&action.text, &action.canned_response) {
            (Some(_), Some(_)) => problems
                .push(ConfigProblem::new(format!("{path}.then"), "set either `text` or `canned_response`, not both")),
            (None, None) => problems.push(ConfigProblem::new(
                format!("{path}.then.text"),
                "missing; set `text` (with {{variables}}) or `canned_response` (a Response Management id)",
            )),
            _ => {}
        }
        let allowed = variables_for(&rule.when);
        let mut check = |field: String, template: &str| {
            for var in placeholders(template) {
                if !allowed.contains(&var.as_str()) && !var.starts_with("attr.") {
                    problems.push(ConfigProblem::new(
                        field.clone(),
                        format!(
                            "unknown variable `{{{{{var}}}}}` for event `{}`; available: {}, attr.<name>",
                            rule.when,
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        };
        if let Some(text) = &action.text {
            check(format!("{path}.then.text"), text);
        }
        for (k, v) in &action.variables {
            check(format!("{path}.then.variables.{k}"), v);
        }
        let needs_agent = matches!(action.target, RuleTarget::AgentCustomers | RuleTarget::Agent);
        let has_agent = matches!(
            rule.when.as_str(),
            "agent_presence_changed"
                | "agent_became_available"
                | "session_opened"
                | "session_updated"
                | "session_closed"
        ) || named.is_some();
        if needs_agent && !has_agent {
            problems.push(ConfigProblem::new(
                format!("{path}.then.target"),
                format!("event `{}` carries no agent, so target `{:?}` cannot be resolved", rule.when, action.target),
            ));
        }
    }
}

fn unknown_integration(path: &str, name: &str, known: &BTreeSet<String>) -> ConfigProblem {
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    ConfigProblem::new(path, format!("unknown integration `{name}`; defined: {}", known.join(", ")))
}
