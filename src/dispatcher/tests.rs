//! The dispatcher's guarantees, attacked with a scripted adapter over the in-memory outbox: unknown outcomes are
//! checked and never re-sent blindly, abandoned attempts are checked, failed checks never turn into resends, rate
//! limits never dead-letter, panics do not lose a key, same-text notifications are told apart, the queue stays
//! within its bound, and at-least-once adapters fall back to a resend.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use herald_core::store::memory::MemoryOutbox;
use herald_core::{
    ChannelContext, ChannelError, ClosedPolicy, Content, Delivery, DeliveryGuarantee, Health, MessagingChannel,
    Notification, NotificationStatus, Outbox, OutboxRecord, Receipt, Target, Transition,
};
use parking_lot::Mutex;
use uuid::Uuid;

use super::{Dispatcher, Route};
use crate::config::DispatcherConfig;

/// What the fake upstream does with one `deliver` call.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Store the message and answer.
    Ok,
    /// Store the message, then never answer (the dispatcher abandons it at the deadline).
    StoreThenHang,
    /// Store the message, then report an unknown outcome (a reset after the request was applied).
    StoreThenUnknown,
    /// Do not store; answer 429.
    RateLimited,
    /// Do not store; answer a transient failure.
    Transient,
    /// Panic before storing.
    Panic,
}

/// What one `confirm_delivery` call does.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Look at the stored messages.
    Look,
    /// Fail (upstream down).
    Fail,
}

#[derive(Default)]
struct Fake {
    upstream: Mutex<Vec<(String, String)>>,
    steps: Mutex<VecDeque<Step>>,
    checks: Mutex<VecDeque<Check>>,
    delivers: AtomicUsize,
    confirms: AtomicUsize,
    at_least_once: bool,
    dispatcher: Mutex<Option<Dispatcher>>,
    max_queued: AtomicUsize,
}

fn text_of(d: &Delivery) -> String {
    match &d.notification.content {
        Content::Text { text } => text.clone(),
        _ => String::new(),
    }
}

impl Fake {
    fn store(&self, text: String) -> String {
        let mut up = self.upstream.lock();
        let id = format!("m-{}", up.len() + 1);
        up.push((id.clone(), text));
        id
    }

    fn sent(&self, text: &str) -> usize {
        self.upstream.lock().iter().filter(|(_, t)| t == text).count()
    }
}

fn receipt(id: String) -> Receipt {
    Receipt { upstream_message_id: Some(id), conversation_id: None, route: "fake".into(), delivered_at: Utc::now() }
}

#[async_trait]
impl MessagingChannel for Fake {
    fn kind(&self) -> &str {
        "fake"
    }
    fn name(&self) -> &str {
        "fake"
    }
    async fn start(&self, _ctx: ChannelContext) -> Result<(), ChannelError> {
        Ok(())
    }
    async fn deliver(&self, delivery: &Delivery) -> Result<Receipt, ChannelError> {
        self.delivers.fetch_add(1, Ordering::SeqCst);
        if let Some(d) = self.dispatcher.lock().as_ref() {
            self.max_queued.fetch_max(d.queued(), Ordering::SeqCst);
        }
        let step = self.steps.lock().pop_front().unwrap_or(Step::Ok);
        match step {
            Step::Ok => Ok(receipt(self.store(text_of(delivery)))),
            Step::StoreThenHang => {
                self.store(text_of(delivery));
                std::future::pending::<()>().await;
                Err(ChannelError::permanent("unreachable"))
            }
            Step::StoreThenUnknown => {
                self.store(text_of(delivery));
                Err(ChannelError::outcome_unknown("connection reset after the request was written"))
            }
            Step::RateLimited => Err(ChannelError::RateLimited { retry_after: None, correlation_id: None }),
            Step::Transient => Err(ChannelError::transient("503")),
            Step::Panic => panic!("injected panic in deliver"),
        }
    }
    fn delivery_guarantee(&self) -> DeliveryGuarantee {
        if self.at_least_once {
            DeliveryGuarantee::AtLeastOnce
        } else {
            DeliveryGuarantee::ExactlyOnce
        }
    }
    async fn confirm_delivery(&self, delivery: &Delivery) -> Result<Vec<Receipt>, ChannelError> {
        self.confirms.fetch_add(1, Ordering::SeqCst);
        match self.checks.lock().pop_front().unwrap_or(Check::Look) {
            Check::Fail => Err(ChannelError::transient("upstream down")),
            Check::Look => {
                let text = text_of(delivery);
                Ok(self.upstream.lock().iter().filter(|(_, t)| *t == text).map(|(id, _)| receipt(id.clone())).collect())
            }
        }
    }
    async fn health(&self) -> Health {
        Health::healthy()
    }
    async fn shutdown(&self) {}
}

struct Rig {
    fake: Arc<Fake>,
    outbox: Arc<MemoryOutbox>,
    dispatcher: Dispatcher,
}

