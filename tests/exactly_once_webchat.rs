//! Exactly-once delivery of the legacy web chat adapter under attack, against `herald serve` as a child process and
//! the emulator in-process: an answer delayed past the delivery timeout, SIGKILL after the upstream stored a send
//! and before herald recorded it, a SIGKILL loop under upstream latency, and a 429 storm (see
//! `exactly_once_support/attacks.rs`).

mod exactly_once_support;

use exactly_once_support::attacks::{self, LoopFault};
use exactly_once_support::Kind;

/// (a) Answer delayed past the delivery timeout: one message upstream, delivered with its receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_delayed_answer_is_delivered_once() {
    attacks::delayed_answer(Kind::WebChat).await;
}

/// (a') Connection dropped after the send took effect: one message upstream, delivered with its receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_dropped_answer_is_delivered_once() {
    attacks::dropped_answer(Kind::WebChat).await;
}

/// (e) A send held upstream past the delivery deadline and applied after herald gave up (within the deadline plus
/// `confirm_delay_ms`): one message upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_held_send_is_delivered_once() {
    attacks::held_send(Kind::WebChat).await;
}

/// (b) SIGKILL between "stored upstream" and "recorded", ten rounds: no duplicate, all delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_sigkill_after_store_sends_nothing_twice() {
    attacks::kill_after_store(Kind::WebChat).await;
}

/// (c) SIGKILL loop over 500 notifications with upstream latency: none lost, none duplicated, order kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_sigkill_loop_loses_and_duplicates_nothing() {
    attacks::kill_loop(Kind::WebChat, LoopFault::LatencyAfter).await;
}

/// (c') The same loop when every send is stored and then its connection is reset (every outcome unknown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_sigkill_loop_with_dropped_answers_loses_and_duplicates_nothing() {
    attacks::kill_loop(Kind::WebChat, LoopFault::DropAfter).await;
}

/// (d) 429 storm longer than max_attempts × backoff: nothing dead-lettered, all delivered once afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webchat_429_storm_dead_letters_nothing() {
    attacks::storm(Kind::WebChat).await;
}
