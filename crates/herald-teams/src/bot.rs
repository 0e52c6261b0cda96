//! The bot endpoint (`POST {bot_path}`, default `/api/messages`).
//!
//! Order of checks: the bearer token (401 when missing or invalid), then the body (400 when malformed), then the
//! token against the activity (403 when the key is not endorsed for the channel or `serviceurl` differs), then the
//! activity's tenant against the configured `tenant_id` (403, counted as `bot.activities_refused.foreign_tenant`
//! and `herald_teams_activities_refused_total{reason="foreign_tenant"}`). A refused request changes nothing. An
//! accepted activity is answered 200 once its conversation reference is stored (one state store write, only when
//! something changed); command replies are sent in the background, well within Teams' 15 s limit.
//!
//! `link <genesys-user-id>` links only the Genesys user who is provably the sender (see [`crate::identity`]) and
//! never takes over a link another Teams user holds (see [`crate::references`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::json;

use crate::activities::{Activity, Command};
use crate::connector::Connector;
use crate::identity::{Identity, IdentityCheck};
use crate::jwt::BotAuthenticator;
use crate::presence::Engine;
use crate::references::{ConversationReference, LinkRefused, ReferenceStore};
use crate::stats::{names, Stats};

/// Largest accepted activity body.
pub const MAX_BODY: usize = 256 * 1024;

/// What the bot endpoint needs.
pub struct Bot {
    /// Token validation.
    pub auth: BotAuthenticator,
    /// References and links.
    pub refs: Arc<ReferenceStore>,
    /// Replies.
    pub connector: Arc<Connector>,
    /// Presence sync (for `status` and `link`), when configured.
    pub presence: Option<Arc<Engine>>,
    /// Counters.
    pub stats: Arc<Stats>,
    /// The bot's app id.
    pub app_id: String,
    /// The customer tenant: activities of any other tenant are refused.
    pub tenant_id: String,
    /// The identity check of `link`, when the Graph and Genesys connections are configured.
    pub identity: Option<Arc<IdentityCheck>>,
}

/// Label of activities refused for their tenant.
pub const FOREIGN_TENANT: &str = "foreign_tenant";

fn refuse(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// The handler.
pub async fn messages(State(bot): State<Arc<Bot>>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("invalid"));
    let token = match bot.auth.verify(authorization).await {
        Ok(t) => t,
        Err(e) => {
            bot.stats.incr(&format!("{}.{}", names::REFUSED, e.label()));
            tracing::warn!(reason = e.label(), "refused a bot request: {e}");
            return refuse(e.status(), "Unauthorized", e.to_string());
        }
    };
    if body.len() > MAX_BODY {
        bot.stats.incr(names::MALFORMED);
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "BadArgument", "activity too large".into());
    }
    let activity = match Activity::parse(&body) {
        Ok(a) => a,
        Err(e) => {
            bot.stats.incr(names::MALFORMED);
            return refuse(StatusCode::BAD_REQUEST, "BadArgument", e.to_string());
        }
    };
    if let Err(e) = token.authorize(&activity.channel_id, &activity.service_url) {
        bot.stats.incr(&format!("{}.{}", names::REFUSED, e.label()));
        tracing::warn!(reason = e.label(), "refused a bot activity: {e}");
        return refuse(e.status(), "Forbidden", e.to_string());
    }
    let tenant = activity.tenant_id();
    if tenant.as_deref() != Some(bot.tenant_id.as_str()) {
        bot.stats.incr(&format!("{}.{FOREIGN_TENANT}", names::REFUSED));
        metrics::counter!("herald_teams_activities_refused_total", "reason" => FOREIGN_TENANT).increment(1);
        tracing::warn!(tenant = tenant.as_deref().unwrap_or("(none)"), "refused a bot activity of another tenant");
        return refuse(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "the activity's tenant is not the tenant this bot serves (`tenant_id`)".into(),
        );
    }
    bot.stats.incr(names::ACTIVITIES);
    if let Err(e) = bot.handle(activity).await {
        tracing::error!(error = %e, "could not store a Teams conversation reference");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "ServiceError", "the reference store is unavailable".into());
    }
    StatusCode::OK.into_response()
}

