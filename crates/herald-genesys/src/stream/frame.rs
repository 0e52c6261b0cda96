//! Parsing of notification WebSocket frames.
//!
//! Frames are JSON envelopes `{topicName, version, eventBody, metadata}`. `channel.metadata` frames are heartbeats
//! (`{"message":"WebSocket Heartbeat"}`) and answers to our pings (`{"message":"pong"}`);
//! `v2.system.socket_closing` announces the server will close the socket (about a minute later). A bare
//! `{"result":"404",…}` has been seen when a channel dies (UNCONFIRMED). Anything else unexpected is reported as
//! [`Frame::Unknown`] for the caller to log and skip.

use crate::models::notifications::NotificationEnvelope;
use serde_json::Value;

/// Topic of heartbeats and pongs.
pub const METADATA_TOPIC: &str = "channel.metadata";
/// Topic of the closing notice.
pub const SOCKET_CLOSING_TOPIC: &str = "v2.system.socket_closing";
/// The text frame the client sends as a ping.
pub const PING_FRAME: &str = r#"{"message":"ping"}"#;

/// A parsed frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A server heartbeat.
    Heartbeat,
    /// The answer to our ping.
    Pong,
    /// The server will close this socket soon; move to a new channel. `token_revoked` when the body says the OAuth
    /// token was revoked.
    SocketClosing {
        /// Whether the reason is a token revocation.
        token_revoked: bool,
    },
    /// Another system message (`v2.system.*`), forwarded for logging only.
    System {
        /// The topic.
        topic: String,
    },
    /// An event of a subscribed topic.
    Event {
        /// The topic name.
        topic: String,
        /// The event body (`null` when absent).
        body: Value,
    },
    /// The channel is gone (`{"result":"404"…}`).
    ChannelGone,
    /// Something else; the string says what (never the whole frame).
    Unknown(String),
}

/// Parses one text frame. Never panics; malformed input gives [`Frame::Unknown`].
pub fn parse_frame(text: &str) -> Frame {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Frame::Unknown(format!("not JSON ({e}), {} bytes", text.len())),
    };
    if !value.is_object() {
        return Frame::Unknown("not a JSON object".into());
    }
    if value.get("topicName").is_none() {
        if let Some(r) = value.get("result") {
            let code = r.as_str().map(str::to_string).unwrap_or_else(|| r.to_string());
            if code == "404" {
                return Frame::ChannelGone;
            }
            return Frame::Unknown(format!("result frame {code}"));
        }
        return Frame::Unknown("object without topicName".into());
    }
    let env: NotificationEnvelope = match serde_json::from_value(value) {
        Ok(e) => e,
        Err(e) => return Frame::Unknown(format!("bad envelope: {e}")),
    };
    let Some(topic) = env.topic_name else { return Frame::Unknown("topicName is not a string".into()) };
    let body = env.event_body.unwrap_or(Value::Null);
    if topic == METADATA_TOPIC {
        let msg = body.get("message").and_then(Value::as_str).unwrap_or_default();
        return if msg.eq_ignore_ascii_case("pong") {
            Frame::Pong
        } else if msg.to_ascii_lowercase().contains("heartbeat") {
            Frame::Heartbeat
        } else {
            Frame::Unknown(format!("channel.metadata message `{}`", msg.chars().take(60).collect::<String>()))
        };
    }
    if topic == SOCKET_CLOSING_TOPIC {
        let text = body.to_string().to_ascii_lowercase();
        return Frame::SocketClosing {
            token_revoked: text.contains("token_revoked") || text.contains("tokens_revoked"),
        };
    }
    if topic.starts_with("v2.system.") {
        return Frame::System { topic };
    }
    Frame::Event { topic, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_every_frame_kind() {
        assert_eq!(
            parse_frame(r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#),
            Frame::Heartbeat
        );
        assert_eq!(parse_frame(r#"{"topicName":"channel.metadata","eventBody":{"message":"pong"}}"#), Frame::Pong);
        assert_eq!(
            parse_frame(r#"{"topicName":"v2.system.socket_closing","eventBody":{"message":"bye"}}"#),
            Frame::SocketClosing { token_revoked: false }
        );
        assert_eq!(
            parse_frame(r#"{"topicName":"v2.system.socket_closing","eventBody":{"systemTopicType":"token_revoked"}}"#),
            Frame::SocketClosing { token_revoked: true }
        );
        let ev = parse_frame(
            r#"{"topicName":"v2.users.u1.presence","version":"2","eventBody":{"source":"PURECLOUD"},"metadata":{"CorrelationId":"c"}}"#,
        );
        assert_eq!(
            ev,
            Frame::Event { topic: "v2.users.u1.presence".into(), body: serde_json::json!({"source":"PURECLOUD"}) }
        );
        assert_eq!(parse_frame(r#"{"result":"404","message":"channel gone"}"#), Frame::ChannelGone);
    }

    #[test]
    fn malformed_frames_are_unknown() {
        for bad in ["", "{", "[1,2]", "42", r#"{"topicName":7}"#, r#"{"hello":"x"}"#, "\u{0}\u{1}"] {
            assert!(matches!(parse_frame(bad), Frame::Unknown(_)), "{bad:?}");
        }
    }
}
