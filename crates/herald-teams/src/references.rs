//! Conversation references (how to reach a Teams user proactively) and agent links (Genesys user ↔ Teams user),
//! in the host's [`StateStore`] so they survive restarts without rewriting a file on every activity, never block
//! the runtime, and can later be shared by several instances.
//!
//! Layout in the namespace `teams/<integration>`:
//!
//! | key | value |
//! |---|---|
//! | `ref/<aad object id>` | [`ConversationReference`] |
//! | `link/g/<genesys user id>` | [`Link`]: the Teams user it belongs to, who made it, when |
//! | `link/a/<aad object id>` | the Genesys user id (reverse index, checked against `link/g/…` on read) |
//! | `migrated/state_path` | marker: the old JSON state file was imported |
//!
//! **Links belong to their owner.** A Genesys user linked to one Teams user (by the bot or by `[[links]]` in the
//! config) is never re-linked to another Teams user through the bot: [`ReferenceStore::link`] claims the link
//! with a put-if-absent and refuses when it is taken. A Teams user already linked must `unlink` first. Links from
//! the config are the operator's and cannot be removed with the bot. Whether the Teams user may claim a Genesys user
//! at all (same person) is decided by the bot before calling [`ReferenceStore::link`] (see `bot.rs`).
//!
//! Until the adapter starts, the store is an in-memory one; [`ReferenceStore::attach`] moves to the host's store
//! and imports, once, the JSON file an older herald kept at `state_path`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use herald_core::store::memory_state::MemoryStateStore;
use herald_core::{StateStore, StoreError};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::json;

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

/// Who made a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkOrigin {
    /// The Teams user, with the bot's `link` command, after the identity check.
    Bot,
    /// An operator (the config's `[[links]]`).
    Operator,
}

/// A stored link of a Genesys user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The Teams user's Entra object id.
    pub aad_object_id: String,
    /// Who made it.
    pub origin: LinkOrigin,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why [`ReferenceStore::link`] refused.
#[derive(Debug, thiserror::Error)]
pub enum LinkRefused {
    /// The Genesys user is linked to another Teams user.
    #[error("Genesys user `{genesys_user_id}` is already linked to another Teams user")]
    TakenByAnother {
        /// The Genesys user.
        genesys_user_id: String,
    },
    /// The Teams user is already linked (to this or another Genesys user).
    #[error("this Teams user is already linked to Genesys user `{genesys_user_id}`")]
    AlreadyLinked {
        /// Their current Genesys user.
        genesys_user_id: String,
    },
    /// The store failed.
    #[error("the link store is unavailable: {0}")]
    Store(#[from] StoreError),
}

/// The old JSON state file (read once for migration).
#[derive(Debug, Default, Deserialize)]
struct LegacyFile {
    #[serde(default)]
    references: BTreeMap<String, ConversationReference>,
    #[serde(default)]
    links: BTreeMap<String, String>,
}

/// A reference is rewritten when something a delivery uses changed, or when it is older than this (so
/// `updated_at` says roughly when the user was last seen) — not on every activity.
const REFRESH_AFTER_SECS: i64 = 3600;

/// References and links of one Teams integration.
pub struct ReferenceStore {
    namespace: String,
    store: RwLock<Arc<dyn StateStore>>,
    legacy_path: Option<PathBuf>,
    /// `[[links]]` of the config: genesys → aad, and aad → genesys.
    config_links: BTreeMap<String, String>,
    config_by_aad: BTreeMap<String, String>,
}

/// The state store namespace of a Teams integration's references and links.
pub fn namespace(integration: &str) -> String {
    format!("teams/{integration}")
}

fn ref_key(aad: &str) -> String {
    format!("ref/{aad}")
}
fn link_key(genesys: &str) -> String {
    format!("link/g/{genesys}")
}
fn reverse_key(aad: &str) -> String {
    format!("link/a/{aad}")
}

impl ReferenceStore {
    /// The store of integration `integration`, in memory until [`attach`](Self::attach)ed; config links are
    /// `(genesys user id, aad id)` pairs; `legacy_path` is an old JSON state file to import on attach.
    pub fn new(integration: &str, legacy_path: Option<PathBuf>, config_links: &[(String, String)]) -> Self {
        ReferenceStore {
            namespace: namespace(integration),
            store: RwLock::new(Arc::new(MemoryStateStore::new())),
            legacy_path,
            config_links: config_links.iter().cloned().collect(),
            config_by_aad: config_links.iter().map(|(g, a)| (a.clone(), g.clone())).collect(),
        }
    }

