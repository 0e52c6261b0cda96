//! Enqueue batching: concurrent enqueues share one transaction, the way sled's committer shares one fsync.
//!
//! `enqueue` hands its notification to the [`Committer`] task and waits for the answer. The task takes every
//! request waiting (up to [`MAX_BATCH`]) and writes them in one transaction on one pooled connection, in two round
//! trips:
//!
//! 1. `BEGIN` and the reservation of one sequence number per candidate on the `herald_outbox_seq` row, pipelined
//!    (the row lock is held until commit, so seq order is commit order, also across instances). Candidates are the
//!    first request of each idempotency key and id in the batch;
//! 2. one multi-row `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING id` and `COMMIT`, pipelined. A
//!    candidate whose key or id is already stored (or was committed meanwhile by another instance) is skipped by the
//!    conflict clause;
//! 3. the callers whose record was not inserted (repeats) get the stored one, looked up after the commit by key or
//!    id, as [`Enqueued::Existing`]. `Created` means the row is committed.
//!
//! A repeat uses up the sequence number reserved for it: seqs increase and never repeat, but may have gaps.
//! Requests arriving while a batch is being written form the next batch. If PostgreSQL rejects a value of one
//! request (a data exception), the batch is retried one request per transaction, so one bad notification never
//! fails the others.

use std::collections::{HashMap, HashSet};
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
        // Only the first request of each idempotency key and id in the batch may create a record.
        let mut first_of_key: HashMap<&str, usize> = HashMap::new();
        let mut first_of_id: HashMap<Uuid, usize> = HashMap::new();
        let mut candidates = Vec::new();
        for (i, n) in batch.iter().enumerate() {
            let key = n.idempotency_key.as_deref();
            if key.is_some_and(|k| first_of_key.contains_key(k)) || first_of_id.contains_key(&n.id) {
                continue;
            }
            if let Some(k) = key {
                first_of_key.insert(k, i);
            }
            first_of_id.insert(n.id, i);
            candidates.push(i);
        }
        let client = db::client(&self.pool, &self.target).await.map_err(Failure::Store)?;
        let reserve = client.prepare_cached(RESERVE).await.map_err(Failure::db("prepare the seq reservation"))?;
        let insert = client.prepare_cached(INSERT).await.map_err(Failure::db("prepare the enqueue insert"))?;
        // Round trip 1: BEGIN and the seq reservation, pipelined.
        let count = i64::try_from(candidates.len()).unwrap_or(i64::MAX);
        let count_param: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&count];
        let (begun, reserved) = tokio::join!(client.batch_execute("BEGIN"), client.query_one(&reserve, &count_param));
        let last: i64 = match begun.and(reserved) {
            Ok(row) => row.get(0),
            Err(e) => {
                rollback(&client).await;
                return Err(Failure::db("reserve sequence numbers")(e));
            }
        };
        let first = u64::try_from(last - count + 1).unwrap_or(1);
        let records: Vec<OutboxRecord> =
            candidates.iter().zip(first..).map(|(&i, seq)| OutboxRecord::new(batch[i].clone(), seq)).collect();
        let columns = match Columns::of(&records) {
            Ok(columns) => columns,
            Err(e) => {
                rollback(&client).await;
                return Err(Failure::Store(e));
            }
        };
        // Round trip 2: the insert and COMMIT, pipelined. If the insert fails, PostgreSQL answers that COMMIT by
        // rolling back, and the insert's error is what counts.
        let params = columns.params();
        let (inserted, committed) = tokio::join!(client.query(&insert, &params), client.batch_execute("COMMIT"));
        let inserted = inserted.map_err(Failure::db("insert outbox records"))?;
        committed.map_err(Failure::db("commit an enqueue"))?;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.enqueues.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let inserted: HashSet<Uuid> = inserted.iter().map(|row| row.get(0)).collect();
        let mut answers: Vec<Option<Enqueued>> = vec![None; batch.len()];
        for (&i, record) in candidates.iter().zip(records) {
            if inserted.contains(&record.id()) {
                answers[i] = Some(Enqueued::Created(record));
            }
        }
        // Everyone else repeats a stored record (stored before, by another instance meanwhile, or by this batch):
        // all of them are committed now.
        let repeats: Vec<&Notification> =
            batch.iter().zip(&answers).filter(|(_, a)| a.is_none()).map(|(n, _)| *n).collect();
        let mut known = Known::default();
        if !repeats.is_empty() {
            known.load(&client, &repeats).await?;
        }
        batch
            .iter()
            .zip(answers)
            .map(|(n, answer)| match answer {
                Some(created) => Ok(created),
                None => known.find(n).map(|r| Enqueued::Existing(r.clone())).ok_or_else(|| {
                    Failure::Store(StoreError::Backend(format!(
                        "enqueue of {} conflicted with a record that then vanished; retry",
                        n.id
                    )))
                }),
            })
            .collect()
    }
}

