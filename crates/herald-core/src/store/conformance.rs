//! The conformance suite every store backend runs.
//!
//! One set of expectations for [`SessionStore`], [`Outbox`] and [`StateStore`], written once and run against each backend (the
//! in-memory reference, sled, and any later one such as PostgreSQL), so backends cannot drift apart. A backend
//! provides a [`Harness`] that opens fresh stores and, when it persists anything, reopens a closed one; then either
//! expands [`store_conformance_tests!`](crate::store_conformance_tests) in a test module (one `#[tokio::test]` per
//! case, so failures are reported by name) or calls [`run_all`].
//!
//! The cases are plain `pub async fn`s that panic with a message on the first violated expectation; they need no
//! test-only dependency. They use fixed instants (January 2026) and never sleep.

mod outbox;
mod sessions;
mod state;

pub use outbox::*;
pub use sessions::*;
pub use state::*;

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::store::{Outbox, SessionStore, StateStore};

/// How the suite gets stores from a backend.
#[async_trait]
pub trait Harness: Send + Sync + 'static {
    /// The session store type.
    type Sessions: SessionStore;
    /// The outbox type.
    type Outbox: Outbox;

    /// A new, empty session store.
    async fn sessions(&self) -> Self::Sessions;

    /// Close `store` (drop it and every resource it holds) and open the same one again. `None` means the
    /// backend keeps nothing across a close (the in-memory one); the suite then skips the reopen case and says so.
    async fn reopen_sessions(&self, store: Self::Sessions) -> Option<Self::Sessions>;

    /// A new, empty outbox.
    async fn outbox(&self) -> Self::Outbox;

    /// Close `outbox` and open the same one again; `None` when the backend keeps nothing across a close.
    async fn reopen_outbox(&self, outbox: Self::Outbox) -> Option<Self::Outbox>;

    /// The state store type.
    type State: StateStore;

    /// A new, empty state store.
    async fn state(&self) -> Self::State;

    /// Close `state` and open the same one again; `None` when the backend keeps nothing across a close.
    async fn reopen_state(&self, state: Self::State) -> Option<Self::State>;
}

/// Expand the whole suite as `#[tokio::test]`s (multi-threaded runtime, 2 workers). `$harness` is evaluated once per
/// test, so each case gets its own harness. The calling crate needs `tokio` with the `macros` and `rt-multi-thread`
/// features.
///
/// ```ignore
/// mod memory {
///     herald_core::store_conformance_tests!(MyHarness::new());
/// }
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    ($harness:expr) => {
        $crate::store_conformance_tests!(@cases $harness;
            session_upsert_get_replace,
            session_query_by_customer_any_id,
            session_query_by_agent,
            session_query_filters_limit_and_order,
            session_index_entries_follow_changes,
            session_purge_closed,
            session_reopen_keeps_everything,
            session_concurrent_writers,
            session_query_pages_with_cursor,
            session_query_is_bounded,
            outbox_enqueue_and_get,
            outbox_idempotency,
            outbox_concurrent_idempotency,
            outbox_concurrent_enqueue_unique_seq,
            outbox_transitions_and_history,
            outbox_unfinished_in_enqueue_order,
            outbox_deferred_for_customer,
            outbox_list_filters,
            outbox_purge_final,
            outbox_concurrent_transitions,
            outbox_reopen_keeps_everything,
            outbox_pages_with_cursors,
            outbox_listings_are_bounded,
            outbox_attributes_upstream_messages,
            state_put_get_versions_and_namespaces,
            state_compare_and_set,
            state_expiry_and_purge,
            state_concurrent_put_if_absent,
            state_list_pages_with_cursor,
            state_reopen_keeps_everything,
        );
    };
    (@cases $harness:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = $harness;
                $crate::store::conformance::$case(&harness).await;
            }
        )+
    };
}

/// Run every case in turn against one harness (for backends that prefer a single test).
pub async fn run_all<H: Harness>(harness: &H) {
    session_upsert_get_replace(harness).await;
    session_query_by_customer_any_id(harness).await;
    session_query_by_agent(harness).await;
    session_query_filters_limit_and_order(harness).await;
    session_index_entries_follow_changes(harness).await;
    session_purge_closed(harness).await;
    session_reopen_keeps_everything(harness).await;
    session_concurrent_writers(harness).await;
    outbox_enqueue_and_get(harness).await;
    outbox_idempotency(harness).await;
    outbox_concurrent_idempotency(harness).await;
    outbox_concurrent_enqueue_unique_seq(harness).await;
    outbox_transitions_and_history(harness).await;
    outbox_unfinished_in_enqueue_order(harness).await;
    outbox_deferred_for_customer(harness).await;
    outbox_list_filters(harness).await;
    outbox_purge_final(harness).await;
    outbox_concurrent_transitions(harness).await;
    outbox_reopen_keeps_everything(harness).await;
    session_query_pages_with_cursor(harness).await;
    session_query_is_bounded(harness).await;
    outbox_pages_with_cursors(harness).await;
    outbox_listings_are_bounded(harness).await;
    outbox_attributes_upstream_messages(harness).await;
    state_put_get_versions_and_namespaces(harness).await;
    state_compare_and_set(harness).await;
    state_expiry_and_purge(harness).await;
    state_concurrent_put_if_absent(harness).await;
    state_list_pages_with_cursor(harness).await;
    state_reopen_keeps_everything(harness).await;
}

/// 2026-01-01T00:00:00Z plus `secs` seconds: the suite's clock.
pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_225_600 + secs, 0).unwrap_or_default()
}

/// The value of a store call, or a panic naming the step.
pub(crate) fn ok<T, E: Debug>(result: Result<T, E>, step: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{step}: store call failed: {e:?}"),
    }
}

/// Await every spawned task, failing if one panicked.
pub(crate) async fn join_all<T>(tasks: Vec<tokio::task::JoinHandle<T>>, step: &str) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        out.push(ok(task.await, step));
    }
    out
}
