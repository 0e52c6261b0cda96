//! Notification content → the chat `body`.
//!
//! `Text` is sent as is; `Template` is rendered from the caller's variables, the session's built-ins
//! (`AGENT_NAME`, `AGENT_ALIAS`, `CUSTOMER_NAME`, `conversation_id`) and the participant attributes;
//! `CannedResponse` is fetched (cached) and rendered — all by the web messaging crate's
//! [`render`](herald_webmessaging::render) module, one renderer for both adapters. Every result is checked
//! against the 4,000-character chat limit before anything is sent, so an over-long body fails as `Invalid`
//! naming `body` without costing a request.

use herald_core::{ChannelError, Content, Session};
use herald_genesys::models::chat::ChatMessageRequest;
use herald_genesys::validate::validate_chat_message;
use herald_webmessaging::render::render_content;

use crate::adapter::Inner;

/// Longest chat body Genesys accepts, in characters.
pub const CHAT_BODY_MAX: usize = 4000;

/// Checks what can be checked before resolving the target: plain text length and emptiness, empty ids.
pub(crate) fn precheck(content: &Content) -> Result<(), ChannelError> {
    herald_webmessaging::render::precheck(content, check_body)
}

/// Checks `text` as a chat `body` (non-empty, at most [`CHAT_BODY_MAX`] characters).
pub(crate) fn check_body(text: &str) -> Result<(), ChannelError> {
    validate_chat_message(&ChatMessageRequest::standard(text))
}

/// The text to send for `content` into `session`'s chat, checked against the chat limit.
pub(crate) async fn render(inner: &Inner, content: &Content, session: &Session) -> Result<String, ChannelError> {
    let text = render_content(&inner.channel.client, &inner.canned, content, session).await?;
    check_body(&text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use herald_core::MediaKind;
    use herald_webmessaging::canned::render_template;
    use std::collections::BTreeMap;

    #[test]
    fn body_limit_and_template_names_missing_variable() {
        assert!(precheck(&Content::Text { text: "x".repeat(CHAT_BODY_MAX) }).is_ok());
        match precheck(&Content::Text { text: "x".repeat(CHAT_BODY_MAX + 1) }) {
            Err(ChannelError::Invalid { field, reason, .. }) => {
                assert_eq!(field, "body");
                assert!(reason.contains("4000"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let mut s = Session::new("c1", "wc", MediaKind::WebChat, Utc::now());
        s.customer.name = Some("Gus".into());
        let vars = BTreeMap::from([("order".to_string(), "A-1".to_string())]);
        assert_eq!(render_template("{{CUSTOMER_NAME}}: {{order}}", &vars, &s).expect("render"), "Gus: A-1");
        match render_template("{{eta}}", &vars, &s) {
            Err(ChannelError::Invalid { field, .. }) => assert_eq!(field, "variables.eta"),
            other => panic!("{other:?}"),
        }
    }
}
