//! The report's integration tests: one binary (see ARCHITECTURE.md).

mod browser;
mod fixture;
mod snapshot;
