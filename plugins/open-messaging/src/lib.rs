//! A herald dynamic plugin: Genesys Open Messaging.
