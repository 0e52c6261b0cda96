//! Conformance cases for [`Outbox`].

use std::collections::BTreeSet;
use std::sync::Arc;

use uuid::Uuid;

use super::{at, join_all, ok, Harness};
use crate::error::StoreError;
use crate::notification::{Content, Notification, NotificationStatus, OutboxRecord, Receipt, Transition};
use crate::store::{Enqueued, Outbox, OutboxFilter};
use crate::target::Target;

/// A text notification for a customer of `integration`, created at `at(0)`.
fn notification(integration: &str, customer: &str, key: Option<&str>) -> Notification {
    Notification {
        id: Uuid::new_v4(),
        idempotency_key: key.map(str::to_string),
        integration: integration.into(),
        target: Target::Customer { id: customer.into() },
        content: Content::Text { text: format!("Your order for {customer} has shipped") },
        created_at: at(0),
        expires_at: Some(at(86_400)),
        closed_policy: None,
        rule: Some("order-shipped".into()),
    }
}

async fn enqueue<O: Outbox>(outbox: &O, n: Notification) -> OutboxRecord {
    match ok(outbox.enqueue(n).await, "enqueue") {
        Enqueued::Created(r) => r,
        Enqueued::Existing(r) => panic!("expected a new record, got existing {}", r.id()),
    }
}

async fn to<O: Outbox>(outbox: &O, id: Uuid, status: NotificationStatus, secs: i64) -> OutboxRecord {
    ok(outbox.transition(id, Transition::to(status, at(secs), format!("to {}", status.as_str()))).await, "transition")
}

async fn defer<O: Outbox>(outbox: &O, id: Uuid, customer: &str, secs: i64) -> OutboxRecord {
    let t = Transition {
        deferred_for: Some(customer.into()),
        ..Transition::to(NotificationStatus::Deferred, at(secs), "conversation closed; waiting for the next one")
    };
    ok(outbox.transition(id, t).await, "defer")
}

fn seqs(records: &[OutboxRecord]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

fn record_ids(records: &[OutboxRecord]) -> Vec<Uuid> {
    records.iter().map(|r| r.id()).collect()
}

/// A new notification becomes a pending record with one history entry, a positive seq and its content intact.
pub async fn outbox_enqueue_and_get<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    assert_eq!(ok(outbox.get(Uuid::new_v4()).await, "get unknown"), None);
    let n = notification("wm", "ec-1", None);
    let record = enqueue(&outbox, n.clone()).await;
    assert_eq!(record.notification, n, "the notification is stored unchanged");
    assert_eq!(record.status, NotificationStatus::Pending);
    assert_eq!(record.history.len(), 1, "acceptance is the first history entry");
    assert_eq!(record.attempts, 0);
    assert!(record.seq > 0, "seq starts above 0");
    assert_eq!(ok(outbox.get(n.id).await, "get"), Some(record.clone()));
    let second = enqueue(&outbox, notification("wm", "ec-1", None)).await;
    assert!(second.seq > record.seq, "seq increases with every enqueue");
    assert_eq!(ok(outbox.get_by_idempotency_key("nope").await, "by key"), None);
}

/// The same idempotency key never creates a second record: the first one is returned unchanged, even after it
/// changed state. The same notification id counts as the same notification too.
pub async fn outbox_idempotency<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let first = enqueue(&outbox, notification("wm", "ec-1", Some("order-17"))).await;
    let retry = ok(outbox.enqueue(notification("wm", "ec-1", Some("order-17"))).await, "retry");
    assert_eq!(retry, Enqueued::Existing(first.clone()), "same key: the existing record");
    let delivered = to(&outbox, first.id(), NotificationStatus::Delivered, 10).await;
    let late = ok(outbox.enqueue(notification("chat", "ec-2", Some("order-17"))).await, "late retry");
    assert_eq!(late, Enqueued::Existing(delivered), "same key after delivery: still the existing record");
    assert_eq!(ok(outbox.get_by_idempotency_key("order-17").await, "by key").map(|r| r.id()), Some(first.id()));
    let same_id = ok(outbox.enqueue(first.notification.clone()).await, "same id");
    assert!(matches!(same_id, Enqueued::Existing(ref r) if r.id() == first.id()), "same id: existing");
    let other = enqueue(&outbox, notification("wm", "ec-1", Some("order-18"))).await;
    assert_ne!(other.id(), first.id());
    enqueue(&outbox, notification("wm", "ec-1", None)).await;
    enqueue(&outbox, notification("wm", "ec-1", None)).await;
    assert_eq!(ok(outbox.list(&OutboxFilter::default()).await, "list").len(), 4, "keyless notifications are all new");
}

