//! Notification content → the text sent as `textBody`.
//!
//! Rendering is the shared one of [`crate::render`] (text, templates, canned responses through
//! [`crate::canned::CannedCache`]). The result is checked against the web messaging limit before any send, so an
//! over-long text fails as `Invalid` naming `textBody` without costing a request.

use herald_core::{ChannelError, Content, Session};
use herald_genesys::models::messaging::{AdditionalMessage, MessengerType};
use herald_genesys::validate::validate_additional_message;

use crate::adapter::Inner;
use crate::render::render_content;

/// Checks what can be checked before resolving the target: plain text length and emptiness.
pub(crate) fn precheck(content: &Content) -> Result<(), ChannelError> {
    crate::render::precheck(content, |text| check_text(text, &MessengerType::WebMessaging))
}

/// Checks `text` as an `AdditionalMessage.textBody` for `messenger` (≤ 2000 characters except SMS).
pub(crate) fn check_text(text: &str, messenger: &MessengerType) -> Result<(), ChannelError> {
    validate_additional_message(&AdditionalMessage::text(text), messenger)
}

/// The text to send for `content` into `session`'s conversation.
pub(crate) async fn render(inner: &Inner, content: &Content, session: &Session) -> Result<String, ChannelError> {
    render_content(&inner.channel.client, &inner.canned, content, session).await
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
