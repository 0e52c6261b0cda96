//! Notification content → the text a customer receives, shared by the web messaging and web chat adapters.
//!
//! `Text` is sent as is; `Template` is rendered with [`render_template`] from the caller's variables and the
//! session's built-ins; `CannedResponse` is fetched through the [`CannedCache`] and rendered by
//! [`render_response`]. Each adapter checks the result against its own limit (web messaging `textBody`, chat
//! `body`): [`precheck`] takes that check as a parameter, [`render_content`] leaves it to the caller.

use herald_core::{ChannelError, Content, Session};
use herald_genesys::GenesysClient;

use crate::canned::{render_response, render_template, CannedCache};

/// Checks what can be checked before resolving the target: plain text with `check_text` (the adapter's limit),
/// and that a template or a canned response id is not empty.
pub fn precheck(content: &Content, check_text: impl Fn(&str) -> Result<(), ChannelError>) -> Result<(), ChannelError> {
    match content {
        Content::Text { text } => check_text(text),
        Content::Template { template, .. } if template.trim().is_empty() => {
            Err(ChannelError::invalid("content.template", "is empty", "send the template text with {{placeholders}}"))
        }
        Content::CannedResponse { response_id, .. } if response_id.trim().is_empty() => {
            Err(ChannelError::invalid("content.response_id", "is empty", "name a Response Management response id"))
        }
        _ => Ok(()),
    }
}

/// The text to send for `content` into `session`'s conversation, canned responses fetched with `client` and
/// cached in `canned`. Not checked against any length limit.
pub async fn render_content(
    client: &GenesysClient,
    canned: &CannedCache,
    content: &Content,
    session: &Session,
) -> Result<String, ChannelError> {
    match content {
        Content::Text { text } => Ok(text.clone()),
        Content::Template { template, variables } => render_template(template, variables, session),
        Content::CannedResponse { response_id, variables } => {
            let client = client.clone();
            let id = response_id.clone();
            let response = canned
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
            render_response(&response, session, variables)
        }
    }
}