/// Many callers enqueueing the same key at once: exactly one `Created`, everyone gets the same record.
pub async fn outbox_concurrent_idempotency<H: Harness>(h: &H) {
    const CALLERS: usize = 32;
    let outbox = Arc::new(h.outbox().await);
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let outbox = Arc::clone(&outbox);
        tasks.push(tokio::spawn(async move {
            ok(outbox.enqueue(notification("wm", "ec-1", Some("same-key"))).await, "concurrent enqueue")
        }));
    }
    let results = join_all(tasks, "enqueue task").await;
    let created = results.iter().filter(|r| matches!(r, Enqueued::Created(_))).count();
    assert_eq!(created, 1, "exactly one caller creates the record");
    let ids: BTreeSet<Uuid> = results.iter().map(|r| r.record().id()).collect();
    assert_eq!(ids.len(), 1, "every caller sees the same record");
    assert_eq!(ok(outbox.list(&OutboxFilter::default()).await, "list").len(), 1);
    assert_eq!(ok(outbox.unfinished(0, 0).await, "unfinished").len(), 1);
}

/// Many callers enqueueing at once: nothing lost, no seq handed out twice, `unfinished` in seq order.
pub async fn outbox_concurrent_enqueue_unique_seq<H: Harness>(h: &H) {
    const TASKS: usize = 16;
    const EACH: usize = 25;
    let outbox = Arc::new(h.outbox().await);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let outbox = Arc::clone(&outbox);
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..EACH {
                let key = (i % 2 == 0).then(|| format!("k-{t}-{i}"));
                let r = enqueue(&*outbox, notification("wm", &format!("ec-{t}"), key.as_deref())).await;
                mine.push((r.id(), r.seq));
            }
            mine
        }));
    }
    let accepted: Vec<(Uuid, u64)> = join_all(tasks, "enqueue task").await.into_iter().flatten().collect();
    let seqs_seen: BTreeSet<u64> = accepted.iter().map(|(_, s)| *s).collect();
    assert_eq!(seqs_seen.len(), TASKS * EACH, "no seq handed out twice");
    let unfinished = ok(outbox.unfinished(0, 0).await, "unfinished");
    assert_eq!(unfinished.len(), TASKS * EACH, "no accepted notification lost");
    let order = seqs(&unfinished);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "unfinished in enqueue (seq) order");
    for (id, seq) in &accepted {
        let Some(r) = ok(outbox.get(*id).await, "get") else { panic!("accepted notification {id} is missing") };
        assert_eq!(r.seq, *seq);
    }
}

/// Transitions apply in order, every change lands in the history with its reason, and an unknown id is `Missing`.
pub async fn outbox_transitions_and_history<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let id = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let attempt =
        Transition { count_attempt: true, ..Transition::to(NotificationStatus::Attempting, at(1), "attempt 1") };
    ok(outbox.transition(id, attempt).await, "attempting");
    let retry = Transition {
        next_attempt_at: Some(at(30)),
        ..Transition::to(NotificationStatus::Pending, at(2), "transient failure: 503; retrying")
    };
    let pending = ok(outbox.transition(id, retry).await, "back to pending");
    assert_eq!((pending.attempts, pending.next_attempt_at), (1, at(30)));
    let receipt = Receipt {
        upstream_message_id: Some("msg-1".into()),
        conversation_id: Some("conv-2".into()),
        route: "agent".into(),
        delivered_at: at(31),
    };
    let deliver = Transition {
        receipt: Some(receipt.clone()),
        retarget: Some(Target::Conversation { id: "conv-2".into() }),
        ..Transition::to(NotificationStatus::Delivered, at(31), "delivered as msg-1")
    };
    let returned = ok(outbox.transition(id, deliver).await, "delivered");
    let Some(stored) = ok(outbox.get(id).await, "get") else { panic!("record {id} vanished") };
    assert_eq!(stored, returned, "transition returns what is stored");
    assert_eq!(stored.status, NotificationStatus::Delivered);
    assert_eq!(stored.receipt, Some(receipt));
    assert_eq!(stored.notification.target, Target::Conversation { id: "conv-2".into() });
    let history: Vec<(NotificationStatus, &str)> =
        stored.history.iter().map(|h| (h.status, h.reason.as_str())).collect();
    assert_eq!(
        history,
        [
            (NotificationStatus::Pending, "accepted"),
            (NotificationStatus::Attempting, "attempt 1"),
            (NotificationStatus::Pending, "transient failure: 503; retrying"),
            (NotificationStatus::Delivered, "delivered as msg-1"),
        ]
    );
    let missing = outbox.transition(Uuid::new_v4(), Transition::to(NotificationStatus::Failed, at(1), "x")).await;
    assert!(matches!(missing, Err(StoreError::Missing(_))), "unknown id must be Missing, got {missing:?}");
}

