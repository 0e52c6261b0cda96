//! API-key authentication: `Authorization: Bearer <key>`, compared in constant time against every configured key.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::problem::Problem;
use crate::config::Secret;

/// The accepted keys.
#[derive(Clone)]
pub struct ApiKeys(pub Arc<Vec<Secret>>);

impl ApiKeys {
    /// Whether `presented` equals one of the keys. Every key is compared, so timing does not reveal which matched.
    pub fn accepts(&self, presented: &str) -> bool {
        let mut ok = subtle::Choice::from(0);
        for key in self.0.iter() {
            ok |= key.expose().as_bytes().ct_eq(presented.as_bytes());
        }
        bool::from(ok)
    }
}

/// Middleware refusing requests without a valid key.
pub async fn require_api_key(State(keys): State<ApiKeys>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(key) if keys.accepts(key) => next.run(request).await,
        _ => Problem::unauthorized().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_configured_keys() {
        let keys = ApiKeys(Arc::new(vec![Secret::new("k1-0123456789abcdef"), Secret::new("k2-0123456789abcdef")]));
        assert!(keys.accepts("k2-0123456789abcdef"));
        assert!(!keys.accepts("k2-0123456789abcde"));
        assert!(!keys.accepts(""));
        assert!(!ApiKeys(Arc::new(vec![])).accepts("anything"));
    }
}
