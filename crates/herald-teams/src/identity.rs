//! Proof that a Teams user and a Genesys Cloud user are the same person, before the bot links them.
//!
//! The Teams user is known by the `aadObjectId` of the activity (signed by the Bot Framework, so not forgeable
//! by the sender). Graph gives that directory user's `mail` and `userPrincipalName`; Genesys Cloud gives the
//! Genesys user's `email`. The link is allowed only when the Genesys email equals one of the two (compared
//! case-insensitively). Without the Graph and Genesys connections (`[integration.settings.genesys]`), nothing can
//! be proven and only an operator can link (the config's `[[links]]`).

use std::sync::Arc;

use herald_core::ChannelError;
use herald_genesys::{ErrorContext, GenesysClient};
use serde_json::Value;

use crate::graph::GraphClient;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The same person: the Genesys email is one of the Teams user's directory addresses.
    Same,
    /// Not provably the same person (the addresses compared are given for the answer).
    Different {
        /// The Genesys user's email, when it has one.
        genesys_email: Option<String>,
    },
    /// The Genesys user does not exist.
    NoSuchGenesysUser,
}

/// Compares directory identities.
pub struct IdentityCheck {
    graph: Arc<GraphClient>,
    genesys: GenesysClient,
}

/// `id` as one path segment of a Genesys URL.
fn segment(id: &str) -> String {
    herald_genesys::client::seg(id)
}

impl IdentityCheck {
    /// A check over these clients.
    pub fn new(graph: Arc<GraphClient>, genesys: GenesysClient) -> Self {
        IdentityCheck { graph, genesys }
    }

    /// Whether the Teams user `aad_id` is the Genesys user `genesys_user_id`.
    pub async fn check(&self, aad_id: &str, genesys_user_id: &str) -> Result<Identity, ChannelError> {
        let path = format!("/api/v2/users/{}", segment(genesys_user_id));
        let user = match self.genesys.get::<Value>(&path, &ErrorContext::entity("user", genesys_user_id)).await {
            Ok(r) => r.body,
            Err(ChannelError::NotFound { .. }) => return Ok(Identity::NoSuchGenesysUser),
            Err(e) => return Err(e),
        };
        let email = user.get("email").and_then(Value::as_str).map(|s| s.trim().to_ascii_lowercase());
        let Some(email) = email.filter(|e| !e.is_empty()) else {
            return Ok(Identity::Different { genesys_email: None });
        };
        let addresses = match self.graph.user_addresses(aad_id).await {
            Ok(a) => a,
            // The directory does not know the sender: nothing proves who they are.
            Err(ChannelError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(same_person(&email, &addresses))
    }
}

/// The decision, given the Genesys email (lower-cased) and the Teams user's directory addresses (lower-cased).
pub fn same_person(genesys_email: &str, directory: &[String]) -> Identity {
    if !genesys_email.is_empty() && directory.iter().any(|a| a == genesys_email) {
        Identity::Same
    } else {
        Identity::Different { genesys_email: Some(genesys_email.to_string()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_equal_directory_address_proves_identity() {
        let dir = vec!["alice@contoso.com".to_string(), "alice.agent@contoso.onmicrosoft.com".to_string()];
        assert_eq!(same_person("alice@contoso.com", &dir), Identity::Same);
        assert_eq!(same_person("alice.agent@contoso.onmicrosoft.com", &dir), Identity::Same, "the UPN counts");
        assert!(matches!(same_person("bob@contoso.com", &dir), Identity::Different { .. }));
        assert!(matches!(same_person("", &[String::new()]), Identity::Different { .. }), "empty never matches");
        assert!(matches!(same_person("alice@contoso.com", &[]), Identity::Different { .. }));
    }
}
