//! Integration tests of just-in-time requests: the service against a real log
//! holding a synced site, and the scheduler on a manual clock.
//!
//! One integration-test binary for the package, a module per area.

mod common;
mod concurrency;
mod crash;
mod e2e;
mod failures;
mod scheduler;
mod service;
