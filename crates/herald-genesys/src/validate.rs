//! Local validation of send bodies, before they cost a request.
//!
//! Each check returns [`ChannelError::Invalid`] with the JSON path of the field and what to send instead, so
//! `herald doctor` and the dispatcher can explain a rejection without asking Genesys.

use herald_core::ChannelError;

use crate::models::chat::ChatMessageRequest;
use crate::models::messaging::{AdditionalMessage, AgentlessRequest, MessengerType};

/// Longest `textBody` for SMS.
pub const SMS_TEXT_LIMIT: usize = 765;
/// Longest `textBody` for every other messenger type (web messaging included).
pub const MESSAGE_TEXT_LIMIT: usize = 2000;
/// Longest legacy chat `body`.
pub const CHAT_BODY_LIMIT: usize = 4000;

/// The `textBody` limit for a messenger type.
pub fn text_limit(messenger: &MessengerType) -> usize {
    if *messenger == MessengerType::Sms {
        SMS_TEXT_LIMIT
    } else {
        MESSAGE_TEXT_LIMIT
    }
}

fn check_text(field: &str, text: &str, limit: usize, what: &str) -> Result<(), ChannelError> {
    if text.trim().is_empty() {
        return Err(ChannelError::invalid(field, "is empty", format!("send the text of the {what}")));
    }
    let n = text.chars().count();
    if n > limit {
        return Err(ChannelError::invalid(
            field,
            format!("is {n} characters, over the limit of {limit} for {what}"),
            format!("shorten the text to at most {limit} characters or split it into several messages"),
        ));
    }
    Ok(())
}

/// Checks an agent-side send body: exactly one of `textBody`, `mediaIds`, `messagingTemplate`, within limits.
pub fn validate_additional_message(msg: &AdditionalMessage, messenger: &MessengerType) -> Result<(), ChannelError> {
    let has_text = msg.text_body.is_some();
    let has_media = msg.media_ids.as_ref().is_some_and(|m| !m.is_empty());
    let has_template = msg.messaging_template.is_some();
    let count = [has_text, has_media, has_template].iter().filter(|b| **b).count();
    if count == 0 {
        return Err(ChannelError::invalid(
            "textBody",
            "is missing and neither mediaIds nor messagingTemplate is given",
            "send {\"textBody\": \"...\"}",
        ));
    }
    if count > 1 {
        let field = if has_text {
            if has_media {
                "mediaIds"
            } else {
                "messagingTemplate"
            }
        } else {
            "messagingTemplate"
        };
        return Err(ChannelError::invalid(
            field,
            "is sent together with another body element; Genesys accepts one of textBody, mediaIds, messagingTemplate per request",
            "send the text and each media item or template as separate requests",
        ));
    }
    if let Some(ids) = &msg.media_ids {
        if ids.len() > 1 {
            return Err(ChannelError::invalid(
                "mediaIds",
                "holds more than one media id",
                "send one media id per request",
            ));
        }
        if ids.iter().any(|i| i.trim().is_empty()) {
            return Err(ChannelError::invalid("mediaIds[0]", "is empty", "send the id of an uploaded media item"));
        }
    }
    if let Some(t) = &msg.text_body {
        check_text("textBody", t, text_limit(messenger), &format!("{messenger} messages"))?;
    }
    if let Some(t) = &msg.messaging_template {
        if t.response_id.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(ChannelError::invalid(
                "messagingTemplate.responseId",
                "is missing",
                "set the id of the Response Management response to send",
            ));
        }
    }
    Ok(())
}

