//! Names from Jira are untrusted text: escape them before they reach a terminal.

/// `raw` with every control character (and the Unicode bidirectional overrides that
/// reorder what a terminal shows) written as `\u{..}`, and backslashes doubled, so
/// a name cannot move the cursor, clear the screen or fake another line.
pub fn escape(raw: &str) -> String {
    if !raw.chars().any(needs_escape) {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for c in raw.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if needs_escape(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c == '\\' || moves_the_terminal(c)
}

/// Whether `c` changes what a terminal shows rather than being shown: a control
/// character, or a Unicode bidirectional mark or override (which reorders the
/// text around it). The one rule for untrusted text in a terminal.
pub fn moves_the_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_visible_and_plain_text_is_untouched() {
        assert_eq!(escape("Zoë Ångström"), "Zoë Ångström");
        assert_eq!(escape("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\ny"), "x\\u{a}y");
        assert_eq!(escape("r\u{202e}l"), "r\\u{202e}l");
        assert_eq!(escape("a\\u{a}"), "a\\\\u{a}");
    }
}
