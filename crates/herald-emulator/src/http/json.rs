//! `ApiJson`: a JSON body extractor that answers malformed bodies with a platform ErrorBody,
//! and a helper that rejects unknown fields by name.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api_error::ApiError;

/// A JSON request body; malformed JSON answers 400 `bad.request`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::bad_request("Unable to read the request body"))?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body into `T`, mapping serde errors to 400s that name the field where possible.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request("The request body is required"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        let field =
            msg.split('`').nth(1).filter(|_| msg.starts_with("missing field") || msg.starts_with("unknown field"));
        let err = ApiError::bad_request(format!("Unable to parse the request body: {msg}"));
        match field {
            Some(f) => err.with_field("invalid.value", f),
            None => err,
        }
    })
}

/// Rejects a field of `body` (an object) that is not in `allowed`: 400 `invalid.property`.
pub fn reject_unknown(body: &Value, allowed: &[&str], prefix: &str) -> Result<(), ApiError> {
    if let Some(obj) = body.as_object() {
        for key in obj.keys() {
            if !allowed.contains(&key.as_str()) {
                let name = format!("{prefix}{key}");
                return Err(ApiError::field(
                    "invalid.property",
                    &name,
                    format!("Unrecognized field \"{name}\": it is not a property of this request"),
                ));
            }
        }
    }
    Ok(())
}
