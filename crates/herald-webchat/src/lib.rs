//! herald adapter for Genesys Cloud legacy web chat: chat sends, canned responses and guest chat.
