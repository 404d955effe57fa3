//! Where something is in a text a person wrote (a config file), as their
//! editor counts it.

/// The 1-based line and column of a byte offset in `text`; the column counts
/// characters, not bytes, so a name with accents before the error does not
/// push the column off. An offset past the end is the end.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_and_column;

    #[test]
    fn lines_and_columns_count_characters() {
        let text = "a = 1\nnamé = x\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 1));
        // "namé = " is 8 bytes and 7 characters.
        assert_eq!(line_and_column(text, 6 + 8), (2, 8));
        // Inside a character, and past the end.
        assert_eq!(line_and_column(text, 6 + 4), (2, 4));
        assert_eq!(line_and_column(text, 999), (3, 1));
    }
}
