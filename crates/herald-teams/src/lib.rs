//! herald adapter for Microsoft Teams: a Bot Framework bot and Graph presence sync with Genesys Cloud.
