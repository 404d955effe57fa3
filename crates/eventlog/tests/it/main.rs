//! Integration tests of the event log: appends, golden bytes, properties, schemas, sharing and tamper detection.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod append;
mod common;
mod golden;
mod properties;
mod schema;
mod sharing;
mod tamper;
