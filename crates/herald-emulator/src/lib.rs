//! An in-memory emulator of the Genesys Cloud APIs, the Bot Connector and Microsoft Graph, for offline development and tests.
