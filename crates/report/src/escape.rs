//! Untrusted text made safe for HTML text and quoted attribute values.

use std::fmt::Write as _;

/// Appends `s` to `out` with `& < > " '` escaped, and the characters that
/// would hide or reorder what a reader sees made visible as `[U+XXXX]`: C0
/// and C1 controls (tab and newline are kept), DEL, and the bidirectional
/// formatting characters (embeddings, overrides, isolates and marks), so a
/// name cannot reverse the text after it. Right-to-left letters are kept as
/// they are.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let rep: Option<&str> = match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '"' => Some("&quot;"),
            '\'' => Some("&#39;"),
            _ if is_hidden(c) => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match rep {
            Some(r) => out.push_str(r),
            None => {
                let _ = write!(out, "[U+{:04X}]", u32::from(c));
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
}

/// Escaped copy of `s` (see [`escape_into`]).
#[cfg(test)]
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

fn is_hidden(c: char) -> bool {
    match c {
        '\t' | '\n' => false,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{061c}' | '\u{200e}' | '\u{200f}' => true,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn unicode_and_rtl_letters_are_kept() {
        assert_eq!(
            escape("zoë ångström · שלום · مرحبا"),
            "zoë ångström · שלום · مرحبا"
        );
    }

    #[test]
    fn controls_and_bidi_overrides_become_visible() {
        assert_eq!(escape("a\u{202e}b\u{0}c\r"), "a[U+202E]b[U+0000]c[U+000D]");
        assert_eq!(escape("tab\tline\n"), "tab\tline\n");
        assert_eq!(escape("\u{2066}x\u{2069}"), "[U+2066]x[U+2069]");
    }
}
