//! The sled backend: one [`SledStore`] implements both [`SessionStore`](crate::store::SessionStore) and
//! [`Outbox`](crate::store::Outbox) on a single sled database.
//!
//! # Layout
//!
//! Values are JSON (serde_json: readable with any sled dump tool, tolerant of added optional fields). Keys are
//! binary, built in [`keys`] so that byte order is query order. Trees:
//!
//! | tree | key | value |
//! |---|---|---|
//! | `sessions` | conversation id | session JSON |
//! | `sessions_of_customer` | customer id ++ conversation id | empty |
//! | `sessions_of_agent` | agent id ++ conversation id | empty |
//! | `sessions_by_updated` | updated_at ++ conversation id | empty |
//! | `sessions_closed` | closed_at ++ conversation id (closed sessions only) | empty |
//! | `outbox` | notification id (16 bytes) | record JSON (history included, stored once) |
//! | `outbox_by_seq` | seq | notification id |
//! | `outbox_unfinished` | seq (pending / attempting only) | notification id |
//! | `outbox_idempotency` | idempotency key | notification id |
//! | `outbox_deferred` | integration ++ customer ++ seq (deferred only) | notification id |
//! | `outbox_final` | last change ++ seq (delivered / failed / expired only) | notification id |
//! | `outbox_by_status` | status byte ++ seq | notification id |
//! | `outbox_attributed` | integration ++ upstream message id (from delivered receipts) | notification id |
//! | `state` | namespace ++ NUL ++ key ([`StateStore`](crate::store::StateStore), see `state.rs`) | entry JSON |
//! | `meta` | `sessions_len`, `seq_floor` | u64 big-endian |
//!
//! No sled transactions: they take a process-wide lock, read every key they write, and measured 3x slower than
//! plain writes for the outbox. Writes are instead serialised by two in-process locks (sessions, outbox; held for
//! microseconds, never across an `.await`) and done in a crash-safe order. sled replays its log in write order, so
//! after a crash a prefix of the writes survives:
//!
//! - an enqueue writes its index entries first and the record last: the record is the commit point, and a
//!   dangling index or idempotency entry without a record is ignored (and overwritten by the next enqueue);
//! - an upsert or a transition adds the new index entries, then rewrites the value, then removes the old entries,
//!   so a crash can leave a stale entry, never a missing one;
//! - a purge removes the value first, then its entries.
//!
//! Every read verifies what an index points to (an entry whose record or session is gone or has moved on is
//! skipped), so a query never returns a stale match. The session count lives in `meta` and is recounted on open
//! after an unclean shutdown.
//!
//! # Durability
//!
//! `enqueue` and `transition` return only once their write is fsync'd, through group commit (`group_commit.rs`): one
//! committer thread flushes once for every caller that arrived since its previous flush. Session upserts and
//! purges are not individually fsync'd: sled's background flush (`SledOptions::flush_every_ms`) makes them durable
//! shortly after, and sessions can be resynchronised from upstream after a crash, while an accepted notification
//! cannot.
//!
//! # Keeping sled healthy
//!
//! sled 0.34 is known for space amplification and open times that grow with the amount of live data. The layout
//! keeps hot trees small: `outbox_unfinished` only holds work still to do, `purge_final` drops delivered records
//! with their index and idempotency entries, `purge_closed` drops old sessions. The page cache is capped
//! (`SledOptions::cache_capacity`, 32 MiB by default instead of sled's 1 GiB). `docs/benchmarks-store.md` has the
//! measured open time, disk use and RSS.
//!
//! Calls run sled operations directly on the calling task: they are in-memory B-tree operations taking
//! microseconds; only the fsync, which can take milliseconds, runs on the committer thread.

mod group_commit;
mod keys;
mod outbox;
mod sessions;
mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use group_commit::GroupCommit;

/// Tuning of a [`SledStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledOptions {
    /// Upper bound of sled's page cache in bytes. sled's own default (1 GiB) would let RSS grow far past the
    /// memory target. 32 MiB measured 123 MiB RSS for 100,000 sessions at full write speed (64 MiB: 170 MiB,
    /// 16 MiB: 89 MiB and slightly slower); see `docs/benchmarks-store.md`.
    pub cache_capacity: u64,
    /// How often sled's background thread flushes on its own (milliseconds; `None` = never). This bounds what a
    /// crash can lose of the writes that do not wait for a flush (session upserts, purges).
    pub flush_every_ms: Option<u64>,
    /// How long the group committer waits after the first durable write of a batch before flushing, to gather
    /// more callers. Zero (the default) flushes at once; batches still form from everything that arrives while
    /// the previous flush runs, which is usually the better trade.
    pub group_commit_max_delay: Duration,
    /// Use sled's `LowSpace` mode (more compaction, less disk, slower writes) instead of `HighThroughput`.
    pub low_space: bool,
    /// How long `open` waits for the directory's lock. sled's background writers can hold the files for a few
    /// milliseconds after the previous `SledStore` in this process was dropped (an in-process restart); a lock
    /// held longer than this belongs to another process, and `open` fails naming the directory.
    pub lock_wait: Duration,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            cache_capacity: 32 * 1024 * 1024,
            flush_every_ms: Some(500),
            group_commit_max_delay: Duration::ZERO,
            low_space: false,
            lock_wait: Duration::from_secs(5),
        }
    }
}

