//! One end-to-end test per story: the same scenarios `herald demo` plays (emulator + herald in-process, real guest
//! WebSocket protocol), each asserting on what the guest received.

#![cfg(feature = "webmessaging")]

use herald::demo::{play, DemoArgs, Timeline};

async fn story(n: u8) {
    let outcomes = play(&DemoArgs { only: vec![n] }, &Timeline::new()).await.expect("the demo world starts");
    assert_eq!(outcomes.len(), 1, "story {n} should have run");
    if let Err(reason) = &outcomes[0].result {
        panic!("story {n} ({}) failed: {reason}", outcomes[0].title);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story1_business_event_becomes_a_proactive_message() {
    story(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story2_teams_presence_messages_the_agents_customers() {
    story(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story3_fifty_headless_guests_exchange_messages() {
    story(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story4_canned_greeting_after_queue_wait() {
    story(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn story5_closed_session_defers_until_the_customer_returns() {
    story(5).await;
}