fn config() -> DispatcherConfig {
    DispatcherConfig {
        concurrency: 8,
        max_attempts: 3,
        backoff_initial_ms: 5,
        backoff_max_ms: 20,
        delivery_timeout_secs: 1,
        default_expiry_hours: 0,
        paused: false,
        queue_capacity: 1000,
    }
}

async fn rig(fake: Fake, config: DispatcherConfig) -> Rig {
    let fake = Arc::new(fake);
    let outbox = Arc::new(MemoryOutbox::default());
    let mut channels = HashMap::new();
    channels.insert("fake".to_string(), Route { channel: fake.clone(), closed_policy: ClosedPolicy::Fail });
    let dispatcher = Dispatcher::new(outbox.clone(), channels, config);
    *fake.dispatcher.lock() = Some(dispatcher.clone());
    Rig { fake, outbox, dispatcher }
}

fn notification(target: &str, text: &str) -> Notification {
    Notification {
        id: Uuid::new_v4(),
        idempotency_key: None,
        integration: "fake".into(),
        target: Target::Conversation { id: target.into() },
        content: Content::Text { text: text.into() },
        created_at: Utc::now(),
        expires_at: None,
        closed_policy: None,
        rule: None,
    }
}

impl Rig {
    async fn send(&self, target: &str, text: &str) -> Uuid {
        let record = self.outbox.enqueue(notification(target, text)).await.expect("enqueue").record().clone();
        self.dispatcher.schedule(record.clone());
        record.id()
    }

    async fn start(&self) {
        self.dispatcher.recover().await.expect("recover");
    }

