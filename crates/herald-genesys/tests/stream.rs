//! The notification stream against a fake WebSocket: frames, heartbeats, socket_closing handover, drops, watchdog.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::Fake;
use herald_core::ErrorClass;
use herald_genesys::stream::{NotificationStream, StreamConfig, StreamEvent};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

async fn next(s: &mut NotificationStream) -> StreamEvent {
    tokio::time::timeout(WAIT, s.recv()).await.expect("an event in time").expect("stream open")
}

fn fast(topics: &[&str]) -> StreamConfig {
    let mut c = StreamConfig::new(topics.iter().map(|t| t.to_string()).collect());
    c.reconnect_base = Duration::from_millis(10);
    c.reconnect_max = Duration::from_millis(50);
    c.ping_interval = Duration::from_millis(100);
    c.dead_after = Duration::from_secs(5);
    c
}

fn connected(ev: StreamEvent) -> String {
    match ev {
        StreamEvent::Connected { channel_id } => channel_id,
        other => panic!("expected Connected, got {other:?}"),
    }
}

#[tokio::test]
async fn frames_heartbeats_socket_closing_and_drops() {
    let fake = Fake::start().await;
    let client = fake.client("cid-stream");
    let cancel = CancellationToken::new();
    let topic = "v2.routing.queues.q1.conversations.messages";
    let mut s = NotificationStream::spawn(client, fast(&[topic, "forbidden.topic"]), cancel.clone()).unwrap();

    assert_eq!(connected(next(&mut s).await), "ch-1");
    assert!(matches!(next(&mut s).await, StreamEvent::Gap { .. }), "gap after the first connection");
    let subs = fake.state.subscriptions.lock().clone();
    assert_eq!(subs[0], ("ch-1".to_string(), vec![topic.to_string(), "forbidden.topic".to_string()]));
    assert!(s.health().rejected_topics[0].contains("conversation:communication:view"));

    fake.send("ch-1", r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#).await;
    fake.send("ch-1", &format!(r#"{{"topicName":"{topic}","version":"2","eventBody":{{"id":"conv-1"}},"metadata":{{"CorrelationId":"x"}}}}"#)).await;
    fake.send("ch-1", "this is not json").await;
    fake.send("ch-1", r#"{"topicName":42}"#).await;
    fake.send("ch-1", &format!(r#"{{"topicName":"{topic}","eventBody":{{"id":"conv-2"}}}}"#)).await;
    for expected in ["conv-1", "conv-2"] {
        match next(&mut s).await {
            StreamEvent::Frame { topic: t, body, .. } => {
                assert_eq!(t, topic);
                assert_eq!(body["id"], expected);
            }
            other => panic!("{other:?}"),
        }
    }
    let h = s.health();
    assert!(h.connected && h.last_heartbeat_at.is_some(), "{h:?}");
    assert_eq!((h.frames, h.skipped_frames, h.reconnects), (2, 2, 0));

    // socket_closing: a new channel is connected before the old socket goes, and no gap is reported.
    fake.send("ch-1", r#"{"topicName":"v2.system.socket_closing","eventBody":{"message":"closing"}}"#).await;
    assert_eq!(connected(next(&mut s).await), "ch-2");
    fake.send("ch-2", &format!(r#"{{"topicName":"{topic}","eventBody":{{"id":"conv-3"}}}}"#)).await;
    match next(&mut s).await {
        StreamEvent::Frame { body, .. } => assert_eq!(body["id"], "conv-3"),
        other => panic!("no gap expected after a handover: {other:?}"),
    }

    // A dropped socket: reconnect, then a gap so the caller resyncs.
    fake.drop_socket("ch-2").await;
    assert_eq!(connected(next(&mut s).await), "ch-3");
    match next(&mut s).await {
        StreamEvent::Gap { reason } => assert!(reason.contains("reconnected"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.health().reconnects, 1);
    assert!(fake.state.pings.load(Ordering::SeqCst) > 0 || s.health().connected);

    cancel.cancel();
    loop {
        if next(&mut s).await == StreamEvent::Stopped {
            break;
        }
    }
}

#[tokio::test]
async fn silent_socket_is_declared_dead_and_replaced() {
    let fake = Fake::start().await;
    fake.state.answer_pongs.store(false, Ordering::SeqCst);
    let mut cfg = fast(&["v2.users.u1.presence"]);
    cfg.ping_interval = Duration::from_millis(50);
    cfg.dead_after = Duration::from_millis(300);
    let cancel = CancellationToken::new();
    let mut s = NotificationStream::spawn(fake.client("cid-dead"), cfg, cancel.clone()).unwrap();
    assert_eq!(connected(next(&mut s).await), "ch-1");
    assert!(matches!(next(&mut s).await, StreamEvent::Gap { .. }));
    assert_eq!(connected(next(&mut s).await), "ch-2");
    match next(&mut s).await {
        StreamEvent::Gap { reason } => assert!(reason.contains("no heartbeat"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(fake.state.pings.load(Ordering::SeqCst) >= 1, "pings were sent");
    s.stop();
}

#[tokio::test]
async fn revoked_token_on_channel_create_is_refreshed() {
    let fake = Fake::start().await;
    let client = fake.client("cid-stream-401");
    client.get_conversation("c-ok").await.unwrap();
    fake.state.revoked.lock().insert("tok-1".into());
    let mut s = NotificationStream::spawn(client, fast(&["v2.users.u1.presence"]), CancellationToken::new()).unwrap();
    assert_eq!(connected(next(&mut s).await), "ch-1");
    assert_eq!(fake.state.token_fetches.load(Ordering::SeqCst), 2);
    s.stop();
}

#[tokio::test]
async fn too_many_topics_is_a_clear_error() {
    let fake = Fake::start().await;
    let topics: Vec<String> = (0..20_001).map(|i| format!("v2.users.{i}.presence")).collect();
    let e = NotificationStream::spawn(fake.client("cid-many"), StreamConfig::new(topics), CancellationToken::new())
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid);
    assert!(e.to_string().contains("20 channels"), "{e}");
}
