//! `kill -9` while notifications are being accepted and delivered: after a restart every notification that got a
//! 202 is delivered, and none is delivered twice (the webhook adapter confirms interrupted attempts).

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::json;
use support::{wait_final, Receiver, API_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_accepted_and_sends_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (receiver, url) = Receiver::start().await;
    let port = support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let store = dir.path().join("herald.sled");
    let config_path = dir.path().join("herald.toml");
    std::fs::write(
        &config_path,
        support::webhook_config(&store.display().to_string(), &url, &format!("127.0.0.1:{port}")),
    )
    .expect("write config");

    let client = support::client();
    let mut child = support::spawn_serve(&config_path);
    support::wait_healthy(&client, &base).await;

    // Eight writers post notifications (eight conversations, in order within each) until the process dies.
    let accepted: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, base, accepted) = (client.clone(), base.clone(), accepted.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let key = format!("w{w}-n{i}");
                let body = json!({"integration": "hook", "target": {"type": "conversation", "id": format!("conv-{w}")}, "text": format!("message {i}")});
                let sent = client.post(format!("{base}/v1/notifications")).bearer_auth(API_KEY).header("Idempotency-Key", &key).json(&body).send().await;
                match sent {
                    Ok(r) if r.status().as_u16() == 202 => {
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        accepted.lock().push((key, v["id"].as_str().unwrap_or_default().to_string()));
                    }
                    _ => return, // the service is gone
                }
            }
        }));
    }
    // Kill once deliveries are flowing and a few hundred notifications have been accepted.
    assert!(receiver.wait_for(200, Duration::from_secs(60)).await, "deliveries never started");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while accepted.lock().len() < 400 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL"); // SIGKILL on unix
    let _ = child.wait();
    for w in writers {
        let _ = w.await;
    }
    let accepted = accepted.lock().clone();
    let delivered_before = receiver.counts().len();
    assert!(accepted.len() >= 100, "too few accepted before the kill: {}", accepted.len());

    // Restart on the same store: everything accepted must be delivered exactly once.
    let mut child = support::spawn_serve(&config_path);
    support::wait_healthy(&client, &base).await;
    for (key, id) in &accepted {
        let view = wait_final(&client, &base, id, Duration::from_secs(60)).await;
        assert_eq!(view["status"], "delivered", "notification {id} ({key}) after restart: {view}");
        assert_eq!(receiver.count(key), 1, "{key} was delivered {} times", receiver.count(key));
    }
    let twice: Vec<(String, usize)> = receiver.counts().into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let unique: HashSet<&String> = accepted.iter().map(|(k, _)| k).collect();
    assert_eq!(unique.len(), accepted.len());
    eprintln!(
        "accepted {} before SIGKILL ({} delivered before the kill); all delivered exactly once after restart",
        accepted.len(),
        delivered_before
    );

    // Order per conversation: the receiver saw each writer's messages in increasing order.
    for w in 0..8 {
        let seq: Vec<u64> = receiver
            .bodies()
            .iter()
            .filter(|b| b["target"]["id"] == format!("conv-{w}"))
            .filter_map(|b| b["text"].as_str().and_then(|t| t.strip_prefix("message ")).and_then(|n| n.parse().ok()))
            .collect();
        assert!(seq.windows(2).all(|p| p[0] < p[1]), "conversation conv-{w} out of order: {seq:?}");
    }
    child.kill().expect("kill");
    let _ = child.wait();
}
