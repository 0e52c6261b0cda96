//! Building the `Receipt` a delivery returns.

use herald_core::Receipt;

/// A receipt for a message the upstream accepted now: its id there, the conversation when known, and the route
/// name shown in herald's history (e.g. `open_messaging`).
pub fn receipt(upstream_message_id: impl Into<String>, conversation_id: Option<String>, route: &str) -> Receipt {
    Receipt {
        upstream_message_id: Some(upstream_message_id.into()),
        conversation_id,
        route: route.to_string(),
        delivered_at: chrono::Utc::now(),
    }
}

/// The one candidate of `confirm_delivery` when the upstream found the earlier attempt, or none.
pub fn candidates(found: Option<Receipt>) -> Vec<Receipt> {
    found.into_iter().collect()
}
