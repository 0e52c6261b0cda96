//! Enqueue batching: concurrent enqueues share one transaction, the way sled's committer shares one fsync.
//!
//! `enqueue` hands its notification to the [`Committer`] task and waits for the answer. The task takes every
//! request waiting (up to [`MAX_BATCH`]) and writes them in one transaction on one pooled connection:
//!
//! 1. look up the idempotency keys and ids already stored (those callers get [`Enqueued::Existing`]); requests of
//!    the same batch with the same key or id are answered from the first of them;
//! 2. reserve one sequence number per new record on the `herald_outbox_seq` row (its row lock is held until
//!    commit, so seq order is commit order, also across instances);
//! 3. insert every new record with one multi-row `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`; a row
//!    another instance committed meanwhile under the same key is looked up again and returned as existing;
//! 4. commit, then answer: `Created` means the row is committed.
//!
//! Requests arriving while a batch is being written form the next batch. If PostgreSQL rejects a value of one
//! request (a data exception), the batch is retried one request per transaction, so one bad notification never
//! fails the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use deadpool_postgres::Pool;
use herald_core::notification::{Notification, OutboxRecord};
use herald_core::store::Enqueued;
use herald_core::StoreError;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;
use uuid::Uuid;

use crate::db::{self, failed, from_json, to_json};
use crate::instant::split;
use crate::outbox::last_change;

/// Most enqueues one transaction writes.
pub(crate) const MAX_BATCH: usize = 512;

/// One waiting `enqueue` call.
struct Request {
    notification: Notification,
    reply: oneshot::Sender<Result<Enqueued, StoreError>>,
}

/// The handle of the committer task; the task ends when every handle is dropped.
pub(crate) struct Committer {
    tx: mpsc::UnboundedSender<Request>,
    batches: Arc<AtomicU64>,
    enqueues: Arc<AtomicU64>,
}

impl Committer {
    /// Start the committer task on the current tokio runtime.
    pub(crate) fn start(pool: Pool, target: String) -> Committer {
        let (tx, rx) = mpsc::unbounded_channel();
        let batches = Arc::new(AtomicU64::new(0));
        let enqueues = Arc::new(AtomicU64::new(0));
        let task = Task { pool, target, batches: Arc::clone(&batches), enqueues: Arc::clone(&enqueues) };
        tokio::spawn(task.run(rx).instrument(tracing::info_span!("herald_postgres_enqueue")));
        Committer { tx, batches, enqueues }
    }

    /// Enqueue through the next batch; returns once the batch is committed (or failed).
    pub(crate) async fn enqueue(&self, notification: Notification) -> Result<Enqueued, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Request { notification, reply }).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// `(transactions committed, enqueue calls they answered)`.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.batches.load(Ordering::Relaxed), self.enqueues.load(Ordering::Relaxed))
    }
}

struct Task {
    pool: Pool,
    target: String,
    batches: Arc<AtomicU64>,
    enqueues: Arc<AtomicU64>,
}