    fn store(&self) -> Arc<dyn StateStore> {
        self.store.read().clone()
    }

    /// Move to the host's state store and import the old state file once.
    pub async fn attach(&self, store: Arc<dyn StateStore>) -> Result<(), String> {
        if let Some(path) = &self.legacy_path {
            self.import(&store, path).await?;
        }
        *self.store.write() = store;
        Ok(())
    }

    async fn import(&self, store: &Arc<dyn StateStore>, path: &std::path::Path) -> Result<(), String> {
        let ns = self.namespace.as_str();
        let now = Utc::now();
        let fail = |e: StoreError| format!("cannot import {}: {e}", path.display());
        if store.get(ns, "migrated/state_path", now).await.map_err(fail)?.is_some() {
            return Ok(());
        }
        let bytes = match tokio::fs::read(path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let legacy: LegacyFile = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not a herald Teams state file: {e}", path.display()))?;
        for (aad, reference) in &legacy.references {
            let value = serde_json::to_value(reference).map_err(|e| e.to_string())?;
            store.put_if_absent(ns, &ref_key(aad), value, None, now).await.map_err(fail)?.ok();
        }
        for (genesys, aad) in &legacy.links {
            let link = Link { aad_object_id: aad.clone(), origin: LinkOrigin::Bot, at: now };
            let value = serde_json::to_value(&link).map_err(|e| e.to_string())?;
            if store.put_if_absent(ns, &link_key(genesys), value, None, now).await.map_err(fail)?.is_ok() {
                store.put(ns, &reverse_key(aad), json!(genesys), None, now).await.map_err(fail)?;
            }
        }
        store.put(ns, "migrated/state_path", json!({"at": now}), None, now).await.map_err(fail)?;
        tracing::info!(path = %path.display(), references = legacy.references.len(), links = legacy.links.len(),
            "imported the Teams state file into the store; the file is no longer written");
        Ok(())
    }

    /// Stores or refreshes a reference; keeps a known 1:1 conversation id when the new one has none. Writes only
    /// when something changed or the stored one is over an hour old.
    pub async fn upsert(&self, mut reference: ConversationReference) -> Result<(), StoreError> {
        let store = self.store();
        let key = ref_key(&reference.aad_object_id);
        let now = Utc::now();
        if let Some(old) = self.read_ref(&store, &key).await? {
            if reference.conversation_id.is_none() {
                reference.conversation_id = old.conversation_id.clone();
            }
            let fresh = (reference.updated_at - old.updated_at).num_seconds() < REFRESH_AFTER_SECS;
            let same = ConversationReference { updated_at: old.updated_at, ..reference.clone() } == old;
            if fresh && same {
                return Ok(());
            }
        }
        let value = serde_json::to_value(&reference).map_err(|e| StoreError::Backend(e.to_string()))?;
        store.put(&self.namespace, &key, value, None, now).await.map(|_| ())
    }

    async fn read_ref(
        &self,
        store: &Arc<dyn StateStore>,
        key: &str,
    ) -> Result<Option<ConversationReference>, StoreError> {
        let Some(entry) = store.get(&self.namespace, key, Utc::now()).await? else { return Ok(None) };
        serde_json::from_value(entry.value)
            .map(Some)
            .map_err(|e| StoreError::Corrupt { key: format!("{}/{key}", self.namespace), reason: e.to_string() })
    }

    /// The reference of a Teams user.
    pub async fn get(&self, aad_id: &str) -> Result<Option<ConversationReference>, StoreError> {
        self.read_ref(&self.store(), &ref_key(aad_id)).await
    }

    /// Records the 1:1 conversation created for a user.
    pub async fn set_conversation(&self, aad_id: &str, conversation_id: &str) -> Result<(), StoreError> {
        let Some(mut r) = self.get(aad_id).await? else { return Ok(()) };
        r.conversation_id = Some(conversation_id.to_string());
        self.put_ref(&r).await
    }

    /// Forgets the 1:1 conversation id of a user (the connector no longer knows it); it is recreated on next use.
    pub async fn clear_conversation(&self, aad_id: &str) -> Result<(), StoreError> {
        let Some(mut r) = self.get(aad_id).await? else { return Ok(()) };
        r.conversation_id = None;
        self.put_ref(&r).await
    }

    async fn put_ref(&self, r: &ConversationReference) -> Result<(), StoreError> {
        let value = serde_json::to_value(r).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.store().put(&self.namespace, &ref_key(&r.aad_object_id), value, None, Utc::now()).await.map(|_| ())
    }

    /// Drops a reference (the user blocked the bot or uninstalled it).
    pub async fn remove(&self, aad_id: &str) -> Result<(), StoreError> {
        self.store().delete(&self.namespace, &ref_key(aad_id)).await.map(|_| ())
    }

    /// Links Genesys user `genesys_user_id` to the Teams user `aad_id`, unless the Genesys user is linked to anyone
    /// (store or config) or the Teams user is linked already. The caller has checked that both are the same person.
    pub async fn link(&self, genesys_user_id: &str, aad_id: &str) -> Result<(), LinkRefused> {
        if let Some(current) = self.genesys_of(aad_id).await? {
            return Err(LinkRefused::AlreadyLinked { genesys_user_id: current });
        }
        if self.config_links.contains_key(genesys_user_id) {
            return Err(LinkRefused::TakenByAnother { genesys_user_id: genesys_user_id.to_string() });
        }
        let store = self.store();
        let now = Utc::now();
        let link = Link { aad_object_id: aad_id.to_string(), origin: LinkOrigin::Bot, at: now };
        let value = serde_json::to_value(&link).map_err(|e| StoreError::Backend(e.to_string()))?;
        if store.put_if_absent(&self.namespace, &link_key(genesys_user_id), value, None, now).await?.is_err() {
            return Err(LinkRefused::TakenByAnother { genesys_user_id: genesys_user_id.to_string() });
        }
        // The reverse entry: a concurrent `link` of the same Teams user to another Genesys user loses here and
        // gives its claim back.
        let reverse =
            store.put_if_absent(&self.namespace, &reverse_key(aad_id), json!(genesys_user_id), None, now).await;
        match reverse {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(existing)) => {
                store.delete(&self.namespace, &link_key(genesys_user_id)).await?;
                let current = existing.value.as_str().unwrap_or_default().to_string();
                Err(LinkRefused::AlreadyLinked { genesys_user_id: current })
            }
            Err(e) => {
                store.delete(&self.namespace, &link_key(genesys_user_id)).await?;
                Err(e.into())
            }
        }
    }