/// Checks an agentless send body for its messenger type.
pub fn validate_agentless(req: &AgentlessRequest) -> Result<(), ChannelError> {
    let kind = &req.to_address_messenger_type;
    if req.from_address.trim().is_empty() {
        let fix = match kind {
            MessengerType::WebMessaging => "set fromAddress to the web messaging deployment id",
            MessengerType::Sms => "set fromAddress to a provisioned SMS number",
            _ => "set fromAddress to the messaging integration id",
        };
        return Err(ChannelError::invalid("fromAddress", "is empty", fix));
    }
    match kind {
        MessengerType::WebMessaging => {
            if req.to_address.is_some() {
                return Err(ChannelError::invalid(
                    "toAddress",
                    "is not allowed for webmessaging",
                    "remove toAddress and identify the customer with externalContactId",
                ));
            }
            if req.external_contact_id.as_deref().is_none_or(|c| c.trim().is_empty()) {
                return Err(ChannelError::invalid(
                    "externalContactId",
                    "is required for webmessaging",
                    "set externalContactId to the customer's external contact id",
                ));
            }
        }
        MessengerType::Sms | MessengerType::WhatsApp | MessengerType::Apple => {
            if req.to_address.as_deref().is_none_or(|a| a.trim().is_empty()) {
                return Err(ChannelError::invalid(
                    "toAddress",
                    format!("is required for {kind}"),
                    "set toAddress to the recipient (E.164 for SMS/Apple, digits only for WhatsApp)",
                ));
            }
        }
        MessengerType::Open => {}
        other => {
            return Err(ChannelError::invalid(
                "toAddressMessengerType",
                format!("`{other}` is not supported for agentless messages"),
                "use one of sms, whatsapp, open, webmessaging, apple",
            ))
        }
    }
    if *kind == MessengerType::WhatsApp && req.messaging_template.is_none() {
        return Err(ChannelError::invalid(
            "messagingTemplate",
            "is required for whatsapp",
            "send an approved WhatsApp template with messagingTemplate.responseId",
        ));
    }
    match (&req.text_body, &req.messaging_template) {
        (None, None) => Err(ChannelError::invalid("textBody", "is missing", "send {\"textBody\": \"...\"}")),
        (Some(_), Some(_)) => Err(ChannelError::invalid(
            "messagingTemplate",
            "is sent together with textBody",
            "send either textBody or messagingTemplate",
        )),
        (Some(t), None) => check_text("textBody", t, text_limit(kind), &format!("{kind} messages")),
        (None, Some(t)) => {
            if t.response_id.as_deref().is_none_or(|r| r.trim().is_empty()) {
                Err(ChannelError::invalid("messagingTemplate.responseId", "is missing", "set the response id"))
            } else {
                Ok(())
            }
        }
    }
}

/// Checks a legacy chat send body.
pub fn validate_chat_message(req: &ChatMessageRequest) -> Result<(), ChannelError> {
    check_text("body", &req.body, CHAT_BODY_LIMIT, "web chat messages")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::messaging::SendMessagingTemplateRequest;
    use herald_core::ErrorClass;

    fn field(e: ChannelError) -> String {
        match e {
            ChannelError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn additional_message_rules() {
        let wm = MessengerType::WebMessaging;
        assert!(validate_additional_message(&AdditionalMessage::text("hi"), &wm).is_ok());
        assert!(validate_additional_message(&AdditionalMessage::text("x".repeat(2000)), &wm).is_ok());
        let e = validate_additional_message(&AdditionalMessage::text("x".repeat(2001)), &wm).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Invalid);
        assert!(e.to_string().contains("2001") && e.to_string().contains("2000"), "{e}");
        let e =
            validate_additional_message(&AdditionalMessage::text("é".repeat(766)), &MessengerType::Sms).unwrap_err();
        assert!(e.to_string().contains("765"));
        assert_eq!(field(validate_additional_message(&AdditionalMessage::default(), &wm).unwrap_err()), "textBody");
        let both = AdditionalMessage { media_ids: Some(vec!["m".into()]), ..AdditionalMessage::text("hi") };
        assert_eq!(field(validate_additional_message(&both, &wm).unwrap_err()), "mediaIds");
        let tpl = AdditionalMessage {
            messaging_template: Some(SendMessagingTemplateRequest::default()),
            ..Default::default()
        };
        assert_eq!(field(validate_additional_message(&tpl, &wm).unwrap_err()), "messagingTemplate.responseId");
    }

    #[test]
    fn agentless_webmessaging_rules() {
        assert!(validate_agentless(&AgentlessRequest::webmessaging("dep-1", "ec-1", "Your order shipped")).is_ok());
        let mut r = AgentlessRequest::webmessaging("dep-1", "ec-1", "hi");
        r.to_address = Some("someone".into());
        assert_eq!(field(validate_agentless(&r).unwrap_err()), "toAddress");
        let mut r = AgentlessRequest::webmessaging("dep-1", "", "hi");
        r.external_contact_id = None;
        assert_eq!(field(validate_agentless(&r).unwrap_err()), "externalContactId");
        let r = AgentlessRequest::webmessaging("", "ec", "hi");
        let e = validate_agentless(&r).unwrap_err();
        assert!(e.to_string().contains("deployment id"), "{e}");
        let mut sms = AgentlessRequest::webmessaging("+15550100", "ec", "hi");
        sms.to_address_messenger_type = MessengerType::Sms;
        assert_eq!(field(validate_agentless(&sms).unwrap_err()), "toAddress");
    }

    #[test]
    fn chat_body_limit() {
        assert!(validate_chat_message(&ChatMessageRequest::standard("x".repeat(4000))).is_ok());
        assert_eq!(field(validate_chat_message(&ChatMessageRequest::standard("x".repeat(4001))).unwrap_err()), "body");
        assert_eq!(field(validate_chat_message(&ChatMessageRequest::standard("  ")).unwrap_err()), "body");
    }
}
