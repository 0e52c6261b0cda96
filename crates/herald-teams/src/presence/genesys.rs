//! The Genesys side: one notification stream subscribed to `v2.users.{id}.presence` of every linked agent,
//! rebuilt when links change. Events feed [`Engine::on_genesys_presence`]; after a stream gap the tracked Genesys
//! presences are forgotten so the On Queue guard reads them fresh before any write.

use std::sync::Arc;
use std::time::Duration;

use herald_genesys::{NotificationStream, StreamConfig, StreamEvent};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Engine;

/// The agent id and `(definition id, system presence)` of a presence or activity event.
pub fn parse_event(topic: &str, body: &Value) -> Option<(String, Option<String>, String)> {
    let rest = topic.strip_prefix("v2.users.")?;
    let (agent, kind) = rest.rsplit_once('.')?;
    let def = match kind {
        "presence" => body.get("presenceDefinition")?,
        "activity" => body.pointer("/presence/presenceDefinition")?,
        _ => return None,
    };
    let system = def.get("systemPresence")?.as_str()?.to_string();
    let id = def.get("id").and_then(Value::as_str).map(str::to_string);
    Some((agent.to_string(), id, system))
}

/// Runs until cancelled.
pub async fn run(engine: Arc<Engine>, cancel: CancellationToken) {
    let mut links = engine.links_receiver();
    loop {
        let agents: Vec<String> = engine.linked().await.into_iter().map(|(g, _)| g).collect();
        if agents.is_empty() {
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = links.changed() => if r.is_err() { return } else { continue },
            }
        }
        let topics = agents.iter().map(|a| format!("v2.users.{a}.presence")).collect();
        let child = cancel.child_token();
        let mut stream =
            match NotificationStream::spawn(engine.genesys.clone(), StreamConfig::new(topics), child.clone()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the Genesys presence stream");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = links.changed() => continue,
                    }
                }
            };
        engine.set_stream(Some(stream.health_handle()));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    child.cancel();
                    return;
                }
                r = links.changed() => {
                    child.cancel();
                    if r.is_err() { return; }
                    break;
                }
                ev = stream.recv() => match ev {
                    Some(StreamEvent::Frame { topic, body, .. }) => {
                        if let Some((agent, def, system)) = parse_event(&topic, &body) {
                            engine.on_genesys_presence(&agent, def, &system).await;
                        }
                    }
                    Some(StreamEvent::Gap { .. }) => engine.forget_genesys(),
                    Some(StreamEvent::Connected { .. }) => {}
                    Some(StreamEvent::Stopped) | None => {
                        child.cancel();
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_secs(1)) => break,
                        }
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_presence_and_activity_events() {
        let p = json!({"source": "PURECLOUD", "presenceDefinition": {"id": "d", "systemPresence": "AVAILABLE"}});
        assert_eq!(parse_event("v2.users.u1.presence", &p), Some(("u1".into(), Some("d".into()), "AVAILABLE".into())));
        let a = json!({"presence": {"presenceDefinition": {"id": "q", "systemPresence": "ON_QUEUE"}}});
        assert_eq!(parse_event("v2.users.u2.activity", &a), Some(("u2".into(), Some("q".into()), "ON_QUEUE".into())));
        assert_eq!(parse_event("v2.users.u2.routingStatus", &a), None);
    }
}
