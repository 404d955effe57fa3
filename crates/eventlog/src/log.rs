//! The log itself: one writer, durable atomic batches, reads and notifications.
//!
//! Longer than most files here (~750 lines) for a reason: everything that holds
//! the writer's lock or the sled handle — opening (with its anchor and holder
//! checks), appending, and the reads that must stop at the acknowledged head —
//! lives in one place, so the invariants between them are read together. The
//! directory helpers are in `files.rs`, the record iterator in `iter.rs`.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use grantledger_clock::{Clock, SystemClock};
use grantledger_model::{EventId, StreamId};
use tokio::sync::watch;
use tracing::debug;

use crate::anchor::{self, Anchor};
use crate::closed::{self, ClosedHead};
use crate::codec::{self, ChunkWriter, Unsealed};
use crate::error::{LogError, Result};
use crate::files::{
    clear_dir, copy_tree, create_private_dir, fingerprint, fsync_dir, restrict_files,
};
use crate::holder::{self, Holder};
use crate::iter::RecordIter;
use crate::keys;
use crate::record::{Appended, ExpectedVersion, Hash, Head, NewEvent, Position, Record};

/// At most this many records share one stored value.
const CHUNK_MAX_RECORDS: u32 = 256;
/// A chunk is closed once it holds this many bytes. Together with sled's leaf
/// fan-out (at most 17 entries) and our 8 MiB segments, this keeps every sled page
/// far below sled's blob threshold (a quarter segment), so no value ever goes to a
/// separate blob file that sled would not fsync.
const CHUNK_MAX_BYTES: usize = 32 * 1024;
/// sled segment size for new logs.
const SEGMENT_SIZE: usize = 8 * 1024 * 1024;
/// How long `open` waits for a lock that a handle just dropped in this process.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// The storage layout this code reads and writes.
const LAYOUT_VERSION: u8 = 1;
/// How many times [`EventLog::open_copy`] tries to copy a log that keeps changing.
const COPY_ATTEMPTS: u32 = 5;

/// Options for [`EventLog::open_with`].
#[derive(Clone)]
pub struct OpenOptions {
    /// Where `recorded_at` comes from.
    pub clock: Arc<dyn Clock>,
    /// sled's page cache, in bytes.
    pub cache_bytes: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock::new()),
            cache_bytes: 128 * 1024 * 1024,
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("cache_bytes", &self.cache_bytes)
            .finish_non_exhaustive()
    }
}

/// A handle on an open log. Cheap to clone; every clone shares one writer.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    dir: PathBuf,
    /// Set on a handle opened by [`EventLog::open_copy`]: the directory it reads
    /// is a private copy, so it never appends.
    copy_of: Option<PathBuf>,
    db_file: File,
    clock: Arc<dyn Clock>,
    writer: Mutex<Writer>,
    head_tx: watch::Sender<Position>,
    /// The last acknowledged (durable) position: readers see nothing past it.
    acked: AtomicU64,
    /// Group commit (ADR 0024): what is applied and what is durable, and
    /// whether a flush is under way.
    durability: Mutex<Durability>,
    /// Wakes blocking appenders when a flush ends.
    flushed: Condvar,
    /// Wakes async appenders when a flush ends.
    flushed_tx: watch::Sender<u64>,
    /// The head anchor, written by the flushing appender after each flush;
    /// `None` while the writer distrusts the database (appends are refused).
    anchor: Mutex<Option<Anchor>>,
    /// Flushes (sled flush + fsync) made by this handle.
    flushes: AtomicU64,
}

/// Group commit's state. A batch is applied to sled under the writer lock,
/// then made durable by one flush + fsync shared by every batch applied before
/// the flush started: whoever finds no flush under way leads one (for all that
/// is applied at that moment), the others wait for the durable position to
/// reach their batch.
struct Durability {
    /// The last batch applied to the storage (not necessarily on disk).
    applied: Head,
    /// The last batch on disk: what readers see and `head()` returns.
    durable: Head,
    /// A flush is under way.
    flushing: bool,
    /// A flush or an apply failed: nothing is durable past `durable`, and every
    /// appender waiting or to come fails.
    failed: bool,
}

struct Writer {
    head: Head,
    poisoned: bool,
    /// Set when the database and its head anchor disagree (the database was cut
    /// short, replaced or edited): appending would fork the history or erase the
    /// evidence, so this handle only reads.
    distrust: Option<LogError>,
    /// Stream name -> (version, last position). Filled lazily from storage; only the
    /// writer changes streams, so the cache cannot go stale.
    streams: HashMap<StreamId, (u64, Position)>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("dir", &self.inner.dir)
            .field("head", &self.head())
            .finish()
    }
}

