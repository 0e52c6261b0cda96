//! Guest JWTs (`getJwt`, guest chat): HS256 with a per-process secret, expiry on the virtual clock.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::state::Shared;

/// Claims of a guest JWT.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the guest token (web messaging) or `conversationId:memberId` (chat).
    pub sub: String,
    /// Issued at (virtual epoch seconds).
    pub iat: i64,
    /// Expiry (virtual epoch seconds).
    pub exp: i64,
    /// Deployment.
    #[serde(rename = "deploymentId")]
    pub deployment_id: String,
    /// Unique id.
    pub jti: String,
}

/// Issues a JWT for `sub`, valid `seconds`.
pub fn issue(state: &Shared, sub: &str, deployment_id: &str, seconds: u64) -> (String, i64) {
    let now = state.clock.now().timestamp();
    let claims = Claims {
        sub: sub.to_string(),
        iat: now,
        exp: now + seconds as i64,
        deployment_id: deployment_id.to_string(),
        jti: crate::state::new_id(),
    };
    let token = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&state.jwt_secret))
        .unwrap_or_default();
    (token, claims.exp)
}

/// Verifies a JWT's signature and (virtual) expiry.
pub fn verify(state: &Shared, token: &str) -> Option<Claims> {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let data = decode::<Claims>(token, &DecodingKey::from_secret(&state.jwt_secret), &v).ok()?;
    (data.claims.exp > state.clock.now().timestamp()).then_some(data.claims)
}