/// Counters of a [`SledStore`], for benchmarks and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SledStats {
    /// Flushes (fsyncs) the group committer made.
    pub flushes: u64,
    /// Callers that waited for durability; `durable_waits / flushes` is the average group size.
    pub durable_waits: u64,
    /// Bytes sled uses on disk.
    pub size_on_disk: u64,
}

/// Sessions and outbox in one sled database. Cheap to clone: clones share the database and the committer.
///
/// Only one `SledStore` may have a path open at a time (sled locks the directory); drop every clone before opening
/// the same path again.
#[derive(Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

pub(crate) struct Trees {
    sessions: ::sled::Tree,
    by_customer: ::sled::Tree,
    by_agent: ::sled::Tree,
    by_updated: ::sled::Tree,
    closed: ::sled::Tree,
    outbox: ::sled::Tree,
    by_seq: ::sled::Tree,
    unfinished: ::sled::Tree,
    idempotency: ::sled::Tree,
    deferred: ::sled::Tree,
    finals: ::sled::Tree,
    by_status: ::sled::Tree,
    attributed: ::sled::Tree,
    state: ::sled::Tree,
    meta: ::sled::Tree,
}

struct Inner {
    path: PathBuf,
    db: ::sled::Db,
    trees: Trees,
    /// The last sequence number handed out. Only advanced under `outbox_lock`, so seq order is write order.
    last_seq: AtomicU64,
    /// Serialises outbox writes (enqueue, transition, purge): idempotency checks and index moves are
    /// read-then-write sequences. Held for microseconds, never across an `.await` or a flush.
    outbox_lock: parking_lot::Mutex<()>,
    /// Serialises session writes (read the old version, move its index entries).
    sessions_lock: parking_lot::Mutex<()>,
    /// Number of sessions, mirrored in `meta/sessions_len` (sled's own `len` is a full scan).
    sessions_len: AtomicU64,
    commit: GroupCommit,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Mark the shutdown clean, then answer the last waiters and flush before sled closes the files.
        if let Err(e) = self.trees.meta.insert(META_CLEAN, &[1u8][..]) {
            tracing::warn!(error = %e, "cannot mark the sled store as cleanly closed; the next open recounts");
        }
        self.commit.shutdown();
    }
}

/// Whether sled failed because another handle holds the directory's lock. sled 0.34 wraps the `WouldBlock` from
/// `flock` into an error of kind `Other` whose text is the only mark of it.
fn is_lock_conflict(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock")
}

/// Open sled at `path`, waiting up to `options.lock_wait` for a lock still held by a store being closed.
fn open_db(path: &Path, options: &SledOptions) -> Result<::sled::Db, StoreError> {
    let config = ::sled::Config::new()
        .path(path)
        .cache_capacity(options.cache_capacity)
        .flush_every_ms(options.flush_every_ms)
        .mode(if options.low_space { ::sled::Mode::LowSpace } else { ::sled::Mode::HighThroughput });
    let deadline = std::time::Instant::now() + options.lock_wait;
    let mut pause = Duration::from_millis(1);
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(::sled::Error::Io(e)) if is_lock_conflict(&e) => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Backend(format!(
                        "the sled store at {} is locked by another process (waited {} ms); stop the other herald \
                         or set store.path to a directory of its own",
                        path.display(),
                        options.lock_wait.as_millis()
                    )));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                return Err(StoreError::Backend(format!("cannot open the sled store at {}: {e}", path.display())));
            }
        }
    }
}

/// `meta` key: number of sessions (sled's `len` is a full scan). Trusted only after a clean shutdown.
const META_SESSIONS_LEN: &[u8] = b"sessions_len";
/// `meta` key: `1` while the store is cleanly closed, `0` while open (so a crash leaves `0`).
const META_CLEAN: &[u8] = b"clean_shutdown";
/// `meta` key: a lower bound for the next sequence number, written when `purge_final` may remove the newest record.
const META_SEQ_FLOOR: &[u8] = b"seq_floor";

