//! Workspace-level end-to-end tests: SIGKILL crash tests of the log and of a sync.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod crash;
mod queries;
mod sync_crash;