impl EventLog {
    /// Opens (or creates) the log in `dir` with the system clock.
    pub fn open(dir: impl AsRef<Path>) -> Result<EventLog> {
        Self::open_with(dir, OpenOptions::default())
    }

    /// Opens (or creates) the log in `dir`. Opening reads the stored head; it does
    /// not scan the log.
    ///
    /// A new directory is created readable by its owner alone (0700), and the
    /// log's files are kept at 0600: they hold users' names and emails. While the
    /// handle is open, a holder file beside the database names this process, so
    /// that another process finding the log locked can say who holds it
    /// ([`LogError::Locked`]).
    pub fn open_with(dir: impl AsRef<Path>, options: OpenOptions) -> Result<EventLog> {
        Self::open_inner(dir.as_ref().to_path_buf(), options, None)
    }

    /// Opens a private copy of the log in `dir`, made in `scratch` (an empty
    /// directory the caller owns and removes afterwards), for reading only: the
    /// way to verify or export a log that another process holds, that sits on a
    /// read-only file system, or on a full disk (when `scratch` is elsewhere).
    ///
    /// The copy is consistent: the files are copied whole and the copy is kept
    /// only if no file of the log changed (length, modification time, anchor
    /// line) while it was made; otherwise it is tried again, up to a few times
    /// ([`LogError::Busy`]). A copy is what a crash at that moment would have left,
    /// and the log recovers from that to its last acknowledged append. The handle
    /// refuses appends.
    pub fn open_copy(dir: impl AsRef<Path>, scratch: impl AsRef<Path>) -> Result<EventLog> {
        let dir = dir.as_ref();
        let scratch = scratch.as_ref();
        for attempt in 1..=COPY_ATTEMPTS {
            let before = fingerprint(dir)?;
            copy_tree(dir, scratch)?;
            if fingerprint(dir)? == before {
                debug!(from = %dir.display(), to = %scratch.display(), attempt, "copied the log");
                return Self::open_inner(
                    scratch.to_path_buf(),
                    OpenOptions::default(),
                    Some(dir.to_path_buf()),
                );
            }
            clear_dir(scratch)?;
            std::thread::sleep(std::time::Duration::from_millis(20 * u64::from(attempt)));
        }
        Err(LogError::Busy {
            path: dir.to_path_buf(),
            attempts: COPY_ATTEMPTS,
        })
    }

