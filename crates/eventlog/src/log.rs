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
use std::sync::{Arc, Mutex, MutexGuard};

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
}

struct Writer {
    head: Head,
    poisoned: bool,
    /// Set when the database and its head anchor disagree (the database was cut
    /// short, replaced or edited): appending would fork the history or erase the
    /// evidence, so this handle only reads.
    distrust: Option<LogError>,
    /// `None` while `distrust` is set: the anchor is left as found.
    anchor: Option<Anchor>,
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
                    anchor,
                    streams: HashMap::new(),
                }),
                head_tx,
                acked: AtomicU64::new(head.position),
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
        self.writer().head
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

    /// The stream's current version (0 if it has no events).
    pub fn stream_version(&self, stream: &StreamId) -> Result<u64> {
        let mut w = self.writer();
        Ok(self.stream_state(&mut w, stream)?.0)
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
    pub fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended> {
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
        if w.poisoned {
            return Err(LogError::Poisoned);
        }
        if let Some(why) = &w.distrust {
            return Err(why.clone_for_refusal());
        }
        if let Some(dup) = self.existing_batch(stream, &events)? {
            return Ok(dup);
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

        if let Err(e) = self.commit(batch) {
            w.poisoned = true;
            return Err(e);
        }
        w.head = Head {
            position: last,
            hash: prev,
        };
        w.streams.insert(stream.clone(), (version, last));
        self.inner.acked.store(last, Ordering::Release);
        self.inner.head_tx.send_replace(last);
        // After the batch is durable: the anchor may lag the log, never lead it, so
        // a failure here is reported but does not undo the acknowledged append.
        let head = w.head;
        if let Some(anchor) = w.anchor.as_mut() {
            if let Err(e) = anchor.write(head) {
                tracing::warn!(error = %e, "could not update the head anchor; the next append retries");
            }
        }
        drop(w);
        Ok(Appended {
            first,
            last,
            stream_version: version,
            duplicate: false,
        })
    }

    /// Applies a batch atomically and makes it durable.
    fn commit(&self, batch: sled::Batch) -> Result<()> {
        let db = &self.inner.db;
        db.apply_batch(batch)
            .map_err(LogError::storage("writing a batch"))?;
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

    /// If the batch is a retry of one already in the log, its outcome.
    fn existing_batch(&self, stream: &StreamId, events: &[NewEvent]) -> Result<Option<Appended>> {
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
            if let Some(p) = self.position_of(id)? {
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
        for (i, p) in &found {
            let expected = first_pos + *i as u64;
            let record = self
                .get(*p)?
                .ok_or_else(|| conflict(format!("the id index points at missing position {p}")))?;
            if *p != expected || record.stream != *stream || record.event != events[*i].event {
                return Err(conflict(format!(
                    "the stored record at position {p} differs from event {i} of the batch"
                )));
            }
            version = record.stream_version;
        }
        Ok(Some(Appended {
            first: first_pos,
            last: first_pos + events.len() as u64 - 1,
            stream_version: version,
            duplicate: true,
        }))
    }

    /// Where the event with this id is, if it is in the log.
    pub fn position_of(&self, id: &EventId) -> Result<Option<Position>> {
        let found = self
            .inner
            .db
            .get(keys::id(id))
            .map_err(LogError::storage("looking up an event id"))?;
        let acked = self.inner.acked.load(Ordering::Acquire);
        Ok(found
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok().map(u64::from_be_bytes))
            .filter(|p| *p <= acked))
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
        if position == 0 {
            return Ok(None);
        }
        if position > self.inner.acked.load(Ordering::Acquire) {
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
        let mut out = Vec::new();
        let start = keys::run(stream, 0);
        let prefix_len = start.len() - 8;
        let prefix = start[..prefix_len].to_vec();
        // The run that contains `from_version` may start before it.
        let mut runs: Vec<(u64, Position, u64)> = Vec::new();
        for item in self.inner.db.scan_prefix(&prefix) {
            let (k, v) = item.map_err(LogError::storage("reading a stream index"))?;
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
            for r in self
                .read_from(first + skip)
                .take((count - skip.min(count)) as usize)
            {
                out.push(r?);
            }
        }
        Ok(out)
    }

    /// Names of all streams with their versions.
    pub fn streams(&self) -> Result<Vec<(StreamId, u64)>> {
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

    /// Runs `f` with appends held off, so it sees one consistent log.
    pub(crate) fn quiesced<T>(&self, f: impl FnOnce() -> T) -> T {
        let _w = self.writer();
        f()
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
        if self.acked.load(Ordering::Acquire) != head.position {
            return None;
        }
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
