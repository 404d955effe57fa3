//! The JSON Schemas of the outputs of `provision`, `commands` and `request` with
//! `--format json`, generated from the types that are printed. Checked-in copies
//! live in `schemas/`; the test below fails when one is stale
//! (`GRANTLEDGER_BLESS=1 cargo test -p grantledger-cli --bin grantledger schemas`
//! regenerates them).

use crate::cmd::outbox::CommandView;
use crate::cmd::request::View;

/// Every schema: its file name in `schemas/` and its text.
pub fn schemas() -> Vec<(&'static str, String)> {
    fn pretty(schema: schemars::Schema) -> String {
        grantledger_model::schema_text(&schema)
    }
    vec![
        (
            "command.schema.json",
            pretty(schemars::schema_for!(CommandView)),
        ),
        (
            "command-list.schema.json",
            pretty(schemars::schema_for!(Vec<CommandView>)),
        ),
        ("request.schema.json", pretty(schemars::schema_for!(View))),
        (
            "request-list.schema.json",
            pretty(schemars::schema_for!(Vec<View>)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn the_checked_in_output_schemas_are_current() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        for (name, fresh) in super::schemas() {
            let path = dir.join(name);
            if std::env::var_os("GRANTLEDGER_BLESS").is_some() {
                std::fs::write(&path, &fresh).unwrap();
            }
            let stored = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                stored == fresh,
                "{} is stale: regenerate it with GRANTLEDGER_BLESS=1 cargo test -p grantledger-cli --bin grantledger schemas",
                path.display()
            );
        }
    }
}
