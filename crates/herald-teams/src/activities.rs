//! Inbound Bot Framework activities: the fields herald uses, parsed strictly enough that a malformed activity is
//! refused (400) before anything happens, and loosely enough that unknown fields and types are accepted.

use serde::Deserialize;

/// A channel account (`from`, `recipient`, members).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelAccount {
    /// Channel id of the account (`29:…` users, `28:…` bots).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Entra object id (users).
    #[serde(default)]
    pub aad_object_id: Option<String>,
}

/// The conversation of an activity.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConversationAccount {
    /// Conversation id.
    pub id: String,
    /// `personal`, `groupChat` or `channel`.
    #[serde(default)]
    pub conversation_type: Option<String>,
    /// Tenant id.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// An activity as received.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// Activity type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Channel-assigned id.
    #[serde(default)]
    pub id: Option<String>,
    /// Reply base URL.
    pub service_url: String,
    /// `msteams` for Teams.
    pub channel_id: String,
    /// Sender.
    pub from: ChannelAccount,
    /// The bot.
    #[serde(default)]
    pub recipient: Option<ChannelAccount>,
    /// The conversation.
    pub conversation: ConversationAccount,
    /// Message text.
    #[serde(default)]
    pub text: Option<String>,
    /// Teams channel data (`tenant.id`, …).
    #[serde(default)]
    pub channel_data: Option<serde_json::Value>,
    /// `installationUpdate` action.
    #[serde(default)]
    pub action: Option<String>,
    /// Members added (`conversationUpdate`).
    #[serde(default)]
    pub members_added: Option<Vec<ChannelAccount>>,
}

/// Why an activity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed activity: {0}")]
pub struct Malformed(pub String);

impl Activity {
    /// Parses and checks a body.
    pub fn parse(body: &[u8]) -> Result<Activity, Malformed> {
        let a: Activity = serde_json::from_slice(body).map_err(|e| Malformed(e.to_string()))?;
        if a.kind.trim().is_empty() {
            return Err(Malformed("`type` is empty".into()));
        }
        if !(a.service_url.starts_with("https://") || a.service_url.starts_with("http://")) {
            return Err(Malformed("`serviceUrl` is not an http(s) URL".into()));
        }
        if a.channel_id.trim().is_empty() || a.conversation.id.trim().is_empty() || a.from.id.trim().is_empty() {
            return Err(Malformed("`channelId`, `conversation.id` and `from.id` must not be empty".into()));
        }
        Ok(a)
    }

    /// The tenant id, from `conversation.tenantId` or `channelData.tenant.id`.
    pub fn tenant_id(&self) -> Option<String> {
        self.conversation.tenant_id.clone().or_else(|| {
            self.channel_data
                .as_ref()
                .and_then(|c| c.pointer("/tenant/id"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
    }

    /// Whether the conversation is the 1:1 chat with the user.
    pub fn is_personal(&self) -> bool {
        self.conversation.conversation_type.as_deref().is_none_or(|t| t == "personal")
    }

    /// The message text without `<at>…</at>` mentions, trimmed.
    pub fn command_text(&self) -> String {
        let mut text = self.text.clone().unwrap_or_default();
        while let (Some(s), Some(e)) = (text.find("<at>"), text.find("</at>")) {
            if e < s {
                break;
            }
            text.replace_range(s..e + 5, "");
        }
        text.trim().to_string()
    }
}

/// A bot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help`.
    Help,
    /// `status`.
    Status,
    /// `link <genesys-user-id>`.
    Link(String),
    /// `unlink`.
    Unlink,
    /// Anything else.
    Unknown(String),
}

impl Command {
    /// Parses a message text.
    pub fn parse(text: &str) -> Command {
        let mut parts = text.split_whitespace();
        let word = parts.next().unwrap_or_default().to_ascii_lowercase();
        match word.as_str() {
            "help" | "?" => Command::Help,
            "status" => Command::Status,
            "unlink" => Command::Unlink,
            "link" => Command::Link(parts.next().unwrap_or_default().to_string()),
            _ => Command::Unknown(text.chars().take(40).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let ok = br#"{"type":"message","serviceUrl":"https://s/","channelId":"msteams","from":{"id":"29:a","aadObjectId":"g"},
            "conversation":{"id":"a:1","conversationType":"personal"},"channelData":{"tenant":{"id":"t"}},"text":"<at>bot</at> link u-1","extra":1}"#;
        let a = Activity::parse(ok).unwrap();
        assert_eq!(a.tenant_id().as_deref(), Some("t"));
        assert_eq!(Command::parse(&a.command_text()), Command::Link("u-1".into()));
        assert!(Activity::parse(b"{}").is_err());
        assert!(Activity::parse(b"not json").is_err());
        assert!(Activity::parse(
            br#"{"type":"message","serviceUrl":"ftp://x","channelId":"m","from":{"id":"a"},"conversation":{"id":"c"}}"#
        )
        .is_err());
        assert_eq!(Command::parse("HELP"), Command::Help);
    }
}