    fn open_inner(
        dir: PathBuf,
        options: OpenOptions,
        copy_of: Option<PathBuf>,
    ) -> Result<EventLog> {
        if !dir.exists() {
            create_private_dir(&dir).map_err(LogError::io(&dir))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fsync_dir(parent)?;
            }
        }
        let config = sled::Config::new()
            .path(&dir)
            .segment_size(SEGMENT_SIZE)
            .cache_capacity(options.cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(None);
        // sled releases its file lock when its background threads let go of the
        // files, which can trail the previous handle's drop by a moment; only a lock
        // held for longer means another process has the log.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(sled::Error::Io(io)) if io.to_string().contains("could not acquire lock") => {
                    if std::time::Instant::now() >= deadline {
                        return Err(LogError::Locked {
                            holder: Holder::read_live(&dir),
                            path: dir.clone(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(other) => {
                    return Err(LogError::Storage {
                        context: "opening the log",
                        source: other,
                    })
                }
            }
        };
        let db_path = dir.join("db");
        let db_file = File::open(&db_path).map_err(LogError::io(&db_path))?;
        // Ours now: a holder file left behind was stale.
        let since = grantledger_clock::utc(options.clock.now())
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if let Err(e) = Holder::this_process(since).write(&dir) {
            tracing::info!(dir = %dir.display(), error = %e, "cannot write the log's holder file");
        }
        // Open from here on: the head it names may move.
        closed::remove(&dir)?;

        let anchor_head = match anchor::read(&dir)? {
            Some(Ok(h)) => Some(h),
            Some(Err(why)) => {
                tracing::warn!(dir = %dir.display(), %why, "the head anchor is unreadable; verify will report it");
                None
            }
            None => None,
        };
        let anchored = anchor_head.is_some_and(|a| a.position > 0);
        match db
            .get(keys::LAYOUT)
            .map_err(LogError::storage("reading the layout version"))?
        {
            Some(v) if v.as_ref() == [LAYOUT_VERSION] => {}
            Some(v) => {
                return Err(LogError::InvalidBatch(format!(
                "the log at {} has storage layout {:?}; this build reads layout {LAYOUT_VERSION}",
                dir.display(),
                v.as_ref()
            )))
            }
            // An empty database beside an anchor that recorded events was cut short
            // or replaced: leave it as it is for `verify` to report.
            None if anchored => {}
            None => {
                db.insert(keys::LAYOUT, &[LAYOUT_VERSION])
                    .map_err(LogError::storage("writing the layout version"))?;
                db.flush()
                    .map_err(LogError::storage("flushing a new log"))?;
                db_file.sync_all().map_err(LogError::io(&db_path))?;
                fsync_dir(&dir)?;
            }
        }

        let head = match db
            .get(keys::HEAD)
            .map_err(LogError::storage("reading the head"))?
        {
            None => Head::default(),
            Some(bytes) => {
                let (position, hash) =
                    codec::decode_head(&bytes).map_err(|source| LogError::Corrupt {
                        position: 0,
                        source,
                    })?;
                Head { position, hash }
            }
        };
        let distrust = Self::check_anchor(&db, &dir, head, anchor_head)?;
        let anchor = if distrust.is_some() {
            None
        } else {
            let mut anchor = Anchor::open(&dir)?;
            if anchor_head.is_none() {
                // A new log (an existing one without an anchor is distrusted above).
                anchor.write(head)?;
                anchor.sync()?;
                fsync_dir(&dir)?;
            }
            Some(anchor)
        };
        restrict_files(&dir);
        let (head_tx, _) = watch::channel(head.position);
        debug!(dir = %dir.display(), head = head.position, "opened event log");
        Ok(EventLog {
            inner: Arc::new(Inner {
                db,
                dir,
                copy_of,
                db_file,
                clock: options.clock,
                writer: Mutex::new(Writer {
                    head,
                    poisoned: false,
                    distrust,
                    streams: HashMap::new(),
                }),
                head_tx,
                acked: AtomicU64::new(head.position),
                durability: Mutex::new(Durability {
                    applied: head,
                    durable: head,
                    flushing: false,
                    failed: false,
                }),
                flushed: Condvar::new(),
                flushed_tx: watch::channel(0).0,
                anchor: Mutex::new(anchor),
                flushes: AtomicU64::new(0),
            }),
        })
    }

    /// Compares the database with its head anchor at open. Returns why appends
    /// must be refused, if they must.
    fn check_anchor(
        db: &sled::Db,
        dir: &Path,
        head: Head,
        anchor: Option<Head>,
    ) -> Result<Option<LogError>> {
        let mismatch = |reason: String| Ok(Some(LogError::AnchorMismatch { reason }));
        // Records past the stored head were not written by an acknowledged append.
        if let Some(item) = db
            .range(keys::chunk(head.position + 1)..keys::chunk_end())
            .next()
        {
            let (key, _) = item.map_err(LogError::storage("checking the log's tail"))?;
            return mismatch(format!(
                "records start at position {} past the stored head {}",
                keys::chunk_position(&key),
                head.position
            ));
        }
        let Some(anchor) = anchor else {
            if head.position == 0 {
                return Ok(None);
            }
            return mismatch(format!(
                "{} is missing or unreadable beside a log of {} records",
                anchor::path(dir).display(),
                head.position
            ));
        };
        if anchor.position > head.position {
            return Ok(Some(LogError::RolledBack {
                anchor: anchor.position,
                head: head.position,
            }));
        }
        let found = if anchor.position == 0 {
            Some(Hash::ZERO)
        } else {
            match RecordIter::new(db.clone(), anchor.position, anchor.position).next() {
                Some(Ok(r)) if r.position == anchor.position => Some(r.hash),
                Some(Ok(_)) | None => None,
                // A damaged record is for `verify` to name; the handle only reads.
                Some(Err(e)) => {
                    return mismatch(format!(
                        "the record at the anchor's position {} cannot be read: {e}",
                        anchor.position
                    ))
                }
            }
        };
        if found != Some(anchor.hash) {
            return mismatch(format!(
                "the anchor records hash {} at position {}, the database holds {}",
                anchor.hash,
                anchor.position,
                found.map_or_else(|| "nothing".to_owned(), |h| h.to_string())
            ));
        }
        Ok(None)
    }

    /// The directory this handle reads (for a copy, the copy's).
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// For a handle from [`EventLog::open_copy`], the log it is a copy of.
    pub fn copy_of(&self) -> Option<&Path> {
        self.inner.copy_of.as_deref()
    }

    /// The last durable record's position and hash.
    pub fn head(&self) -> Head {
        self.durability().durable
    }

    /// How many flushes (sled flush + fsync) this handle has made: with
    /// appenders at once, fewer than the appends (group commit, ADR 0024).
    pub fn flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }

    fn durability(&self) -> MutexGuard<'_, Durability> {
        self.inner
            .durability
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A receiver that sees the head position after every append. Do not hold a
    /// value borrowed from it while calling into the log: the writer updates it
    /// under the writer lock.
    pub fn subscribe(&self) -> watch::Receiver<Position> {
        self.inner.head_tx.subscribe()
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock may have come from inside the storage
        // engine, after a batch reached it: whether it is durable is unknown, so
        // this handle stops writing (reopening recovers the last durable state).
        match self.inner.writer.lock() {
            Ok(w) => w,
            Err(poison) => {
                let mut w = poison.into_inner();
                w.poisoned = true;
                w
            }
        }
    }

    /// The stream's current version (0 if it has no events): its last durable
    /// event's (an event still being made durable is waited for).
    pub fn stream_version(&self, stream: &StreamId) -> Result<u64> {
        let (version, last) = {
            let mut w = self.writer();
            self.stream_state(&mut w, stream)?
        };
        self.wait_durable(last)?;
        Ok(version)
    }

    fn stream_state(&self, w: &mut Writer, stream: &StreamId) -> Result<(u64, Position)> {
        if let Some(s) = w.streams.get(stream) {
            return Ok(*s);
        }
        let state = match self
            .inner
            .db
            .get(keys::stream(stream))
            .map_err(LogError::storage("reading a stream's version"))?
        {
            None => (0, 0),
            Some(bytes) => {
                codec::decode_stream_state(&bytes).map_err(|source| LogError::Corrupt {
                    position: w.head.position,
                    source,
                })?
            }
        };
        w.streams.insert(stream.clone(), state);
        Ok(state)
    }

    /// Appends `events` to `stream` as one atomic, durable batch.
    ///
    /// Returns once the batch is on disk (sled flushed, then the database file
    /// fsynced). If every event carries an id that is already in the log and the
    /// stored events are the same, nothing is written and the existing positions
    /// are returned (`duplicate: true`): a retry after a crash cannot duplicate.
    ///
    /// Appends from several threads share flushes (group commit, ADR 0024). This
    /// one blocks the calling thread until its batch is durable; from an async
    /// task that runs other work meanwhile, use [`EventLog::append_async`].
    pub fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended> {
        let pending = self.begin_append(stream, expected, events)?;
        self.wait_durable(pending.appended.last)?;
        Ok(pending.appended)
    }

    /// [`EventLog::append`] for async tasks: the batch is applied at once, then
    /// the task awaits its durability instead of blocking its thread, so that
    /// other tasks (or other futures of the same task) apply their batches
    /// meanwhile and share the next flush. The appender that leads a flush
    /// (after yielding once, so that the futures ready to run apply theirs
    /// first) makes it inline: about a millisecond of I/O on its thread. Call
    /// this inside a tokio runtime.
    pub async fn append_async(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended> {
        let pending = self.begin_append(stream, expected, events)?;
        pending.durable().await
    }

    /// The first half of an append: checks and applies the batch to the storage
    /// and returns it as [`PendingAppend`], not yet durable and not yet visible
    /// to readers; [`PendingAppend::durable`] (or [`PendingAppend::wait`]) makes
    /// it so. For a caller that must apply under a lock of its own and await the
    /// flush outside it. The records as appended are in
    /// [`PendingAppend::records`].
    pub fn begin_append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<PendingAppend> {
        if events.is_empty() {
            return Err(LogError::InvalidBatch(
                "a batch needs at least one event".into(),
            ));
        }
        if let Err(e) = StreamId::parse(stream.as_str()) {
            return Err(LogError::InvalidBatch(e.to_string()));
        }
        if let Some(original) = &self.inner.copy_of {
            return Err(LogError::InvalidBatch(format!(
                "this handle reads a copy of the log at {}; it does not append",
                original.display()
            )));
        }
        let mut w = self.writer();
        if w.poisoned || self.durability().failed {
            return Err(LogError::Poisoned);
        }
        if let Some(why) = &w.distrust {
            return Err(why.clone_for_refusal());
        }
        if let Some((appended, records)) = self.existing_batch(stream, &events, w.head.position)? {
            drop(w);
            return Ok(PendingAppend {
                log: self.clone(),
                appended,
                records,
            });
        }
        let (current, _) = self.stream_state(&mut w, stream)?;
        if !expected.admits(current) {
            return Err(LogError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                current,
            });
        }

        let now = self.inner.clock.now();
        let first = w.head.position + 1;
        let mut prev = w.head.hash;
        let mut batch = sled::Batch::default();
        let mut chunk = ChunkWriter::new();
        let mut chunk_first = first;
        let mut scratch = Vec::with_capacity(512);
        let mut records = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let position = first + i as u64;
            if chunk.count() >= CHUNK_MAX_RECORDS || chunk.len_bytes() >= CHUNK_MAX_BYTES {
                let full = std::mem::replace(&mut chunk, ChunkWriter::new());
                batch.insert(&keys::chunk(chunk_first), full.finish());
                chunk_first = position;
            }
            let (hash, _) = chunk.push_record(
                &Unsealed {
                    position,
                    recorded_at: now,
                    stream,
                    stream_version: current + 1 + i as u64,
                    event_id: e.id.as_ref(),
                    causation: e.causation.as_ref(),
                    event: &e.event,
                    prev_hash: prev,
                },
                &mut scratch,
            );
            records.push(Record {
                position,
                recorded_at: now,
                stream: stream.clone(),
                stream_version: current + 1 + i as u64,
                event_id: e.id.clone(),
                causation: e.causation.clone(),
                event: e.event.clone(),
                prev_hash: prev,
                hash,
            });
            prev = hash;
            if let Some(id) = &e.id {
                batch.insert(keys::id(id), &position.to_be_bytes());
            }
        }
        batch.insert(&keys::chunk(chunk_first), chunk.finish());
        let n = events.len() as u64;
        let last = first + n - 1;
        let version = current + n;
        batch.insert(keys::run(stream, current + 1), codec::encode_run(first, n));
        batch.insert(
            keys::stream(stream),
            codec::encode_stream_state(version, last),
        );
        batch.insert(keys::HEAD, codec::encode_head(last, prev));

        if let Err(e) = self
            .inner
            .db
            .apply_batch(batch)
            .map_err(LogError::storage("writing a batch"))
        {
            // Whether the storage holds part of it is unknown: stop writing, and
            // fail the appenders waiting for a flush (reopening recovers).
            w.poisoned = true;
            self.durability().failed = true;
            self.wake_all();
            return Err(e);
        }
        w.head = Head {
            position: last,
            hash: prev,
        };
        w.streams.insert(stream.clone(), (version, last));
        // Under the writer lock: `applied` only grows, in the log's order.
        self.durability().applied = w.head;
        drop(w);
        Ok(PendingAppend {
            log: self.clone(),
            appended: Appended {
                first,
                last,
                stream_version: version,
                duplicate: false,
            },
            records,
        })
    }

