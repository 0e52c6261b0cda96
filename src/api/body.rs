//! Reading JSON bodies with errors that name the field (path-aware), a size limit and a content-type check.

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Read and decode a JSON body of at most `limit` bytes.
pub async fn read_json<T: DeserializeOwned>(headers: &HeaderMap, body: Body, limit: usize) -> Result<T, Problem> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("send `Content-Type: application/json` (got `{ct}`)"),
        ));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the body is larger than {limit} bytes (`[service] max_body_bytes`)"),
        )
    })?;
    decode(&bytes)
}

/// Decode JSON bytes, naming the path of the first offending field.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Problem::new(StatusCode::BAD_REQUEST, "malformed-json", format!("the body is not valid JSON: {inner}"))
        } else {
            let field = if path == "." { "(body)".to_string() } else { path };
            Problem::field(StatusCode::UNPROCESSABLE_ENTITY, field, inner.to_string())
        }
    })
}

/// Decode a query string, naming the offending parameter.
pub fn query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, Problem> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "(query)".to_string() } else { path };
        Problem::field(StatusCode::BAD_REQUEST, field, e.into_inner().to_string())
    })
}
