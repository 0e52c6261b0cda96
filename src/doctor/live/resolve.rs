//! Where `--live` looks for a placeholder's value, and in which order: `--set`, herald's session store, the Genesys
//! API, the integration's config. Every source only fills what the ones before it left open; the ids it gives on
//! the way (a conversation id, a customer) feed the look-ups of the next ones.
//!
//! A [`Resolver`] holds what is known so far and, for every placeholder still open, why the first source that could
//! have given it did not; [`Resolver::unresolved`] turns that into what to pass instead.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::genesys::{self, GenesysClient};
use super::report::{Found, LiveReport, Source, Unresolved};
use super::store::{self, Family, SessionStore};
use super::target::LiveTarget;
use super::LiveOptions;
use crate::doctor::catalog::catalog;

/// Ids the connected agent gives (missing together when no agent is connected).
const AGENT_IDS: [&str; 3] = ["communicationId", "participantId", "userId"];

/// Ids a conversation look-up gives.
const CONVERSATION_IDS: [&str; 5] = ["communicationId", "participantId", "userId", "externalContactId", "queueId"];

/// The ids `--live` has learnt so far, and which placeholders it must fill.
pub(super) struct Resolver {
    /// The placeholders of the request, in order.
    needed: Vec<String>,
    /// Every id known, whether it fills a placeholder or only helps a look-up.
    pub(super) values: BTreeMap<String, String>,
    /// The placeholders filled, in the order they were.
    pub(super) resolved: Vec<Found>,
    /// Why a placeholder could not be found, by name (the first reason given).
    why: BTreeMap<String, String>,
    /// A source said the conversation has ended.
    pub(super) ended: bool,
}

impl Resolver {
    /// A resolver for the placeholders `needed`, knowing the ids `known` (those the request carries).
    pub(super) fn new(needed: Vec<String>, known: BTreeMap<String, String>) -> Resolver {
        Resolver { needed, values: known, resolved: Vec::new(), why: BTreeMap::new(), ended: false }
    }

    /// Whether the request has the placeholder `name` and nothing filled it yet.
    pub(super) fn missing(&self, name: &str) -> bool {
        self.needed.iter().any(|n| n == name) && !self.resolved.iter().any(|f| f.name == name)
    }

    fn any_missing(&self) -> bool {
        self.needed.iter().any(|n| self.missing(n))
    }

    /// Records a value: it fills its placeholder if that one is still open, and is known for later look-ups.
    fn learn(&mut self, f: Found) {
        if self.missing(&f.name) {
            self.values.insert(f.name.clone(), f.value.clone());
            self.resolved.push(f);
        } else {
            self.values.entry(f.name.clone()).or_insert(f.value);
        }
    }

    /// Records what one look-up of a conversation gave: its ids, whether it has ended, and why the connected
    /// agent's ids are missing when they are.
    fn learn_conversation(&mut self, found: Vec<Found>, ended: bool, no_agent: Option<String>) {
        self.ended |= ended;
        found.into_iter().for_each(|f| self.learn(f));
        if let Some(w) = no_agent {
            self.because(&AGENT_IDS, &w);
        }
    }

    /// Remembers why `names` could not be found (the first reason wins: it comes from the first source asked).
    fn because(&mut self, names: &[&str], why: &str) {
        for n in names {
            self.why.entry((*n).to_string()).or_insert_with(|| why.to_string());
        }
    }

    /// Asks every source in order (`--set`, the session store, the Genesys API through `client`, the config of
    /// `target`); notes and errors on the way go to `live`. `family` narrows the session store's choice among a
    /// customer's sessions.
    pub(super) async fn resolve(
        &mut self,
        live: &mut LiveReport,
        opts: &LiveOptions,
        target: &LiveTarget,
        client: Option<&GenesysClient>,
        family: Option<Family>,
    ) {
        self.ask_options(live, opts);
        if self.any_missing() {
            if let Some(base) = &opts.herald {
                self.ask_session_store(live, base, opts, family).await;
            }
        }
        if CONVERSATION_IDS.iter().any(|n| self.missing(n)) {
            match (client, self.values.get("conversationId").cloned()) {
                (Some(c), Some(cid)) => self.ask_genesys(c, &cid).await,
                (None, Some(_)) => self.because(&CONVERSATION_IDS, "no Genesys token for the integration (see errors)"),
                (_, None) => {}
            }
        }
        if self.missing("deploymentId") {
            self.ask_config(target);
        }
    }

    /// `--set NAME=VALUE`; a name the request has no placeholder for is noted (but still known for look-ups).
    fn ask_options(&mut self, live: &mut LiveReport, opts: &LiveOptions) {
        for (name, value) in &opts.set {
            if !self.needed.contains(name) && !matches!(name.as_str(), "conversationId" | "externalContactId") {
                live.notes.push(format!("--set {name}: the request has no {{{name}}} placeholder; ignored"));
            }
            self.learn(Found::new(name, value, Source::Option, format!("--set {name}=…")));
        }
    }

