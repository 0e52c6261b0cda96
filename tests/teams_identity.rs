//! The identity check behind the bot's `link`: a Teams user is a Genesys user only when the Genesys user's email is
//! the directory's `mail` or `userPrincipalName` of the Teams user. Genesys is the emulator; the directory is a
//! small loopback stand-in serving the token endpoint and `GET /v1.0/users/{id}` (the Graph emulator does not serve
//! users).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use herald_emulator::{Emulator, EmulatorConfig};
use herald_genesys::{ClientConfig, Environment, GenesysClient, Secret};
use herald_teams::graph::{budget_limiter, GraphClient};
use herald_teams::identity::{Identity, IdentityCheck};
use herald_teams::tokens::{Grant, TokenSource};
use serde_json::json;

/// Alice in the emulator's default org (email `alice@example.com`).
const ALICE: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
/// Her directory object id; her mail differs in case only, her UPN is another domain.
const ALICE_AAD: &str = "aaaaaaaa-0000-4000-8000-000000000001";
/// A directory user whose addresses are not Alice's.
const MALLORY_AAD: &str = "aaaaaaaa-0000-4000-8000-0000000000ee";

async fn user(Path(id): Path<String>) -> axum::response::Response {
    match id.as_str() {
        ALICE_AAD => {
            Json(json!({"id": id, "mail": "Alice@Example.com", "userPrincipalName": "alice@contoso.onmicrosoft.com"}))
                .into_response()
        }
        MALLORY_AAD => Json(json!({"id": id, "mail": null, "userPrincipalName": "mallory@contoso.onmicrosoft.com"}))
            .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "Request_ResourceNotFound", "message": "no such user"}})),
        )
            .into_response(),
    }
}

async fn directory() -> String {
    let app = Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(|| async { Json(json!({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})) }),
        )
        .route("/v1.0/users/{id}", get(user));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

#[tokio::test]
async fn only_the_same_person_is_proven() {
    herald::tls::install_crypto_provider();
    let genesys = Emulator::start(EmulatorConfig::default_org(), "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("genesys emulator");
    let base = directory().await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("http");
    let token = TokenSource::new(
        http.clone(),
        &base,
        "tenant",
        "app",
        Secret::new("secret"),
        "https://graph.microsoft.com/.default",
        Grant::ClientCredentials,
    );
    let graph = GraphClient::new(
        http,
        base.clone(),
        token,
        None,
        budget_limiter(1500, Duration::from_secs(30), 0.5),
        "app".into(),
    );
    let environment: Environment = genesys.base_url().parse().expect("environment");
    let client =
        GenesysClient::new(ClientConfig::new(environment, "herald-demo", "herald-demo-secret")).expect("client");
    let check = IdentityCheck::new(Arc::new(graph), client);

    assert_eq!(check.check(ALICE_AAD, ALICE).await.expect("check"), Identity::Same, "mail matches, case aside");
    assert!(
        matches!(check.check(MALLORY_AAD, ALICE).await.expect("check"), Identity::Different { .. }),
        "another directory user is not Alice"
    );
    assert!(
        matches!(
            check.check("aaaaaaaa-0000-4000-8000-00000000dead", ALICE).await.expect("check"),
            Identity::Different { .. }
        ),
        "a sender the directory does not know proves nothing"
    );
    assert_eq!(
        check.check(ALICE_AAD, "99999999-aaaa-4bbb-8ccc-000000000009").await.expect("check"),
        Identity::NoSuchGenesysUser
    );
}
