//! `herald doctor`: explains why a Genesys Cloud request will be rejected, and what the right one is.
