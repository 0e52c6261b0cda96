//! `herald guests`: headless guests load-testing a web messaging (or web chat) deployment.
