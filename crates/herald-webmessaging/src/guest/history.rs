//! `GET /api/v2/webmessaging/messages` with the guest JWT: the guest's message history.
//!
//! This crate has no HTTP client dependency, so the request is a minimal HTTP/1.1 GET over a plain TCP connection:
//! enough for the emulator (`http://`). An `https://` base answers [`GuestError::History`] until the crate gets an
//! HTTP client with TLS.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::GuestError;

/// Fetches `url` with `Authorization: Bearer <jwt>` and returns its `entities`.
pub async fn get_entities(url: &str, jwt: &str, timeout: Duration) -> Result<Vec<Value>, GuestError> {
    let fail = |m: String| GuestError::History(m);
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| fail(format!("{url}: only http:// is supported by this build's history client")))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let work = async {
        let mut stream = TcpStream::connect(&addr).await.map_err(|e| fail(format!("connect {addr}: {e}")))?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {jwt}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(req.as_bytes()).await.map_err(|e| fail(e.to_string()))?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(|e| fail(e.to_string()))?;
        Ok::<Vec<u8>, GuestError>(raw)
    };
    let raw = tokio::time::timeout(timeout, work).await.map_err(|_| GuestError::Timeout(timeout, "the history"))??;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| fail("malformed HTTP answer".into()))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    let json: Value =
        serde_json::from_slice(&body).map_err(|e| fail(format!("status {status}, body not JSON: {e}")))?;
    if status != 200 {
        return Err(fail(format!("status {status}: {json}")));
    }
    Ok(json.get("entities").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// Decodes a chunked transfer-encoded body.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
    out
}
