//! TLS set-up: herald uses rustls with the `ring` provider (it builds with a C compiler alone).

/// Install `ring` as the process's rustls crypto provider. Idempotent; call before building any HTTP client.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
