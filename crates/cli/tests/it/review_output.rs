//! A review campaign's outputs through the real binary, on the hand-built log of
//! the query tests (unicode names, two users named "Alex Smith", a name with
//! terminal control characters): `review show`, `items` and `export` in table,
//! JSON and CSV are compared with checked-in files in `tests/expected/`
//! (regenerate them with `GRANTLEDGER_BLESS=1 cargo test -p grantledger-cli --test
//! it review_output`). The times of the decisions and of the launch are the
//! running clock's, so they are replaced by `<TIME>` before comparing, and so is
//! the head hash at launch (`27:<HASH>`: the records' hashes cover their times);
//! positions, ids, the item digest and every other byte are compared as printed.

use crate::query::{data_dir, expected, ok};

/// Replaces every RFC 3339 time (`2026-01-05T09:00:00.123456Z`, with or without
/// fractions) and every table time (`2026-01-05 09:00`) by `<TIME>`.
fn without_times(text: &str) -> String {
    let b = text.as_bytes();
    let digits = |from: usize, n: usize| {
        b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let date = digits(i, 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5, 2)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8, 2)
            && matches!(b.get(i + 10), Some(b'T' | b' '))
            && digits(i + 11, 2)
            && b.get(i + 13) == Some(&b':')
            && digits(i + 14, 2);
        if !date {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let mut j = i + 16;
        if b.get(j) == Some(&b':') && digits(j + 1, 2) {
            j += 3;
            if b.get(j) == Some(&b'.') {
                j += 1;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
        }
        if b.get(j) == Some(&b'Z') {
            j += 1;
        } else if b.get(j..j + 6) == Some(b"+00:00") {
            j += 6;
        }
        out.push_str("<TIME>");
        i = j;
    }
    out
}

/// Replaces the hash of every `POSITION:HASH` (64 hex digits after a colon that
/// follows a digit) by `<HASH>`; a digest on its own stays.
fn without_head_hashes(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let head = b[i] == b':'
            && i > 0
            && b[i - 1].is_ascii_digit()
            && b.len() >= i + 65
            && b[i + 1..i + 65].iter().all(u8::is_ascii_hexdigit);
        if head {
            out.push_str(":<HASH>");
            i += 65;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn the_head_filter_replaces_only_head_hashes() {
    let hash = "ab".repeat(32);
    assert_eq!(
        without_head_hashes(&format!("head 27:{hash}, digest {hash}")),
        format!("head 27:<HASH>, digest {hash}")
    );
}

#[test]
fn the_time_filter_replaces_only_times() {
    assert_eq!(
        without_times("at 2026-01-05T09:00:00.123456Z, 2026-01-05 09:00 and 2026-01-05T09:00:00+00:00; 2026-01 stays"),
        "at <TIME>, <TIME> and <TIME>; 2026-01 stays"
    );
}

#[test]
fn campaign_outputs_match_the_checked_in_answers() {
    let dir = data_dir();
    let d = dir.path();
    ok(
        d,
        &[
            "review",
            "create",
            "--id",
            "c1",
            "--name",
            "Q1 développeurs & =admins",
            "--group",
            "développeurs",
            "--project",
            "CS:Administrators",
            "--fallback",
            "u-evil",
            "--require-revoke-comment",
            "--as",
            "u-evil",
        ],
    );
    ok(d, &["review", "launch", "c1", "--as", "u-evil"]);
    let items: serde_json::Value =
        serde_json::from_str(&ok(d, &["review", "items", "c1", "--format", "json"])).unwrap();
    let ids: Vec<String> = items
        .as_array()
        .expect("items are a list")
        .iter()
        .map(|i| i["item"].as_str().expect("each item has an id").to_owned())
        .collect();
    assert!(ids.len() >= 2, "{items:#}");
    ok(
        d,
        &[
            "review",
            "decide",
            "c1",
            &ids[0],
            "revoke",
            "--comment",
            "=HYPERLINK(\"x\") left the team",
            "--as",
            "u-evil",
        ],
    );
    ok(
        d,
        &[
            "review", "decide", "c1", &ids[1], "approve", "--as", "u-evil",
        ],
    );
    for (name, args) in [
        ("review-show.txt", vec!["review", "show", "c1"]),
        (
            "review-show.json",
            vec!["review", "show", "c1", "--format", "json"],
        ),
        ("review-items.txt", vec!["review", "items", "c1"]),
        (
            "review-items.json",
            vec!["review", "items", "c1", "--format", "json"],
        ),
        (
            "review-items.csv",
            vec!["review", "items", "c1", "--format", "csv"],
        ),
        (
            "review-export.csv",
            vec!["review", "export", "c1", "--as", "u-evil"],
        ),
        ("review-list.txt", vec!["review", "list"]),
    ] {
        let out = ok(d, &args);
        if name == "review-items.txt" {
            for line in out.lines() {
                assert!(
                    line.chars().count() <= 80,
                    "{name}: {line:?} is wider than 80 columns"
                );
            }
        }
        expected(name, &without_head_hashes(&without_times(&out)));
    }
}