impl Task {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let requests = std::mem::take(&mut batch);
            let notifications: Vec<&Notification> = requests.iter().map(|r| &r.notification).collect();
            let answers = match self.write(&notifications).await {
                Ok(answers) => answers.into_iter().map(Ok).collect(),
                Err(Failure::Data(e)) if requests.len() > 1 => {
                    tracing::warn!(error = %e, size = requests.len(), "a batch was refused; writing its enqueues one by one");
                    let mut one_by_one = Vec::with_capacity(requests.len());
                    for n in &notifications {
                        one_by_one.push(self.write(&[n]).await.map_err(Failure::into_store).and_then(single));
                    }
                    one_by_one
                }
                Err(e) => {
                    let e = e.into_store();
                    requests.iter().map(|_| Err(db::copy(&e))).collect::<Vec<_>>()
                }
            };
            for (request, answer) in requests.into_iter().zip(answers) {
                // A caller that gave up no longer listens; its record is committed all the same.
                let _ = request.reply.send(answer);
            }
        }
    }

    /// Write one batch in one transaction; one answer per notification, in order.
    async fn write(&self, batch: &[&Notification]) -> Result<Vec<Enqueued>, Failure> {
        let mut client = db::client(&self.pool, &self.target).await.map_err(Failure::Store)?;
        let tx = client.transaction().await.map_err(Failure::db("begin an enqueue"))?;
        // 1. What exists already, by id or by key.
        let ids: Vec<Uuid> = batch.iter().map(|n| n.id).collect();
        let keys: Vec<&str> = batch.iter().filter_map(|n| n.idempotency_key.as_deref()).collect();
        let mut known = Known::default();
        known.load(&tx, &ids, &keys).await?;
        // Which requests are new: the first of each id / key not stored yet.
        let mut first_of_key: HashMap<&str, usize> = HashMap::new();
        let mut first_of_id: HashMap<Uuid, usize> = HashMap::new();
        let mut new = Vec::new();
        let mut is_new = vec![false; batch.len()];
        for (i, n) in batch.iter().enumerate() {
            if known.find(n).is_some() {
                continue;
            }
            let dup_key = n.idempotency_key.as_deref().is_some_and(|k| first_of_key.contains_key(k));
            if dup_key || first_of_id.contains_key(&n.id) {
                continue;
            }
            if let Some(k) = n.idempotency_key.as_deref() {
                first_of_key.insert(k, i);
            }
            first_of_id.insert(n.id, i);
            new.push(i);
            is_new[i] = true;
        }
        // 2. and 3. Reserve seqs and insert the new records.
        let mut created: HashMap<Uuid, OutboxRecord> = HashMap::new();
        if !new.is_empty() {
            let count = i64::try_from(new.len()).unwrap_or(i64::MAX);
            let last: i64 = tx
                .query_one("UPDATE herald_outbox_seq SET last_seq = last_seq + $1 RETURNING last_seq", &[&count])
                .await
                .map_err(Failure::db("reserve sequence numbers"))?
                .get(0);
            let first = u64::try_from(last - count + 1).unwrap_or(1);
            let records: Vec<OutboxRecord> =
                new.iter().zip(first..).map(|(&i, seq)| OutboxRecord::new(batch[i].clone(), seq)).collect();
            let inserted = insert(&tx, &records).await?;
            let lost: Vec<&OutboxRecord> = records.iter().filter(|r| !inserted.contains(&r.id())).collect();
            if !lost.is_empty() {
                // Another instance committed the same key or id between our lookup and our insert.
                let ids: Vec<Uuid> = lost.iter().map(|r| r.id()).collect();
                let keys: Vec<&str> = lost.iter().filter_map(|r| r.notification.idempotency_key.as_deref()).collect();
                known.load(&tx, &ids, &keys).await?;
            }
            created.extend(records.into_iter().filter(|r| inserted.contains(&r.id())).map(|r| (r.id(), r)));
        }
        tx.commit().await.map_err(Failure::db("commit an enqueue"))?;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.enqueues.fetch_add(batch.len() as u64, Ordering::Relaxed);
        // 4. One answer per request.
        batch
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if is_new[i] {
                    if let Some(r) = created.get(&n.id) {
                        return Ok(Enqueued::Created(r.clone()));
                    }
                }
                let by_batch = n
                    .idempotency_key
                    .as_deref()
                    .and_then(|k| first_of_key.get(k))
                    .or_else(|| first_of_id.get(&n.id))
                    .and_then(|&first| created.get(&batch[first].id));
                match known.find(n).or(by_batch) {
                    Some(r) => Ok(Enqueued::Existing(r.clone())),
                    None => Err(Failure::Store(StoreError::Backend(format!(
                        "enqueue of {} conflicted with a record that then vanished; retry",
                        n.id
                    )))),
                }
            })
            .collect()
    }
}

/// The single answer of a one-request batch.
fn single(mut answers: Vec<Enqueued>) -> Result<Enqueued, StoreError> {
    answers.pop().ok_or_else(|| StoreError::Backend("an enqueue transaction answered nothing".into()))
}

