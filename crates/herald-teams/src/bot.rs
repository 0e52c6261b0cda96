//! The bot endpoint (`POST {bot_path}`, default `/api/messages`).
//!
//! Order of checks: the bearer token (401 when missing or invalid), then the body (400 when malformed), then the
//! token against the activity (403 when the key is not endorsed for the channel or `serviceurl` differs). A refused
//! request changes nothing. An accepted activity is answered 200 at once; conversation references are stored
//! before answering (cheap, in memory + a small file) and command replies are sent in the background, well within
//! Teams' 15 s limit.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use herald_core::ChannelError;
use serde_json::json;

use crate::activities::{Activity, Command};
use crate::connector::Connector;
use crate::jwt::BotAuthenticator;
use crate::presence::Engine;
use crate::references::{ConversationReference, ReferenceStore};
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
}

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
    bot.stats.incr(names::ACTIVITIES);
    bot.handle(activity);
    StatusCode::OK.into_response()
}

impl Bot {
    fn handle(self: &Arc<Self>, a: Activity) {
        let aad = a.from.aad_object_id.clone().unwrap_or_default();
        match a.kind.as_str() {
            "installationUpdate" if a.action.as_deref().is_some_and(|x| x.starts_with("remove")) => {
                if !aad.is_empty() {
                    self.refs.remove(&aad);
                }
                return;
            }
            "conversationUpdate" | "installationUpdate" | "message" => {}
            _ => return,
        }
        if !aad.is_empty() {
            let tenant = a.tenant_id().unwrap_or_default();
            self.refs.upsert(ConversationReference {
                teams_user_id: a.from.id.clone(),
                aad_object_id: aad.clone(),
                tenant_id: tenant,
                service_url: a.service_url.clone(),
                conversation_id: a.is_personal().then(|| a.conversation.id.clone()),
                bot_id: a.recipient.as_ref().map(|r| r.id.clone()).unwrap_or_else(|| format!("28:{}", self.app_id)),
                updated_at: Utc::now(),
            });
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
    }

    async fn answer(&self, a: &Activity, aad: &str) -> String {
        match Command::parse(&a.command_text()) {
            Command::Help => HELP.into(),
            Command::Unknown(w) => format!("I don't know `{w}`. {HELP}"),
            Command::Status => match self.refs.genesys_of(aad) {
                None => "You are not linked to a Genesys Cloud user. Send `link <genesys-user-id>`.".into(),
                Some(g) => {
                    let detail = match &self.presence {
                        Some(p) => p.describe(&g),
                        None => "presence sync is not configured".into(),
                    };
                    format!("Linked to Genesys user {g}. {detail}")
                }
            },
            Command::Unlink => match self.refs.unlink(aad) {
                Some(g) => {
                    if let Some(p) = &self.presence {
                        p.links_changed();
                    }
                    format!("Unlinked from Genesys user {g}.")
                }
                None => "You had no link made with this bot.".into(),
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
        if let Some(p) = &self.presence {
            match p.check_genesys_user(id).await {
                Ok(()) => {}
                Err(ChannelError::NotFound { .. }) => return format!("There is no Genesys Cloud user `{id}`."),
                Err(e) => {
                    return format!(
                        "Could not check the Genesys Cloud user right now ({}). Try again later.",
                        e.class().as_str()
                    )
                }
            }
        }
        self.refs.link(id, aad);
        if let Some(p) = &self.presence {
            p.links_changed();
        }
        format!("Linked: your Teams presence and Genesys Cloud user {id} are now kept in sync.")
    }
}

const HELP: &str = "Commands: `status` (your link and presence), `link <genesys-user-id>` (link your Teams account \
                    to your Genesys Cloud user), `unlink`, `help`.";