impl Bot {
    async fn handle(self: &Arc<Self>, a: Activity) -> Result<(), herald_core::StoreError> {
        let aad = a.from.aad_object_id.clone().unwrap_or_default();
        match a.kind.as_str() {
            "installationUpdate" if a.action.as_deref().is_some_and(|x| x.starts_with("remove")) => {
                if !aad.is_empty() {
                    self.refs.remove(&aad).await?;
                }
                return Ok(());
            }
            "conversationUpdate" | "installationUpdate" | "message" => {}
            _ => return Ok(()),
        }
        if !aad.is_empty() {
            let tenant = a.tenant_id().unwrap_or_default();
            self.refs
                .upsert(ConversationReference {
                    teams_user_id: a.from.id.clone(),
                    aad_object_id: aad.clone(),
                    tenant_id: tenant,
                    service_url: a.service_url.clone(),
                    conversation_id: a.is_personal().then(|| a.conversation.id.clone()),
                    bot_id: a.recipient.as_ref().map(|r| r.id.clone()).unwrap_or_else(|| format!("28:{}", self.app_id)),
                    updated_at: Utc::now(),
                })
                .await?;
        }
        if a.kind == "message" {
            let bot = self.clone();
            tokio::spawn(async move {
                let text = bot.answer(&a, &aad).await;
                let reply_to = a.id.as_deref();
                if let Err(e) = bot.connector.send_message(&a.service_url, &a.conversation.id, &text, reply_to).await {
                    tracing::warn!(error = %e, "could not reply to a Teams command");
                }
            });
        }
        Ok(())
    }

    async fn answer(&self, a: &Activity, aad: &str) -> String {
        match Command::parse(&a.command_text()) {
            Command::Help => HELP.into(),
            Command::Unknown(w) => format!("I don't know `{w}`. {HELP}"),
            Command::Status => match self.refs.genesys_of(aad).await {
                Err(_) => UNAVAILABLE.into(),
                Ok(None) => "You are not linked to a Genesys Cloud user. Send `link <genesys-user-id>`.".into(),
                Ok(Some(g)) => {
                    let detail = match &self.presence {
                        Some(p) => p.describe(&g),
                        None => "presence sync is not configured".into(),
                    };
                    format!("Linked to Genesys user {g}. {detail}")
                }
            },
            Command::Unlink => match self.refs.unlink(aad).await {
                Err(_) => UNAVAILABLE.into(),
                Ok(Some(g)) => {
                    if let Some(p) = &self.presence {
                        p.links_changed();
                    }
                    format!("Unlinked from Genesys user {g}.")
                }
                Ok(None) => "You had no link made with this bot (links from the configuration are changed by an \
                             operator)."
                    .into(),
            },
            Command::Link(id) => self.link(aad, &id).await,
        }
    }

    async fn link(&self, aad: &str, id: &str) -> String {
        let valid = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return "Usage: `link <genesys-user-id>` (the user's id, a GUID).".into();
        }
        if aad.is_empty() {
            return "Teams did not say who you are (no aadObjectId); linking is not possible here.".into();
        }
        // Ownership first: a link someone holds is never handed to another Teams user, whoever they are.
        match (self.refs.teams_of(id).await, self.refs.genesys_of(aad).await) {
            (Ok(Some(owner)), _) if owner != aad => {
                tracing::warn!(genesys_user = id, "refused a link: the Genesys user is linked to another Teams user");
                return format!("Genesys Cloud user `{id}` is already linked to someone else; ask an operator.");
            }
            (Ok(Some(_)), _) => return format!("You are already linked to Genesys user {id}."),
            (Ok(None), Ok(Some(current))) => {
                return format!("You are already linked to Genesys user {current}. Send `unlink` first.")
            }
            (Err(_), _) | (_, Err(_)) => return UNAVAILABLE.into(),
            (Ok(None), Ok(None)) => {}
        }
        let Some(identity) = &self.identity else {
            return "Linking through the bot needs herald's Genesys Cloud and Graph connections to prove who you are; \
                    ask an operator to link you."
                .into();
        };
        match identity.check(aad, id).await {
            Ok(Identity::Same) => {}
            Ok(Identity::NoSuchGenesysUser) => return format!("There is no Genesys Cloud user `{id}`."),
            Ok(Identity::Different { .. }) => {
                tracing::warn!(genesys_user = id, "refused a link: the Teams user is not that Genesys user");
                return format!(
                    "Genesys Cloud user `{id}` is not you: its email is not your Teams account's mail or sign-in \
                     name. Ask an operator if this is wrong."
                );
            }
            Err(e) => {
                return format!(
                    "Could not check the Genesys Cloud user right now ({}). Try again later.",
                    e.class().as_str()
                )
            }
        }
        match self.refs.link(id, aad).await {
            Ok(()) => {}
            Err(LinkRefused::TakenByAnother { .. }) => {
                return format!("Genesys Cloud user `{id}` is already linked to someone else; ask an operator.")
            }
            Err(LinkRefused::AlreadyLinked { genesys_user_id }) => {
                return format!("You are already linked to Genesys user {genesys_user_id}. Send `unlink` first.")
            }
            Err(LinkRefused::Store(_)) => return UNAVAILABLE.into(),
        }
        if let Some(p) = &self.presence {
            p.links_changed();
        }
        format!("Linked: your Teams presence and Genesys Cloud user {id} are now kept in sync.")
    }
}

/// The answer when the link store cannot be read or written.
const UNAVAILABLE: &str = "herald cannot read its links right now. Try again later.";

const HELP: &str = "Commands: `status` (your link and presence), `link <genesys-user-id>` (link your Teams account \
                    to your Genesys Cloud user), `unlink`, `help`.";
