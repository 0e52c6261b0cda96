//! Fidelity: OAuth client credentials, ErrorBody + correlation, token expiry/revocation,
//! rate limiting (429 + Retry-After), request size limit, injected faults.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn token_success_shape() {
    let e = start().await;
    let r = e.oauth(CLIENT_ID, CLIENT_SECRET, "grant_type=client_credentials").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["token_type"], "bearer");
    assert_eq!(r.body["expires_in"], 86400);
    assert!(r.body["access_token"].as_str().is_some_and(|t| t.len() > 20));
    assert!(r.header("inin-correlation-id").is_some());
}

#[tokio::test]
async fn token_failures_are_oauth_style() {
    let e = start().await;
    let r = e.oauth(CLIENT_ID, "wrong", "grant_type=client_credentials").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_client");
    assert!(r.body["error_description"].is_string());
    let r = e.oauth("nobody", "x", "grant_type=client_credentials").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_client");
    let r = e.oauth(CLIENT_ID, CLIENT_SECRET, "grant_type=password").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn missing_and_bad_tokens_answer_401_error_body() {
    let e = start().await;
    let r = common::to_resp(e.http.get(e.url("/api/v2/users")).send().await.expect("send")).await;
    r.assert_error(401, "authentication.required");
    let r = e.call_as("not-a-token", "GET", "/api/v2/users", None).await;
    r.assert_error(401, "bad.credentials");
}

#[tokio::test]
async fn expired_token_is_rejected_after_clock_advance() {
    let e = start().await;
    assert_eq!(e.get("/api/v2/users").await.status, 200);
    e.handle.control().advance_clock(Duration::from_secs(86_401));
    e.get("/api/v2/users").await.assert_error(401, "bad.credentials");
}

#[tokio::test]
async fn revoked_tokens_are_rejected() {
    let e = start().await;
    let other = e.token_for("herald-loadtest", "herald-loadtest-secret").await;
    let r = e.control_call("POST", "/tokens/revoke", Some(json!({"clientId": CLIENT_ID}))).await;
    assert_eq!(r.body["revoked"], 1);
    e.get("/api/v2/users").await.assert_error(401, "bad.credentials");
    assert_eq!(e.call_as(&other, "GET", "/api/v2/users", None).await.status, 200);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_exact_body() {
    let toml = tweak(&default_toml(), "\nrequests_per_minute = 300", "\nrequests_per_minute = 3");
    let e = start_toml(&toml).await;
    for _ in 0..3 {
        assert_eq!(e.get("/api/v2/users").await.status, 200);
    }
    let r = e.get("/api/v2/users").await;
    r.assert_error(429, "too.many.requests.retry.after");
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!((1..=60).contains(&retry));
    assert_eq!(r.body["message"], format!("Rate limit exceeded the maximum. Retry the request in [{retry}] seconds"));
    assert_eq!(r.body["details"], json!([]));
    assert_eq!(r.body["errors"], json!([]));
    // Another token has its own budget.
    let other = e.token_for(CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(e.call_as(&other, "GET", "/api/v2/users", None).await.status, 200);
    // The window ends.
    e.handle.control().advance_clock(Duration::from_secs(61));
    assert_eq!(e.get("/api/v2/users").await.status, 200);
    assert!(e.handle.control().counters().too_many_requests >= 1);
}

#[tokio::test]
async fn injected_faults() {
    let e = start().await;
    let c = e.handle.control();
    c.inject_429(2, 7);
    for _ in 0..2 {
        let r = e.get("/api/v2/users").await;
        r.assert_error(429, "too.many.requests.retry.after");
        assert_eq!(r.header("retry-after").as_deref(), Some("7"));
    }
    assert_eq!(e.get("/api/v2/users").await.status, 200);
    let r = e.control_call("POST", "/faults/errors", Some(json!({"count": 1, "status": 503}))).await;
    assert_eq!(r.status, 204);
    e.get("/api/v2/users").await.assert_error(503, "service.unavailable");
    assert_eq!(e.get("/api/v2/users").await.status, 200);
    c.inject_latency(1, 20);
    let t = std::time::Instant::now();
    assert_eq!(e.get("/api/v2/users").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(20));
}

#[tokio::test]
async fn oversized_body_answers_413() {
    let e = start().await;
    let big = "x".repeat(600_000);
    let r = e.post("/api/v2/conversations/messages/agentless", json!({"textBody": big})).await;
    r.assert_error(413, "response.entity.too.large");
}

#[tokio::test]
async fn unknown_route_and_entity_answer_404_error_body() {
    let e = start().await;
    // An unknown route is told apart from a missing resource on a known route.
    e.get("/api/v2/nothing/here").await.assert_error(404, "route.not.found");
    e.get("/api/v2/conversations/00000000-0000-0000-0000-000000000000").await.assert_error(404, "not.found");
}

#[tokio::test]
async fn request_log_records_when_enabled() {
    let toml = tweak(&default_toml(), "request_log = false", "request_log = true");
    let e = start_toml(&toml).await;
    let r = e.get("/api/v2/users?pageSize=1").await;
    let log = e.handle.control().request_log();
    let last = log.last().expect("entry");
    assert_eq!(last.method, "GET");
    assert_eq!(last.path, "/api/v2/users?pageSize=1");
    assert_eq!(last.status, 200);
    assert_eq!(Some(last.correlation_id.clone()), r.header("inin-correlation-id"));
}