/// `unfinished` lists pending and attempting records in enqueue order, without final or deferred ones, honouring
/// `limit` (0 = all).
pub async fn outbox_unfinished_in_enqueue_order<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(enqueue(&outbox, notification("wm", &format!("ec-{i}"), None)).await.id());
    }
    to(&outbox, ids[1], NotificationStatus::Delivered, 5).await;
    defer(&outbox, ids[2], "ec-2", 5).await;
    to(&outbox, ids[3], NotificationStatus::Attempting, 5).await;
    to(&outbox, ids[4], NotificationStatus::Failed, 5).await;
    to(&outbox, ids[0], NotificationStatus::Attempting, 6).await;
    to(&outbox, ids[0], NotificationStatus::Pending, 7).await;
    let all = ok(outbox.unfinished(0, 0).await, "unfinished");
    assert_eq!(record_ids(&all), [ids[0], ids[3], ids[5]], "pending and attempting, in enqueue order");
    let two = ok(outbox.unfinished(0, 2).await, "unfinished limit");
    assert_eq!(record_ids(&two), [ids[0], ids[3]]);
    to(&outbox, ids[2], NotificationStatus::Pending, 8).await;
    let all = ok(outbox.unfinished(0, 0).await, "unfinished");
    assert_eq!(record_ids(&all), [ids[0], ids[2], ids[3], ids[5]], "a resumed deferred record keeps its place");
}

/// `deferred_for` returns the records deferred for one customer of one integration, in enqueue order, and forgets
/// them once they move on.
pub async fn outbox_deferred_for_customer<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let a = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let other_customer = enqueue(&outbox, notification("wm", "ec-2", None)).await.id();
    let b = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let other_integration = enqueue(&outbox, notification("chat", "ec-1", None)).await.id();
    let pending = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    defer(&outbox, b, "ec-1", 1).await;
    defer(&outbox, a, "ec-1", 2).await;
    defer(&outbox, other_customer, "ec-2", 3).await;
    defer(&outbox, other_integration, "ec-1", 4).await;
    let found = ok(outbox.deferred_for("wm", "ec-1").await, "deferred_for");
    assert_eq!(record_ids(&found), [a, b], "enqueue order, this integration and customer only");
    assert!(found.iter().all(|r| r.deferred_for.as_deref() == Some("ec-1")));
    assert_eq!(record_ids(&ok(outbox.deferred_for("chat", "ec-1").await, "deferred_for")), [other_integration]);
    assert!(ok(outbox.deferred_for("wm", "ec-3").await, "deferred_for").is_empty());
    assert!(ok(outbox.deferred_for("wm", "ec").await, "deferred_for").is_empty(), "a prefix must not match");
    let resume = Transition {
        retarget: Some(Target::Conversation { id: "conv-new".into() }),
        ..Transition::to(NotificationStatus::Pending, at(10), "customer is back in conv-new")
    };
    let resumed = ok(outbox.transition(a, resume).await, "resume");
    assert_eq!(resumed.deferred_for, None, "leaving deferred clears the customer");
    assert_eq!(record_ids(&ok(outbox.deferred_for("wm", "ec-1").await, "deferred_for")), [b]);
    assert_eq!(record_ids(&ok(outbox.unfinished(0, 0).await, "unfinished")), [a, pending]);
    // Re-deferring for another customer moves the record between customers.
    defer(&outbox, b, "ec-9", 11).await;
    assert!(ok(outbox.deferred_for("wm", "ec-1").await, "deferred_for").is_empty());
    assert_eq!(record_ids(&ok(outbox.deferred_for("wm", "ec-9").await, "deferred_for")), [b]);
}

