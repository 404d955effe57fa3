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

    fn fill(&mut self) -> Result<bool> {
        if self.iter.is_none() {
            self.iter = Some(self.start()?);
        }
        let iter = self.iter.as_mut().expect("started");
        let Some(item) = iter.next() else {
            return Ok(false);
        };
        let (key, value) = item.map_err(LogError::storage("reading records"))?;
        let key_pos = keys::chunk_position(&key);
        if key_pos > self.until {
            return Ok(false);
        }
        let parts = codec::split_chunk(&value).map_err(|source| LogError::Corrupt {
            position: key_pos,
            source,
        })?;
        let mut records = Vec::with_capacity(parts.len());
        // Records of a chunk are consecutive from its key: decode only those asked for.
        let skip = self.from.saturating_sub(key_pos) as usize;
        for (i, bytes) in parts.into_iter().enumerate().skip(skip) {
            if key_pos + i as u64 > self.until {
                break;
            }
            let record = codec::decode_record(bytes).map_err(|source| LogError::Corrupt {
                position: key_pos + i as u64,
                source,
            })?;
            if (self.from..=self.until).contains(&record.position) {
                records.push(record);
            }
        }
        self.buffered = records.into_iter();
        Ok(true)
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
