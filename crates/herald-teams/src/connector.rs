//! The Bot Connector client: create the 1:1 conversation and post activities on a user's `serviceUrl`.
//!
//! Calls are paced by [`Throttle`], carry a cached bot token (refreshed once after a 401), and are retried on
//! 412/502/503/504 with exponential backoff and jitter and on 429 after `Retry-After` (a longer wait than
//! configured is handed to the dispatcher as `RateLimited`). Other failures are classified from the Teams error
//! code: `ConversationBlockedByUser` and `ConversationNotFound` are reported separately so the caller can drop
//! the stored reference.

use std::time::Duration;

use herald_core::ChannelError;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::throttle::Throttle;
use crate::tokens::TokenSource;

/// Header carrying Teams' operation id.
pub const OPERATION_HEADER: &str = "x-correlating-operationid";

/// A connector failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// The user blocked the bot (403 `ConversationBlockedByUser`, or the `MessageWritesBlocked` shape).
    #[error("the Teams user blocked the bot")]
    Blocked {
        /// Operation id.
        correlation_id: Option<String>,
    },
    /// The conversation does not exist (404 `ConversationNotFound`).
    #[error("the Teams conversation does not exist")]
    ConversationNotFound,
    /// Anything else, classified.
    #[error(transparent)]
    Other(#[from] ChannelError),
}

impl ConnectorError {
    /// As a classified herald error.
    pub fn into_channel_error(self, agent: &str) -> ChannelError {
        match self {
            ConnectorError::Blocked { correlation_id } => ChannelError::Permanent {
                reason: format!(
                    "the Teams user linked to agent `{agent}` blocked the bot (ConversationBlockedByUser); the stored \
                     conversation was dropped, the user must unblock or reinstall the app"
                ),
                correlation_id,
            },
            ConnectorError::ConversationNotFound => ChannelError::not_found(
                "Teams conversation",
                agent,
                "the stored conversation no longer exists; it was dropped and will be recreated on the next attempt",
            ),
            ConnectorError::Other(e) => e,
        }
    }
}

/// Tuning of the client.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Longest `Retry-After` waited in place.
    pub max_retry_after: Duration,
    /// First backoff step.
    pub backoff_base: Duration,
}

/// The client.
pub struct Connector {
    http: reqwest::Client,
    token: TokenSource,
    throttle: Throttle,
    policy: RetryPolicy,
    bot_id: String,
}

fn join(service_url: &str, path: &str) -> String {
    format!("{}/{}", service_url.trim_end_matches('/'), path.trim_start_matches('/'))
}

fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `Retry-After` header through the one shared parser (seconds, decimals or an HTTP date; clamped; negative,
/// NaN and garbage give `None`, never a panic).
fn parse_retry_after(h: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    herald_core::retry::parse_retry_after(h?.to_str().ok()?)
}

impl Connector {
    /// A client for the bot `app_id`.
    pub fn new(
        http: reqwest::Client,
        token: TokenSource,
        throttle: Throttle,
        policy: RetryPolicy,
        app_id: &str,
    ) -> Self {
        Connector { http, token, throttle, policy, bot_id: format!("28:{app_id}") }
    }

    /// The bot token source (health).
    pub fn token(&self) -> &TokenSource {
        &self.token
    }

    /// `POST {serviceUrl}/v3/conversations`: the 1:1 conversation with `user_id` (`29:…`); its id.
    pub async fn create_conversation(
        &self,
        service_url: &str,
        user_id: &str,
        tenant_id: &str,
    ) -> Result<String, ConnectorError> {
        let body = json!({
            "isGroup": false,
            "bot": {"id": self.bot_id},
            "members": [{"id": user_id}],
            "tenantId": tenant_id,
            "channelData": {"tenant": {"id": tenant_id}},
        });
        let url = join(service_url, "v3/conversations");
        let (v, _) = self.call(&url, &body, user_id).await?;
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ChannelError::transient("the connector created a conversation without an id").into())
    }

    /// Posts a message; returns `(activity id, operation id)`.
    pub async fn send_message(
        &self,
        service_url: &str,
        conversation_id: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<(String, Option<String>), ConnectorError> {
        let mut body = json!({"type": "message", "text": text, "textFormat": "plain"});
        let path = match reply_to {
            Some(id) => {
                body["replyToId"] = json!(id);
                format!("v3/conversations/{}/activities/{}", seg(conversation_id), seg(id))
            }
            None => format!("v3/conversations/{}/activities", seg(conversation_id)),
        };
        let (v, op) = self.call(&join(service_url, &path), &body, conversation_id).await?;
        let id = v.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        Ok((id, op))
    }

    async fn call(&self, url: &str, body: &Value, thread: &str) -> Result<(Value, Option<String>), ConnectorError> {
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            self.throttle.acquire(thread).await;
            let token = self.token.token().await?;
            let resp = self.http.post(url).bearer_auth(token.expose()).json(body).send().await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    let reason = format!("Bot Connector unreachable: {}", e.without_url());
                    if attempt < self.policy.max_retries {
                        attempt += 1;
                        tokio::time::sleep(self.backoff(attempt)).await;
                        continue;
                    }
                    return Err(ChannelError::transient(reason).into());
                }
            };
            let status = resp.status();
            let op = resp.headers().get(OPERATION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
            let retry_after = parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER));
            if status.is_success() {
                let v: Value = resp.json().await.unwrap_or(Value::Null);
                return Ok((v, op));
            }
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            let code = error_code(&body);
            match status.as_u16() {
                401 if !refreshed => {
                    refreshed = true;
                    self.token.invalidate();
                    continue;
                }
                429 => {
                    let wait = retry_after.unwrap_or_else(|| self.backoff(attempt + 1));
                    if attempt >= self.policy.max_retries || wait > self.policy.max_retry_after {
                        return Err(ChannelError::RateLimited { retry_after: Some(wait), correlation_id: op }.into());
                    }
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                412 | 502 | 503 | 504 => {
                    if attempt >= self.policy.max_retries {
                        return Err(ChannelError::Transient {
                            reason: format!("Bot Connector answered HTTP {status} `{code}` after {attempt} retries"),
                            correlation_id: op,
                        }
                        .into());
                    }
                    attempt += 1;
                    let wait =
                        retry_after.map_or_else(|| self.backoff(attempt), |w| w.min(self.policy.max_retry_after));
                    tokio::time::sleep(wait).await;
                    continue;
                }
                _ => return Err(classify(status, &code, &body, op)),
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let max = self.policy.backoff_base.saturating_mul(1 << attempt.min(8));
        let ms = max.as_millis().max(1) as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }
}