    /// Waits (blocking the thread) until `position` is durable, leading a flush
    /// when none is under way.
    fn wait_durable(&self, position: Position) -> Result<()> {
        let mut d = self.durability();
        loop {
            if d.durable.position >= position {
                return Ok(());
            }
            if d.failed {
                return Err(LogError::Poisoned);
            }
            if !d.flushing {
                d.flushing = true;
                drop(d);
                self.flush_as_leader()?;
                d = self.durability();
                continue;
            }
            d = self
                .inner
                .flushed
                .wait(d)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Waits (awaiting) until `position` is durable; a flush this task leads
    /// runs inline, after one yield.
    async fn wait_durable_async(&self, position: Position) -> Result<()> {
        let mut flushed = self.inner.flushed_tx.subscribe();
        let mut yielded = false;
        loop {
            let lead = {
                let mut d = self.durability();
                if d.durable.position >= position {
                    return Ok(());
                }
                if d.failed {
                    return Err(LogError::Poisoned);
                }
                if d.flushing {
                    Some(false)
                } else if !yielded {
                    None
                } else {
                    d.flushing = true;
                    Some(true)
                }
            };
            let Some(lead) = lead else {
                // Let the tasks (or futures of this task) ready to run apply
                // their batches first: the flush then takes them all.
                yielded = true;
                tokio::task::yield_now().await;
                continue;
            };
            if lead {
                // Inline: a flush is a millisecond of I/O, shorter than the two
                // thread hand-offs (to the blocking pool and back) that running
                // it elsewhere costs on a busy machine (ADR 0024, measured);
                // the followers meanwhile await without blocking. Synchronous,
                // so it cannot be left half-led by a dropped future.
                self.flush_as_leader()?;
                continue;
            }
            // Changed after the check above (the receiver was made before it).
            if flushed.changed().await.is_err() {
                return Err(LogError::Poisoned);
            }
        }
    }

    /// Makes everything applied so far durable (this caller set `flushing`),
    /// then publishes it: the durable head, `acked`, the head notification, the
    /// anchor; or poisons the log if the flush failed. Wakes every waiter either
    /// way.
    fn flush_as_leader(&self) -> Result<()> {
        // Every batch counted in `applied` is in the storage already (it is set
        // after the batch is applied), so the flush below covers it.
        let upto = self.durability().applied;
        let result = self.commit();
        self.inner.flushes.fetch_add(1, Ordering::Relaxed);
        if result.is_ok() {
            // After the batches are durable: the anchor may lag the log, never
            // lead it, so a failure here is reported but undoes nothing.
            let mut anchor = self
                .inner
                .anchor
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(anchor) = anchor.as_mut() {
                if let Err(e) = anchor.write(upto) {
                    tracing::warn!(error = %e, "could not update the head anchor; the next flush retries");
                }
            }
        }
        {
            let mut d = self.durability();
            d.flushing = false;
            match &result {
                Ok(()) => {
                    d.durable = upto;
                    self.inner.acked.store(upto.position, Ordering::Release);
                    self.inner.head_tx.send_replace(upto.position);
                }
                Err(_) => d.failed = true,
            }
        }
        // `failed` refuses every later append (`begin_append` checks it); the
        // writer lock is not taken here: `quiesced` holds it while it waits for
        // this flush.
        self.wake_all();
        result
    }

    fn wake_all(&self) {
        self.inner.flushed.notify_all();
        self.inner
            .flushed_tx
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Makes every batch applied so far durable.
    fn commit(&self) -> Result<()> {
        let db = &self.inner.db;
        // sled's flush writes its buffers and calls sync_file_range on Linux, which
        // does not flush the file's metadata or the disk's write cache: fsync too.
        db.flush().map_err(LogError::storage("flushing a batch"))?;
        let db_path = self.inner.dir.join("db");
        self.inner
            .db_file
            .sync_data()
            .map_err(LogError::io(&db_path))?;
        self.sync_blobs()
    }

    /// sled writes oversized pages to files under `blobs/` without fsyncing them.
    /// Our chunking keeps pages below that size, so the directory stays empty; if it
    /// ever is not, fsync what is there and the directory itself.
    fn sync_blobs(&self) -> Result<()> {
        let blobs = self.inner.dir.join("blobs");
        let entries = match std::fs::read_dir(&blobs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LogError::io(&blobs)(e)),
        };
        let mut any = false;
        for entry in entries {
            let path = entry.map_err(LogError::io(&blobs))?.path();
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(LogError::io(&path))?;
            any = true;
        }
        if any {
            fsync_dir(&blobs)?;
        }
        Ok(())
    }

    /// If the batch is a retry of one already in the log (applied up to
    /// `applied`, durable or not yet), its outcome and records.
    fn existing_batch(
        &self,
        stream: &StreamId,
        events: &[NewEvent],
        applied: Position,
    ) -> Result<Option<(Appended, Vec<Record>)>> {
        let mut seen: Vec<&EventId> = Vec::new();
        let mut found: Vec<(usize, Position)> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let Some(id) = &e.id else { continue };
            if seen.contains(&id) {
                return Err(LogError::InvalidBatch(format!(
                    "event id {id} appears twice in one batch"
                )));
            }
            seen.push(id);
            if let Some(p) = self.position_upto(id, applied)? {
                found.push((i, p));
            }
        }
        let Some(&(first_i, first_pos)) = found.first() else {
            return Ok(None);
        };
        let conflict = |detail: String| LogError::IdConflict {
            id: events[first_i].id.clone().expect("found ids are ids"),
            position: first_pos,
            detail,
        };
        if found.len() != events.len() {
            return Err(conflict(format!(
                "{} of the batch's {} events are already in the log",
                found.len(),
                events.len()
            )));
        }
        let mut version = 0;
        let mut records = Vec::with_capacity(found.len());
        for (i, p) in &found {
            let expected = first_pos + *i as u64;
            let record = self
                .get_upto(*p, applied)?
                .ok_or_else(|| conflict(format!("the id index points at missing position {p}")))?;
            if *p != expected || record.stream != *stream || record.event != events[*i].event {
                return Err(conflict(format!(
                    "the stored record at position {p} differs from event {i} of the batch"
                )));
            }
            version = record.stream_version;
            records.push(record);
        }
        Ok(Some((
            Appended {
                first: first_pos,
                last: first_pos + events.len() as u64 - 1,
                stream_version: version,
                duplicate: true,
            },
            records,
        )))
    }

    /// Where the event with this id is, if it is in the log.
    pub fn position_of(&self, id: &EventId) -> Result<Option<Position>> {
        self.position_upto(id, self.inner.acked.load(Ordering::Acquire))
    }

    /// Where the event with this id is, if it is at or before `upto`.
    fn position_upto(&self, id: &EventId, upto: Position) -> Result<Option<Position>> {
        let found = self
            .inner
            .db
            .get(keys::id(id))
            .map_err(LogError::storage("looking up an event id"))?;
        Ok(found
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok().map(u64::from_be_bytes))
            .filter(|p| *p <= upto))
    }

