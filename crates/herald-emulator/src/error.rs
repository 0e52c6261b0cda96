//! Errors of the emulator as a library (configuration, binding, serving).
//!
//! Errors answered to HTTP clients are [`crate::api_error::ApiError`]; this type is for the
//! embedding program.

use thiserror::Error;

/// Everything that can go wrong starting or running the emulator.
#[derive(Debug, Error)]
pub enum EmulatorError {
    /// The configuration is malformed or inconsistent.
    #[error("invalid emulator config: {0}")]
    Config(String),
    /// A file could not be read.
    #[error("cannot read {0}")]
    Io(String),
    /// The listen address could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("emulator server failed: {0}")]
    Serve(std::io::Error),
    /// A control operation named something that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A control operation was given an invalid argument.
    #[error("invalid argument: {0}")]
    Invalid(String),
}
