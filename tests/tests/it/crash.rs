//! A writer process is killed with SIGKILL at random moments while it appends.
//! After each kill: the log opens, `verify` passes, positions are gapless, no batch
//! is partly present, and every batch whose append had returned is there.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use grantledger_eventlog::EventLog;
use grantledger_model::{Event, StreamId};
use grantledger_tests::{parse_crash_account, CRASH_BATCH};

const TRIALS: u64 = 24;

/// A small deterministic generator for the kill delays (xorshift).
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % 60
    }
}

#[test]
fn sigkill_mid_append_loses_no_acknowledged_batch_and_no_batch_is_partial() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("kill-delay seed {seed}");
    let mut delays = Delays(seed);
    let mut max_acked: Option<u64> = None;
    let mut grew = 0;
    let mut last_batches = 0u64;
    for trial in 0..TRIALS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-writer"))
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the writer's first acknowledged batch, then kill it at a random
        // moment of the appends that follow.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        std::thread::sleep(Duration::from_millis(delays.next_ms()));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        let mut stdout = first;
        out.read_to_string(&mut stdout).unwrap();
        let stderr = grantledger_tests::drain(child.stderr.take());
        assert!(
            status.code().is_none(),
            "trial {trial}: the writer exited by itself: {stderr}"
        );
        for line in stdout.lines() {
            let n: u64 = line.strip_prefix("acked ").unwrap().parse().unwrap();
            max_acked = Some(max_acked.map_or(n, |m| m.max(n)));
        }

        let log = EventLog::open(dir.path()).unwrap();
        let report = log.verify().unwrap();
        assert!(report.is_ok(), "trial {trial}: {:?}", report.problem);
        let mut counts: Vec<u64> = Vec::new();
        for (i, record) in log.read_from(1).enumerate() {
            let record = record.unwrap();
            assert_eq!(record.position, i as u64 + 1, "trial {trial}: gap");
            assert_eq!(record.stream, StreamId::jira_site("crash"));
            let Event::UserObserved(e) = record.event else {
                panic!("unexpected event")
            };
            let (batch, idx) = parse_crash_account(e.user.account_id.as_str()).unwrap();
            if batch as usize == counts.len() {
                counts.push(0);
            }
            assert_eq!(
                batch as usize,
                counts.len() - 1,
                "trial {trial}: batches out of order"
            );
            assert_eq!(
                idx, counts[batch as usize],
                "trial {trial}: events out of order in batch {batch}"
            );
            counts[batch as usize] += 1;
        }
        assert!(
            counts.iter().all(|c| *c == CRASH_BATCH),
            "trial {trial}: a batch is partly present: {counts:?}"
        );
        let present = counts.len() as u64;
        if let Some(m) = max_acked {
            assert!(
                present > m,
                "trial {trial}: batch {m} was acknowledged but only {present} batches survived"
            );
        }
        if present > last_batches {
            grew += 1;
        }
        last_batches = present;
        drop(log);
    }
    // The kills must have landed while the writer was working, not before it began.
    assert!(
        grew >= TRIALS / 2,
        "the writer made progress in only {grew} of {TRIALS} trials"
    );
}
