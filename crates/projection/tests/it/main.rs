//! Integration tests of the projection: point in time, queries (with and without snapshots), and the answers' schemas.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod point_in_time;
mod queries;
mod schemas;