impl SledStore {
    /// Open (or create) the store at `path` and start its group committer.
    ///
    /// The next sequence number is recovered from the newest record and the persisted floor, so sequence numbers
    /// keep increasing across restarts.
    pub fn open(path: &Path, options: SledOptions) -> Result<SledStore, StoreError> {
        let db = open_db(path, &options)?;
        let trees = Trees {
            sessions: db.open_tree("sessions")?,
            by_customer: db.open_tree("sessions_of_customer")?,
            by_agent: db.open_tree("sessions_of_agent")?,
            by_updated: db.open_tree("sessions_by_updated")?,
            closed: db.open_tree("sessions_closed")?,
            outbox: db.open_tree("outbox")?,
            by_seq: db.open_tree("outbox_by_seq")?,
            unfinished: db.open_tree("outbox_unfinished")?,
            idempotency: db.open_tree("outbox_idempotency")?,
            deferred: db.open_tree("outbox_deferred")?,
            finals: db.open_tree("outbox_final")?,
            by_status: db.open_tree("outbox_by_status")?,
            attributed: db.open_tree("outbox_attributed")?,
            state: db.open_tree("state")?,
            meta: db.open_tree("meta")?,
        };
        sessions::migrate_timed_owner_indexes(&db, &trees)?;
        outbox::migrate_status_index(&trees)?;
        let newest = match trees.by_seq.last()? {
            Some((k, _)) => keys::decode_seq(&k, "outbox_by_seq/last")?,
            None => 0,
        };
        let floor = match trees.meta.get(META_SEQ_FLOOR)? {
            Some(v) => keys::decode_seq(&v, "meta/seq_floor")?,
            None => 0,
        };
        // The session count is exact after a clean shutdown; after a crash it may lag the last upserts, so count.
        let clean = trees.meta.get(META_CLEAN)?.is_some_and(|v| v.as_ref() == [1]);
        let sessions_len = match trees.meta.get(META_SESSIONS_LEN)? {
            Some(v) if clean => keys::decode_seq(&v, "meta/sessions_len")?,
            _ => {
                let n = trees.sessions.len() as u64;
                trees.meta.insert(META_SESSIONS_LEN, &keys::seq(n)[..])?;
                n
            }
        };
        // Written before anything else, so any later write that survives a crash implies this one did.
        trees.meta.insert(META_CLEAN, &[0u8][..])?;
        let commit = GroupCommit::start(db.clone(), options.group_commit_max_delay)?;
        Ok(SledStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                db,
                trees,
                last_seq: AtomicU64::new(newest.max(floor)),
                outbox_lock: parking_lot::Mutex::new(()),
                sessions_lock: parking_lot::Mutex::new(()),
                sessions_len: AtomicU64::new(sessions_len),
                commit,
            }),
        })
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Make every write so far durable now (one fsync, shared with concurrent callers).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.inner.commit.durable().await
    }

    /// Counters: flushes, durable waits, size on disk.
    pub fn stats(&self) -> Result<SledStats, StoreError> {
        let (flushes, durable_waits) = self.inner.commit.stats();
        Ok(SledStats { flushes, durable_waits, size_on_disk: self.inner.db.size_on_disk()? })
    }

    /// Entries per tree, by tree name. A full scan of every tree: for diagnostics and tests (checking that the
    /// index trees hold exactly what they should and the work trees stay small), not for hot paths.
    pub fn tree_entries(&self) -> Result<Vec<(&'static str, usize)>, StoreError> {
        let t = self.trees();
        let named = [
            ("sessions", &t.sessions),
            ("sessions_of_customer", &t.by_customer),
            ("sessions_of_agent", &t.by_agent),
            ("sessions_by_updated", &t.by_updated),
            ("sessions_closed", &t.closed),
            ("outbox", &t.outbox),
            ("outbox_by_seq", &t.by_seq),
            ("outbox_unfinished", &t.unfinished),
            ("outbox_idempotency", &t.idempotency),
            ("outbox_deferred", &t.deferred),
            ("outbox_final", &t.finals),
            ("outbox_by_status", &t.by_status),
            ("outbox_attributed", &t.attributed),
            ("state", &t.state),
        ];
        Ok(named.into_iter().map(|(name, tree)| (name, tree.len())).collect())
    }

    fn trees(&self) -> &Trees {
        &self.inner.trees
    }
}

/// Encode a value as JSON.
pub(crate) fn encode<T: serde::Serialize>(value: &T, key: &str) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("cannot encode `{key}`: {e}")))
}

/// Decode a stored JSON value; failures name the key.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    key: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { key: key(), reason: e.to_string() })
}
