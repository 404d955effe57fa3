//! Snapshots: a disposable cache of projections, stored in a directory beside the
//! log, so that a point-in-time answer replays only the records after the nearest
//! snapshot instead of the whole log.
//!
//! Each snapshot file is keyed by what it is (`kind`), the site, the position it
//! covers, the log's hash at that position, and the projection's format version.
//! A snapshot is used only when all of these agree with the log and with this
//! build, and its payload checksum holds; anything else is ignored (and removed)
//! and the answer is rebuilt from the log. Deleting every snapshot changes no
//! answer, only the time it takes (see ADR 0008).
//!
//! File layout: `<kind>.<site as hex>.<position, 20 digits>.snap`, holding a fixed
//! magic, a bincode header ([`Header`]) and the bincode payload. The payload's
//! checksum is a CRC-32: it is there to catch a damaged file, which is all a
//! checksum stored beside its data can do (anyone able to rewrite the payload
//! can rewrite a SHA-256 beside it too); what ties a snapshot to the log is the
//! log's hash at its position. CRC-32 reads at memory speed where SHA-256 cost
//! a third of loading a large state (ADR 0025).

use std::fs;
use std::io::{Read, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use grantledger_eventlog::{EventLog, Hash, Position};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::QueryError;

/// The file layout's magic; its last byte is the layout version.
const MAGIC: &[u8; 8] = b"GLSNAP\x00\x02";

/// What a snapshot file says about itself, before its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    kind: String,
    format: u32,
    site: String,
    position: Position,
    head_hash: [u8; 32],
    payload_crc32: u32,
}

/// A directory of snapshot files.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
}

/// A snapshot file found in the store (not yet checked against the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Its path.
    pub path: PathBuf,
    /// The position its name claims.
    pub position: Position,
    /// Its size in bytes.
    pub bytes: u64,
}

