//! Reading records in position order, one stored chunk at a time, never past
//! the acknowledged head.

use crate::codec;
use crate::error::{LogError, Result};
use crate::keys;
use crate::record::{Position, Record};

/// Iterates records in position order, one stored chunk at a time.
pub struct RecordIter {
    db: sled::Db,
    from: Position,
    /// The acknowledged head when the iteration began: nothing past it is read.
    until: Position,
    iter: Option<sled::Iter>,
    buffered: std::vec::IntoIter<Record>,
    done: bool,
}

impl RecordIter {
    pub(crate) fn new(db: sled::Db, from: Position, until: Position) -> Self {
        Self {
            db,
            from,
            until,
            iter: None,
            buffered: Vec::new().into_iter(),
            done: false,
        }
    }

    /// The last position this iteration reads: the acknowledged head when it
    /// began.
    pub fn until(&self) -> Position {
        self.until
    }

    fn start(&mut self) -> Result<sled::Iter> {
        // The chunk holding `from` is keyed by its first position, at or before `from`.
        let start_key = match self
            .db
            .range(keys::chunk(0)..=keys::chunk(self.from))
            .next_back()
        {
            Some(item) => item
                .map_err(LogError::storage("finding a position"))?
                .0
                .to_vec(),
            None => keys::chunk(1).to_vec(),
        };
        Ok(self.db.range(start_key..keys::chunk_end().to_vec()))
    }

    /// The next stored chunk that holds records in `from..=until`, undecoded.
    pub(crate) fn next_chunk(&mut self) -> Result<Option<RawChunk>> {
        if self.iter.is_none() {
            self.iter = Some(self.start()?);
        }
        let iter = self.iter.as_mut().expect("started");
        let Some(item) = iter.next() else {
            return Ok(None);
        };
        let (key, bytes) = item.map_err(LogError::storage("reading records"))?;
        let first = keys::chunk_position(&key);
        if first > self.until {
            return Ok(None);
        }
        Ok(Some(RawChunk { first, bytes }))
    }

    fn fill(&mut self) -> Result<bool> {
        let Some(chunk) = self.next_chunk()? else {
            return Ok(false);
        };
        self.buffered = chunk.decode(self.from, self.until)?.into_iter();
        Ok(true)
    }
}

/// A stored chunk of records, undecoded.
pub(crate) struct RawChunk {
    /// The position of its first record.
    first: Position,
    bytes: sled::IVec,
}

impl RawChunk {
    /// The position of its first record.
    pub(crate) fn first(&self) -> Position {
        self.first
    }

    /// Its records in `from..=until`, each checked against its hash and decoded.
    pub(crate) fn decode(&self, from: Position, until: Position) -> Result<Vec<Record>> {
        let key_pos = self.first;
        let parts = codec::split_chunk(&self.bytes).map_err(|source| LogError::Corrupt {
            position: key_pos,
            source,
        })?;
        let mut records = Vec::with_capacity(parts.len());
        // Records of a chunk are consecutive from its key: decode only those asked for.
        let skip = from.saturating_sub(key_pos) as usize;
        for (i, bytes) in parts.into_iter().enumerate().skip(skip) {
            if key_pos + i as u64 > until {
                break;
            }
            let record = codec::decode_record(bytes).map_err(|source| LogError::Corrupt {
                position: key_pos + i as u64,
                source,
            })?;
            if (from..=until).contains(&record.position) {
                records.push(record);
            }
        }
        Ok(records)
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.buffered.next() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            match self.fill() {
                Ok(true) => continue,
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