/// Records already stored, by id and by idempotency key.
#[derive(Default)]
struct Known {
    by_id: HashMap<Uuid, OutboxRecord>,
    by_key: HashMap<String, Uuid>,
}

impl Known {
    async fn load(
        &mut self,
        tx: &deadpool_postgres::Transaction<'_>,
        ids: &[Uuid],
        keys: &[&str],
    ) -> Result<(), Failure> {
        let rows = tx
            .query(
                "SELECT record::text FROM herald_outbox WHERE id = ANY($1) OR idempotency_key = ANY($2::text[])",
                &[&ids, &keys],
            )
            .await
            .map_err(Failure::db("look up idempotency keys"))?;
        for row in rows {
            let text: &str = row.get(0);
            let record: OutboxRecord =
                from_json(text, || "herald_outbox (idempotency lookup)".into()).map_err(Failure::Store)?;
            if let Some(k) = &record.notification.idempotency_key {
                self.by_key.insert(k.clone(), record.id());
            }
            self.by_id.insert(record.id(), record);
        }
        Ok(())
    }

    /// The stored record `n` is a repeat of: same idempotency key, else same id.
    fn find(&self, n: &Notification) -> Option<&OutboxRecord> {
        n.idempotency_key
            .as_deref()
            .and_then(|k| self.by_key.get(k))
            .and_then(|id| self.by_id.get(id))
            .or_else(|| self.by_id.get(&n.id))
    }
}

/// Insert fresh records with one statement; returns the ids actually inserted (a conflicting one is skipped).
async fn insert(tx: &deadpool_postgres::Transaction<'_>, records: &[OutboxRecord]) -> Result<Vec<Uuid>, Failure> {
    let mut seqs = Vec::with_capacity(records.len());
    let mut ids = Vec::with_capacity(records.len());
    let mut keys: Vec<Option<&str>> = Vec::with_capacity(records.len());
    let mut integrations = Vec::with_capacity(records.len());
    let mut statuses = Vec::with_capacity(records.len());
    let mut changes = Vec::with_capacity(records.len());
    let mut change_ns = Vec::with_capacity(records.len());
    let mut json = Vec::with_capacity(records.len());
    for r in records {
        seqs.push(db::seq_param(r.seq));
        ids.push(r.id());
        keys.push(r.notification.idempotency_key.as_deref());
        integrations.push(r.notification.integration.as_str());
        statuses.push(r.status.as_str());
        let at = split(last_change(r));
        changes.push(at.micros);
        change_ns.push(at.nanos);
        json.push(to_json(r, || format!("outbox/{}", r.id())).map_err(Failure::Store)?);
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO herald_outbox (seq, id, idempotency_key, integration, status, last_change, last_change_ns, record)
             SELECT s, i, k, g, st, c, cn, j::json
             FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                         $7::smallint[], $8::text[]) AS t(s, i, k, g, st, c, cn, j)
             ON CONFLICT DO NOTHING
             RETURNING id",
        )
        .await
        .map_err(Failure::db("prepare the enqueue insert"))?;
    let rows = tx
        .query(&statement, &[&seqs, &ids, &keys, &integrations, &statuses, &changes, &change_ns, &json])
        .await
        .map_err(Failure::db("insert outbox records"))?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Why a batch failed: a value PostgreSQL refused (retry the requests one by one) or anything else.
enum Failure {
    Data(StoreError),
    Store(StoreError),
}

impl Failure {
    fn db(what: &'static str) -> impl Fn(tokio_postgres::Error) -> Failure {
        move |e| {
            let data = db::is_data_exception(&e);
            let err = failed(what)(e);
            if data {
                Failure::Data(err)
            } else {
                Failure::Store(err)
            }
        }
    }

    fn into_store(self) -> StoreError {
        match self {
            Failure::Data(e) | Failure::Store(e) => e,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Data(e) | Failure::Store(e) => e.fmt(f),
        }
    }
}
