//! Genesys Cloud client for herald: OAuth, regions, rate budget, retries, typed models and the notification stream.
