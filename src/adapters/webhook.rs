//! The `webhook` adapter: delivers notifications as JSON to an HTTP endpoint of the user's own.
//!
//! Useful to hand notifications to systems herald does not bridge, and as a transparent test target. Each delivery
//! is `POST {url}` with header `Idempotency-Key`; when `confirm = true` the endpoint must also answer
//! `GET {url}/{idempotency key}` with 200 (delivered) or 404 (not delivered), which lets herald check, after a crash,
//! whether an unrecorded attempt reached it, so nothing is sent twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use herald_core::template::render;
use herald_core::{
    AdapterFactory, ChannelContext, ChannelError, ConfigProblem, Content, Delivery, DeliveryGuarantee, Health,
    HealthStatus, IntegrationSpec, MessagingChannel, Receipt,
};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::json;

/// `[integration.settings]` of a webhook integration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where notifications are posted (http or https).
    pub url: String,
    /// Extra headers sent with every request (e.g. an authorization header; use `${VAR}`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Whether the endpoint answers `GET {url}/{key}` so deliveries can be confirmed after a crash.
    #[serde(default)]
    pub confirm: bool,
}

fn default_timeout() -> u64 {
    10
}

/// Builds webhook adapters.
pub struct WebhookFactory;

impl WebhookFactory {
    fn settings(spec: &IntegrationSpec) -> Result<WebhookSettings, Vec<ConfigProblem>> {
        let s: WebhookSettings = spec.decode()?;
        match url::Url::parse(&s.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(s),
            _ => Err(vec![ConfigProblem::new(
                format!("{}.settings.url", spec.path),
                format!("`{}` is not an http(s) URL", s.url),
            )]),
        }
    }
}

impl AdapterFactory for WebhookFactory {
    fn kind(&self) -> &str {
        "webhook"
    }

    fn description(&self) -> &str {
        "POSTs each notification as JSON to an HTTP endpoint (with Idempotency-Key)"
    }

    fn validate(&self, spec: &IntegrationSpec) -> Vec<ConfigProblem> {
        Self::settings(spec).err().unwrap_or_default()
    }

    fn build(&self, spec: &IntegrationSpec) -> Result<Arc<dyn MessagingChannel>, Vec<ConfigProblem>> {
        let settings = Self::settings(spec)?;
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .build()
            .map_err(|e| vec![ConfigProblem::new(&spec.path, format!("cannot build HTTP client: {e}"))])?;
        Ok(Arc::new(WebhookChannel { name: spec.name.clone(), settings, http, last_error: Mutex::new(None) }))
    }
}

/// A webhook integration.
pub struct WebhookChannel {
    name: String,
    settings: WebhookSettings,
    http: reqwest::Client,
    last_error: Mutex<Option<String>>,
}

impl WebhookChannel {
    fn text(content: &Content) -> Result<Option<String>, ChannelError> {
        match content {
            Content::Text { text } => Ok(Some(text.clone())),
            Content::Template { template, variables } => {
                render(template, |k| variables.get(k).cloned()).map(Some).map_err(|e| {
                    ChannelError::invalid(format!("content.variables.{}", e.name), "is missing", e.to_string())
                })
            }
            Content::CannedResponse { .. } => Ok(None),
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, url);
        for (k, v) in &self.settings.headers {
            req = req.header(k, v);
        }
        req
    }

    fn confirm_url(&self, key: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
        format!("{}/{}", self.settings.url.trim_end_matches('/'), encoded)
    }
}

