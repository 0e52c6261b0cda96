//! For a plugin's own unit tests: run an adapter's futures without a host, and make deliveries.
//!
//! ```ignore
//! let adapter = MyPlugin::create(CreateContext::detached("test"), json!({"path": "/tmp/x"})).expect("settings");
//! let receipt = block_on(adapter.deliver(text_delivery("order-1", "customer-1", "hello"))).expect("delivered");
//! ```

use std::future::Future;
use std::time::Duration;

use herald_core::{Content, Delivery, DeliveryMode, Notification, Target};

/// Run `future` to completion on the plugin's own runtime (the one herald's calls run on).
///
/// # Panics
/// If the runtime cannot start (a test helper: there is nothing else to do then).
pub fn block_on<F: Future>(future: F) -> F::Output {
    match super::runtime::runtime() {
        Ok(rt) => rt.block_on(future),
        Err(e) => panic!("{e}"),
    }
}

/// A first attempt of a text notification to a customer, with idempotency key `key` and 30 s to go.
pub fn text_delivery(key: &str, customer: &str, text: &str) -> Delivery {
    let notification = Notification {
        id: uuid::Uuid::new_v4(),
        idempotency_key: Some(key.to_string()),
        integration: "test".into(),
        target: Target::Customer { id: customer.to_string() },
        content: Content::Text { text: text.to_string() },
        created_at: chrono::Utc::now(),
        expires_at: None,
        closed_policy: None,
        rule: None,
    };
    Delivery::new(notification, DeliveryMode::Normal, 1, Duration::from_secs(30))
}
