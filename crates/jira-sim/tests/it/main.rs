//! Integration tests of the simulator: the OpenAPI contract, HTTP behaviour, faults and the org generator.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod audit;
mod common;
mod contract;
mod faults;
mod generator;
mod http;