/// `list` filters by status and integration, newest first, honouring `limit`.
pub async fn outbox_list_filters<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let integration = if i % 2 == 0 { "wm" } else { "chat" };
        ids.push(enqueue(&outbox, notification(integration, "ec-1", None)).await.id());
    }
    to(&outbox, ids[0], NotificationStatus::Delivered, 1).await;
    to(&outbox, ids[3], NotificationStatus::Delivered, 1).await;
    to(&outbox, ids[4], NotificationStatus::Attempting, 1).await;
    let list = |filter: OutboxFilter| {
        let outbox = &outbox;
        async move { record_ids(&ok(outbox.list(&filter).await, "list")) }
    };
    assert_eq!(list(OutboxFilter::default()).await, [ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]], "newest first");
    let delivered = OutboxFilter { status: Some(NotificationStatus::Delivered), ..OutboxFilter::default() };
    assert_eq!(list(delivered.clone()).await, [ids[3], ids[0]]);
    let wm_delivered = OutboxFilter { integration: Some("wm".into()), ..delivered };
    assert_eq!(list(wm_delivered).await, [ids[0]]);
    let pending = OutboxFilter { status: Some(NotificationStatus::Pending), ..OutboxFilter::default() };
    assert_eq!(list(pending.clone()).await, [ids[5], ids[2], ids[1]]);
    assert_eq!(list(OutboxFilter { limit: 2, ..pending }).await, [ids[5], ids[2]]);
    let attempting = OutboxFilter { status: Some(NotificationStatus::Attempting), ..OutboxFilter::default() };
    assert_eq!(list(attempting).await, [ids[4]]);
    assert_eq!(
        list(OutboxFilter { integration: Some("chat".into()), limit: 1, ..OutboxFilter::default() }).await,
        [ids[5]]
    );
}

/// `purge_final` removes final records whose last change is older than the cutoff, frees their idempotency keys,
/// and leaves everything else alone.
pub async fn outbox_purge_final<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let delivered = enqueue(&outbox, notification("wm", "ec-1", Some("k-delivered"))).await.id();
    let failed = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let expired_recently = enqueue(&outbox, notification("wm", "ec-1", Some("k-recent"))).await.id();
    let pending = enqueue(&outbox, notification("wm", "ec-1", Some("k-pending"))).await.id();
    let deferred = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    to(&outbox, delivered, NotificationStatus::Delivered, 100).await;
    to(&outbox, failed, NotificationStatus::Failed, 200).await;
    to(&outbox, expired_recently, NotificationStatus::Expired, 900).await;
    defer(&outbox, deferred, "ec-1", 50).await;
    assert_eq!(ok(outbox.purge_final(at(500)).await, "purge"), 2, "only old final records");
    assert_eq!(ok(outbox.get(delivered).await, "get"), None);
    assert_eq!(ok(outbox.get(failed).await, "get"), None);
    assert!(ok(outbox.get(expired_recently).await, "get").is_some());
    assert!(ok(outbox.get(pending).await, "get").is_some());
    assert_eq!(ok(outbox.get_by_idempotency_key("k-delivered").await, "by key"), None, "key freed with its record");
    assert!(ok(outbox.get_by_idempotency_key("k-pending").await, "by key").is_some());
    let again = ok(outbox.enqueue(notification("wm", "ec-1", Some("k-delivered"))).await, "reuse key");
    assert!(matches!(again, Enqueued::Created(_)), "a purged key may be used again");
    assert_eq!(record_ids(&ok(outbox.unfinished(0, 0).await, "unfinished")), [pending, again.record().id()]);
    assert_eq!(record_ids(&ok(outbox.deferred_for("wm", "ec-1").await, "deferred")), [deferred]);
    assert_eq!(ok(outbox.list(&OutboxFilter::default()).await, "list").len(), 4);
    assert_eq!(ok(outbox.purge_final(at(500)).await, "purge again"), 0);
    assert_eq!(ok(outbox.purge_final(at(901)).await, "purge later"), 1);
}

