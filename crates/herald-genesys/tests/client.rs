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
