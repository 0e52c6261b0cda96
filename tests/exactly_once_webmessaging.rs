//! Exactly-once delivery of the web messaging adapter under attack, against `herald serve` as a child process and
//! the emulator in-process: an answer delayed past the delivery timeout, SIGKILL after the upstream stored a send
//! and before herald recorded it, a SIGKILL loop under upstream latency, and a 429 storm (see
//! `exactly_once_support/attacks.rs`).

mod exactly_once_support;

use exactly_once_support::attacks::{self, LoopFault};
use exactly_once_support::Kind;

/// (a) Answer delayed past the delivery timeout: one message upstream, delivered with its receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmessaging_delayed_answer_is_delivered_once() {
    attacks::delayed_answer(Kind::WebMessaging).await;
}

/// (a') Connection dropped after the send took effect: one message upstream, delivered with its receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmessaging_dropped_answer_is_delivered_once() {
    attacks::dropped_answer(Kind::WebMessaging).await;
}

/// (e) A send held upstream past the delivery deadline and applied after herald gave up (within the deadline plus
/// `confirm_delay_ms`): one message upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmessaging_held_send_is_delivered_once() {
    attacks::held_send(Kind::WebMessaging).await;
}

/// (b) SIGKILL between "stored upstream" and "recorded", ten rounds: no duplicate, all delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmessaging_sigkill_after_store_sends_nothing_twice() {
    attacks::kill_after_store(Kind::WebMessaging).await;
}

/// (c) SIGKILL loop over 500 notifications with upstream latency: none lost, none duplicated, order kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmessaging_sigkill_loop_loses_and_duplicates_nothing() {
    attacks::kill_loop(Kind::WebMessaging, LoopFault::LatencyAfter).await;
}

/// (c') The same loop when every send is stored and then its connection is reset (every outcome unknown).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmessaging_sigkill_loop_with_dropped_answers_loses_and_duplicates_nothing() {
    attacks::kill_loop(Kind::WebMessaging, LoopFault::DropAfter).await;
}

/// (d) 429 storm longer than max_attempts × backoff: nothing dead-lettered, all delivered once afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webmessaging_429_storm_dead_letters_nothing() {
    attacks::storm(Kind::WebMessaging).await;
}
