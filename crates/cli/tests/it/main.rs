//! Integration tests of the grantledger binary: every command driven as a user would, against the simulator on 127.0.0.1 where Jira is involved.
//!
//! One integration-test binary for the package (each module was a test file of
//! its own), so the test dependencies are linked once.

mod cli;
mod provision;
mod query;
mod report;
mod request;
mod review;
mod review_output;
mod sim_cli;
mod sync;

/// Checks `json` (a command's `--format json` output) against
/// `schemas/<schema>`, the checked-in schema of that output.
pub(crate) fn assert_matches_schema(schema: &str, json: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(schema);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{}: {errors:?}\n{value:#}",
        path.display()
    );
}
