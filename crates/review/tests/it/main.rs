//! The review crate's integration tests (one binary).

mod e2e;
