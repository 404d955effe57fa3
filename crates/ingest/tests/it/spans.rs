//! Log lines of a sync carry the run and the scope from spans, not from fields
//! repeated on every line.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use grantledger_ingest::{sync, SyncOptions};
use grantledger_testkit::{Harness, Preset, SITE};

/// A writer that keeps what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The capture behind a global subscriber, installed once for the test binary:
/// a thread-local one would miss callsites that other tests' threads hit first.
/// Lines of other tests land here too; the test looks for its own run's span.
fn captured() -> Captured {
    static OUT: OnceLock<Captured> = OnceLock::new();
    OUT.get_or_init(|| {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test sets a global subscriber");
        out
    })
    .clone()
}

#[tokio::test]
async fn a_runs_lines_carry_its_run_and_a_listings_lines_its_scope() {
    let out = captured();
    let h = Harness::start(Preset::Small, 3).await;

    let report = sync(&h.log, &h.client, SyncOptions::new(SITE))
        .await
        .unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let run_span = format!("sync{{run={} site={SITE}}}", report.run);

    let started = text
        .lines()
        .find(|l| l.contains("sync started") && l.contains(&run_span))
        .unwrap_or_else(|| panic!("no start line in:\n{text}"));
    assert!(started.contains(&run_span), "{started}");
    let finished = text
        .lines()
        .find(|l| l.contains("sync finished") && l.contains(&run_span))
        .unwrap_or_else(|| panic!("no finish line in:\n{text}"));
    assert!(finished.contains(&run_span), "{finished}");
    assert!(
        !finished.contains(" run="),
        "the run is not repeated as a field: {finished}"
    );
    // The client logs each request at debug level inside the listing's span.
    let in_scope = text
        .lines()
        .filter(|l| l.contains(&format!("{run_span}:scope{{scope=members of group")))
        .count();
    assert!(
        in_scope > 0,
        "no line inside a member listing's span:\n{text}"
    );
}
