//! Periodic maintenance: expire deferred notifications past their expiry, purge old sessions and final
//! notifications (on a blocking thread). Deferred records are read a page at a time (newest first, by outbox sequence), so a large backlog
//! never has to fit in memory at once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::store::MAX_PAGE;
use herald_core::{NotificationStatus, Outbox, OutboxFilter, SessionStore, StoreError, Transition};
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// The task's name.
pub const TASK: &str = "maintenance";

/// What maintenance keeps and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Closed sessions are purged after this many days.
    pub session_days: u32,
    /// Final notifications are purged after this many days.
    pub outbox_days: u32,
    /// Notifications without `expires_at` expire after this many hours (0 = never).
    pub default_expiry_hours: u64,
}

/// Every minute until `stop`: one maintenance pass.
pub async fn run(outbox: Arc<dyn Outbox>, sessions: Arc<dyn SessionStore>, keep: Retention, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let now = Utc::now();
        if let Err(e) = expire_deferred(outbox.as_ref(), keep.default_expiry_hours, now).await {
            warn!(error = %e, "Could not expire deferred notifications; trying again in a minute.");
        }
        purge(outbox.clone(), sessions.clone(), keep, now).await;
    }
}

/// Purge old closed sessions and old final notifications on a blocking thread: a purge after a busy week walks
/// many records (the sled backend does it in chunks without awaiting), which must not hold an async worker.
async fn purge(outbox: Arc<dyn Outbox>, sessions: Arc<dyn SessionStore>, keep: Retention, now: DateTime<Utc>) {
    let handle = tokio::runtime::Handle::current();
    let sessions_before = now - chrono::Duration::days(i64::from(keep.session_days));
    let outbox_before = now - chrono::Duration::days(i64::from(keep.outbox_days));
    let done = tokio::task::spawn_blocking(move || {
        handle
            .block_on(async { (sessions.purge_closed(sessions_before).await, outbox.purge_final(outbox_before).await) })
    })
    .await;
    match done {
        Ok((sessions, outbox)) => {
            if let Err(e) = sessions {
                warn!(error = %e, "Could not purge old sessions.");
            }
            if let Err(e) = outbox {
                warn!(error = %e, "Could not purge old notifications.");
            }
        }
        Err(e) => warn!(error = %e, "The purge thread failed; trying again in a minute."),
    }
}

/// Move every deferred notification whose expiry has passed to `expired`, one page at a time. Returns how many.
pub async fn expire_deferred(
    outbox: &dyn Outbox,
    default_expiry_hours: u64,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut expired = 0;
    let mut before_seq = None;
    loop {
        let filter =
            OutboxFilter { status: Some(NotificationStatus::Deferred), integration: None, before_seq, limit: MAX_PAGE };
        let page = outbox.list(&filter).await?;
        let Some(oldest) = page.iter().map(|r| r.seq).min() else { return Ok(expired) };
        for record in &page {
            let expires_at = record.notification.expires_at.or_else(|| {
                (default_expiry_hours > 0).then(|| {
                    let hours = i64::try_from(default_expiry_hours).unwrap_or(i64::MAX);
                    record.notification.created_at
                        + chrono::TimeDelta::try_hours(hours).unwrap_or(chrono::TimeDelta::MAX)
                })
            });
            if expires_at.is_some_and(|e| e <= now) {
                let t = Transition::to(
                    NotificationStatus::Expired,
                    now,
                    "the customer did not come back before the notification expired",
                );
                outbox.transition(record.id(), t).await?;
                expired += 1;
            }
        }
        if page.len() < MAX_PAGE {
            return Ok(expired);
        }
        before_seq = Some(oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::store::memory::MemoryOutbox;
    use herald_core::{Notification, Target};

    #[tokio::test]
    async fn pages_through_more_deferred_records_than_one_page() {
        let outbox = MemoryOutbox::default();
        let total = MAX_PAGE + 7;
        for i in 0..total {
            let n = Notification {
                id: uuid::Uuid::new_v4(),
                idempotency_key: None,
                integration: "web".into(),
                target: Target::Customer { id: format!("c-{i}") },
                content: herald_core::Content::Text { text: "x".into() },
                created_at: Utc::now() - chrono::Duration::hours(10),
                expires_at: None,
                closed_policy: None,
                rule: None,
            };
            let record = outbox.enqueue(n).await.expect("enqueue").record().clone();
            let mut t = Transition::to(NotificationStatus::Deferred, Utc::now(), "closed");
            t.deferred_for = Some(format!("c-{i}"));
            outbox.transition(record.id(), t).await.expect("defer");
        }
        // Nothing is due yet with a 72 h default expiry; with 1 h everything is, across two pages.
        assert_eq!(expire_deferred(&outbox, 72, Utc::now()).await.expect("pass"), 0);
        assert_eq!(expire_deferred(&outbox, 1, Utc::now()).await.expect("pass"), total);
        let left = outbox
            .list(&OutboxFilter { status: Some(NotificationStatus::Deferred), ..OutboxFilter::default() })
            .await
            .expect("list");
        assert!(left.is_empty());
    }
}

#[cfg(test)]
mod purge_tests {
    use super::*;
    use herald_core::store::memory::{MemoryOutbox, MemorySessionStore};
    use herald_core::{Notification, Target};

    #[tokio::test]
    async fn purges_old_final_records_off_the_async_threads() {
        let outbox: Arc<dyn Outbox> = Arc::new(MemoryOutbox::default());
        let sessions: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::default());
        let n = Notification {
            id: uuid::Uuid::new_v4(),
            idempotency_key: None,
            integration: "web".into(),
            target: Target::Customer { id: "c".into() },
            content: herald_core::Content::Text { text: "x".into() },
            created_at: Utc::now(),
            expires_at: None,
            closed_policy: None,
            rule: None,
        };
        let id = outbox.enqueue(n).await.expect("enqueue").record().id();
        let old = Utc::now() - chrono::Duration::days(40);
        outbox.transition(id, Transition::to(NotificationStatus::Failed, old, "gave up")).await.expect("fail");
        let keep = Retention { session_days: 7, outbox_days: 30, default_expiry_hours: 72 };
        purge(outbox.clone(), sessions, keep, Utc::now()).await;
        assert!(outbox.get(id).await.expect("get").is_none(), "purged");
    }
}
