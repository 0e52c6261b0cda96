//! [`WebMessagingFactory`]: builds `kind = "webmessaging"` integrations from their config section.

use std::sync::Arc;

use herald_core::{AdapterFactory, ConfigProblem, IntegrationSpec, MessagingChannel};
use herald_genesys::settings::config_problems;

use crate::adapter::WebMessagingAdapter;
use crate::settings::Settings;

/// The factory registered under [`KIND`](crate::KIND).
#[derive(Debug, Clone, Copy, Default)]
pub struct WebMessagingFactory;

impl WebMessagingFactory {
    /// Decodes and checks a section: the settings, or every problem with its key path. No network.
    pub fn settings(spec: &IntegrationSpec) -> Result<Settings, Vec<ConfigProblem>> {
        let settings: Settings = spec.decode()?;
        let problems = config_problems(spec, settings.problems());
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }
}

impl AdapterFactory for WebMessagingFactory {
    fn kind(&self) -> &str {
        crate::KIND
    }

    fn description(&self) -> &str {
        "Genesys Cloud web messaging: proactive messages into customers' conversations (agent-side or agentless), \
         canned responses, conversation tracking from the notification stream"
    }

    fn validate(&self, spec: &IntegrationSpec) -> Vec<ConfigProblem> {
        match Self::settings(spec) {
            Ok(_) => Vec::new(),
            Err(p) => p,
        }
    }

    fn build(&self, spec: &IntegrationSpec) -> Result<Arc<dyn MessagingChannel>, Vec<ConfigProblem>> {
        let settings = Self::settings(spec)?;
        let adapter = WebMessagingAdapter::new(spec.name.clone(), settings)
            .map_err(|e| vec![ConfigProblem::new(format!("{}.settings", spec.path), e.to_string())])?;
        Ok(Arc::new(adapter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::ClosedPolicy;

    fn spec(settings: &str) -> IntegrationSpec {
        IntegrationSpec {
            name: "wm".into(),
            kind: "webmessaging".into(),
            closed_policy: ClosedPolicy::Defer,
            settings: toml::from_str(settings).unwrap_or_default(),
            path: "integration[2]".into(),
        }
    }

    #[test]
    fn validate_reports_key_paths() {
        let f = WebMessagingFactory;
        let ok = spec(
            "base_url = \"http://127.0.0.1:1\"\nclient_id = \"c\"\nclient_secret = \"s\"\ndeployment_id = \"d\"\nqueue_ids = [\"q\"]",
        );
        assert!(f.validate(&ok).is_empty(), "{:?}", f.validate(&ok));
        let bad = spec("region = \"eu_west_1\"\nclient_id = \"c\"\nclient_secret = \"\"\ndeployment_id = \"d\"");
        let paths: Vec<String> = f.validate(&bad).into_iter().map(|p| p.path).collect();
        assert!(paths.contains(&"integration[2].settings.client_secret".to_string()), "{paths:?}");
        assert!(paths.contains(&"integration[2].settings.queue_ids".to_string()), "{paths:?}");
        let unknown = spec("region = \"eu_west_1\"\nsurprise = true");
        assert!(f.validate(&unknown)[0].path.starts_with("integration[2].settings"));
        assert!(f.build(&ok).is_ok());
    }
}