impl SnapshotStore {
    /// A store in `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn prefix(kind: &str, site: &str) -> String {
        format!("{kind}.{}.", hex::encode(site))
    }

    /// The snapshot files of `kind` for `site`, by position, oldest first.
    pub fn list(&self, kind: &str, site: &str) -> Result<Vec<SnapshotFile>, QueryError> {
        let prefix = Self::prefix(kind, site);
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(QueryError::snapshot_io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| QueryError::snapshot_io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let Some(Ok(position)) = rest.strip_suffix(".snap").map(str::parse::<u64>) else {
                continue;
            };
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(SnapshotFile {
                path: entry.path(),
                position,
                bytes,
            });
        }
        out.sort_by_key(|f| f.position);
        Ok(out)
    }

    /// Writes a snapshot of `value` covering `position` of `log` (whose record at
    /// that position must exist). Written to a temporary name and renamed, so a
    /// reader never sees half a file.
    pub fn save<T: Serialize>(
        &self,
        log: &EventLog,
        kind: &str,
        format: u32,
        site: &str,
        position: Position,
        value: &T,
    ) -> Result<SnapshotFile, QueryError> {
        let hash = hash_at(log, position)?.ok_or(QueryError::PositionPastHead {
            position,
            head: log.head().position,
        })?;
        let payload = bincode::serialize(value).map_err(QueryError::SnapshotEncode)?;
        let header = Header {
            kind: kind.to_owned(),
            format,
            site: site.to_owned(),
            position,
            head_hash: hash.0,
            payload_crc32: crc32fast::hash(&payload),
        };
        let header = bincode::serialize(&header).map_err(QueryError::SnapshotEncode)?;
        fs::create_dir_all(&self.dir).map_err(|e| QueryError::snapshot_io(&self.dir, e))?;
        let name = format!("{}{position:020}.snap", Self::prefix(kind, site));
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&(header.len() as u32).to_le_bytes())?;
            f.write_all(&header)?;
            f.write_all(&payload)?;
            f.flush()?;
            fs::rename(&tmp, &path)
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(QueryError::snapshot_io(&path, e));
        }
        let bytes = (MAGIC.len() + 4 + header.len() + payload.len()) as u64;
        Ok(SnapshotFile {
            path,
            position,
            bytes,
        })
    }

    /// The newest usable snapshot of `kind` for `site` at or before `at`: its
    /// position, hash at that position, format and checksum must all agree.
    /// Unusable files on the way are removed (they are a cache; the log rebuilds
    /// them) and reported to tracing.
    pub fn load_at_or_before<T: DeserializeOwned>(
        &self,
        log: &EventLog,
        kind: &str,
        format: u32,
        site: &str,
        at: Position,
    ) -> Result<Option<(Position, T)>, QueryError> {
        self.newest_usable(kind, site, at, |file| {
            self.check(log, file, kind, format, site)
        })
    }

    /// What `read` makes of the newest snapshot file of `kind` for `site` at or
    /// before `at` that it can read; those it cannot are removed on the way.
    fn newest_usable<V>(
        &self,
        kind: &str,
        site: &str,
        at: Position,
        read: impl Fn(&SnapshotFile) -> Result<V, String>,
    ) -> Result<Option<(Position, V)>, QueryError> {
        for file in self.list(kind, site)?.into_iter().rev() {
            if file.position > at {
                continue;
            }
            match read(&file) {
                Ok(value) => return Ok(Some((file.position, value))),
                Err(why) => self.discard(&file, &why),
            }
        }
        Ok(None)
    }

    /// As [`Self::load_at_or_before`], for a value followed by a tail that
    /// `check` checks and [`Tail`] reads again later (see
    /// [`Self::read_with_tail`]).
    pub(crate) fn load_with_tail_at_or_before<T: DeserializeOwned, C>(
        &self,
        log: &EventLog,
        kind: &str,
        format: u32,
        site: &str,
        at: Position,
        check: impl Fn(&mut dyn Read, u64) -> Result<C, String>,
    ) -> Result<Option<(Position, T, Tail, C)>, QueryError> {
        let found = self.newest_usable(kind, site, at, |file| {
            let (hash, value, tail, checked) =
                self.read_with_tail(file, kind, format, site, &check)?;
            check_hash(log, file.position, hash)?;
            Ok((value, tail, checked))
        })?;
        Ok(found.map(|(position, (value, tail, checked))| (position, value, tail, checked)))
    }

    fn check<T: DeserializeOwned>(
        &self,
        log: &EventLog,
        file: &SnapshotFile,
        kind: &str,
        format: u32,
        site: &str,
    ) -> Result<T, String> {
        let (hash, value) = self.read_unchecked(file, kind, format, site)?;
        check_hash(log, file.position, hash)?;
        Ok(value)
    }

    /// Reads a snapshot file without the log: its magic, header (format, kind,
    /// site, position) and payload checksum are checked and the payload decoded;
    /// what is left to check is that the log has the returned hash at the file's
    /// position ([`check_hash`]).
    pub(crate) fn read_unchecked<T: DeserializeOwned>(
        &self,
        file: &SnapshotFile,
        kind: &str,
        format: u32,
        site: &str,
    ) -> Result<(Hash, T), String> {
        self.read_parts(
            file,
            kind,
            format,
            site,
            None::<fn(&mut dyn Read, u64) -> Result<(), String>>,
        )
        .map(|(hash, value, _)| (hash, value))
    }

    /// As [`Self::read_unchecked`], for a value whose encoding is followed in the
    /// payload by a tail that is checked now and read again only when used:
    /// `check` is handed the tail as a stream (the bytes after the value, to the
    /// payload's end) and its length, and must read all of it; what it returns
    /// comes back with a [`Tail`] that reads those bytes again later, from the
    /// same open file (which POSIX keeps readable, and its space in use, while a
    /// `Tail` holds it, even once it is removed or replaced).
    pub(crate) fn read_with_tail<T: DeserializeOwned, C>(
        &self,
        file: &SnapshotFile,
        kind: &str,
        format: u32,
        site: &str,
        check: impl FnOnce(&mut dyn Read, u64) -> Result<C, String>,
    ) -> Result<(Hash, T, Tail, C), String> {
        let (hash, value, tail) = self.read_parts(file, kind, format, site, Some(check))?;
        let (tail, checked) = tail.ok_or("no tail was read")?;
        Ok((hash, value, tail, checked))
    }

    fn read_parts<T: DeserializeOwned, C>(
        &self,
        file: &SnapshotFile,
        kind: &str,
        format: u32,
        site: &str,
        check_tail: Option<impl FnOnce(&mut dyn Read, u64) -> Result<C, String>>,
    ) -> Result<Parts<T, C>, String> {
        use bincode::Options as _;
        let f = fs::File::open(&file.path).map_err(|e| e.to_string())?;
        // A second handle on the same open file, for a tail read later: it reads
        // these bytes even if the file is replaced or removed meanwhile.
        let kept = match check_tail {
            Some(_) => Some(f.try_clone().map_err(|e| e.to_string())?),
            None => None,
        };
        let total = f.metadata().map_err(|e| e.to_string())?.len();
        let mut r = std::io::BufReader::with_capacity(256 * 1024, f);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)
            .map_err(|_| "not a snapshot file".to_owned())?;
        if &magic != MAGIC {
            return Err(if magic[..7] == MAGIC[..7] {
                format!(
                    "snapshot layout {} (this build reads layout {})",
                    magic[7], MAGIC[7]
                )
            } else {
                "not a snapshot file".into()
            });
        }
        let mut len = [0u8; 4];
        r.read_exact(&mut len).map_err(|_| "truncated".to_owned())?;
        let header_len = u32::from_le_bytes(len) as u64;
        let payload_len = total
            .checked_sub(12 + header_len)
            .ok_or("truncated header")?;
        let mut header = vec![0u8; header_len as usize];
        r.read_exact(&mut header)
            .map_err(|_| "truncated header".to_owned())?;
        let header: Header = bincode::deserialize(&header).map_err(|e| format!("header: {e}"))?;
        if header.format != format {
            return Err(format!(
                "format {} (this build reads {format})",
                header.format
            ));
        }
        if header.kind != kind || header.site != site || header.position != file.position {
            return Err("its header does not match its name".into());
        }
        // The payload is decoded as it is read, through its checksum: no copy of
        // the whole file is made. Lengths inside it are held to the payload's
        // size, so a damaged one cannot ask for more memory than that; the value
        // is used only if the checksum then holds.
        let mut payload = Checksummed {
            inner: r.take(payload_len),
            crc: crc32fast::Hasher::new(),
        };
        let value = bincode::DefaultOptions::new()
            .with_fixint_encoding()
            .allow_trailing_bytes()
            .with_limit(payload_len)
            .deserialize_from(&mut payload)
            .map_err(|e| format!("payload: {e}"));
        // What the value left of the payload: its tail. bincode reads exactly
        // what it decodes, so the tail starts where the reader stands.
        let tail_len = payload.inner.limit();
        let tail_offset = 12 + header_len + (payload_len - tail_len);
        let mut tail = None;
        if let (Ok(_), Some(check), Some(kept)) = (&value, check_tail, kept) {
            let mut part = Checksummed {
                inner: &mut payload,
                crc: crc32fast::Hasher::new(),
            };
            let checked = check(&mut part, tail_len).map_err(|e| format!("payload: {e}"));
            let tail_crc32 = part.crc.finalize();
            let left = payload.inner.limit();
            if checked.is_ok() && left != 0 {
                return Err(format!(
                    "payload: {left} bytes after the end of its last part"
                ));
            }
            tail = Some((
                Tail {
                    file: Arc::new(Mutex::new(kept)),
                    path: file.path.clone(),
                    offset: tail_offset,
                    len: tail_len,
                    crc32: tail_crc32,
                },
                checked,
            ));
        }
        std::io::copy(&mut payload, &mut std::io::sink()).map_err(|e| e.to_string())?;
        if payload.inner.limit() != 0 {
            return Err("truncated payload".into());
        }
        if payload.crc.finalize() != header.payload_crc32 {
            return Err("its payload checksum does not match".into());
        }
        let tail = match tail {
            Some((tail, checked)) => Some((tail, checked?)),
            None => None,
        };
        Ok((Hash(header.head_hash), value?, tail))
    }

    /// Removes a snapshot file that turned out unusable (it is a cache).
    pub(crate) fn discard(&self, file: &SnapshotFile, why: &str) {
        tracing::info!(file = %file.path.display(), %why, "ignoring and removing a snapshot");
        let _ = fs::remove_file(&file.path);
    }

    /// The sites that have snapshots of `kind` here, by name.
    pub(crate) fn sites(&self, kind: &str) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut sites: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let hex_site = name
                    .strip_prefix(kind)?
                    .strip_prefix('.')?
                    .split('.')
                    .next()?;
                String::from_utf8(hex::decode(hex_site).ok()?).ok()
            })
            .collect();
        sites.sort();
        sites.dedup();
        sites
    }

    /// Removes every snapshot of `kind` for `site` except the newest `keep` and
    /// those whose position is a multiple of `every`.
    pub fn prune(&self, kind: &str, site: &str, keep: usize, every: u64) -> Result<(), QueryError> {
        let files = self.list(kind, site)?;
        let n = files.len();
        for (i, f) in files.into_iter().enumerate() {
            let periodic = every > 0 && f.position % every == 0;
            if i + keep < n && !periodic {
                let _ = fs::remove_file(&f.path);
            }
        }
        Ok(())
    }
}

