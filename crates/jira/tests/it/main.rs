//! Integration tests of the Jira client: against the simulator over 127.0.0.1, the documentation examples, and the paging cursor's properties.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod against_sim;
mod cursor_props;
mod examples;
