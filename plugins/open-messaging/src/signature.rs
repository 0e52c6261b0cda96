//! The webhook signature: `X-Hub-Signature-256: sha256=<base64(HMAC-SHA256(secret, raw body))>`.
//!
//! Note base64, not hex (unlike GitHub's header of the same name). Verification is constant-time.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header Genesys signs webhooks with.
pub const HEADER: &str = "x-hub-signature-256";

/// The header value for `body`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this never fails; an empty value would simply not verify.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether `header` is a valid signature of `body` under `secret` (constant-time comparison).
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(encoded) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_base64_and_verifies() {
        let sig = sign(b"secret", b"{\"id\":1}");
        assert!(sig.starts_with("sha256="));
        assert!(!sig[7..].chars().all(|c| c.is_ascii_hexdigit()), "base64, not hex: {sig}");
        assert!(verify(b"secret", b"{\"id\":1}", &sig));
        assert!(!verify(b"other", b"{\"id\":1}", &sig));
        assert!(!verify(b"secret", b"{\"id\":2}", &sig));
        assert!(!verify(b"secret", b"{\"id\":1}", "sha256=not base64!"));
        assert!(!verify(b"secret", b"{\"id\":1}", &sig[7..]));
    }
}
