//! [`Outbox`] for [`PostgresStore`]: one row per record, the record's JSON plus the columns its indexes need.
//!
//! Every read is one indexed statement with a `LIMIT`; every write is one transaction committed before the call
//! returns. The semantics are those of the in-memory reference backend (see `herald_core::store::memory`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_core::notification::{Notification, NotificationStatus, OutboxRecord, Transition};
use herald_core::store::{page_size, Enqueued, Outbox, OutboxFilter, MAX_PAGE};
use herald_core::StoreError;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::db::{failed, from_json, limit_param, seq_param, storable, to_json};
use crate::instant::split;
use crate::PostgresStore;

/// Final records removed per statement, so a big purge holds few row locks at a time.
const PURGE_CHUNK: i64 = 500;

/// When a record last changed: its newest history entry (or its creation, for a record without history).
pub(crate) fn last_change(record: &OutboxRecord) -> DateTime<Utc> {
    record.history.last().map_or(record.notification.created_at, |h| h.at)
}

/// Decode the `record` column of each row (read as text), naming the record on failure.
fn records(rows: &[tokio_postgres::Row]) -> Result<Vec<OutboxRecord>, StoreError> {
    rows.iter()
        .map(|row| {
            let text: &str = row.get(0);
            from_json(text, || format!("herald_outbox/{}", row.get::<_, Uuid>(1)))
        })
        .collect()
}

impl PostgresStore {
    /// Rows of `sql` (which selects `record::text, id`) decoded as records.
    async fn select_records(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(failed(what))?;
        let rows = client.query(&statement, params).await.map_err(failed(what))?;
        records(&rows)
    }
}

