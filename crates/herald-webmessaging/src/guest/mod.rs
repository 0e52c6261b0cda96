//! The web messaging guest protocol client (headless guests).
