//! The writer thread: appends batches of events with exact expected versions.

use super::*;

pub(super) enum WriterMsg {
    Batch(Vec<Event>),
}

pub(super) struct Writer {
    pub(super) tx: mpsc::Sender<WriterMsg>,
    pub(super) handle: std::thread::JoinHandle<Result<Option<(Position, Position)>, LogError>>,
}

pub(super) fn start_writer(
    log: EventLog,
    stream: StreamId,
    version: u64,
    run: SyncRunId,
) -> Writer {
    // Unbounded: a send never blocks the async runtime; what waits is bounded by
    // the events one run computes.
    let (tx, rx) = mpsc::channel::<WriterMsg>();
    let handle = std::thread::Builder::new()
        .name("sync-writer".into())
        .spawn(move || {
            let mut version = version;
            let mut span: Option<(Position, Position)> = None;
            for msg in rx {
                let WriterMsg::Batch(events) = msg;
                let n = events.len() as u64;
                let batch = events
                    .into_iter()
                    .map(|e| NewEvent::new(e).caused_by(Causation::SyncRun(run.clone())))
                    .collect();
                let done = log.append(&stream, ExpectedVersion::Exact(version), batch)?;
                version += n;
                span = Some((span.map_or(done.first, |s| s.0), done.last));
            }
            Ok(span)
        })
        .expect("spawn the sync writer thread");
    Writer { tx, handle }
}
