//! Appends batches of `CRASH_BATCH` events to `jira:crash` in the log at argv[1]
//! forever, printing `acked <batch>` after each append returns. The crash test kills
//! it with SIGKILL at random moments.

use std::io::Write;

use grantledger_eventlog::{EventLog, ExpectedVersion};
use grantledger_model::StreamId;
use grantledger_tests::{crash_event, CRASH_BATCH};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: crash-writer <log dir>");
    let log = EventLog::open(&dir).expect("open the log");
    let stream = StreamId::jira_site("crash");
    let version = log.stream_version(&stream).expect("stream version");
    assert_eq!(version % CRASH_BATCH, 0, "a batch was partly present");
    let mut batch = version / CRASH_BATCH;
    let stdout = std::io::stdout();
    loop {
        let events = (0..CRASH_BATCH).map(|i| crash_event(batch, i)).collect();
        log.append(&stream, ExpectedVersion::Exact(batch * CRASH_BATCH), events)
            .expect("append");
        let mut out = stdout.lock();
        writeln!(out, "acked {batch}")
            .and_then(|_| out.flush())
            .expect("stdout");
        batch += 1;
    }
}
