//! Conversation references (how to reach a Teams user proactively) and agent links (Genesys user ↔ Teams user).
//!
//! Kept in memory and, when a `state_path` is configured, in a JSON file rewritten atomically (temp file + rename)
//! on every change, so references captured from `conversationUpdate`/`installationUpdate` survive restarts.
//! Links from the config are loaded at start; links made with the bot's `link` command are persisted.

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// How to reach one Teams user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationReference {
    /// Teams user id (`29:…`).
    pub teams_user_id: String,
    /// Entra object id.
    pub aad_object_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// The `serviceUrl` of the newest activity.
    pub service_url: String,
    /// The 1:1 conversation id, once known.
    pub conversation_id: Option<String>,
    /// The bot's id in Teams (`28:…`).
    pub bot_id: String,
    /// When the reference was last refreshed.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    /// By Entra object id.
    references: HashMap<String, ConversationReference>,
    /// Genesys user id → Entra object id (made with the bot).
    links: HashMap<String, String>,
}

/// The store.
pub struct ReferenceStore {
    path: Option<PathBuf>,
    data: RwLock<Data>,
    config_links: HashMap<String, String>,
    config_by_aad: HashMap<String, String>,
}

impl ReferenceStore {
    /// Opens (or starts) the store; config links are `(genesys user id, aad id)` pairs.
    pub fn open(path: Option<PathBuf>, config_links: &[(String, String)]) -> Result<Self, String> {
        let data = match &path {
            Some(p) if p.exists() => {
                let bytes = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{} is not a herald Teams state file: {e}", p.display()))?
            }
            _ => Data::default(),
        };
        Ok(ReferenceStore {
            path,
            data: RwLock::new(data),
            config_links: config_links.iter().cloned().collect(),
            config_by_aad: config_links.iter().map(|(g, a)| (a.clone(), g.clone())).collect(),
        })
    }

    fn persist(&self, data: &Data) {
        let Some(path) = &self.path else { return };
        let tmp = path.with_extension("tmp");
        let result = serde_json::to_vec_pretty(data)
            .map_err(|e| e.to_string())
            .and_then(|bytes| std::fs::write(&tmp, bytes).map_err(|e| e.to_string()))
            .and_then(|_| std::fs::rename(&tmp, path).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::error!(path = %path.display(), error = %e, "could not persist Teams conversation references");
        }
    }

    /// Stores or refreshes a reference; keeps a known 1:1 conversation id when the new one has none.
    pub fn upsert(&self, mut reference: ConversationReference) {
        let mut d = self.data.write();
        if let Some(old) = d.references.get(&reference.aad_object_id) {
            if reference.conversation_id.is_none() {
                reference.conversation_id = old.conversation_id.clone();
            }
        }
        d.references.insert(reference.aad_object_id.clone(), reference);
        self.persist(&d);
    }

    /// The reference of a Teams user.
    pub fn get(&self, aad_id: &str) -> Option<ConversationReference> {
        self.data.read().references.get(aad_id).cloned()
    }

    /// Records the 1:1 conversation created for a user.
    pub fn set_conversation(&self, aad_id: &str, conversation_id: &str) {
        let mut d = self.data.write();
        if let Some(r) = d.references.get_mut(aad_id) {
            r.conversation_id = Some(conversation_id.to_string());
            self.persist(&d);
        }
    }

    /// Forgets the 1:1 conversation id of a user (the connector no longer knows it); it is recreated on next use.
    pub fn clear_conversation(&self, aad_id: &str) {
        let mut d = self.data.write();
        if let Some(r) = d.references.get_mut(aad_id) {
            r.conversation_id = None;
            self.persist(&d);
        }
    }

    /// Drops a reference (the user blocked the bot or uninstalled it).
    pub fn remove(&self, aad_id: &str) {
        let mut d = self.data.write();
        if d.references.remove(aad_id).is_some() {
            self.persist(&d);
        }
    }

    /// Links a Genesys user to a Teams user (replacing any link of either).
    pub fn link(&self, genesys_user_id: &str, aad_id: &str) {
        let mut d = self.data.write();
        d.links.retain(|g, a| g != genesys_user_id && a != aad_id);
        d.links.insert(genesys_user_id.to_string(), aad_id.to_string());
        self.persist(&d);
    }

    /// Removes the bot-made link of a Teams user; returns the Genesys user it named.
    pub fn unlink(&self, aad_id: &str) -> Option<String> {
        let mut d = self.data.write();
        let g = d.links.iter().find(|(_, a)| a.as_str() == aad_id).map(|(g, _)| g.clone())?;
        d.links.remove(&g);
        self.persist(&d);
        Some(g)
    }

    /// The Teams user linked to a Genesys user (bot-made links win over config).
    pub fn teams_of(&self, genesys_user_id: &str) -> Option<String> {
        self.data.read().links.get(genesys_user_id).cloned().or_else(|| self.config_links.get(genesys_user_id).cloned())
    }

    /// The Genesys user linked to a Teams user.
    pub fn genesys_of(&self, aad_id: &str) -> Option<String> {
        let d = self.data.read();
        if let Some((g, _)) = d.links.iter().find(|(_, a)| a.as_str() == aad_id) {
            return Some(g.clone());
        }
        // A config link counts unless a bot-made link re-linked its Genesys user elsewhere.
        let g = self.config_by_aad.get(aad_id)?;
        (!d.links.contains_key(g)).then(|| g.clone())
    }

    /// Every link as `(genesys user id, aad id)`, sorted.
    pub fn links(&self) -> Vec<(String, String)> {
        let d = self.data.read();
        let mut all: HashMap<String, String> = self.config_links.clone();
        for (g, a) in &d.links {
            all.retain(|cg, ca| cg != g && ca != a);
            all.insert(g.clone(), a.clone());
        }
        let mut v: Vec<(String, String)> = all.into_iter().collect();
        v.sort();
        v
    }

    /// Number of stored references.
    pub fn reference_count(&self) -> usize {
        self.data.read().references.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(aad: &str, conv: Option<&str>) -> ConversationReference {
        ConversationReference {
            teams_user_id: format!("29:{aad}"),
            aad_object_id: aad.into(),
            tenant_id: "t".into(),
            service_url: "https://s/".into(),
            conversation_id: conv.map(str::to_string),
            bot_id: "28:b".into(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn persists_references_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("teams.json");
        let s = ReferenceStore::open(Some(path.clone()), &[("g1".into(), "a1".into())]).unwrap();
        s.upsert(r("a2", Some("a:2")));
        s.upsert(r("a2", None));
        s.link("g2", "a2");
        s.link("g1", "a3");
        let s2 = ReferenceStore::open(Some(path), &[("g1".into(), "a1".into())]).unwrap();
        assert_eq!(s2.get("a2").unwrap().conversation_id.as_deref(), Some("a:2"));
        assert_eq!(s2.teams_of("g1").as_deref(), Some("a3"));
        assert_eq!(s2.genesys_of("a2").as_deref(), Some("g2"));
        assert_eq!(s2.links().len(), 2);
        s2.remove("a2");
        assert!(s2.get("a2").is_none());
    }
}
