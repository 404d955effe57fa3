//! How the JSON Schemas checked in under `schemas/` are written: one text for
//! every generator, so that a stale-schema test compares like with like.

/// A schema as its checked-in file holds it: pretty JSON and a final newline.
pub fn schema_text(schema: &schemars::Schema) -> String {
    let mut s = serde_json::to_string_pretty(schema).expect("a schema serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_texts_are_pretty_and_end_with_one_newline() {
        let text = super::schema_text(&schemars::schema_for!(crate::Grant));
        assert!(text.starts_with("{\n  \""), "{text}");
        assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    }
}
