//! `herald doctor --live`: fills the corrected request's `{placeholders}` with real ids and, with `--send`, sends it
//! and reports the upstream's real answer.
//!
//! Each placeholder is resolved from, in order:
//!
//! 1. `--set NAME=VALUE`;
//! 2. herald's **session store**, through a running service's API when `--herald URL` is given
//!    (`GET /v1/sessions/{conversationId}`, or `GET /v1/sessions?customer=…` to find the conversation of a customer);
//! 3. the **Genesys API** of the integration (`GET /api/v2/conversations/{conversationId}`: the connected agent's
//!    `messages[].id` — `chats[].id` for legacy chat —, participant and user ids, the customer's external contact id);
//! 4. the integration's **config** (`settings.deployment_id`).
//!
//! The report says, for every placeholder, where its value came from, or why it could not be found and what to pass.
//! Neither the client secret, the access token nor herald's API key is ever printed.
//!
//! This module holds the options and [`run`], which strings the steps together; each step is a module of its own:
//!
//! - [`target`]: the integration's environment and OAuth client, from the config file;
//! - [`request`]: which request is resolved, its placeholders, and filling them;
//! - [`resolve`]: the sources above, in their order, and why a placeholder stays open;
//! - [`genesys`]: the token, the conversation GET and the send;
//! - [`store`]: herald's sessions API;
//! - [`agentless`]: the agentless request suggested for a conversation that has ended;
//! - [`send`]: the `--send` step and its printing;
//! - [`report`]: the outcome, as text and as the `live` JSON object.

pub mod agentless;
pub mod genesys;
pub mod report;
pub mod request;
pub mod resolve;
pub mod send;
pub mod store;
pub mod target;

use std::path::PathBuf;

use serde_json::Value;

use super::report::Report;
use genesys::GenesysClient;
pub use report::{Found, LiveReport, Source, Unresolved};
pub use request::{fill, placeholders_in};
use resolve::Resolver;
use store::Family;

/// What `--live` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// The herald config file holding the integration.
    pub config: PathBuf,
    /// The integration whose Genesys environment and OAuth client are used.
    pub integration: String,
    /// A running herald service whose session store is asked first.
    pub herald: Option<String>,
    /// Its API key.
    pub api_key: Option<String>,
    /// The customer (external contact id, customer key or guest id) whose newest conversation the session store
    /// resolves.
    pub customer: Option<String>,
    /// Values given on the command line, by placeholder name.
    pub set: Vec<(String, String)>,
    /// Send the request once every placeholder is resolved.
    pub send: bool,
}

/// Runs `--live` for a diagnosed request. `original` is the body (or frame) as given, `query` the original query
/// string (without `?`), used when the request is sent as it was written.
pub async fn run(report: &Report, original: Option<&Value>, query: &str, opts: &LiveOptions) -> LiveReport {
    let mut live = LiveReport {
        integration: opts.integration.clone(),
        send_requested: opts.send,
        herald: opts.herald.clone(),
        ..LiveReport::default()
    };
    let lookup = |v: &str| std::env::var(v).ok();
    let target = match target::load_target(&opts.config, &opts.integration, &lookup) {
        Ok(t) => t,
        Err(e) => {
            live.errors.push(e.to_string());
            if opts.send {
                live.not_sent = Some("the integration could not be read (see errors)".into());
            }
            return live;
        }
    };
    live.environment = Some(target.environment.api_base());
    live.oauth_client = Some(target.client_id.clone());
    let client = match GenesysClient::connect(&target).await {
        Ok(c) => {
            live.token = true;
            Some(c)
        }
        Err(e) => {
            live.errors.push(e.to_string());
            None
        }
    };
    let Some(mut req) = request::request_to_send(report, original, query, &target.environment) else {
        live.notes.push("no real endpoint to resolve ids for: fix the endpoint first (see the findings)".into());
        if opts.send {
            live.not_sent = Some("the request names no real endpoint".into());
        }
        return live;
    };
    let mut r = Resolver::new(placeholders_in(&req), request::known_from_request(report, original));
    r.resolve(&mut live, opts, &target, client.as_ref(), Family::of(&req.path)).await;
    live.unresolved = r.unresolved(opts);
    if r.ended && r.missing("communicationId") {
        live.agentless_instead = agentless::agentless_instead(&req, &r.values, &target);
    }
    fill(&mut req, &r.values);
    req.placeholders.retain(|k, _| live.unresolved.iter().any(|u| &u.name == k));
    live.resolved = r.resolved;
    send::recheck_and_send(&mut live, &req, client.as_ref(), opts.send).await;
    live.request = Some(req);
    live
}
