//! Integration tests of the grantledger binary: every command driven as a user would, against the simulator on 127.0.0.1 where Jira is involved.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod cli;
mod provision;
mod query;
mod request;
mod review;
mod sync;
