//! The web messaging guest protocol client (headless guests).

pub use herald_genesys::region::{Environment, Region};
