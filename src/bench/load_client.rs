//! A lean HTTP/1.1 keep-alive client for the load generators of the benchmarks.
//!
//! The benchmarks run the load generator on the same two cores as herald. A full-featured client (connection pool,
//! proxy matching, redirects, header maps) spends as much CPU per request as the service under test does, so the
//! figure would mostly measure the client. This one writes a prepared request on its own connection and reads the
//! status line, the headers and a `Content-Length` body, nothing more. It is not a general client: no chunked
//! bodies, no TLS, no redirects; it fails loudly on anything else.

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection to a herald listener.
pub struct LoadConnection {
    stream: TcpStream,
    host: String,
    buffer: Vec<u8>,
}

impl LoadConnection {
    /// Connect to `addr` (an `ip:port`).
    pub async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        Ok(LoadConnection { stream, host: addr.to_string(), buffer: Vec::with_capacity(4096) })
    }

    /// `POST path` with a JSON body and a bearer token; returns the status code once the whole response is read.
    pub async fn post_json(&mut self, path: &str, bearer: &str, body: &str) -> anyhow::Result<u16> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {bearer}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await.context("write request")?;
        self.read_response().await
    }

    async fn read_response(&mut self) -> anyhow::Result<u16> {
        self.buffer.clear();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buffer).context("parse response")? {
                httparse::Status::Complete(head) => {
                    let status = response.code.ok_or_else(|| anyhow!("response without a status"))?;
                    let length = content_length(response.headers)?;
                    let total = head + length;
                    while self.buffer.len() < total {
                        self.fill().await?;
                    }
                    if self.buffer.len() > total {
                        bail!("the server sent more than one response");
                    }
                    return Ok(status);
                }
                httparse::Status::Partial => self.fill().await?,
            }
        }
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.context("read response")?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn content_length(headers: &[httparse::Header<'_>]) -> anyhow::Result<usize> {
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(h.value).context("content-length is not text")?;
            return text.trim().parse().with_context(|| format!("content-length {text:?}"));
        }
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("chunked responses are not supported by the load client");
        }
    }
    Ok(0)
}