/// Reserve `$1` sequence numbers; returns the last one. Locks the row until commit: seq order is commit order.
const RESERVE: &str = "UPDATE herald_outbox_seq SET last_seq = last_seq + $1 RETURNING last_seq";

/// Insert fresh records with one statement; returns the ids inserted (one conflicting on id or key is skipped).
const INSERT: &str = "INSERT INTO herald_outbox
        (seq, id, idempotency_key, integration, status, last_change, last_change_ns, record)
    SELECT s, i, k, g, st, c, cn, j::json
    FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::smallint[],
                $8::text[]) AS t(s, i, k, g, st, c, cn, j)
    ON CONFLICT DO NOTHING
    RETURNING id";

/// End a transaction that failed on the client side, so the connection goes back to the pool clean.
async fn rollback(client: &tokio_postgres::Client) {
    if let Err(e) = client.batch_execute("ROLLBACK").await {
        tracing::warn!(error = %e, "rolling back a failed enqueue transaction failed");
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
    /// Load the stored records `notifications` may repeat (by id or by idempotency key).
    async fn load(&mut self, client: &tokio_postgres::Client, notifications: &[&Notification]) -> Result<(), Failure> {
        let ids: Vec<Uuid> = notifications.iter().map(|n| n.id).collect();
        let keys: Vec<&str> = notifications.iter().filter_map(|n| n.idempotency_key.as_deref()).collect();
        let rows = client
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

/// The columns of fresh records, as the arrays [`INSERT`] unnests.
struct Columns<'a> {
    seqs: Vec<i64>,
    ids: Vec<Uuid>,
    keys: Vec<Option<&'a str>>,
    integrations: Vec<&'a str>,
    statuses: Vec<&'static str>,
    changes: Vec<chrono::DateTime<chrono::Utc>>,
    change_ns: Vec<i16>,
    json: Vec<String>,
}

impl<'a> Columns<'a> {
    fn of(records: &'a [OutboxRecord]) -> Result<Columns<'a>, StoreError> {
        let n = records.len();
        let mut c = Columns {
            seqs: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
            integrations: Vec::with_capacity(n),
            statuses: Vec::with_capacity(n),
            changes: Vec::with_capacity(n),
            change_ns: Vec::with_capacity(n),
            json: Vec::with_capacity(n),
        };
        for r in records {
            c.seqs.push(db::seq_param(r.seq));
            c.ids.push(r.id());
            c.keys.push(r.notification.idempotency_key.as_deref());
            c.integrations.push(r.notification.integration.as_str());
            c.statuses.push(r.status.as_str());
            let at = split(last_change(r));
            c.changes.push(at.micros);
            c.change_ns.push(at.nanos);
            c.json.push(to_json(r, || format!("outbox/{}", r.id()))?);
        }
        Ok(c)
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 8] {
        [
            &self.seqs,
            &self.ids,
            &self.keys,
            &self.integrations,
            &self.statuses,
            &self.changes,
            &self.change_ns,
            &self.json,
        ]
    }
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
