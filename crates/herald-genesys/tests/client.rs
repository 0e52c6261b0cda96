//! The client against a fake Genesys: tokens, retries, error mapping, correlation ids.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::Fake;
use herald_core::{ChannelError, ErrorClass};
use herald_genesys::models::messaging::{AdditionalMessage, MessengerType};
use herald_genesys::GenesysClient;

#[tokio::test]
async fn token_is_cached_and_refreshed_single_flight() {
    let fake = Fake::start().await;
    fake.state.token_delay_ms.store(100, Ordering::SeqCst);
    let client = fake.client("cid-single-flight");
    let calls = (0..16).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { c.get_conversation("c-ok").await })
    });
    for r in futures::future::join_all(calls).await {
        let resp = r.expect("task").expect("request");
        assert_eq!(resp.correlation_id.as_deref(), Some("corr-c-ok"));
        assert_eq!(resp.body.participants[0].messages.as_ref().unwrap()[0].id, "comm-1");
    }
    assert_eq!(fake.state.token_fetches.load(Ordering::SeqCst), 1, "one token for 16 concurrent calls");
    assert_eq!(client.auth().fetch_count(), 1);
    client.get_conversation("c-ok").await.expect("cached token");
    assert_eq!(fake.state.token_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_401_refreshes_once_and_retries_once() {
    let fake = Fake::start().await;
    let client = fake.client("cid-401");
    client.get_conversation("c-ok").await.expect("first");
    fake.state.revoked.lock().insert("tok-1".into());
    // Concurrent 401s on the same token cause one refresh.
    let (a, b) = tokio::join!(client.get_conversation("c-ok"), client.get_conversation("c-ok"));
    a.expect("after refresh");
    b.expect("after refresh");
    assert_eq!(fake.state.token_fetches.load(Ordering::SeqCst), 2);

    // A token that keeps being refused: exactly one refresh, then Unauthorized.
    fake.state.reject_all_bearer.store(true, Ordering::SeqCst);
    let before = fake.state.token_fetches.load(Ordering::SeqCst);
    let e = client.get_conversation("c-ok").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Unauthorized, "{e}");
    assert_eq!(fake.state.token_fetches.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn refused_credentials_name_the_client_never_the_secret() {
    let fake = Fake::start().await;
    let client = fake.client("bad-client");
    let e = client.get_conversation("c-ok").await.unwrap_err();
    let ChannelError::Unauthorized { reason, .. } = &e else { panic!("{e:?}") };
    assert!(reason.contains("bad-client") && reason.contains("invalid_client"), "{reason}");
    assert!(reason.contains("check the client id and secret"), "{reason}");
    assert!(!e.to_string().contains("secret\""), "{e}");
    assert!(!format!("{client:?}").contains("secret\""));
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let fake = Fake::start().await;
    fake.state.expires_in.store(1, Ordering::SeqCst);
    let client = fake.client("cid-expiry");
    client.get_conversation("c-ok").await.expect("first");
    assert!(client.auth().has_valid_token());
    // A 1 s token is refreshed after half its lifetime.
    tokio::time::sleep(Duration::from_millis(600)).await;
    client.get_conversation("c-ok").await.expect("second");
    assert_eq!(fake.state.token_fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = Fake::start().await;
    let client = fake.client("cid-429");
    let start = Instant::now();
    client.get_conversation("c-429").await.expect("retried after 429");
    assert!(start.elapsed() >= Duration::from_millis(950), "{:?}", start.elapsed());
    assert_eq!(fake.hits("c-429"), 2);

    let mut cfg = fake.config("cid-429-none");
    cfg.max_retries = 0;
    let strict = GenesysClient::new(cfg).unwrap();
    let e = strict.get_conversation("c-429-always").await.unwrap_err();
    assert_eq!(
        e,
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
            correlation_id: Some("corr-c-429-always".into())
        }
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_transient() {
    let fake = Fake::start().await;
    let client = fake.client("cid-5xx");
    client.get_conversation("c-503").await.expect("third attempt succeeds");
    assert_eq!(fake.hits("c-503"), 3);
    let e = client.get_conversation("c-500-always").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient);
    assert_eq!(e.correlation_id(), Some("corr-c-500-always"));
    assert_eq!(fake.hits("c-500-always"), 4, "1 attempt + max_retries (3)");
}

#[tokio::test]
async fn errors_map_to_classes_with_correlation_ids() {
    let fake = Fake::start().await;
    let client = fake.client("cid-errors");
    match client.get_conversation("c-404").await.unwrap_err() {
        ChannelError::NotFound { what, id, hint } => {
            assert_eq!((what.as_str(), id.as_str()), ("conversation", "c-404"));
            assert!(hint.contains("corr-c-404"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
    match client.get_conversation("c-400").await.unwrap_err() {
        ChannelError::Invalid { field, reason, .. } => {
            assert_eq!(field, "participants[0].state");
            assert!(reason.contains("corr-c-400"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let wm = MessengerType::WebMessaging;
    let e = client.send_message("closed", "comm-1", &AdditionalMessage::text("hi"), &wm).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::TargetClosed, "{e}");
    let ok = client.send_message("c-1", "comm-1", &AdditionalMessage::text("hi"), &wm).await.expect("sent");
    assert_eq!(ok.body.id.as_deref(), Some("msg-1"));
    // Local validation rejects before any request.
    let sends = fake.hits("send");
    let e = client.send_message("c-1", "comm-1", &AdditionalMessage::text("x".repeat(2001)), &wm).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Invalid);
    assert_eq!(fake.hits("send"), sends);
}

/// A login host and API on one port that answers token requests and drops every other connection after reading
/// the request (a reset after the request was written). Returns the base URL and the count of dropped requests.
async fn dropping_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = dropped.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                if head.starts_with("POST /oauth/token") {
                    let body = r#"{"access_token":"tok-drop","token_type":"bearer","expires_in":86400}"#;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                } else {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (base, dropped)
}

fn client_of(base: &str, client_id: &str) -> GenesysClient {
    let mut c = herald_genesys::ClientConfig::new(base.parse().expect("env"), client_id, "secret");
    c.backoff_base_ms = 5;
    c.backoff_max_ms = 20;
    c.requests_per_minute = 6000;
    c.burst = 100;
    GenesysClient::new(c).expect("client")
}

/// A send whose connection breaks after the request was written is never sent again: one request upstream and
/// `OutcomeUnknown`. A GET on the same server is retried (it is safe to repeat), then `Transient`.
#[tokio::test]
async fn a_reset_after_the_request_was_written_is_outcome_unknown_for_sends_only() {
    let (base, dropped) = dropping_server().await;
    let client = client_of(&base, "cid-reset");
    let wm = MessengerType::WebMessaging;
    let e = client.send_message("c-1", "comm-1", &AdditionalMessage::text("hi"), &wm).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::OutcomeUnknown, "{e}");
    assert!(e.to_string().contains("POST /api/v2/conversations/messages/c-1/communications/comm-1/messages"), "{e}");
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "the send went out exactly once");

    let e = client.get_conversation("c-1").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    assert_eq!(dropped.load(Ordering::SeqCst), 1 + 4, "a GET is retried: 1 attempt + max_retries (3)");
}

/// A refused connection proves nothing was sent: the send is retried and ends `Transient`, not outcome-unknown.
#[tokio::test]
async fn a_refused_connection_is_retried_even_for_sends() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    // Nothing listens: the token request is refused first, which is retried and classified the same way.
    let closed = client_of(&base, "cid-refused-closed");
    let wm = MessengerType::WebMessaging;
    let e = closed.send_message("c-1", "comm-1", &AdditionalMessage::text("hi"), &wm).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
}

/// A send answered after the caller's deadline is `OutcomeUnknown` at the deadline (not after the client's
/// 30 s timeout), and it is not sent again.
#[tokio::test]
async fn a_slow_send_ends_at_the_deadline_as_outcome_unknown() {
    let fake = Fake::start().await;
    let client = fake.client("cid-slow");
    client.get_conversation("c-ok").await.expect("token");
    let wm = MessengerType::WebMessaging;
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let e =
        client.until(deadline).send_message("slow", "comm-1", &AdditionalMessage::text("hi"), &wm).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::OutcomeUnknown, "{e}");
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(fake.hits("send-slow"), 1);

    // The same through the task's deadline scope.
    let e = herald_genesys::deadline::scope(tokio::time::Instant::now() + Duration::from_millis(300), async {
        client.send_message("slow", "comm-1", &AdditionalMessage::text("hi"), &wm).await
    })
    .await
    .unwrap_err();
    assert_eq!(e.class(), ErrorClass::OutcomeUnknown, "{e}");
    assert_eq!(fake.hits("send-slow"), 2);
}

/// Sends answered 500/502 may have been applied: `OutcomeUnknown` after one request, with the correlation id.
/// A 503 is a refusal: retried until it succeeds. A GET answered 500 is retried (see above).
#[tokio::test]
async fn server_errors_on_sends_follow_the_outcome_table() {
    let fake = Fake::start().await;
    let client = fake.client("cid-send-5xx");
    let wm = MessengerType::WebMessaging;
    for cid in ["c-500", "c-502"] {
        let e = client.send_message(cid, "comm-1", &AdditionalMessage::text("hi"), &wm).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::OutcomeUnknown, "{e}");
        assert_eq!(e.correlation_id(), Some(format!("corr-{cid}").as_str()));
        assert_eq!(fake.hits(&format!("send-{cid}")), 1, "{cid} sent once");
    }
    let ok = client.send_message("c-503", "comm-1", &AdditionalMessage::text("hi"), &wm).await.expect("third try");
    assert_eq!(ok.body.id.as_deref(), Some("msg-1"));
    assert_eq!(fake.hits("send-c-503"), 3);

    // The statuses are configurable: with an empty list a 500 on a send is retried like a 503.
    let mut cfg = fake.config("cid-send-5xx-custom");
    cfg.outcome_unknown_statuses = Vec::new();
    let custom = GenesysClient::new(cfg).unwrap();
    let e = custom.send_message("c-500", "comm-1", &AdditionalMessage::text("hi"), &wm).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    assert_eq!(fake.hits("send-c-500"), 1 + 4);
}

/// A 429 whose `Retry-After` ends after the deadline is returned at once as `RateLimited`, never slept on.
#[tokio::test]
async fn a_retry_after_past_the_deadline_returns_at_once() {
    let fake = Fake::start().await;
    let client = fake.client("cid-429-deadline");
    client.get_conversation("c-ok").await.expect("token");
    let wm = MessengerType::WebMessaging;
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let e = client
        .until(deadline)
        .send_message("c-429-long", "comm-1", &AdditionalMessage::text("hi"), &wm)
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_millis(1000), "{:?}", start.elapsed());
    assert_eq!(
        e,
        ChannelError::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
            correlation_id: Some("corr-c-429-long".into())
        }
    );
    assert_eq!(fake.hits("send-c-429-long"), 1);
}

/// Hostile `Retry-After` values never panic and give a sane wait: nonsense is ignored (a short backoff), a
/// date in the past is no wait, a huge value is clamped and left to the caller as `RateLimited`.
#[tokio::test]
async fn hostile_retry_after_values_never_panic() {
    let fake = Fake::start().await;
    let client = fake.client("cid-hostile");
    client.get_conversation("c-ok").await.expect("token");
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc2822();
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc2822();
    for (i, value) in ["-1", "NaN", "-inf", "soon", past.as_str(), soon.as_str()].into_iter().enumerate() {
        let id = format!("ra-short-{i}");
        fake.state.retry_after_script.lock().insert(id.clone(), value.to_string());
        let start = Instant::now();
        client.get_conversation(&id).await.unwrap_or_else(|e| panic!("{value}: {e}"));
        assert!(start.elapsed() < Duration::from_secs(3), "{value}: waited {:?}", start.elapsed());
        assert_eq!(fake.hits(&id), 2, "{value}");
    }
    for (i, value) in ["1e300", "99999999999999999999999999", "18446744073709551616", "inf"].into_iter().enumerate() {
        let id = format!("ra-huge-{i}");
        fake.state.retry_after_script.lock().insert(id.clone(), value.to_string());
        let start = Instant::now();
        match client.get_conversation(&id).await.unwrap_err() {
            ChannelError::RateLimited { retry_after, .. } => {
                assert_eq!(retry_after, Some(herald_core::retry::MAX_RETRY_AFTER), "{value}")
            }
            other => panic!("{value}: {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(1), "{value}: waited {:?}", start.elapsed());
        assert_eq!(fake.hits(&id), 1, "{value}");
    }
}