    /// The record with this id, if it is in the log.
    pub fn find_by_id(&self, id: &EventId) -> Result<Option<Record>> {
        match self.position_of(id)? {
            Some(p) => self.get(p),
            None => Ok(None),
        }
    }

    /// The record at `position`, if there is one.
    pub fn get(&self, position: Position) -> Result<Option<Record>> {
        self.get_upto(position, self.inner.acked.load(Ordering::Acquire))
    }

    /// The record at `position`, if there is one at or before `upto`.
    fn get_upto(&self, position: Position, upto: Position) -> Result<Option<Record>> {
        if position == 0 || position > upto {
            return Ok(None);
        }
        // One record: decode just it, not its whole chunk.
        let mut it = RecordIter::new(self.inner.db.clone(), position, position);
        match it.next() {
            Some(Ok(r)) if r.position == position => Ok(Some(r)),
            Some(Ok(_)) | None => Ok(None),
            Some(Err(e)) => Err(e),
        }
    }

    /// Every record from `position` (inclusive) to the head, in order.
    pub fn read_from(&self, position: Position) -> RecordIter {
        let until = self.inner.acked.load(Ordering::Acquire);
        RecordIter::new(self.inner.db.clone(), position.max(1), until)
    }

    /// Every record of one stream from `version` (inclusive), in order.
    pub fn read_stream(&self, stream: &StreamId, from_version: u64) -> Result<Vec<Record>> {
        self.read_stream_upto(
            stream,
            from_version,
            self.inner.acked.load(Ordering::Acquire),
        )
    }