/// Map an HTTP status of the endpoint to herald's error classes.
fn classify(status: reqwest::StatusCode, retry_after: Option<Duration>, body: String) -> ChannelError {
    let snippet: String = body.chars().take(300).collect();
    match status.as_u16() {
        400 | 422 => ChannelError::invalid(
            "body",
            format!("was refused by the webhook ({status}): {snippet}"),
            "fix the payload the endpoint expects",
        ),
        401 | 403 => ChannelError::Unauthorized {
            reason: format!("webhook answered {status}; check `settings.headers`"),
            correlation_id: None,
        },
        404 => ChannelError::not_found("webhook endpoint", status.to_string(), "check `settings.url`"),
        409 | 410 => ChannelError::TargetClosed {
            conversation_id: String::new(),
            customer: None,
            reason: format!("webhook answered {status}: {snippet}"),
        },
        429 => ChannelError::RateLimited { retry_after, correlation_id: None },
        s if s >= 500 => ChannelError::transient(format!("webhook answered {status}: {snippet}")),
        _ => ChannelError::permanent(format!("webhook answered {status}: {snippet}")),
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(herald_core::retry::parse_retry_after)
}

/// A failed POST: before the request could have been written (connect, DNS, TLS) it certainly did not take
/// effect; after (timeout, reset, a cut-off answer) the endpoint may have stored it, so the outcome is unknown and
/// the dispatcher checks (`confirm = true`) before anything else.
fn send_error(e: &reqwest::Error) -> ChannelError {
    if e.is_connect() || e.is_builder() {
        ChannelError::transient(format!("webhook request failed before it was sent: {e}"))
    } else {
        ChannelError::outcome_unknown(format!("webhook request failed after it may have been sent: {e}"))
    }
}

#[async_trait]
impl MessagingChannel for WebhookChannel {
    fn kind(&self) -> &str {
        "webhook"
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn start(&self, _ctx: ChannelContext) -> Result<(), ChannelError> {
        Ok(())
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        let n = &delivery.notification;
        let key = n.delivery_key();
        let body = json!({
            "id": n.id,
            "idempotency_key": key,
            "integration": n.integration,
            "target": n.target,
            "content": n.content,
            "text": Self::text(&n.content)?,
            "rule": n.rule,
            "attempt": delivery.attempt,
        });
        let sent = self
            .request(reqwest::Method::POST, &self.settings.url)
            .timeout(delivery.remaining().min(Duration::from_secs(self.settings.timeout_secs)))
            .header("Idempotency-Key", &key)
            .json(&body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                *self.last_error.lock() = Some(e.to_string());
                return Err(send_error(&e));
            }
        };
        let status = resp.status();
        if status.is_success() {
            *self.last_error.lock() = None;
            let value: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
            return Ok(Receipt {
                upstream_message_id: value.get("id").and_then(|v| v.as_str()).map(str::to_string),
                conversation_id: None,
                route: "webhook".into(),
                delivered_at: Utc::now(),
            });
        }
        let ra = retry_after(&resp);
        let text = resp.text().await.unwrap_or_default();
        *self.last_error.lock() = Some(format!("{status}"));
        Err(classify(status, ra, text))
    }

    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        if self.settings.confirm {
            DeliveryGuarantee::ExactlyOnce
        } else {
            DeliveryGuarantee::AtLeastOnce
        }
    }

    async fn confirm_delivery(&self, delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
        if !self.settings.confirm {
            return Err(ChannelError::permanent("webhook `confirm` is off; cannot check past deliveries"));
        }
        let url = self.confirm_url(&delivery.notification.delivery_key());
        let resp = self
            .request(reqwest::Method::GET, &url)
            .timeout(delivery.remaining().min(Duration::from_secs(self.settings.timeout_secs)))
            .send()
            .await
            .map_err(|e| ChannelError::transient(format!("webhook confirm request failed: {e}")))?;
        match resp.status().as_u16() {
            200 => Ok(vec![Receipt {
                upstream_message_id: None,
                conversation_id: None,
                route: "webhook".into(),
                delivered_at: Utc::now(),
            }]),
            404 => Ok(Vec::new()),
            _ => {
                let status = resp.status();
                let ra = retry_after(&resp);
                Err(classify(status, ra, resp.text().await.unwrap_or_default()))
            }
        }
    }

    async fn health(&self) -> Health {
        match self.last_error.lock().clone() {
            None => Health::healthy(),
            Some(e) => Health::with(HealthStatus::Degraded, "deliveries", format!("last delivery failed: {e}")),
        }
    }

    async fn shutdown(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A webhook is an upstream like any other: whatever its `Retry-After` says, the wait is sane and nothing panics.
    #[test]
    fn hostile_retry_after_values_never_panic() {
        let cases = [
            ("-1", None),
            ("NaN", None),
            ("soon", None),
            ("2", Some(Duration::from_secs(2))),
            ("1e300", Some(herald_core::retry::MAX_RETRY_AFTER)),
            ("99999999999999999999999999", Some(herald_core::retry::MAX_RETRY_AFTER)),
            ("inf", Some(herald_core::retry::MAX_RETRY_AFTER)),
        ];
        for (value, expected) in cases {
            let resp = http::Response::builder().status(429).header("retry-after", value).body("").expect("response");
            let resp = reqwest::Response::from(resp);
            assert_eq!(retry_after(&resp), expected, "{value}");
            let e = classify(resp.status(), retry_after(&resp), String::new());
            assert!(matches!(e, ChannelError::RateLimited { .. }), "{e}");
        }
    }
}
