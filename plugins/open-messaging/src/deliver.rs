//! herald → Genesys: a notification becomes an inbound Open Messaging message from the third-party customer.

use chrono::{SecondsFormat, Utc};
use herald_plugin::core::template::render;
use herald_plugin::core::{ChannelError, Content, Delivery, Receipt, Target};
use serde_json::{json, Value};

/// The inbound message path for an integration (`prefetchConversationId` so the receipt names the conversation).
pub fn inbound_message_path(integration_id: &str) -> String {
    format!("/api/v2/conversations/messages/{integration_id}/inbound/open/message?prefetchConversationId=true")
}

/// The receipt path for an integration.
pub fn inbound_receipt_path(integration_id: &str) -> String {
    format!("/api/v2/conversations/messages/{integration_id}/inbound/open/receipt")
}

/// The text to send.
fn text(content: &Content) -> Result<String, ChannelError> {
    let text = match content {
        Content::Text { text } => text.clone(),
        Content::Template { template, variables } => render(template, |k| variables.get(k).cloned())
            .map_err(|e| ChannelError::invalid(format!("content.variables.{}", e.name), "is missing", e.to_string()))?,
        Content::CannedResponse { .. } => {
            return Err(ChannelError::invalid(
                "content.type",
                "canned responses are not supported by Open Messaging",
                "send `text` or a `template`",
            ))
        }
    };
    if text.trim().is_empty() {
        return Err(ChannelError::invalid("text", "is empty", "send a non-empty text"));
    }
    Ok(text)
}

/// The request body for a delivery: `{channel: {messageId, time, from: {id, idType, nickname}}, text}`.
///
/// The target is the customer's id on the third-party platform (`customer` or `guest`). `messageId` is the
/// notification's delivery key, stable across retries.
pub fn inbound_message(delivery: &Delivery, nickname: Option<&str>) -> Result<Value, ChannelError> {
    let n = &delivery.notification;
    let customer = match &n.target {
        Target::Customer { id } | Target::Guest { id } => id,
        other => {
            return Err(ChannelError::invalid(
                "target.type",
                format!("is `{}`, but Open Messaging addresses the third-party customer", other.kind()),
                "target `{\"type\": \"customer\", \"id\": \"<the customer's id on the third-party platform>\"}`",
            ))
        }
    };
    let mut from = json!({"id": customer, "idType": "Opaque"});
    if let Some(nick) = nickname {
        from["nickname"] = json!(nick);
    }
    Ok(json!({
        "channel": {
            "messageId": n.delivery_key(),
            "time": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "from": from,
        },
        "text": text(&n.content)?,
    }))
}

/// The receipt for Genesys' answer (`{id, conversationId?}`).
pub fn receipt(answer: &Value) -> Result<Receipt, ChannelError> {
    let id = answer["id"].as_str().ok_or_else(|| {
        ChannelError::permanent(format!("Genesys accepted the message but its answer has no `id`: {answer}"))
    })?;
    Ok(Receipt {
        upstream_message_id: Some(id.to_string()),
        conversation_id: answer["conversationId"].as_str().map(str::to_string),
        route: "open_messaging".into(),
        delivered_at: Utc::now(),
    })
}

#[cfg(test)]
mod tests {
    use herald_plugin::core::{DeliveryMode, Notification};
    use uuid::Uuid;

    use super::*;

    fn delivery(target: Target, content: Content) -> Delivery {
        Delivery {
            notification: Notification {
                id: Uuid::new_v4(),
                idempotency_key: Some("order-1".into()),
                integration: "om".into(),
                target,
                content,
                created_at: Utc::now(),
                expires_at: None,
                closed_policy: None,
                rule: None,
            },
            mode: DeliveryMode::Normal,
            attempt: 1,
            previous_attempt_at: None,
            deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(30),
        }
    }

    #[test]
    fn builds_the_inbound_message_for_a_customer() {
        let d = delivery(Target::Customer { id: "wa-42".into() }, Content::Text { text: "Shipped".into() });
        let body = inbound_message(&d, Some("Ann")).unwrap_or_default();
        assert_eq!(body["channel"]["from"]["id"], "wa-42");
        assert_eq!(body["channel"]["from"]["idType"], "Opaque");
        assert_eq!(body["channel"]["from"]["nickname"], "Ann");
        assert_eq!(body["channel"]["messageId"], "order-1");
        assert_eq!(body["text"], "Shipped");
    }

    #[test]
    fn refuses_conversation_targets_and_canned_responses() {
        let d = delivery(Target::Conversation { id: "c".into() }, Content::Text { text: "x".into() });
        assert!(
            matches!(inbound_message(&d, None), Err(ChannelError::Invalid { field, .. }) if field == "target.type")
        );
        let d = delivery(
            Target::Customer { id: "c".into() },
            Content::CannedResponse { response_id: "r".into(), variables: Default::default() },
        );
        assert!(inbound_message(&d, None).is_err());
    }
}
