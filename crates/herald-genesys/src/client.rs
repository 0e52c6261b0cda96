//! [`GenesysClient`]: authenticated, budgeted, retried requests to the Platform API.
//!
//! Every request waits for the OAuth client's [`RateBudget`], carries a bearer token from the [`TokenCache`],
//! runs inside a `tracing` span (method, path, correlation id; never the token) and is retried:
//! 429 after `Retry-After`, 5xx/timeouts/connection errors with exponential backoff and full jitter, a 401 once
//! after one token refresh. What is left is mapped to a classified [`ChannelError`] by [`map_error`].

use std::sync::Arc;
use std::time::Duration;

use herald_core::ChannelError;
use rand::Rng;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::auth::{transport_reason, TokenCache};
use crate::budget::RateBudget;
use crate::config::ClientConfig;
use crate::errors::{map_error, parse_retry_after, ErrorBody, ErrorContext, CORRELATION_HEADER};

/// A successful response: the decoded body with the status and correlation id.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<R> {
    /// HTTP status (2xx).
    pub status: u16,
    /// The `ININ-Correlation-Id` header, when present.
    pub correlation_id: Option<String>,
    /// The decoded body (`()` or `Option<…>` accept an empty body).
    pub body: R,
}

/// A placeholder body type for requests that send nothing.
pub type NoBody = ();

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    api_base: String,
    auth: Arc<TokenCache>,
    budget: Arc<RateBudget>,
}

/// The Genesys Cloud Platform API client. Cheap to clone; clones share the token and the budget.
#[derive(Clone)]
pub struct GenesysClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GenesysClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenesysClient")
            .field("api_base", &self.inner.api_base)
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

