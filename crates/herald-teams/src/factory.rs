//! [`TeamsFactory`]: the `teams` kind in herald's adapter registry.

use std::sync::Arc;

use herald_core::{AdapterFactory, ConfigProblem, IntegrationSpec, MessagingChannel};

use crate::adapter::TeamsAdapter;
use crate::settings::TeamsSettings;

/// Builds `kind = "teams"` integrations.
pub struct TeamsFactory;

impl TeamsFactory {
    fn settings(spec: &IntegrationSpec) -> Result<TeamsSettings, Vec<ConfigProblem>> {
        let s: TeamsSettings = spec.decode()?;
        let problems = s.problems(&format!("{}.settings", spec.path));
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(problems)
        }
    }
}

impl AdapterFactory for TeamsFactory {
    fn kind(&self) -> &str {
        "teams"
    }

    fn description(&self) -> &str {
        "Microsoft Teams: a Bot Framework bot (proactive messages to agents) and Graph presence sync with Genesys Cloud"
    }

    fn validate(&self, spec: &IntegrationSpec) -> Vec<ConfigProblem> {
        Self::settings(spec).err().unwrap_or_default()
    }

    fn build(&self, spec: &IntegrationSpec) -> Result<Arc<dyn MessagingChannel>, Vec<ConfigProblem>> {
        let settings = Self::settings(spec)?;
        let adapter = TeamsAdapter::build(&spec.name, settings, &format!("{}.settings", spec.path))?;
        Ok(Arc::new(adapter))
    }
}