    /// [`EventLog::read_stream`] including the batches applied and still being
    /// made durable (group commit, ADR 0024): for a writer that folds a stream
    /// in order to append to it with an expected version, which the log checks
    /// against every applied batch. A batch read this way is durable once any
    /// later append of the reader is (flushes keep the log's order); if its
    /// flush fails instead, the log is poisoned and no later append succeeds.
    pub fn read_stream_for_append(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<Record>> {
        let applied = self.durability().applied.position;
        self.read_stream_upto(stream, from_version, applied)
    }

    fn read_stream_upto(
        &self,
        stream: &StreamId,
        from_version: u64,
        until: Position,
    ) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let start = keys::run(stream, 0);
        let prefix_len = start.len() - 8;
        let prefix = start[..prefix_len].to_vec();
        // The run that contains `from_version` may start before it: start at the
        // last run that starts at or before it, not at the stream's first run (a
        // site stream has thousands of runs; a fold reads only its tail).
        let seek = match self
            .inner
            .db
            .range(start.clone()..=keys::run(stream, from_version))
            .next_back()
        {
            Some(item) => item.map_err(LogError::storage("reading a stream index"))?.0,
            None => start.into(),
        };
        let mut runs: Vec<(u64, Position, u64)> = Vec::new();
        for item in self.inner.db.range(seek..) {
            let (k, v) = item.map_err(LogError::storage("reading a stream index"))?;
            if !k.starts_with(&prefix) {
                break;
            }
            let first_version = u64::from_be_bytes(k[prefix_len..].try_into().map_err(|_| {
                LogError::InvalidBatch(format!("bad stream index key for {stream}"))
            })?);
            let (first, count) = codec::decode_run(&v).map_err(|source| LogError::Corrupt {
                position: 0,
                source,
            })?;
            if first_version + count > from_version {
                runs.push((first_version, first, count));
            }
        }
        for (first_version, first, count) in runs {
            let skip = from_version.saturating_sub(first_version);
            for r in RecordIter::new(self.inner.db.clone(), (first + skip).max(1), until)
                .take((count - skip.min(count)) as usize)
            {
                out.push(r?);
            }
        }
        Ok(out)
    }