/// Installs the ring crypto provider for rustls once per process (reqwest is built without a default provider).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl GenesysClient {
    /// A client for `config`. Fails with `Invalid` when the configuration has a problem.
    pub fn new(config: ClientConfig) -> Result<Self, ChannelError> {
        if let Some((field, msg)) = config.problems().into_iter().next() {
            return Err(ChannelError::invalid(field, msg, "correct the Genesys client configuration"));
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout())
            .connect_timeout(config.timeout().min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ChannelError::permanent(format!("could not build the HTTP client: {e}")))?;
        let env_key = config.environment.key();
        let budget = RateBudget::shared(&env_key, &config.client_id, config.requests_per_minute, config.burst);
        let auth = TokenCache::new(
            http.clone(),
            &config.environment.login_base(),
            &config.client_id,
            config.client_secret.clone(),
        );
        Ok(GenesysClient {
            inner: Arc::new(Inner { api_base: config.environment.api_base(), config, http, auth, budget }),
        })
    }

    /// Replaces the shared budget with a private one (benchmarks comparing several budgets in one process).
    pub fn with_private_budget(self, budget: Arc<RateBudget>) -> Self {
        let inner = &self.inner;
        GenesysClient {
            inner: Arc::new(Inner {
                config: inner.config.clone(),
                http: inner.http.clone(),
                api_base: inner.api_base.clone(),
                auth: inner.auth.clone(),
                budget,
            }),
        }
    }

    /// The configuration the client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The API base URL (no trailing slash).
    pub fn api_base(&self) -> &str {
        &self.inner.api_base
    }

    /// The request budget this client spends (shared per OAuth client).
    pub fn budget(&self) -> &Arc<RateBudget> {
        &self.inner.budget
    }

    /// The token cache (health checks, token revocation handling).
    pub fn auth(&self) -> &Arc<TokenCache> {
        &self.inner.auth
    }

    /// Sends `method path` with an optional JSON body and decodes the JSON answer into `R`.
    ///
    /// `path` starts with `/api/v2/` and may carry a query string. Errors are classified; see the module docs.
    pub async fn request<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response<R>, ChannelError> {
        self.request_with(method, path, body, &ErrorContext::default()).await
    }

    /// Like [`request`](Self::request), with an [`ErrorContext`] that names what a 404/409 is about.
    pub async fn request_with<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        ctx: &ErrorContext,
    ) -> Result<Response<R>, ChannelError> {
        let payload = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| {
                ChannelError::invalid("body", format!("could not be encoded as JSON: {e}"), "send serialisable data")
            })?),
            None => None,
        };
        let request_id = uuid::Uuid::new_v4();
        let span = tracing::info_span!(
            "genesys_request",
            method = %method,
            path = %path_for_log(path),
            request_id = %request_id,
            correlation_id = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        self.execute(method, path, payload, ctx).instrument(span).await
    }

    async fn execute<R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        payload: Option<Vec<u8>>,
        ctx: &ErrorContext,
    ) -> Result<Response<R>, ChannelError> {
        let cfg = &self.inner.config;
        let url = format!("{}{}", self.inner.api_base, path);
        let mut attempt: u32 = 0;
        let mut refreshed_after_401 = false;
        loop {
            self.inner.budget.acquire().await;
            let token = match self.inner.auth.token().await {
                Ok(t) => t,
                Err(e) if e.class().is_retryable() && attempt < cfg.max_retries => {
                    let wait = self.backoff_or_retry_after(attempt, &e);
                    tracing::warn!(attempt, error = %e, "token request failed; retrying");
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.value.expose())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(p) = &payload {
                req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(p.clone());
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    let reason = transport_reason(&e);
                    if attempt < cfg.max_retries {
                        let wait = self.backoff(attempt);
                        tracing::warn!(attempt, reason = %reason, wait_ms = wait.as_millis() as u64, "request failed; retrying");
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(ChannelError::Transient {
                        reason: format!(
                            "{method} {} failed after {} attempts: {reason}",
                            path_for_log(path),
                            attempt + 1
                        ),
                        correlation_id: None,
                    });
                }
            };
            let status = resp.status().as_u16();
            let corr = header(&resp, CORRELATION_HEADER);
            let span = tracing::Span::current();
            span.record("status", status);
            if let Some(c) = &corr {
                span.record("correlation_id", c.as_str());
            }
            let retry_after = header(&resp, reqwest::header::RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(&v));
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    if attempt < cfg.max_retries {
                        let wait = self.backoff(attempt);
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(ChannelError::Transient {
                        reason: format!("the response body was cut off: {}", transport_reason(&e)),
                        correlation_id: corr,
                    });
                }
            };
            if (200..300).contains(&status) {
                let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"null" } else { &bytes };
                return match serde_json::from_slice::<R>(text) {
                    Ok(body) => Ok(Response { status, correlation_id: corr, body }),
                    Err(e) => Err(ChannelError::Permanent {
                        reason: format!(
                            "{method} {} answered {status} with a body herald cannot read: {e}",
                            path_for_log(path)
                        ),
                        correlation_id: corr,
                    }),
                };
            }
            let err_body = ErrorBody::parse(&bytes);
            match status {
                401 if !refreshed_after_401 => {
                    tracing::info!("access token refused; refreshing once and retrying");
                    refreshed_after_401 = true;
                    self.inner.auth.refresh_after_rejection(&token.value).await?;
                    continue;
                }
                429 => {
                    let wait = retry_after.unwrap_or_else(|| self.backoff(attempt).max(Duration::from_secs(1)));
                    let cap = Duration::from_secs(cfg.max_retry_after_secs);
                    if attempt < cfg.max_retries && wait <= cap {
                        tracing::warn!(
                            attempt,
                            retry_after_ms = wait.as_millis() as u64,
                            "rate limited (429); waiting"
                        );
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                }
                500..=599 | 408 if attempt < cfg.max_retries => {
                    let wait = self.backoff(attempt);
                    tracing::warn!(attempt, status, wait_ms = wait.as_millis() as u64, "server error; retrying");
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                _ => {}
            }
            let err = map_error(status, &err_body, corr, retry_after, ctx);
            tracing::debug!(status, class = err.class().as_str(), "request failed");
            return Err(err);
        }
    }

    /// Exponential backoff with full jitter: uniform in `[0, min(max, base * 2^attempt)]`.
    fn backoff(&self, attempt: u32) -> Duration {
        let cfg = &self.inner.config;
        let ceiling = cfg.backoff_base_ms.saturating_mul(1u64 << attempt.min(20)).min(cfg.backoff_max_ms);
        Duration::from_millis(rand::rng().random_range(0..=ceiling))
    }

    fn backoff_or_retry_after(&self, attempt: u32, e: &ChannelError) -> Duration {
        match e {
            ChannelError::RateLimited { retry_after: Some(d), .. } => {
                (*d).min(Duration::from_secs(self.inner.config.max_retry_after_secs))
            }
            _ => self.backoff(attempt),
        }
    }

    /// `GET path` decoded as `R`.
    pub async fn get<R: DeserializeOwned>(&self, path: &str, ctx: &ErrorContext) -> Result<Response<R>, ChannelError> {
        self.request_with::<NoBody, R>(Method::GET, path, None, ctx).await
    }

    /// `POST path` with a JSON body, decoded as `R`.
    pub async fn post<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        ctx: &ErrorContext,
    ) -> Result<Response<R>, ChannelError> {
        self.request_with(Method::POST, path, Some(body), ctx).await
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The path without its query string (queries may carry customer ids; keep logs lean).
fn path_for_log(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// Percent-encodes one path segment (ids come from outside and must not break the path).
pub fn seg(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>().replace('+', "%20")
}