/// A snapshot read: the log's hash it names, its value, and its tail with what
/// the tail's check returned, when one was asked for.
type Parts<T, C> = (Hash, T, Option<(Tail, C)>);

/// The tail of a snapshot's payload, checked when the file was read and left on
/// disk: [`Tail::read`] reads it again, from the file as it was opened, and
/// holds it to the checksum it had then.
#[derive(Debug, Clone)]
pub(crate) struct Tail {
    file: Arc<Mutex<fs::File>>,
    path: PathBuf,
    offset: u64,
    len: u64,
    crc32: u32,
}

impl Tail {
    /// Its bytes, as they were when checked; an error says why not (the file
    /// was written over in place, or cannot be read).
    pub(crate) fn read(&self) -> Result<Vec<u8>, String> {
        let len = usize::try_from(self.len).map_err(|_| "a tail too large".to_owned())?;
        let mut bytes = Vec::with_capacity(len);
        {
            let mut f = self
                .file
                .lock()
                .map_err(|_| "a poisoned file lock".to_owned())?;
            f.seek(SeekFrom::Start(self.offset))
                .and_then(|_| (&mut *f).take(self.len).read_to_end(&mut bytes))
                .map_err(|e| format!("reading {}: {e}", self.path.display()))?;
        }
        if bytes.len() as u64 != self.len || crc32fast::hash(&bytes) != self.crc32 {
            return Err(format!(
                "the snapshot {} changed on disk after it was read (bytes {}.. no longer \
                 match their checksum); snapshots are a cache: remove them and run again",
                self.path.display(),
                self.offset
            ));
        }
        Ok(bytes)
    }
}

/// A reader that checksums what passes through it.
struct Checksummed<R> {
    inner: R,
    crc: crc32fast::Hasher,
}

impl<R: Read> Read for Checksummed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// The hash of the record at `position` (the zero hash for position 0).
fn hash_at(log: &EventLog, position: Position) -> Result<Option<Hash>, QueryError> {
    if position == 0 {
        return Ok(Some(Hash::ZERO));
    }
    Ok(log.get(position)?.map(|r| r.hash))
}

/// Whether the log holds `hash` at `position`, said as a reason when not.
pub(crate) fn check_hash(log: &EventLog, position: Position, hash: Hash) -> Result<(), String> {
    let in_log = hash_at(log, position).map_err(|e| e.to_string())?;
    if in_log != Some(hash) {
        return Err(format!(
            "it covers position {position} with hash {hash}, the log has {}",
            in_log.map_or_else(|| "no such position".to_owned(), |h| h.to_string())
        ));
    }
    Ok(())
}