    /// Names of all streams with their versions (what is being made durable
    /// is waited for first).
    pub fn streams(&self) -> Result<Vec<(StreamId, u64)>> {
        let applied = self.durability().applied.position;
        self.wait_durable(applied)?;
        let mut out = Vec::new();
        for item in self.inner.db.scan_prefix(keys::STREAM_PREFIX) {
            let (k, v) = item.map_err(LogError::storage("listing streams"))?;
            let name = std::str::from_utf8(&k[1..])
                .ok()
                .and_then(|s| StreamId::parse(s).ok());
            let (version, _) =
                codec::decode_stream_state(&v).map_err(|source| LogError::Corrupt {
                    position: 0,
                    source,
                })?;
            if let Some(name) = name {
                out.push((name, version));
            }
        }
        Ok(out)
    }

    /// Bytes the log's files take on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        fn walk(path: &Path) -> std::io::Result<u64> {
            let mut total = 0;
            for entry in std::fs::read_dir(path)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                total += if meta.is_dir() {
                    walk(&entry.path())?
                } else {
                    meta.len()
                };
            }
            Ok(total)
        }
        walk(&self.inner.dir).map_err(LogError::io(&self.inner.dir))
    }

    pub(crate) fn db(&self) -> &sled::Db {
        &self.inner.db
    }

    /// Runs `f` with appends held off and everything applied durable, so it
    /// sees one consistent log.
    pub(crate) fn quiesced<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        let w = self.writer();
        self.wait_durable(w.head.position)?;
        let out = f();
        drop(w);
        Ok(out)
    }
}