    /// Wait (bounded) until every given record is final; returns them.
    async fn finished(&self, ids: &[Uuid]) -> Vec<OutboxRecord> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut records = Vec::new();
            for id in ids {
                records.push(self.outbox.get(*id).await.expect("get").expect("record"));
            }
            if records.iter().all(|r| r.status.is_final()) {
                return records;
            }
            assert!(tokio::time::Instant::now() < deadline, "not final in time: {records:#?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test]
async fn an_unknown_outcome_is_checked_and_not_sent_again() {
    let fake = Fake { steps: Mutex::new(VecDeque::from([Step::StoreThenUnknown])), ..Fake::default() };
    let rig = rig(fake, config()).await;
    rig.start().await;
    let id = rig.send("c1", "Your order shipped").await;
    let r = &rig.finished(&[id]).await[0];
    assert_eq!(r.status, NotificationStatus::Delivered, "{r:#?}");
    assert_eq!(rig.fake.sent("Your order shipped"), 1, "exactly one message upstream");
    assert_eq!(rig.fake.delivers.load(Ordering::SeqCst), 1);
    assert_eq!(rig.fake.confirms.load(Ordering::SeqCst), 1);
    assert_eq!(r.receipt.as_ref().and_then(|x| x.upstream_message_id.as_deref()), Some("m-1"));
}

#[tokio::test]
async fn an_abandoned_attempt_is_checked_not_repeated() {
    let fake = Fake { steps: Mutex::new(VecDeque::from([Step::StoreThenHang])), ..Fake::default() };
    let rig = rig(fake, config()).await;
    rig.start().await;
    let id = rig.send("c1", "slow answer").await;
    let r = &rig.finished(&[id]).await[0];
    assert_eq!(r.status, NotificationStatus::Delivered, "{r:#?}");
    assert_eq!(rig.fake.sent("slow answer"), 1);
    assert_eq!(rig.fake.delivers.load(Ordering::SeqCst), 1, "abandoned at the deadline, then checked");
}

#[tokio::test]
async fn a_failing_check_is_retried_and_never_becomes_a_resend() {
    let fake = Fake {
        steps: Mutex::new(VecDeque::from([Step::StoreThenUnknown])),
        checks: Mutex::new(VecDeque::from([Check::Fail; 6])),
        ..Fake::default()
    };
    let rig = rig(fake, config()).await;
    rig.start().await;
    let id = rig.send("c1", "checked later").await;
    let r = &rig.finished(&[id]).await[0];
    assert_eq!(r.status, NotificationStatus::Delivered, "{r:#?}");
    assert_eq!(rig.fake.delivers.load(Ordering::SeqCst), 1, "no resend while the check failed");
    assert_eq!(rig.fake.confirms.load(Ordering::SeqCst), 7);
}

#[tokio::test]
async fn a_check_that_finds_nothing_allows_one_new_attempt() {
    // The unknown outcome was in fact a failure before the upstream stored anything.
    let fake = Fake::default();
    let rig = rig(fake, config()).await;
    let record = rig.outbox.enqueue(notification("c1", "never arrived")).await.expect("enqueue").record().clone();
    let t = Transition::to(NotificationStatus::Attempting, Utc::now(), "attempt 1 (normal)");
    rig.outbox.transition(record.id(), t).await.expect("attempting, as after a crash");
    rig.start().await;
    let r = &rig.finished(&[record.id()]).await[0];
    assert_eq!(r.status, NotificationStatus::Delivered);
    assert_eq!(rig.fake.confirms.load(Ordering::SeqCst), 1, "checked first");
    assert_eq!(rig.fake.sent("never arrived"), 1);
}

#[tokio::test]
async fn a_rate_limit_storm_longer_than_max_attempts_never_dead_letters() {
    let fake = Fake { steps: Mutex::new(VecDeque::from([Step::RateLimited; 12])), ..Fake::default() };
    let rig = rig(fake, config()).await;
    rig.start().await;
    let id = rig.send("c1", "after the storm").await;
    let r = &rig.finished(&[id]).await[0];
    assert_eq!(r.status, NotificationStatus::Delivered, "{r:#?}");
    assert_eq!(r.attempts, 1, "rate-limited attempts are not counted");
    assert_eq!(rig.fake.delivers.load(Ordering::SeqCst), 13);
}

#[tokio::test]
async fn transient_failures_still_dead_letter_after_max_attempts() {
    let fake = Fake { steps: Mutex::new(VecDeque::from([Step::Transient; 5])), ..Fake::default() };
    let rig = rig(fake, config()).await;
    rig.start().await;
    let id = rig.send("c1", "down").await;
    let r = &rig.finished(&[id]).await[0];
    assert_eq!(r.status, NotificationStatus::Failed);
    assert_eq!(r.attempts, 3);
    assert!(r.history.last().is_some_and(|h| h.reason.contains("dead letter")), "{r:#?}");
}

#[tokio::test]
async fn a_panicking_attempt_keeps_its_key_and_is_checked() {
    let fake = Fake { steps: Mutex::new(VecDeque::from([Step::Panic])), ..Fake::default() };
    let rig = rig(fake, config()).await;
    rig.start().await;
    let first = rig.send("c1", "first").await;
    let second = rig.send("c1", "second").await;
    let records = rig.finished(&[first, second]).await;
    assert!(records.iter().all(|r| r.status == NotificationStatus::Delivered), "{records:#?}");
    assert_eq!(rig.fake.confirms.load(Ordering::SeqCst), 1, "the panicked attempt was checked");
    let delivered_at: Vec<_> = records.iter().map(|r| r.history.last().map(|h| h.at)).collect();
    assert!(delivered_at[0] <= delivered_at[1], "order kept after the panic");
    assert_eq!(rig.dispatcher.queued(), 0, "the key was released");
}

#[tokio::test]
async fn same_text_notifications_are_told_apart() {
    // The second notification's attempt is interrupted; the first one's identical message is attributed to it.
    let fake = Fake { steps: Mutex::new(VecDeque::from([Step::Ok, Step::StoreThenUnknown])), ..Fake::default() };
    let rig = rig(fake, config()).await;
    rig.start().await;
    let a = rig.send("c1", "same words").await;
    let b = rig.send("c1", "same words").await;
    let records = rig.finished(&[a, b]).await;
    assert!(records.iter().all(|r| r.status == NotificationStatus::Delivered), "{records:#?}");
    let ids: Vec<_> = records.iter().map(|r| r.receipt.as_ref().and_then(|x| x.upstream_message_id.clone())).collect();
    assert_eq!(ids, [Some("m-1".to_string()), Some("m-2".to_string())], "each keeps its own message");
    assert_eq!(rig.fake.sent("same words"), 2);
}

#[tokio::test]
async fn at_least_once_adapters_send_again_after_an_unknown_outcome() {
    let fake =
        Fake { steps: Mutex::new(VecDeque::from([Step::StoreThenUnknown])), at_least_once: true, ..Fake::default() };
    let rig = rig(fake, config()).await;
    rig.start().await;
    let id = rig.send("c1", "twice").await;
    assert_eq!(rig.finished(&[id]).await[0].status, NotificationStatus::Delivered);
    assert_eq!(rig.fake.sent("twice"), 2, "documented: at-least-once");
    assert_eq!(rig.fake.confirms.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_backlog_beyond_the_queue_bound_is_loaded_in_order_within_the_bound() {
    let config = DispatcherConfig { queue_capacity: 16, ..config() };
    let rig = rig(Fake::default(), config).await;
    let mut ids = Vec::new();
    for i in 0..600 {
        let n = notification(&format!("c{}", i % 7), &format!("n{i}"));
        ids.push(rig.outbox.enqueue(n).await.expect("enqueue").record().id());
    }
    rig.start().await;
    let records = rig.finished(&ids).await;
    assert!(records.iter().all(|r| r.status == NotificationStatus::Delivered));
    assert!(rig.fake.max_queued.load(Ordering::SeqCst) <= 16, "{}", rig.fake.max_queued.load(Ordering::SeqCst));
    // Per conversation, upstream order is enqueue order.
    let upstream = rig.fake.upstream.lock().clone();
    for c in 0..7 {
        let sent: Vec<usize> = upstream
            .iter()
            .filter_map(|(_, t)| t.strip_prefix('n').and_then(|n| n.parse::<usize>().ok()))
            .filter(|n| n % 7 == c)
            .collect();
        let mut sorted = sent.clone();
        sorted.sort_unstable();
        assert_eq!(sent, sorted, "conversation c{c} in order");
    }
    assert_eq!(upstream.len(), 600, "none twice");
}