fn error_code(body: &Value) -> String {
    if let Some(c) = body.pointer("/error/code").and_then(Value::as_str) {
        return c.to_string();
    }
    // The blocked/uninstalled shape: {"errorCode":209,"message":"{…\"subCode\":\"MessageWritesBlocked\"…}"}
    if body.get("errorCode").is_some() {
        let msg = body.get("message").and_then(Value::as_str).unwrap_or_default();
        if msg.contains("MessageWritesBlocked") {
            return "ConversationBlockedByUser".into();
        }
        return format!("errorCode {}", body["errorCode"]);
    }
    "unknown".into()
}

fn classify(status: StatusCode, code: &str, body: &Value, op: Option<String>) -> ConnectorError {
    let message = body.pointer("/error/message").and_then(Value::as_str).unwrap_or_default();
    if code == "ConversationBlockedByUser" {
        return ConnectorError::Blocked { correlation_id: op };
    }
    if status == StatusCode::NOT_FOUND && code == "ConversationNotFound" {
        return ConnectorError::ConversationNotFound;
    }
    let e = match status.as_u16() {
        400 => ChannelError::invalid("text", format!("was refused by Teams ({code}: {message})"), "send a plain, non-empty message"),
        413 => ChannelError::invalid("text", "is too large for Teams (MessageSizeTooBig)", "shorten the message (Teams allows about 28 KB)"),
        401 => ChannelError::Unauthorized {
            reason: format!("the Bot Connector refused the bot token ({code}); check that the bot is registered with this app id"),
            correlation_id: op,
        },
        403 => ChannelError::Permanent {
            reason: match code {
                "BotNotInConversationRoster" | "ForbiddenOperationException" => format!(
                    "Teams refused the send ({code}): the app is not installed for this user; install it (personal scope) and wait for the installationUpdate"
                ),
                "BotDisabledByAdmin" => "Teams refused the send (BotDisabledByAdmin): a tenant admin blocked the app".into(),
                other => format!("Teams refused the send (403 {other}: {message})"),
            },
            correlation_id: op,
        },
        404 => ChannelError::not_found("Teams activity or conversation", code, "the conversation or activity is gone"),
        _ => ChannelError::Permanent { reason: format!("Bot Connector answered HTTP {status} `{code}`: {message}"), correlation_id: op },
    };
    ConnectorError::Other(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        let blocked = json!({"error": {"code": "ConversationBlockedByUser", "message": "blocked"}});
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, &error_code(&blocked), &blocked, None),
            ConnectorError::Blocked { .. }
        ));
        let legacy = json!({"errorCode": 209, "message": "{\"subCode\":\"MessageWritesBlocked\"}"});
        assert_eq!(error_code(&legacy), "ConversationBlockedByUser");
        let big = json!({"error": {"code": "MessageSizeTooBig"}});
        let e = classify(StatusCode::PAYLOAD_TOO_LARGE, "MessageSizeTooBig", &big, None);
        assert!(matches!(e, ConnectorError::Other(ChannelError::Invalid { .. })));
        assert_eq!(
            parse_retry_after(Some(&reqwest::header::HeaderValue::from_static("2.5"))),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(seg("a:1 b"), "a:1%20b");
    }

    #[test]
    fn retry_after_never_panics_and_is_clamped() {
        let parse = |s: &'static str| parse_retry_after(Some(&reqwest::header::HeaderValue::from_static(s)));
        assert_eq!(parse("-1"), None, "negative");
        assert_eq!(parse("NaN"), None, "not a number");
        assert_eq!(parse("inf"), Some(herald_core::retry::MAX_RETRY_AFTER), "infinite is clamped");
        assert_eq!(parse("soon"), None, "garbage");
        assert_eq!(parse("1e300"), Some(herald_core::retry::MAX_RETRY_AFTER), "huge is clamped, not a panic");
        assert_eq!(parse("99999999999999999999"), Some(herald_core::retry::MAX_RETRY_AFTER));
        assert_eq!(parse("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(None), None);
    }
}
