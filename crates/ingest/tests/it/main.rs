//! Integration tests of the sync: against the simulator over 127.0.0.1 — exactness, faults, hostile servers, spans, a second writer of the site's stream and the large org.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod audit;
mod common;
mod faults;
mod hostile;
mod mass_removal;
mod second_writer;
mod spans;
mod sync_large;
mod sync_sim;