#[async_trait]
impl Outbox for PostgresStore {
    async fn enqueue(&self, notification: Notification) -> Result<Enqueued, StoreError> {
        if let Some(key) = &notification.idempotency_key {
            storable("the idempotency key", key)?;
        }
        storable("the integration name", &notification.integration)?;
        self.inner.enqueue.enqueue(notification).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<OutboxRecord>, StoreError> {
        let sql = "SELECT record::text, id FROM herald_outbox WHERE id = $1";
        Ok(self.select_records("outbox get", sql, &[&id]).await?.pop())
    }

    async fn get_by_idempotency_key(&self, key: &str) -> Result<Option<OutboxRecord>, StoreError> {
        if key.contains('\0') {
            return Ok(None); // never stored
        }
        let sql = "SELECT record::text, id FROM herald_outbox WHERE idempotency_key = $1";
        Ok(self.select_records("outbox get by idempotency key", sql, &[&key]).await?.pop())
    }

    async fn transition(&self, id: Uuid, transition: Transition) -> Result<OutboxRecord, StoreError> {
        if let Some(customer) = &transition.deferred_for {
            storable("the deferred-for customer id", customer)?;
        }
        let message = transition.receipt.as_ref().and_then(|r| r.upstream_message_id.as_deref());
        if let Some(message) = message {
            storable("the upstream message id", message)?;
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(failed("begin a transition"))?;
        let row = tx
            .query_opt("SELECT record::text FROM herald_outbox WHERE id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(failed("lock a record for a transition"))?
            .ok_or_else(|| StoreError::Missing(id.to_string()))?;
        let mut record: OutboxRecord = from_json(row.get(0), || format!("herald_outbox/{id}"))?;
        record.apply(&transition);
        let at = split(last_change(&record));
        let deferred_for = match record.status {
            NotificationStatus::Deferred => record.deferred_for.as_deref(),
            _ => None,
        };
        let json = to_json(&record, || format!("outbox/{id}"))?;
        tx.execute(
            "UPDATE herald_outbox SET status = $2, deferred_for = $3, last_change = $4, last_change_ns = $5,
                record = $6::text::json
             WHERE id = $1",
            &[&id, &record.status.as_str(), &deferred_for, &at.micros, &at.nanos, &json],
        )
        .await
        .map_err(failed("update a record"))?;
        if let (NotificationStatus::Delivered, Some(message)) = (transition.status, message) {
            // The first notification a message is attributed to keeps it.
            tx.execute(
                "INSERT INTO herald_outbox_attribution (integration, upstream_message_id, notification_id)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&record.notification.integration, &message, &id],
            )
            .await
            .map_err(failed("attribute an upstream message"))?;
        }
        tx.commit().await.map_err(failed("commit a transition"))?;
        Ok(record)
    }

    async fn unfinished(&self, after_seq: u64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
        let sql = "SELECT record::text, id FROM herald_outbox
                   WHERE status IN ('pending', 'attempting') AND seq > $1 ORDER BY seq LIMIT $2";
        let params: [&(dyn ToSql + Sync); 2] = [&seq_param(after_seq), &limit_param(page_size(limit))];
        self.select_records("outbox unfinished", sql, &params).await
    }

    async fn deferred_for(&self, integration: &str, customer: &str) -> Result<Vec<OutboxRecord>, StoreError> {
        if integration.contains('\0') || customer.contains('\0') {
            return Ok(Vec::new());
        }
        let sql = "SELECT record::text, id FROM herald_outbox
                   WHERE status = 'deferred' AND integration = $1 AND deferred_for = $2 ORDER BY seq LIMIT $3";
        let params: [&(dyn ToSql + Sync); 3] = [&integration, &customer, &limit_param(MAX_PAGE)];
        self.select_records("outbox deferred_for", sql, &params).await
    }

    async fn list(&self, filter: &OutboxFilter) -> Result<Vec<OutboxRecord>, StoreError> {
        if filter.integration.as_deref().is_some_and(|i| i.contains('\0')) {
            return Ok(Vec::new());
        }
        let before = seq_param(filter.before_seq.unwrap_or(u64::MAX));
        let limit = limit_param(page_size(filter.limit));
        let status = filter.status.map(NotificationStatus::as_str);
        // One statement text per combination of filters, so each is planned for its own index.
        let mut sql = String::from("SELECT record::text, id FROM herald_outbox WHERE seq < $1");
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&before, &limit];
        if let Some(status) = &status {
            params.push(status);
            sql.push_str(&format!(" AND status = ${}", params.len()));
        }
        if let Some(integration) = &filter.integration {
            params.push(integration);
            sql.push_str(&format!(" AND integration = ${}", params.len()));
        }
        sql.push_str(" ORDER BY seq DESC LIMIT $2");
        self.select_records("outbox list", &sql, &params).await
    }

    async fn attributed(&self, integration: &str, upstream_message_id: &str) -> Result<Option<Uuid>, StoreError> {
        if integration.contains('\0') || upstream_message_id.contains('\0') {
            return Ok(None);
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT notification_id FROM herald_outbox_attribution
                 WHERE integration = $1 AND upstream_message_id = $2",
            )
            .await
            .map_err(failed("prepare an attribution lookup"))?;
        let row = client
            .query_opt(&statement, &[&integration, &upstream_message_id])
            .await
            .map_err(failed("look up an attribution"))?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn purge_final(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let cutoff = split(before);
        let client = self.client().await?;
        // Each chunk is its own statement and transaction; `FOR UPDATE` re-checks the condition on a row changed
        // meanwhile, and deleting a record removes its idempotency key (same row) and attributions (cascade).
        let statement = client
            .prepare_cached(
                "WITH doomed AS (
                    SELECT seq FROM herald_outbox
                    WHERE status IN ('delivered', 'failed', 'expired') AND (last_change, last_change_ns) < ($1, $2)
                    ORDER BY last_change, last_change_ns LIMIT $3
                    FOR UPDATE SKIP LOCKED)
                 DELETE FROM herald_outbox o USING doomed WHERE o.seq = doomed.seq",
            )
            .await
            .map_err(failed("prepare a purge"))?;
        let mut removed = 0usize;
        loop {
            let n = client
                .execute(&statement, &[&cutoff.micros, &cutoff.nanos, &PURGE_CHUNK])
                .await
                .map_err(failed("purge final records"))?;
            removed += usize::try_from(n).unwrap_or(usize::MAX);
            if n < PURGE_CHUNK as u64 {
                return Ok(removed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_core::notification::Content;
    use herald_core::target::Target;

    #[test]
    fn last_change_is_the_newest_history_entry() {
        let at = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        let n = Notification {
            id: Uuid::new_v4(),
            idempotency_key: None,
            integration: "wm".into(),
            target: Target::Customer { id: "ec".into() },
            content: Content::Text { text: "hi".into() },
            created_at: at,
            expires_at: None,
            closed_policy: None,
            rule: None,
        };
        let mut r = OutboxRecord::new(n, 1);
        assert_eq!(last_change(&r), at);
        let later = at + chrono::TimeDelta::seconds(5);
        r.apply(&Transition::to(NotificationStatus::Delivered, later, "done"));
        assert_eq!(last_change(&r), later);
        r.history.clear();
        assert_eq!(last_change(&r), at, "without history: its creation");
    }
}
