//! Notification content → the text sent as `textBody`.
//!
//! `Text` is sent as is; `Template` is rendered with [`herald_core::template::render`] from the caller's
//! variables and the session's built-ins; `CannedResponse` is fetched (cached, see [`crate::canned::CannedCache`])
//! and rendered by [`crate::canned::render_response`]. The result is checked against the web messaging limit
//! before any send, so an over-long text fails as `Invalid` naming `textBody` without costing a request.

use herald_core::{ChannelError, Content, Session};
use herald_genesys::models::messaging::{AdditionalMessage, MessengerType};
use herald_genesys::validate::validate_additional_message;

use crate::adapter::Inner;
use crate::canned::{render_response, render_template};

/// Checks what can be checked before resolving the target: plain text length and emptiness.
pub(crate) fn precheck(content: &Content) -> Result<(), ChannelError> {
    match content {
        Content::Text { text } => check_text(text, &MessengerType::WebMessaging),
        Content::Template { template, .. } if template.trim().is_empty() => {
            Err(ChannelError::invalid("content.template", "is empty", "send the template text with {{placeholders}}"))
        }
        Content::CannedResponse { response_id, .. } if response_id.trim().is_empty() => {
            Err(ChannelError::invalid("content.response_id", "is empty", "name a Response Management response id"))
        }
        _ => Ok(()),
    }
}

/// Checks `text` as an `AdditionalMessage.textBody` for `messenger` (≤ 2000 characters except SMS).
pub(crate) fn check_text(text: &str, messenger: &MessengerType) -> Result<(), ChannelError> {
    validate_additional_message(&AdditionalMessage::text(text), messenger)
}

/// The text to send for `content` into `session`'s conversation.
pub(crate) async fn render(inner: &Inner, content: &Content, session: &Session) -> Result<String, ChannelError> {
    let text = match content {
        Content::Text { text } => text.clone(),
        Content::Template { template, variables } => render_template(template, variables, session)?,
        Content::CannedResponse { response_id, variables } => {
            let client = inner.channel.client.clone();
            let id = response_id.clone();
            let response = inner
                .canned
                .get_or_fetch(response_id, || async move {
                    client.get_canned_response(&id).await.map(|r| r.body).map_err(|e| match e {
                        ChannelError::NotFound { id, .. } => ChannelError::not_found(
                            "canned response",
                            id,
                            "check the response id in Admin > Response Management and that the OAuth client has \
                             responses:response:view",
                        ),
                        other => other,
                    })
                })
                .await?;
            render_response(&response, session, variables)?
        }
    };
    Ok(text)
}

/// The messenger type of a session's media (web messaging unless the session says otherwise).
pub(crate) fn messenger_of(session: &Session) -> MessengerType {
    match &session.media {
        herald_core::MediaKind::Sms => MessengerType::Sms,
        herald_core::MediaKind::Open => MessengerType::Open,
        herald_core::MediaKind::Other(o) => MessengerType::from(o.as_str()),
        _ => MessengerType::WebMessaging,
    }
}
