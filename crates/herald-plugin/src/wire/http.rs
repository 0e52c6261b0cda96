//! Inbound HTTP across the boundary (ABI 2): the routes an instance declares, and each request and answer.
//!
//! herald's server owns the socket, the body limit and the timeout; the plugin gets the request as JSON and
//! answers one. Bodies are bytes (a webhook signature covers the exact bytes), so they cross as base64 strings.
//!
//! ```json
//! {"method":"POST","path":"/hook","query":"a=1","headers":[["content-type","application/json"]],"body":"e30="}
//! {"status":200,"headers":[["content-type","text/plain"]],"body":"b2s="}
//! ```

use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One route an instance serves on herald's server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRoute {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// An absolute path (`/open-messaging/webhook`); it must not collide with herald's own (`/v1`, `/healthz`,
    /// `/metrics`) or another integration's.
    pub path: String,
}

impl WireRoute {
    /// A `POST` route.
    pub fn post(path: impl Into<String>) -> Self {
        WireRoute { method: "POST".into(), path: path.into() }
    }
}

/// An inbound request, as the plugin receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Upper-case method.
    pub method: String,
    /// The path matched.
    pub path: String,
    /// The raw query string, without `?`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Headers in arrival order, names lower-case; values that are not text are left out.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body (base64 on the wire).
    #[serde(default, serialize_with = "to_b64", deserialize_with = "from_b64")]
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The plugin's answer to an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// Status code (100–599; anything else is answered 502 by the host).
    pub status: u16,
    /// Headers to send.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body (base64 on the wire).
    #[serde(default, serialize_with = "to_b64", deserialize_with = "from_b64")]
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A `text/plain` answer.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.into().into_bytes(),
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }
}

fn to_b64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn from_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_cross_as_base64_and_come_back_byte_for_byte() {
        let req = HttpRequest {
            method: "POST".into(),
            path: "/hook".into(),
            query: None,
            headers: vec![("X-Hub-Signature-256".into(), "sha256=abc".into())],
            body: vec![0, 159, 146, 150, b'{'],
        };
        let json = serde_json::to_value(&req).unwrap_or_default();
        assert_eq!(json["body"], "AJ+Slns=");
        let back: HttpRequest = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, req);
        assert_eq!(back.header("x-hub-signature-256"), Some("sha256=abc"));
        let bad = serde_json::from_str::<HttpResponse>(r#"{"status":200,"body":"not base64!"}"#);
        assert!(bad.is_err());
    }
}