    /// Removes the bot-made link of a Teams user; returns the Genesys user it named. Links of the config or of an
    /// operator stay.
    pub async fn unlink(&self, aad_id: &str) -> Result<Option<String>, StoreError> {
        let store = self.store();
        let Some(g) = self.stored_genesys_of(&store, aad_id).await? else { return Ok(None) };
        if self.stored_link(&store, &g).await?.is_some_and(|l| l.origin != LinkOrigin::Bot) {
            return Ok(None);
        }
        store.delete(&self.namespace, &link_key(&g)).await?;
        store.delete(&self.namespace, &reverse_key(aad_id)).await?;
        Ok(Some(g))
    }

    /// The stored link of a Genesys user.
    async fn stored_link(&self, store: &Arc<dyn StateStore>, genesys: &str) -> Result<Option<Link>, StoreError> {
        let Some(entry) = store.get(&self.namespace, &link_key(genesys), Utc::now()).await? else { return Ok(None) };
        serde_json::from_value(entry.value).map(Some).map_err(|e| StoreError::Corrupt {
            key: format!("{}/{}", self.namespace, link_key(genesys)),
            reason: e.to_string(),
        })
    }

    /// The Genesys user a Teams user is linked to in the store (the reverse entry, confirmed by the forward one).
    async fn stored_genesys_of(&self, store: &Arc<dyn StateStore>, aad: &str) -> Result<Option<String>, StoreError> {
        let Some(entry) = store.get(&self.namespace, &reverse_key(aad), Utc::now()).await? else { return Ok(None) };
        let Some(g) = entry.value.as_str().map(str::to_string) else { return Ok(None) };
        let confirmed = self.stored_link(store, &g).await?.is_some_and(|l| l.aad_object_id == aad);
        Ok(confirmed.then_some(g))
    }

    /// The Teams user linked to a Genesys user (config first: an operator's link is never overridden).
    pub async fn teams_of(&self, genesys_user_id: &str) -> Result<Option<String>, StoreError> {
        if let Some(a) = self.config_links.get(genesys_user_id) {
            return Ok(Some(a.clone()));
        }
        Ok(self.stored_link(&self.store(), genesys_user_id).await?.map(|l| l.aad_object_id))
    }

    /// The Genesys user linked to a Teams user.
    pub async fn genesys_of(&self, aad_id: &str) -> Result<Option<String>, StoreError> {
        if let Some(g) = self.config_by_aad.get(aad_id) {
            return Ok(Some(g.clone()));
        }
        self.stored_genesys_of(&self.store(), aad_id).await
    }

