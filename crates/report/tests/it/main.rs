//! The report's integration tests: one binary (see ARCHITECTURE.md).

mod fixture;
mod snapshot;
