//! The connector's RSA signing keys and the JWKS that publishes them.
//!
//! Three keys are made at start: the **endorsed** key (in the JWKS with `endorsements:["msteams"]`, used for real
//! activities), an **unendorsed** key (in the JWKS, endorsed for another channel only) and a **rogue** key (never
//! published; used to forge signatures under the endorsed key's `kid`). Key generation is slow in unoptimised
//! builds, so keys are made once per process and size and shared by every emulator instance.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::EncodingKey;
use parking_lot::Mutex;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

/// One RSA signing key.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id (`kid` header, `kid`/`x5t` in the JWKS).
    pub kid: String,
    /// The private key for `jsonwebtoken`.
    pub encoding: EncodingKey,
    /// Modulus, base64url.
    pub n: String,
    /// Exponent, base64url.
    pub e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    fn generate(kid: &str, bits: usize) -> Result<Self, String> {
        let mut rng = rsa::rand_core::OsRng;
        let key = RsaPrivateKey::new(&mut rng, bits).map_err(|e| format!("RSA key generation failed: {e}"))?;
        let der = key.to_pkcs1_der().map_err(|e| format!("RSA key encoding failed: {e}"))?;
        Ok(SigningKey {
            kid: kid.to_string(),
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
        })
    }

    /// The key as a JWKS entry with the given endorsements.
    pub fn jwk(&self, endorsements: &[&str]) -> Value {
        json!({
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": self.n, "e": self.e, "x5c": [], "endorsements": endorsements,
        })
    }
}

/// The three keys of a connector.
#[derive(Clone, Debug)]
pub struct KeySet {
    /// Published, endorsed for `msteams`.
    pub endorsed: SigningKey,
    /// Published, endorsed for `webchat` only.
    pub unendorsed: SigningKey,
    /// Never published.
    pub rogue: SigningKey,
}

impl KeySet {
    /// The keys for `bits`, made on first use in this process.
    pub fn shared(bits: usize) -> Result<Arc<KeySet>, String> {
        static CACHE: OnceLock<Mutex<HashMap<usize, Arc<KeySet>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        let mut map = cache.lock();
        if let Some(k) = map.get(&bits) {
            return Ok(k.clone());
        }
        let set = Arc::new(KeySet {
            endorsed: SigningKey::generate(&format!("emu-msteams-{bits}"), bits)?,
            unendorsed: SigningKey::generate(&format!("emu-webchat-{bits}"), bits)?,
            rogue: SigningKey::generate(&format!("emu-rogue-{bits}"), bits)?,
        });
        map.insert(bits, set.clone());
        Ok(set)
    }

    /// The JWKS document (`{"keys":[…]}`).
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.endorsed.jwk(&["msteams"]), self.unendorsed.jwk(&["webchat"])]})
    }
}
