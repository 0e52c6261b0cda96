//! [`GenesysClient`]: authenticated, budgeted, retried requests to the Platform API.
//!
//! Every request waits for the OAuth client's [`RateBudget`], carries a bearer token from the [`TokenCache`] and
//! runs inside a `tracing` span (method, path, correlation id; never the token). Then:
//!
//! - **Retries never repeat a request that may have been applied.** A send (POST, PATCH) whose connection timed
//!   out or broke after it may have been written, or that was answered 500/502/504, ends as
//!   [`ChannelError::OutcomeUnknown`] at once: the dispatcher checks upstream (`confirm_delivery`) before any
//!   further attempt. Failures that prove the request was not applied (connection refused, DNS, TLS, 429, 503,
//!   408) are retried, and retry-safe requests (GET, PUT, DELETE, queries) are retried after any failure. The
//!   table is in [`crate::outcome`].
//! - **Waits end by the deadline** ([`crate::deadline`]): the budget, a token, a backoff, a `Retry-After` and the
//!   HTTP exchange itself (its timeout is shortened to the time left). A 429 whose `Retry-After` ends after the
//!   deadline (or is longer than `max_retry_after_secs`) is returned as `RateLimited { retry_after }` at once.
//! - Backoff is [`herald_core::retry::backoff`] (exponential, jittered, never shorter than `Retry-After`), and
//!   `Retry-After` is parsed by [`herald_core::retry::parse_retry_after`] (hostile values never panic).
//! - A 401 is retried once after one token refresh.
//!
//! What is left is mapped to a classified [`ChannelError`] by [`map_error`].

use std::sync::Arc;
use std::time::Duration;

use herald_core::ChannelError;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;
use tracing::Instrument;

