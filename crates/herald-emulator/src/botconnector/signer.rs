//! The signer: builds Teams activities (`conversationUpdate`, `installationUpdate`, `message`) for a user, signs
//! them as the Bot Connector does (RS256 JWT `{iss, aud, serviceurl, nbf, exp}` under the endorsed key) and POSTs
//! them to a bot's messaging endpoint.
//!
//! [`Forgery`] variants produce tokens a correct bot must refuse: a forged signature, an expired token, a wrong
//! audience or issuer, a key not endorsed for `msteams`, a `serviceurl` claim that differs from the activity's.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::keys::SigningKey;
use super::{TeamsUser, TeamsWorld};

/// How to sign an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forgery {
    /// A valid token.
    #[default]
    None,
    /// Signed with an unpublished key under the endorsed key's `kid`.
    ForgedSignature,
    /// Expired ten minutes ago (beyond the 5 minute skew).
    Expired,
    /// `aud` is another app.
    WrongAudience,
    /// `iss` is not `https://api.botframework.com`.
    WrongIssuer,
    /// Signed with a published key whose endorsements do not include `msteams`.
    UnendorsedKey,
    /// The `serviceurl` claim differs from the activity's `serviceUrl`.
    ServiceUrlMismatch,
    /// No `Authorization` header at all.
    Missing,
}

impl Forgery {
    /// Every refused variant.
    pub const REFUSED: [Forgery; 7] = [
        Forgery::ForgedSignature,
        Forgery::Expired,
        Forgery::WrongAudience,
        Forgery::WrongIssuer,
        Forgery::UnendorsedKey,
        Forgery::ServiceUrlMismatch,
        Forgery::Missing,
    ];
}

/// The activity to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ActivityKind {
    /// The bot was added to the user's personal scope.
    ConversationUpdate,
    /// The app was installed (`action: "add"`).
    InstallationUpdate,
    /// The user wrote to the bot.
    Message {
        /// The text.
        text: String,
    },
}

/// An activity with the token it was signed with.
#[derive(Debug, Clone)]
pub struct SignedActivity {
    /// The activity JSON.
    pub activity: Value,
    /// The bearer token (none for [`Forgery::Missing`]).
    pub token: Option<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    serviceurl: &'a str,
    nbf: i64,
    exp: i64,
    iat: i64,
}

impl TeamsWorld {
    /// The activity JSON of `kind` from `user` (object id or Teams id) in their personal conversation.
    pub fn activity(&self, user: &str, kind: &ActivityKind) -> Result<Value, String> {
        let u: TeamsUser = self.user(user).ok_or_else(|| format!("no Teams user `{user}`"))?;
        let cfg = &self.inner.config;
        let conv = self.inner.connector.lock().personal_conversation(&u);
        let bot = json!({"id": format!("28:{}", cfg.bot_app_id), "name": cfg.bot_name});
        let mut a = json!({
            "id": format!("f:{}", uuid::Uuid::new_v4().simple()),
            "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "serviceUrl": self.service_url(),
            "channelId": "msteams",
            "from": {"id": u.teams_id, "name": u.name, "aadObjectId": u.aad_id},
            "recipient": bot,
            "conversation": {"conversationType": "personal", "id": conv, "tenantId": cfg.tenant_id},
            "channelData": {"tenant": {"id": cfg.tenant_id}},
            "locale": "en-US",
        });
        match kind {
            ActivityKind::ConversationUpdate => {
                a["type"] = json!("conversationUpdate");
                a["membersAdded"] = json!([{"id": format!("28:{}", cfg.bot_app_id)}]);
            }
            ActivityKind::InstallationUpdate => {
                a["type"] = json!("installationUpdate");
                a["action"] = json!("add");
            }
            ActivityKind::Message { text } => {
                a["type"] = json!("message");
                a["text"] = json!(text);
                a["textFormat"] = json!("plain");
                a["entities"] = json!([{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}]);
            }
        }
        Ok(a)
    }

    /// A Bot Connector token for `activity`, altered as `forgery` says.
    pub fn sign(&self, activity: &Value, forgery: Forgery) -> Result<Option<String>, String> {
        if forgery == Forgery::Missing {
            return Ok(None);
        }
        let cfg = &self.inner.config;
        let keys = &self.inner.keys;
        let now = Utc::now().timestamp();
        let service_url = activity.get("serviceUrl").and_then(Value::as_str).unwrap_or_default().to_string();
        let other_url = format!("{}evil/", service_url);
        let other_app = format!("{}-other", cfg.bot_app_id);
        let (key, kid): (&SigningKey, &str) = match forgery {
            Forgery::ForgedSignature => (&keys.rogue, &keys.endorsed.kid),
            Forgery::UnendorsedKey => (&keys.unendorsed, &keys.unendorsed.kid),
            _ => (&keys.endorsed, &keys.endorsed.kid),
        };
        let claims = Claims {
            iss: if forgery == Forgery::WrongIssuer {
                "https://api.botframework.example"
            } else {
                "https://api.botframework.com"
            },
            aud: if forgery == Forgery::WrongAudience { &other_app } else { &cfg.bot_app_id },
            serviceurl: if forgery == Forgery::ServiceUrlMismatch { &other_url } else { &service_url },
            nbf: if forgery == Forgery::Expired { now - 7200 } else { now - 5 },
            exp: if forgery == Forgery::Expired { now - 600 } else { now + 3600 },
            iat: if forgery == Forgery::Expired { now - 7200 } else { now - 5 },
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, &claims, &key.encoding).map(Some).map_err(|e| format!("signing failed: {e}"))
    }

    /// Builds and signs an activity.
    pub fn signed_activity(&self, user: &str, kind: &ActivityKind, forgery: Forgery) -> Result<SignedActivity, String> {
        let activity = self.activity(user, kind)?;
        let token = self.sign(&activity, forgery)?;
        Ok(SignedActivity { activity, token })
    }

    /// POSTs a body with an optional bearer token to a bot endpoint; returns the HTTP status.
    pub async fn post_to_bot(&self, bot_url: &str, body: Vec<u8>, token: Option<&str>) -> Result<u16, String> {
        let mut req = self
            .inner
            .http
            .post(bot_url)
            .timeout(Duration::from_secs(15))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.map(|r| r.status().as_u16()).map_err(|e| format!("POST to the bot failed: {e}"))
    }

    /// Builds, signs and sends an activity to `bot_url`; returns the bot's HTTP status.
    pub async fn send_to_bot(
        &self,
        bot_url: &str,
        user: &str,
        kind: &ActivityKind,
        forgery: Forgery,
    ) -> Result<u16, String> {
        let signed = self.signed_activity(user, kind, forgery)?;
        let body = serde_json::to_vec(&signed.activity).map_err(|e| e.to_string())?;
        self.post_to_bot(bot_url, body, signed.token.as_deref()).await
    }
}
