//! Event log throughput, replay, open time and disk use.
//!
//! Two baselines are measured in the same run: raw sled with one key per event
//! (what sled costs without our chunking), and the physical limit — the same
//! encoded record bytes appended to a plain file with one `fdatasync` per batch
//! (what the disk costs, with no index at all).
//!
//! `cargo bench -p grantledger-benches --bench eventlog`
//! Sizes: `GL_BENCH_EVENTS` (appended events per run, default 1,000,000),
//! `GL_BENCH_BASELINE_EVENTS` (raw sled baseline, default 200,000),
//! `GL_BENCH_OPEN_EVENTS` (log size for the open-time figure, default 5,000,000),
//! `GL_BENCH_RUNS` (runs per figure; the median is printed, default 3).

use std::time::Instant;

use grantledger_benches::{dir_size, env_u64, median, rate};
use grantledger_eventlog::{EventLog, ExpectedVersion, NewEvent};
use grantledger_model::{AccountId, AccountType, StreamId, UserObserved, UserRecord};

const BATCH: u64 = 1_000;

/// A directory event of about 200 encoded bytes.
fn event(n: u64) -> NewEvent {
    NewEvent::new(UserObserved {
        user: UserRecord {
            account_id: AccountId::new(format!("5b10a2844c20165700ede{n:011}")),
            account_type: AccountType::Atlassian,
            display_name: format!("Employee Number {n:08}"),
            email: Some(format!("employee.{n:08}@example.test")),
            active: true,
        },
    })
}

/// The events in batches, built before any timing starts.
fn batches(events: u64) -> Vec<Vec<NewEvent>> {
    (0..events.div_ceil(BATCH))
        .map(|b| {
            (b * BATCH..((b + 1) * BATCH).min(events))
                .map(event)
                .collect()
        })
        .collect()
}

fn fill(log: &EventLog, stream: &StreamId, batches: Vec<Vec<NewEvent>>) {
    for batch in batches {
        log.append(stream, ExpectedVersion::Any, batch)
            .expect("append");
    }
}

/// The baseline: raw sled, one key per event (same ~200-byte value), one flush per
/// 1,000-event batch.
fn raw_sled(events: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path()).unwrap();
    let value = vec![0x5a_u8; 200];
    let start = Instant::now();
    let mut n = 0u64;
    while n < events {
        let mut batch = sled::Batch::default();
        for i in n..n + BATCH {
            batch.insert(&i.to_be_bytes(), value.as_slice());
        }
        db.apply_batch(batch).unwrap();
        db.flush().unwrap();
        n += BATCH;
    }
    rate(events, start.elapsed())
}

/// The physical limit: `batches` (each the concatenated encoded bytes of one
/// batch's records) appended to a plain file, one `fdatasync` per batch.
fn plain_file(batches: &[Vec<u8>], events: u64) -> f64 {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut file = std::fs::File::create(dir.path().join("records")).unwrap();
    let start = Instant::now();
    for batch in batches {
        file.write_all(batch).unwrap();
        file.sync_data().unwrap();
    }
    rate(events, start.elapsed())
}

/// The encoded bytes of a log's records, concatenated per batch of `BATCH`.
fn encoded_batches(log: &EventLog) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for (i, r) in log.read_from(1).enumerate() {
        if i as u64 % BATCH == 0 {
            out.push(Vec::new());
        }
        let bytes = grantledger_eventlog::codec::encode(&r.expect("read")).0;
        out.last_mut().unwrap().extend_from_slice(&bytes);
    }
    out
}

fn main() {
    let events = env_u64("GL_BENCH_EVENTS", 1_000_000);
    let baseline_events = env_u64("GL_BENCH_BASELINE_EVENTS", 200_000);
    let open_events = env_u64("GL_BENCH_OPEN_EVENTS", 5_000_000);
    let runs = env_u64("GL_BENCH_RUNS", 3) as usize;
    let stream = StreamId::jira_site("bench");

    let encoded = {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        log.append(&stream, ExpectedVersion::Any, vec![event(1)])
            .unwrap();
        let r = log.get(1).unwrap().unwrap();
        grantledger_eventlog::codec::encode(&r).0.len() as u64
    };
    println!("event log bench: {events} events in batches of {BATCH}, ~{encoded} encoded bytes per record, median of {runs} runs");

    let (_, base) = median(runs, || raw_sled(baseline_events));
    // Measure append and replay on the same log, median over runs.
    let mut appends = Vec::new();
    let mut replays = Vec::new();
    let mut amplification = 0.0;
    let mut physical_input = Vec::new();
    for _ in 0..runs.max(1) {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path()).unwrap();
        let input = batches(events);
        let start = Instant::now();
        fill(&log, &stream, input);
        appends.push(rate(events, start.elapsed()));
        let start = Instant::now();
        let mut n = 0u64;
        for r in log.read_from(1) {
            r.expect("replay");
            n += 1;
        }
        assert_eq!(n, events);
        replays.push(rate(events, start.elapsed()));
        if physical_input.is_empty() {
            physical_input = encoded_batches(&log);
        }
        drop(log);
        amplification = dir_size(dir.path()) as f64 / (encoded * events) as f64;
    }
    appends.sort_by(f64::total_cmp);
    replays.sort_by(f64::total_cmp);
    let append = appends[appends.len() / 2];
    let replay = replays[replays.len() / 2];
    let mut physicals: Vec<f64> = (0..runs.max(1))
        .map(|_| plain_file(&physical_input, events))
        .collect();
    physicals.sort_by(f64::total_cmp);
    let physical = physicals[physicals.len() / 2];
    drop(physical_input);

    println!("raw sled, one key per event, flush per batch: {base:>12.0} events/s (baseline)");
    println!(
        "plain file, same bytes, fdatasync per batch: {physical:>12.0} events/s (physical limit)"
    );
    println!("durable batched append (flush + fsync):      {append:>12.0} events/s  ratio {:.1}x baseline  (goals: >= 400,000/s, >= 5x)", append / base);
    println!(
        "durable append / physical limit:             {:>12.2}x  (1.00x would be the disk's own speed)",
        append / physical
    );
    println!("full replay (read + decode + hash check):    {replay:>12.0} events/s  (goal: >= 1,000,000/s)");
    println!(
        "disk use / encoded bytes:                    {amplification:>12.2}x  (goal: <= 2.5x)"
    );

    let dir = tempfile::tempdir().unwrap();
    {
        let log = EventLog::open(dir.path()).unwrap();
        for chunk in 0..open_events.div_ceil(events) {
            let n = events.min(open_events - chunk * events);
            fill(&log, &stream, batches(n));
        }
    }
    let (open_time, head) = median(runs, || EventLog::open(dir.path()).unwrap().head().position);
    assert_eq!(head, open_events);
    println!(
        "open an existing {open_events}-event log:      {:>12.1} ms (goal: < 200 ms); size on disk {:.2}x encoded",
        open_time.as_secs_f64() * 1e3,
        dir_size(dir.path()) as f64 / (encoded * open_events) as f64
    );
}
