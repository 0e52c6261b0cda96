//! herald adapter for Genesys Cloud web messaging: agent-side sends, agentless messages, and the guest protocol
//! client (headless guests for tests and load tests).

pub mod guest;