/// Dispatcher-like load: tasks move records through attempting to a final state while others enqueue; afterwards
/// `unfinished` holds exactly the records still pending.
pub async fn outbox_concurrent_transitions<H: Harness>(h: &H) {
    let outbox = Arc::new(h.outbox().await);
    let mut ids = Vec::new();
    for i in 0..64 {
        ids.push(enqueue(&*outbox, notification("wm", &format!("ec-{i}"), None)).await.id());
    }
    let mut tasks = Vec::new();
    for (n, chunk) in ids.chunks(8).enumerate() {
        let outbox = Arc::clone(&outbox);
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut fresh = Vec::new();
            for id in chunk {
                to(&*outbox, id, NotificationStatus::Attempting, 1).await;
                to(&*outbox, id, NotificationStatus::Delivered, 2).await;
                fresh.push(enqueue(&*outbox, notification("wm", &format!("new-{n}"), None)).await.id());
            }
            fresh
        }));
    }
    let fresh: BTreeSet<Uuid> = join_all(tasks, "transition task").await.into_iter().flatten().collect();
    let unfinished: BTreeSet<Uuid> = record_ids(&ok(outbox.unfinished(0, 0).await, "unfinished")).into_iter().collect();
    assert_eq!(unfinished, fresh, "exactly the new records are unfinished");
    for id in &ids {
        let r = ok(outbox.get(*id).await, "get");
        assert_eq!(r.map(|r| (r.status, r.history.len())), Some((NotificationStatus::Delivered, 3)));
    }
}

/// Closing and reopening keeps every record, index and idempotency key, and seq keeps increasing, even after every
/// record was purged (skipped, with a message, for backends that keep nothing across a close).
pub async fn outbox_reopen_keeps_everything<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let pending = enqueue(&outbox, notification("wm", "ec-1", Some("k-1"))).await;
    let attempting = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let deferred = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let delivered = enqueue(&outbox, notification("wm", "ec-1", Some("k-4"))).await.id();
    to(&outbox, attempting, NotificationStatus::Attempting, 1).await;
    defer(&outbox, deferred, "ec-1", 2).await;
    to(&outbox, delivered, NotificationStatus::Delivered, 3).await;
    let before = ok(outbox.list(&OutboxFilter::default()).await, "list");
    let max_seq = before.iter().map(|r| r.seq).max().unwrap_or_default();
    let Some(outbox) = h.reopen_outbox(outbox).await else {
        eprintln!("outbox_reopen_keeps_everything: skipped, this backend keeps nothing across a close");
        return;
    };
    assert_eq!(ok(outbox.list(&OutboxFilter::default()).await, "list after reopen"), before, "every record kept");
    assert_eq!(
        record_ids(&ok(outbox.unfinished(0, 0).await, "unfinished")),
        [pending.id(), attempting],
        "crash recovery"
    );
    assert_eq!(record_ids(&ok(outbox.deferred_for("wm", "ec-1").await, "deferred")), [deferred]);
    let retry = ok(outbox.enqueue(notification("wm", "ec-1", Some("k-1"))).await, "retry after reopen");
    assert_eq!(retry, Enqueued::Existing(pending), "idempotency keys survive a reopen");
    let next = enqueue(&outbox, notification("wm", "ec-1", None)).await;
    assert!(next.seq > max_seq, "seq continues after a reopen ({} <= {max_seq})", next.seq);
    // Finish and purge everything: seq must still not go back after the next reopen.
    for r in ok(outbox.list(&OutboxFilter::default()).await, "list") {
        if !r.status.is_final() {
            to(&outbox, r.id(), NotificationStatus::Failed, 4).await;
        }
    }
    assert_eq!(ok(outbox.purge_final(at(10)).await, "purge all"), 5);
    let Some(outbox) = h.reopen_outbox(outbox).await else { panic!("the backend reopened once, but not twice") };
    assert!(ok(outbox.list(&OutboxFilter::default()).await, "list").is_empty(), "the purge survived the reopen");
    let after = enqueue(&outbox, notification("wm", "ec-1", Some("k-1"))).await;
    assert!(after.seq > next.seq, "seq must not restart after purging everything ({} <= {})", after.seq, next.seq);
}

