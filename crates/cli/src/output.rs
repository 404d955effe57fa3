//! Formatting for human-readable output: numbers, sizes, heads, and untrusted
//! text made safe for a terminal.

use std::borrow::Cow;

use grantledger_eventlog::Head;
use grantledger_projection::text::moves_the_terminal;

/// Text from outside (a Jira site's names, an org file, a holder file) with its
/// control characters and bidirectional overrides escaped (`\u{1b}`,
/// `\u{202e}`; [`moves_the_terminal`]), so that it cannot move the cursor, set
/// the terminal's title, clear the screen or reorder what is shown. Unlike
/// [`grantledger_projection::text::escape`] it leaves backslashes alone, so that
/// text escaped once can pass through it unchanged.
pub fn safe(text: &str) -> String {
    escape(text).into_owned()
}

/// [`safe`] line by line: the line breaks a message is made of stay (a list of
/// candidates under an error), every other control character is escaped. For
/// messages whose untrusted parts were escaped where they were written.
pub fn safe_lines(text: &str) -> String {
    text.split('\n').map(safe).collect::<Vec<_>>().join("\n")
}

fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(moves_the_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if moves_the_terminal(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A head as `POSITION:HASH`, the form `log verify --expect-head` takes.
pub fn head(h: &Head) -> String {
    format!("{}:{}", h.position, h.hash)
}

pub use grantledger_report::thousands;

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `n` in `unit`, pluralised with a trailing `s`: `1 record`, `2 records`.
pub fn count(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{} {unit}s", thousands(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn bytes_picks_a_binary_unit() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12 * 1024 * 1024), "12.0 MiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(safe("acme"), "acme");
        assert_eq!(safe("a\u{1b}]0;pwned\u{7}b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(safe("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
        assert_eq!(
            safe("C:\\x \\u{1b}"),
            "C:\\x \\u{1b}",
            "escaped text passes unchanged"
        );
        assert_eq!(safe("x\ny\u{9b}"), "x\\u{a}y\\u{9b}");
        assert_eq!(safe("Zoë 李"), "Zoë 李");
    }

    #[test]
    fn count_pluralises() {
        assert_eq!(count(0, "stream"), "0 streams");
        assert_eq!(count(1, "stream"), "1 stream");
        assert_eq!(count(1234, "record"), "1,234 records");
    }
}
