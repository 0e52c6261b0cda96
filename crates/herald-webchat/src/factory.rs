//! [`WebChatFactory`]: builds `kind = "webchat"` integrations from their config section.

use std::sync::Arc;

use herald_core::{AdapterFactory, ClosedPolicy, ConfigProblem, IntegrationSpec, MessagingChannel};
use herald_genesys::settings::config_problems;

use crate::adapter::WebChatAdapter;
use crate::settings::Settings;

/// The factory registered under [`KIND`](crate::KIND).
#[derive(Debug, Clone, Copy, Default)]
pub struct WebChatFactory;

impl WebChatFactory {
    /// Decodes and checks a section: the settings, or every problem with its key path. No network.
    ///
    /// `closed_policy = "agentless"` is refused here: legacy web chat has no agentless send.
    pub fn settings(spec: &IntegrationSpec) -> Result<Settings, Vec<ConfigProblem>> {
        let settings: Settings = spec.decode()?;
        let mut problems = config_problems(spec, settings.problems());
        if spec.closed_policy == ClosedPolicy::Agentless {
            problems.push(ConfigProblem::new(
                format!("{}.closed_policy", spec.path),
                "is `agentless`, but legacy web chat has no agentless send; use `defer` or `fail`",
            ));
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }
}

impl AdapterFactory for WebChatFactory {
    fn kind(&self) -> &str {
        crate::KIND
    }

    fn description(&self) -> &str {
        "Genesys Cloud legacy web chat (ACD web chat v2, retired upstream): messages and canned responses into \
         live chats as the agent, chat tracking from the notification stream"
    }

    fn validate(&self, spec: &IntegrationSpec) -> Vec<ConfigProblem> {
        Self::settings(spec).err().unwrap_or_default()
    }

    fn build(&self, spec: &IntegrationSpec) -> Result<Arc<dyn MessagingChannel>, Vec<ConfigProblem>> {
        let settings = Self::settings(spec)?;
        let adapter = WebChatAdapter::new(spec.name.clone(), settings)
            .map_err(|e| vec![ConfigProblem::new(format!("{}.settings", spec.path), e.to_string())])?;
        Ok(Arc::new(adapter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(settings: &str, policy: ClosedPolicy) -> IntegrationSpec {
        IntegrationSpec {
            name: "wc".into(),
            kind: "webchat".into(),
            closed_policy: policy,
            settings: toml::from_str(settings).unwrap_or_default(),
            path: "integration[1]".into(),
        }
    }

    #[test]
    fn validate_reports_key_paths_and_refuses_agentless() {
        let ok = "base_url = \"http://127.0.0.1:1\"\nclient_id = \"c\"\nclient_secret = \"s\"\nqueue_ids = [\"q\"]";
        let f = WebChatFactory;
        assert!(f.validate(&spec(ok, ClosedPolicy::Defer)).is_empty());
        assert!(f.build(&spec(ok, ClosedPolicy::Fail)).is_ok());
        let paths: Vec<String> = f.validate(&spec(ok, ClosedPolicy::Agentless)).into_iter().map(|p| p.path).collect();
        assert_eq!(paths, vec!["integration[1].closed_policy".to_string()]);
        let bad = spec("region = \"eu_west_1\"\nclient_id = \"c\"\nclient_secret = \"\"", ClosedPolicy::Defer);
        let paths: Vec<String> = f.validate(&bad).into_iter().map(|p| p.path).collect();
        assert!(paths.contains(&"integration[1].settings.queue_ids".to_string()), "{paths:?}");
    }
}