use crate::auth::{transport_reason, TokenCache};
use crate::budget::RateBudget;
use crate::config::ClientConfig;
use crate::deadline;
use crate::errors::{map_error, parse_retry_after, ErrorBody, ErrorContext, CORRELATION_HEADER};
use crate::outcome::{self, StatusVerdict, Transport};

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
    /// Every request of this handle ends by then (see [`until`](Self::until)).
    deadline: Option<Instant>,
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
            deadline: None,
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
            deadline: self.deadline,
        }
    }

    /// A handle of this client whose requests all end by `deadline` (or this handle's own, if earlier): every
    /// wait — budget, token, backoff, `Retry-After`, the HTTP exchange — is cut to it (see [`crate::deadline`]).
    pub fn until(&self, deadline: Instant) -> Self {
        GenesysClient { inner: self.inner.clone(), deadline: deadline::earliest(self.deadline, Some(deadline)) }
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
        let deadline = deadline::earliest(self.deadline, deadline::current());
        let safe = ctx.retry_safe.unwrap_or_else(|| outcome::retry_safe(&method));
        let what = format!("{method} {}", path_for_log(path));
        let url = format!("{}{}", self.inner.api_base, path);
        let mut attempts: u32 = 0;
        let mut refreshed_after_401 = false;
        let mut last: Option<ChannelError> = None;
        loop {
            if let Err(wait) = self.inner.budget.acquire_until(deadline).await {
                tracing::debug!(wait_ms = millis(wait), "no request budget before the deadline");
                return Err(last.unwrap_or(ChannelError::RateLimited { retry_after: Some(wait), correlation_id: None }));
            }
            let token = match within(deadline, self.inner.auth.token()).await {
                None => return Err(last.unwrap_or_else(|| past_deadline(&what, "waiting for an access token"))),
                Some(Ok(t)) => t,
                Some(Err(e)) if e.class().is_retryable() => {
                    attempts += 1;
                    let Some(wait) = self.retry_wait(attempts, retry_after_of(&e), deadline) else { return Err(e) };
                    tracing::warn!(attempts, error = %e, wait_ms = millis(wait), "token request failed; retrying");
                    tokio::time::sleep(wait).await;
                    last = Some(e);
                    continue;
                }
                Some(Err(e)) => return Err(e),
            };
            let timeout = deadline::bounded(cfg.timeout(), deadline);
            if timeout.is_zero() {
                return Err(last.unwrap_or_else(|| past_deadline(&what, "before the request could be sent")));
            }
            let mut req = self
                .inner
                .http
                .request(method.clone(), &url)
                .timeout(timeout)
                .bearer_auth(token.value.expose())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(p) = &payload {
                req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(p.clone());
            }
            attempts += 1;
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    let reason = transport_reason(&e);
                    if !safe && outcome::classify_transport(&e) == Transport::MaybeSent {
                        tracing::warn!(attempts, reason = %reason, "request may have reached Genesys; not sending it again");
                        return Err(ChannelError::OutcomeUnknown {
                            reason: format!(
                                "{what} {reason} after the request may have been written; Genesys may have applied it"
                            ),
                            correlation_id: None,
                        });
                    }
                    let err = ChannelError::Transient {
                        reason: format!("{what} failed after {attempts} attempt(s): {reason}"),
                        correlation_id: None,
                    };
                    let Some(wait) = self.retry_wait(attempts, None, deadline) else { return Err(err) };
                    tracing::warn!(attempts, reason = %reason, wait_ms = millis(wait), "request failed; retrying");
                    tokio::time::sleep(wait).await;
                    last = Some(err);
                    continue;
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
            let ok = (200..300).contains(&status);
            let bytes = match resp.bytes().await {
                Ok(b) => b,
                Err(e) if ok && !safe => {
                    return Err(ChannelError::OutcomeUnknown {
                        reason: format!(
                            "{what} was accepted ({status}) but its answer was cut off: {}",
                            transport_reason(&e)
                        ),
                        correlation_id: corr,
                    })
                }
                Err(e) if ok => {
                    let err = ChannelError::Transient {
                        reason: format!("the response body of {what} was cut off: {}", transport_reason(&e)),
                        correlation_id: corr,
                    };
                    let Some(wait) = self.retry_wait(attempts, None, deadline) else { return Err(err) };
                    tokio::time::sleep(wait).await;
                    last = Some(err);
                    continue;
                }
                // A refusal whose body was cut off is still classified by its status.
                Err(_) => Default::default(),
            };
            if ok {
                let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"null" } else { &bytes };
                return match serde_json::from_slice::<R>(text) {
                    Ok(body) => Ok(Response { status, correlation_id: corr, body }),
                    Err(e) => Err(ChannelError::Permanent {
                        reason: format!("{what} answered {status} with a body herald cannot read: {e}"),
                        correlation_id: corr,
                    }),
                };
            }
            let err_body = ErrorBody::parse(&bytes);
            if status == 401 && !refreshed_after_401 {
                tracing::info!("access token refused; refreshing once and retrying");
                refreshed_after_401 = true;
                match within(deadline, self.inner.auth.refresh_after_rejection(&token.value)).await {
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e),
                    None => return Err(past_deadline(&what, "refreshing the refused access token")),
                }
            }
            if status == 429 {
                let wait = retry_after.unwrap_or_else(|| self.backoff(attempts).max(Duration::from_secs(1)));
                let cap = Duration::from_secs(cfg.max_retry_after_secs);
                if attempts <= cfg.max_retries && wait <= cap && deadline::fits(wait, deadline) {
                    tracing::warn!(attempts, retry_after_ms = millis(wait), "rate limited (429); waiting");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                tracing::debug!(retry_after_ms = millis(wait), "rate limited (429); leaving the wait to the caller");
                return Err(ChannelError::RateLimited { retry_after: Some(wait), correlation_id: corr });
            }
            match outcome::status_verdict(status, safe, &cfg.outcome_unknown_statuses) {
                StatusVerdict::Retry => {
                    let err = map_error(status, &err_body, corr, retry_after, ctx);
                    let Some(wait) = self.retry_wait(attempts, retry_after, deadline) else { return Err(err) };
                    tracing::warn!(attempts, status, wait_ms = millis(wait), "server error; retrying");
                    tokio::time::sleep(wait).await;
                    last = Some(err);
                    continue;
                }
                StatusVerdict::OutcomeUnknown => {
                    tracing::warn!(status, "send answered a server error; Genesys may have applied it");
                    return Err(ChannelError::OutcomeUnknown {
                        reason: format!(
                            "{what} answered {status} ({}); Genesys may have applied it",
                            err_body.describe()
                        ),
                        correlation_id: corr.or(err_body.context_id),
                    });
                }
                StatusVerdict::Final => {}
            }
            let err = map_error(status, &err_body, corr, retry_after, ctx);
            tracing::debug!(status, class = err.class().as_str(), "request failed");
            return Err(err);
        }
    }

    /// The wait before another try after `attempts` tries, or `None` when no retry is left or the wait would end
    /// after `deadline`.
    fn retry_wait(&self, attempts: u32, retry_after: Option<Duration>, deadline: Option<Instant>) -> Option<Duration> {
        let cfg = &self.inner.config;
        if attempts > cfg.max_retries {
            return None;
        }
        let cap = Duration::from_secs(cfg.max_retry_after_secs);
        if retry_after.is_some_and(|ra| ra > cap) {
            return None;
        }
        let wait = herald_core::retry::backoff(
            attempts,
            Duration::from_millis(cfg.backoff_base_ms),
            Duration::from_millis(cfg.backoff_max_ms),
            retry_after,
        );
        deadline::fits(wait, deadline).then_some(wait)
    }

    /// Backoff after `attempts` tries, without a `Retry-After`.
    fn backoff(&self, attempts: u32) -> Duration {
        let cfg = &self.inner.config;
        herald_core::retry::backoff(
            attempts,
            Duration::from_millis(cfg.backoff_base_ms),
            Duration::from_millis(cfg.backoff_max_ms),
            None,
        )
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

/// `fut`, or `None` when `deadline` passes first.
async fn within<F: std::future::Future>(deadline: Option<Instant>, fut: F) -> Option<F::Output> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// The `Retry-After` a rate-limited error carries.
fn retry_after_of(e: &ChannelError) -> Option<Duration> {
    match e {
        ChannelError::RateLimited { retry_after, .. } => *retry_after,
        _ => None,
    }
}

/// The error of a request whose deadline passed while `doing` (nothing was sent for it).
fn past_deadline(what: &str, doing: &str) -> ChannelError {
    ChannelError::transient(format!("{what}: the attempt's deadline passed {doing}; nothing was sent"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
