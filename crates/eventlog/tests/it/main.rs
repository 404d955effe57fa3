//! Integration tests of the event log: appends, golden bytes, the log-format document and
//! its reference verifier, properties, schemas, sharing and tamper detection.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod append;
mod closed;
mod common;
mod golden;
mod group_commit;
mod log_format;
mod properties;
mod read_ahead;
mod schema;
mod sharing;
mod tamper;
mod tracer;
