//! The review crate's integration tests (one binary).

mod digest;
mod e2e;
mod out_of_band;
mod schemas;
