//! A small client of herald's own HTTP API, for the CLI.

use anyhow::{anyhow, Context};
use serde_json::Value;

use super::Remote;

/// Call the running service; return the JSON body, or an error with the problem's detail.
pub async fn call(
    remote: &Remote,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
    extra: &[(&str, &str)],
) -> anyhow::Result<(u16, Value)> {
    let url = format!("{}{}", remote.url.trim_end_matches('/'), path);
    let mut req = reqwest::Client::new().request(method, &url).bearer_auth(&remote.api_key);
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach herald at {url}; is `herald serve` running? (--url / HERALD_URL)"))?;
    let status = resp.status().as_u16();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        let detail = value.get("detail").and_then(Value::as_str).unwrap_or("no detail");
        return Err(anyhow!("herald answered {status}: {detail}"));
    }
    Ok((status, value))
}
