//! Bot Framework JWT validation of inbound activities.
//!
//! Two steps, because the last checks need the activity: [`BotAuthenticator::verify`] checks the bearer token on
//! its own (scheme `Bearer`, `kid` known, RS256/384/512 signature, `iss` exactly `https://api.botframework.com`,
//! `aud` = the app id, `exp`/`nbf` with 5 minutes of skew); [`VerifiedToken::authorize`] then checks that the key
//! is endorsed for the activity's `channelId` (when the key carries endorsements) and that the `serviceurl` claim
//! equals the activity's `serviceUrl`. Any failure is an [`AuthError`]: 401 for bad credentials, 403 for valid
//! credentials that do not cover this activity.

use std::collections::HashSet;

use axum::http::StatusCode;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Validation;
use serde::Deserialize;

use crate::openid::KeyCache;

/// The only issuer of Bot Connector tokens.
pub const ISSUER: &str = "https://api.botframework.com";
/// Clock skew allowed on `exp`/`nbf`, seconds.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    MissingHeader,
    /// Not `Bearer <token>`.
    #[error("the Authorization scheme is not Bearer")]
    BadScheme,
    /// Not a decodable JWT.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// `kid` not in the JWKS.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The keys could not be fetched.
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
    /// Signature does not verify.
    #[error("invalid signature")]
    BadSignature,
    /// Expired.
    #[error("token expired")]
    Expired,
    /// Not yet valid.
    #[error("token not yet valid")]
    NotYetValid,
    /// Wrong `iss`.
    #[error("wrong issuer")]
    WrongIssuer,
    /// Wrong `aud`.
    #[error("wrong audience")]
    WrongAudience,
    /// Algorithm not allowed.
    #[error("algorithm not allowed")]
    Algorithm,
    /// The key is not endorsed for the activity's channel.
    #[error("the signing key is not endorsed for channel `{0}`")]
    NotEndorsed(String),
    /// `serviceurl` claim ≠ activity `serviceUrl`.
    #[error("the serviceurl claim does not match the activity's serviceUrl")]
    ServiceUrlMismatch,
}

impl AuthError {
    /// The HTTP status to answer: 403 for a valid token that does not cover the activity, 401 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::NotEndorsed(_) | AuthError::ServiceUrlMismatch => StatusCode::FORBIDDEN,
            AuthError::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short stable label (metrics, logs).
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::MissingHeader => "missing_header",
            AuthError::BadScheme => "bad_scheme",
            AuthError::Malformed(_) => "malformed",
            AuthError::UnknownKey => "unknown_key",
            AuthError::KeysUnavailable(_) => "keys_unavailable",
            AuthError::BadSignature => "bad_signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not_yet_valid",
            AuthError::WrongIssuer => "wrong_issuer",
            AuthError::WrongAudience => "wrong_audience",
            AuthError::Algorithm => "algorithm",
            AuthError::NotEndorsed(_) => "not_endorsed",
            AuthError::ServiceUrlMismatch => "serviceurl_mismatch",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    serviceurl: Option<String>,
    #[serde(default, rename = "serviceUrl")]
    service_url_alt: Option<String>,
}

/// A token whose signature and standard claims are valid.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    service_url: Option<String>,
    endorsements: Vec<String>,
}

impl VerifiedToken {
    /// Checks the token against the activity: endorsement of `channel_id`, `serviceurl` = `service_url`.
    pub fn authorize(&self, channel_id: &str, service_url: &str) -> Result<(), AuthError> {
        if !self.endorsements.is_empty() && !self.endorsements.iter().any(|e| e == channel_id) {
            return Err(AuthError::NotEndorsed(channel_id.to_string()));
        }
        match &self.service_url {
            Some(s) if s == service_url => Ok(()),
            _ => Err(AuthError::ServiceUrlMismatch),
        }
    }
}

/// Validates Bot Connector tokens for one app.
pub struct BotAuthenticator {
    app_id: String,
    keys: KeyCache,
}

impl BotAuthenticator {
    /// An authenticator for `app_id` reading keys through `keys`.
    pub fn new(app_id: impl Into<String>, keys: KeyCache) -> Self {
        BotAuthenticator { app_id: app_id.into(), keys }
    }

    /// The key cache (health).
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// Verifies the `Authorization` header value.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<VerifiedToken, AuthError> {
        let value = authorization.ok_or(AuthError::MissingHeader)?;
        let token = value.strip_prefix("Bearer ").ok_or(AuthError::BadScheme)?.trim();
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let kid = header.kid.ok_or_else(|| AuthError::Malformed("no kid".into()))?;
        let key = self.keys.key(&kid).await?;
        let algorithms = self.keys.algorithms();
        if !algorithms.contains(&header.alg) {
            return Err(AuthError::Algorithm);
        }
        let mut v = Validation::new(header.alg);
        v.algorithms = algorithms;
        v.leeway = CLOCK_SKEW_SECS;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[self.app_id.as_str()]);
        v.required_spec_claims = ["exp", "iss", "aud"].iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &v).map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
            ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => AuthError::Algorithm,
            other => AuthError::Malformed(format!("{other:?}")),
        })?;
        let service_url = data.claims.serviceurl.or(data.claims.service_url_alt);
        Ok(VerifiedToken { service_url, endorsements: key.endorsements })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endorsement_and_service_url_checks() {
        let t = VerifiedToken { service_url: Some("https://s/".into()), endorsements: vec!["msteams".into()] };
        assert_eq!(t.authorize("msteams", "https://s/"), Ok(()));
        assert_eq!(t.authorize("webchat", "https://s/"), Err(AuthError::NotEndorsed("webchat".into())));
        assert_eq!(t.authorize("msteams", "https://other/"), Err(AuthError::ServiceUrlMismatch));
        let open = VerifiedToken { service_url: None, endorsements: vec![] };
        assert_eq!(open.authorize("msteams", "https://s/"), Err(AuthError::ServiceUrlMismatch));
        assert_eq!(AuthError::ServiceUrlMismatch.status(), StatusCode::FORBIDDEN);
        assert_eq!(AuthError::Expired.status(), StatusCode::UNAUTHORIZED);
    }
}