/// `unfinished` pages by sequence number: consecutive pages cover every unfinished record once, in enqueue order,
/// and `list` pages newest first with `before_seq`, by status too.
pub async fn outbox_pages_with_cursors<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let mut ids = Vec::new();
    for _ in 0..23 {
        ids.push(enqueue(&outbox, notification("wm", "ec-1", None)).await.id());
    }
    for id in ids.iter().step_by(3) {
        to(&outbox, *id, NotificationStatus::Delivered, 10).await;
    }
    let unfinished: Vec<Uuid> = ids.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, id)| *id).collect();
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(outbox.unfinished(after, 5).await, "unfinished page");
        assert!(page.len() <= 5);
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(record_ids(&page));
    }
    assert_eq!(paged, unfinished, "unfinished pages in enqueue order");
    for status in [None, Some(NotificationStatus::Delivered), Some(NotificationStatus::Pending)] {
        let mut paged = Vec::new();
        let mut before_seq = None;
        loop {
            let filter = OutboxFilter { status, before_seq, limit: 4, ..OutboxFilter::default() };
            let page = ok(outbox.list(&filter).await, "list page");
            let Some(last) = page.last() else { break };
            before_seq = Some(last.seq);
            paged.extend(record_ids(&page));
        }
        let mut expected: Vec<Uuid> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| match status {
                None => true,
                Some(NotificationStatus::Delivered) => i % 3 == 0,
                Some(_) => i % 3 != 0,
            })
            .map(|(_, id)| *id)
            .collect();
        expected.reverse();
        assert_eq!(paged, expected, "list pages newest first for status {status:?}");
    }
}

/// Listings are bounded: `limit = 0` and huge limits return at most [`MAX_PAGE`](crate::store::MAX_PAGE) records.
pub async fn outbox_listings_are_bounded<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let n = crate::store::MAX_PAGE + 3;
    for _ in 0..n {
        enqueue(&outbox, notification("wm", "ec-1", None)).await;
    }
    assert_eq!(ok(outbox.unfinished(0, 0).await, "unfinished").len(), crate::store::MAX_PAGE);
    assert_eq!(ok(outbox.unfinished(0, n * 2).await, "unfinished").len(), crate::store::MAX_PAGE);
    assert_eq!(ok(outbox.list(&OutboxFilter::default()).await, "list").len(), crate::store::MAX_PAGE);
    let pending = OutboxFilter { status: Some(NotificationStatus::Pending), limit: n * 2, ..OutboxFilter::default() };
    assert_eq!(ok(outbox.list(&pending).await, "list").len(), crate::store::MAX_PAGE);
}

/// A delivered receipt attributes its upstream message (per integration) to its record, the first attribution
/// wins, failures attribute nothing, and a purge releases the attribution.
pub async fn outbox_attributes_upstream_messages<H: Harness>(h: &H) {
    let outbox = h.outbox().await;
    let a = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let b = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let c = enqueue(&outbox, notification("wm", "ec-1", None)).await.id();
    let deliver = |id: Uuid, message: &str, secs: i64| {
        let mut t = Transition::to(NotificationStatus::Delivered, at(secs), "delivered");
        t.receipt = Some(Receipt {
            upstream_message_id: Some(message.to_string()),
            conversation_id: None,
            route: "test".into(),
            delivered_at: at(secs),
        });
        let outbox = &outbox;
        async move { ok(outbox.transition(id, t).await, "deliver") }
    };
    assert_eq!(ok(outbox.attributed("wm", "m-1").await, "attributed"), None);
    deliver(a, "m-1", 10).await;
    assert_eq!(ok(outbox.attributed("wm", "m-1").await, "attributed"), Some(a));
    assert_eq!(ok(outbox.attributed("other", "m-1").await, "attributed"), None, "per integration");
    deliver(b, "m-1", 20).await;
    assert_eq!(ok(outbox.attributed("wm", "m-1").await, "attributed"), Some(a), "the first attribution wins");
    let mut failed = Transition::to(NotificationStatus::Failed, at(30), "failed");
    failed.receipt = Some(Receipt {
        upstream_message_id: Some("m-3".into()),
        conversation_id: None,
        route: "test".into(),
        delivered_at: at(30),
    });
    ok(outbox.transition(c, failed).await, "fail");
    assert_eq!(ok(outbox.attributed("wm", "m-3").await, "attributed"), None, "only deliveries attribute");
    ok(outbox.purge_final(at(1_000)).await, "purge");
    assert_eq!(ok(outbox.attributed("wm", "m-1").await, "attributed"), None, "released with its record");
    if let Some(outbox) = h.reopen_outbox(outbox).await {
        assert_eq!(ok(outbox.attributed("wm", "m-1").await, "attributed after reopen"), None);
    }
}
