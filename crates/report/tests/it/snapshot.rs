//! The HTML of the small fixture, compared with `tests/expected/report.html`
//! (the repository's golden-file practice, as in the CLI's query tests);
//! regenerate it with
//! `GRANTLEDGER_BLESS=1 cargo test -p grantledger-report --test it snapshot`
//! and read the diff before committing it.

use std::path::PathBuf;

use grantledger_report::render_html;

use crate::fixture::{campaign, HOSTILE};

fn expected(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    if std::env::var_os("GRANTLEDGER_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == got,
        "{} differs (GRANTLEDGER_BLESS=1 to accept):\n--- want\n{want}\n--- got\n{got}",
        path.display()
    );
}

#[test]
fn html_matches_the_checked_in_report() {
    expected("report.html", &render_html(&campaign()));
}

#[test]
fn no_untrusted_text_reaches_the_document_unescaped() {
    let html = render_html(&campaign());
    assert!(!html.contains(HOSTILE));
    assert!(!html.contains("<script"), "no script element at all");
    assert!(!html.contains("<img"), "the hostile img tag is text");
    assert!(html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    // The bidi override and the bell are shown, not obeyed.
    assert!(html.contains("evil[U+202E]moc.elpmaxe@[U+0007]"));
    assert!(!html.contains('\u{202e}'));
    // Right-to-left letters are kept as they are.
    assert!(html.contains("שרה כהן"));
}

#[test]
fn the_document_is_standalone() {
    let html = render_html(&campaign());
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in [
        "<script",
        "<link",
        "<img",
        "<iframe",
        "<object",
        "<embed",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(external), "{external} in the document");
    }
    assert!(
        html.contains("default-src 'none'"),
        "a CSP forbids loading anything"
    );
}

#[test]
fn the_evidence_is_printed_with_its_verify_commands() {
    let c = campaign();
    let html = render_html(&c);
    let e = &c.evidence;
    assert!(html.contains(&e.launch_head));
    assert!(html.contains(&e.item_digest));
    assert!(html.contains(e.head_at_close.as_deref().unwrap()));
    for cmd in &e.verify_commands {
        assert!(
            html.contains(&format!("<pre><code>{cmd}</code></pre>")),
            "{cmd}"
        );
    }
}

#[test]
fn a_large_table_is_cut_into_chunks() {
    let mut c = campaign();
    let row = c.items[0].clone();
    c.items = (0..1_201)
        .map(|i| grantledger_report::ItemRow {
            item_id: format!("i-{i:06}"),
            ..row.clone()
        })
        .collect();
    let html = render_html(&c);
    // 500 rows a chunk: 3 chunks of decisions, 1 of remediation.
    assert_eq!(
        html.matches("<div class=chunk><table class=\"big dec\">")
            .count(),
        3
    );
    assert_eq!(html.matches("<tr><td>i-").count(), 1_201 + 2);
}