/// A batch applied by [`EventLog::begin_append`] and not yet durable.
#[must_use = "an append is durable (and visible) only once awaited"]
pub struct PendingAppend {
    log: EventLog,
    appended: Appended,
    records: Vec<Record>,
}

impl std::fmt::Debug for PendingAppend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAppend")
            .field("appended", &self.appended)
            .finish_non_exhaustive()
    }
}

impl PendingAppend {
    /// The batch's records as appended (or as found, for a repeated batch).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Where the batch went.
    pub fn appended(&self) -> &Appended {
        &self.appended
    }

    /// Awaits the batch's durability (sharing a flush with other batches).
    pub async fn durable(self) -> Result<Appended> {
        self.log.wait_durable_async(self.appended.last).await?;
        Ok(self.appended)
    }

    /// Blocks the thread until the batch is durable.
    pub fn wait(self) -> Result<Appended> {
        self.log.wait_durable(self.appended.last)?;
        Ok(self.appended)
    }
}

impl Inner {
    /// The head to leave in the `closed` file as this handle closes: `None` when
    /// the handle is a copy's, refused appends (poisoned or distrusting its
    /// anchor), or cannot read its head record.
    fn closed_head(&self) -> Option<ClosedHead> {
        let w = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.copy_of.is_some() || w.poisoned || w.distrust.is_some() {
            return None;
        }
        let head = w.head;
        let durability = self
            .durability
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Everything applied is on disk, and no flush failed.
        if durability.failed
            || durability.durable != head
            || self.acked.load(Ordering::Acquire) != head.position
        {
            return None;
        }
        drop(durability);
        let recorded_at = if head.position == 0 {
            None
        } else {
            let record = RecordIter::new(self.db.clone(), head.position, head.position)
                .next()?
                .ok()?;
            if record.hash != head.hash {
                return None;
            }
            Some(record.recorded_at)
        };
        let mut sites = Vec::new();
        let prefix = [keys::STREAM_PREFIX, b"jira:".as_slice()].concat();
        for item in self.db.scan_prefix(prefix) {
            let (k, _) = item.ok()?;
            let name = std::str::from_utf8(&k[1..]).ok()?;
            sites.push(name.strip_prefix("jira:")?.to_owned());
        }
        Some(ClosedHead {
            position: head.position,
            hash: head.hash.to_hex(),
            recorded_at,
            sites,
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(head) = self.closed_head() {
            if let Err(e) = closed::write(&self.dir, &head) {
                tracing::info!(dir = %self.dir.display(), error = %e, "cannot write the log's closed head; readers will open the log");
            }
        }
        holder::remove_own(&self.dir);
    }
}