    /// The config's links as `(genesys user id, aad id)`, sorted.
    pub fn config_links(&self) -> Vec<(String, String)> {
        self.config_links.iter().map(|(g, a)| (g.clone(), a.clone())).collect()
    }

    /// Every link as `(genesys user id, aad id)`, sorted: the config's and the stored ones (paged through the
    /// store; a stored link of a Genesys user the config links is ignored).
    pub async fn links(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut all = self.config_links.clone();
        let store = self.store();
        let mut after: Option<String> = None;
        loop {
            let page = store.list(&self.namespace, "link/g/", after.as_deref(), 0, Utc::now()).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            for entry in page {
                let g = entry.key.trim_start_matches("link/g/").to_string();
                if let Ok(link) = serde_json::from_value::<Link>(entry.value) {
                    all.entry(g).or_insert(link.aad_object_id);
                }
            }
        }
        Ok(all.into_iter().collect())
    }

    /// Number of stored references (counted by paging through them).
    pub async fn reference_count(&self) -> Result<usize, StoreError> {
        let store = self.store();
        let mut after: Option<String> = None;
        let mut n = 0;
        loop {
            let page = store.list(&self.namespace, "ref/", after.as_deref(), 0, Utc::now()).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key.clone());
            n += page.len();
        }
        Ok(n)
    }
}

/// An operator's link, made through herald's authenticated API: links `genesys_user_id` to `aad_id` in the
/// namespace of Teams integration `integration`, replacing any stored link of either (an operator decides who is
/// who; the bot never can). Links of the config still win over stored ones. Works on the store alone, so the API
/// needs no handle on the adapter; the adapter sees the link on its next look-up.
pub async fn operator_link(
    store: &dyn StateStore,
    integration: &str,
    genesys_user_id: &str,
    aad_id: &str,
) -> Result<(), StoreError> {
    let ns = namespace(integration);
    let now = Utc::now();
    // Drop what either side was linked to, so no stale half-link points at them.
    if let Some(entry) = store.get(&ns, &link_key(genesys_user_id), now).await? {
        if let Ok(old) = serde_json::from_value::<Link>(entry.value) {
            if old.aad_object_id != aad_id {
                store.delete(&ns, &reverse_key(&old.aad_object_id)).await?;
            }
        }
    }
    if let Some(entry) = store.get(&ns, &reverse_key(aad_id), now).await? {
        if let Some(old) = entry.value.as_str().filter(|g| *g != genesys_user_id) {
            store.delete(&ns, &link_key(old)).await?;
        }
    }
    let link = Link { aad_object_id: aad_id.to_string(), origin: LinkOrigin::Operator, at: now };
    let value = serde_json::to_value(&link).map_err(|e| StoreError::Backend(e.to_string()))?;
    store.put(&ns, &link_key(genesys_user_id), value, None, now).await?;
    store.put(&ns, &reverse_key(aad_id), json!(genesys_user_id), None, now).await?;
    Ok(())
}

