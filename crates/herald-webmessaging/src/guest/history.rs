//! `GET /api/v2/webmessaging/messages` with the guest JWT: the guest's message history.
//!
//! The request goes through `reqwest` with rustls (ring provider), so both `https://` (Genesys Cloud) and `http://`
//! (the emulator) bases work. One client is shared by every guest of the process (connection pooling); the timeout
//! is per request.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::error::GuestError;

/// The process-wide history client, built on first use.
fn client() -> Result<&'static reqwest::Client, GuestError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    // reqwest is built without a default crypto provider: install ring once (a no-op when one is installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let built = reqwest::Client::builder()
        .build()
        .map_err(|e| GuestError::History(format!("cannot set up the HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| built))
}

/// Fetches `url` with `Authorization: Bearer <jwt>` and returns its `entities` (empty when the answer has none).
///
/// `http://` and `https://` URLs are accepted. Fails with [`GuestError::Timeout`] after `timeout`, and with
/// [`GuestError::History`] for a transport error, a non-200 status (with the answer's body) or a body that is not
/// JSON.
pub async fn get_entities(url: &str, jwt: &str, timeout: Duration) -> Result<Vec<Value>, GuestError> {
    let fail = |m: String| GuestError::History(m);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(fail(format!("{url}: the history URL must start with http:// or https://")));
    }
    let http = client()?;
    let work = async {
        let resp = http
            .get(url)
            .bearer_auth(jwt)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| fail(format!("GET {url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| fail(format!("reading the answer: {e}")))?;
        Ok::<(u16, Vec<u8>), GuestError>((status, body.to_vec()))
    };
    let (status, body) =
        tokio::time::timeout(timeout, work).await.map_err(|_| GuestError::Timeout(timeout, "the history"))??;
    let json: Value =
        serde_json::from_slice(&body).map_err(|e| fail(format!("status {status}, body not JSON: {e}")))?;
    if status != 200 {
        return Err(fail(format!("status {status}: {json}")));
    }
    Ok(json.get("entities").and_then(Value::as_array).cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot loopback HTTP server answering `answer` to the first request; returns its base URL and the
    /// request it received.
    async fn one_shot(answer: String) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        let task = tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else { return String::new() };
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let _ = s.write_all(answer.as_bytes()).await;
            let _ = s.shutdown().await;
            String::from_utf8_lossy(&buf[..n]).to_string()
        });
        (format!("127.0.0.1:{}", addr.port()), task)
    }

    #[tokio::test]
    async fn plain_http_entities_and_bearer() {
        let body = r#"{"entities":[{"text":"hi"}],"total":1}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let (host, task) = one_shot(answer).await;
        let got = get_entities(&format!("http://{host}/api/v2/webmessaging/messages"), "jwt-1", Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.len(), 1);
        let req = task.await.unwrap_or_default().to_ascii_lowercase();
        assert!(req.contains("authorization: bearer jwt-1"), "{req}");
    }

    #[tokio::test]
    async fn errors_carry_the_status() {
        let answer = "HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_string();
        let (host, _task) = one_shot(answer).await;
        let r = get_entities(&format!("http://{host}/x"), "j", Duration::from_secs(5)).await;
        assert!(matches!(&r, Err(GuestError::History(m)) if m.contains("401")), "{r:?}");
        let r = get_entities("ftp://example.invalid/x", "j", Duration::from_secs(1)).await;
        assert!(matches!(r, Err(GuestError::History(_))));
    }

    /// An `https://` base is spoken to with TLS: the loopback listener receives a TLS handshake record.
    #[tokio::test]
    async fn https_speaks_tls() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("addr: {e}"));
        let first = tokio::spawn(async move {
            let Ok((mut s, _)) = listener.accept().await else { return 0u8 };
            let mut b = [0u8; 1];
            let _ = s.read_exact(&mut b).await;
            b[0]
        });
        let r = get_entities(&format!("https://127.0.0.1:{port}/x"), "j", Duration::from_secs(5)).await;
        assert!(r.is_err());
        // 0x16: TLS record type "handshake" (the ClientHello).
        assert_eq!(first.await.unwrap_or_default(), 0x16);
    }
}