    /// Asks herald's session store: by conversation id when known, else by customer.
    async fn ask_session_store(
        &mut self,
        live: &mut LiveReport,
        base: &str,
        opts: &LiveOptions,
        family: Option<Family>,
    ) {
        let Some(key) = opts.api_key.as_deref().filter(|k| !k.is_empty()) else {
            live.errors
                .push(format!("--herald {base} needs herald's API key: pass --api-key KEY or set HERALD_API_KEY"));
            return;
        };
        let store = match SessionStore::new(base, key) {
            Ok(s) => s,
            Err(e) => {
                live.errors.push(e);
                return;
            }
        };
        let at = format!("herald at {}", store.base());
        if let Some(cid) = self.values.get("conversationId").cloned() {
            match store.by_conversation(&cid).await {
                Ok(Some(session)) => {
                    let (found, why) = store::ids_from_session(&session, &format!("GET /v1/sessions/{cid}"));
                    self.learn_conversation(found, !session.is_open(), why);
                }
                Ok(None) => live.notes.push(format!("the session store ({at}) has no session for conversation {cid}")),
                Err(e) => live.errors.push(format!("session store: {e}")),
            }
            return;
        }
        let customer = opts.customer.clone().or_else(|| self.values.get("externalContactId").cloned());
        let Some(customer) = customer else {
            self.because(
                &["conversationId"],
                "the request does not name the conversation, and the session store needs a customer to find it",
            );
            return;
        };
        match store.by_customer(&customer).await {
            Ok(sessions) => match store::choose(&sessions, &opts.integration, family) {
                Some(session) => {
                    let which = if session.is_open() { "newest open session" } else { "newest session (closed)" };
                    let from = format!("GET /v1/sessions?customer={customer} (the customer's {which})");
                    let (found, why) = store::ids_from_session(session, &from);
                    self.learn_conversation(found, !session.is_open(), why);
                }
                None => self.because(
                    &["conversationId"],
                    &format!("the session store ({at}) has no session for customer {customer}"),
                ),
            },
            Err(e) => {
                live.errors.push(format!("session store: {e}"));
                self.because(&["conversationId"], "the session store could not be asked (see errors)");
            }
        }
    }

    /// Asks `GET /api/v2/conversations/{cid}`.
    async fn ask_genesys(&mut self, client: &GenesysClient, cid: &str) {
        let path = format!("/api/v2/conversations/{cid}");
        match client.call("GET", &path, None).await {
            Ok(a) if a.is_success() => {
                let ids = genesys::ids_from_conversation(cid, &a.body);
                self.learn_conversation(ids.found, ids.ended, ids.no_communication);
            }
            Ok(a) => {
                let error = a.error.map(|e| e.to_string()).unwrap_or_default();
                let hint = match a.status {
                    404 => "; check the conversation id (is it from this org and region?)",
                    401 | 403 => {
                        "; the OAuth client needs conversation:communication:view (or a conversation view permission)"
                    }
                    _ => "",
                };
                let why = format!(
                    "GET {path} answered {} {error} (ININ-Correlation-Id {}){hint}",
                    a.status,
                    a.correlation_id.unwrap_or_default()
                );
                self.because(&CONVERSATION_IDS, &why);
            }
            Err(e) => self.because(&CONVERSATION_IDS, &e),
        }
    }

    /// The integration's `settings.deployment_id`.
    fn ask_config(&mut self, target: &LiveTarget) {
        match &target.deployment_id {
            Some(d) => self.learn(Found::new(
                "deploymentId",
                d,
                Source::Config,
                format!("integration `{}` {}", target.integration, target.deployment_key),
            )),
            None => self.because(
                &["deploymentId"],
                &format!("integration `{}` has no settings.deployment_id", target.integration),
            ),
        }
    }

    /// The placeholders left, each with why and what to pass.
    pub(super) fn unresolved(&self, opts: &LiveOptions) -> Vec<Unresolved> {
        let docs = catalog().ok().map(|c| &c.placeholder_docs);
        self.needed
            .iter()
            .filter(|n| self.missing(n))
            .map(|name| {
                let why = self.why.get(name).cloned().unwrap_or_else(|| self.default_why(name, opts));
                let mut fix = match name.as_str() {
                    "communicationId" | "participantId" if self.ended => {
                        "none: a communication id of an ended conversation is refused; send agentless instead (below)"
                            .to_string()
                    }
                    "conversationId" if opts.herald.is_some() => {
                        "pass --set conversationId=…, or --customer ID to find the customer's conversation".to_string()
                    }
                    "conversationId" => "pass --set conversationId=…, or --herald URL --customer ID to find the \
                                         customer's conversation in herald's session store"
                        .to_string(),
                    _ => format!("pass --set {name}=…"),
                };
                if let Some(doc) = docs.and_then(|d| d.get(name)).filter(|_| !fix.starts_with("none")) {
                    let _ = write!(fix, " ({doc})");
                }
                Unresolved { name: name.clone(), why, fix }
            })
            .collect()
    }

    /// Why `name` is missing when no source said.
    fn default_why(&self, name: &str, opts: &LiveOptions) -> String {
        let has_conversation = self.values.contains_key("conversationId");
        match name {
            "conversationId" if opts.herald.is_none() => {
                "the request does not name the conversation, and Genesys cannot look one up by customer".into()
            }
            "conversationId" => "the session store did not give a conversation".into(),
            n if CONVERSATION_IDS.contains(&n) && !has_conversation => "no conversation id to look it up with".into(),
            n if CONVERSATION_IDS.contains(&n) => "the conversation does not show it".into(),
            _ => "it is not an id herald can look up: only you know its value".into(),
        }
    }
}