/// Remove the stored link (bot-made or an operator's) of a Genesys user; returns the Teams user it named.
pub async fn operator_unlink(
    store: &dyn StateStore,
    integration: &str,
    genesys_user_id: &str,
) -> Result<Option<String>, StoreError> {
    let ns = namespace(integration);
    let Some(entry) = store.get(&ns, &link_key(genesys_user_id), Utc::now()).await? else { return Ok(None) };
    let aad = serde_json::from_value::<Link>(entry.value).ok().map(|l| l.aad_object_id);
    store.delete(&ns, &link_key(genesys_user_id)).await?;
    if let Some(a) = &aad {
        store.delete(&ns, &reverse_key(a)).await?;
    }
    Ok(aad)
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

    async fn open(store: &Arc<MemoryStateStore>, legacy: Option<PathBuf>) -> ReferenceStore {
        let s = ReferenceStore::new("teams", legacy, &[("g1".into(), "a1".into())]);
        s.attach(store.clone()).await.expect("attach");
        s
    }

    #[tokio::test]
    async fn references_and_links_live_in_the_state_store() {
        let store = Arc::new(MemoryStateStore::new());
        let s = ReferenceStore::new("teams", None, &[("g1".into(), "a1".into())]);
        s.attach(store.clone()).await.expect("attach");
        s.upsert(r("a2", Some("a:2"))).await.expect("upsert");
        s.upsert(r("a2", None)).await.expect("upsert");
        s.link("g2", "a2").await.expect("a free Genesys user links");
        // A second store over the same state (a restart, or another instance) sees everything.
        let s2 = ReferenceStore::new("teams", None, &[("g1".into(), "a1".into())]);
        s2.attach(store.clone()).await.expect("attach");
        assert_eq!(s2.get("a2").await.expect("get").and_then(|r| r.conversation_id).as_deref(), Some("a:2"));
        assert_eq!(s2.genesys_of("a2").await.expect("genesys_of").as_deref(), Some("g2"));
        assert_eq!(s2.teams_of("g1").await.expect("teams_of").as_deref(), Some("a1"), "config link");
        assert_eq!(s2.links().await.expect("links").len(), 2);
        s2.remove("a2").await.expect("remove");
        assert!(s2.get("a2").await.expect("get").is_none());
        assert_eq!(s2.reference_count().await.expect("count"), 0);
    }

    #[tokio::test]
    async fn an_existing_link_is_never_taken_over() {
        let store = Arc::new(MemoryStateStore::new());
        let s = ReferenceStore::new("teams", None, &[("g1".into(), "a1".into())]);
        s.attach(store).await.expect("attach");
        s.link("g2", "a2").await.expect("link");
        assert!(matches!(s.link("g2", "a3").await, Err(LinkRefused::TakenByAnother { .. })), "bot-made link taken");
        assert!(matches!(s.link("g1", "a3").await, Err(LinkRefused::TakenByAnother { .. })), "config link taken");
        assert!(matches!(s.link("g3", "a2").await, Err(LinkRefused::AlreadyLinked { .. })), "unlink first");
        assert_eq!(s.teams_of("g2").await.expect("teams_of").as_deref(), Some("a2"), "unchanged");
        assert_eq!(s.genesys_of("a3").await.expect("genesys_of"), None, "the intruder got nothing");
        assert_eq!(s.unlink("a1").await.expect("unlink"), None, "a config link is not removed by the bot");
        assert_eq!(s.unlink("a2").await.expect("unlink").as_deref(), Some("g2"));
        s.link("g2", "a3").await.expect("free again after its owner unlinked");
    }

    #[tokio::test]
    async fn imports_the_old_state_file_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("teams.json");
        let legacy = json!({"references": {"a2": r("a2", Some("a:2"))}, "links": {"g2": "a2"}});
        std::fs::write(&path, serde_json::to_vec(&legacy).expect("json")).expect("write");
        let store = Arc::new(MemoryStateStore::new());
        let s = open(&store, Some(path.clone())).await;
        assert_eq!(s.genesys_of("a2").await.expect("genesys_of").as_deref(), Some("g2"));
        s.unlink("a2").await.expect("unlink");
        // Attaching again (a restart) does not import the file a second time.
        let s = open(&store, Some(path)).await;
        assert_eq!(s.genesys_of("a2").await.expect("genesys_of"), None, "imported once only");
        assert!(s.get("a2").await.expect("get").is_some());
    }

    #[tokio::test]
    async fn an_operator_links_through_the_store_and_the_bot_cannot_undo_it() {
        let store = Arc::new(MemoryStateStore::new());
        let s = ReferenceStore::new("teams", None, &[]);
        s.attach(store.clone()).await.expect("attach");
        s.link("g2", "a2").await.expect("bot link");
        // The operator gives g2 to a3 (say the bot link was a mistake) and links a2 to g9.
        operator_link(store.as_ref(), "teams", "g2", "a3").await.expect("operator link");
        operator_link(store.as_ref(), "teams", "g9", "a2").await.expect("operator link");
        assert_eq!(s.teams_of("g2").await.expect("teams_of").as_deref(), Some("a3"));
        assert_eq!(s.genesys_of("a3").await.expect("genesys_of").as_deref(), Some("g2"));
        assert_eq!(s.genesys_of("a2").await.expect("genesys_of").as_deref(), Some("g9"));
        assert_eq!(s.unlink("a3").await.expect("unlink"), None, "the bot does not remove an operator's link");
        assert!(matches!(s.link("g2", "a4").await, Err(LinkRefused::TakenByAnother { .. })));
        assert_eq!(operator_unlink(store.as_ref(), "teams", "g2").await.expect("unlink").as_deref(), Some("a3"));
        assert_eq!(s.genesys_of("a3").await.expect("genesys_of"), None);
        assert_eq!(s.links().await.expect("links"), vec![("g9".to_string(), "a2".to_string())]);
    }
}
