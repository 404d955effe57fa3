//! Bulk decisions: a reviewer's items as CSV, and decisions imported from the
//! same format, validated as a whole (every problem listed with its line, and
//! nothing applied when there is one).
//!
//! The CSV is RFC 4180 (comma-separated, `"` quoting, CRLF line ends) with a
//! header. Cells are Excel-safe: a cell that starts with `=`, `+`, `-`, `@`, a tab
//! or a carriage return is written with a leading `'`, so a spreadsheet shows it
//! as text instead of running it as a formula; the import removes that `'`
//! again.

use grantledger_model::*;
use serde::Serialize;

use crate::campaign::{self, parse_item, Campaign, Item};
use crate::error::ReviewError;

/// The columns, in order. `decision` and `comment` are what an import reads;
/// the others identify the item and give the reviewer context.
pub const COLUMNS: &[&str] = &[
    "campaign",
    "item",
    "reviewer",
    "principal_id",
    "principal",
    "entitlement",
    "signals",
    "decision",
    "comment",
];

/// One row of an item export (the CSV's columns, in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ItemRow {
    /// The campaign.
    pub campaign: String,
    /// `i<N>`.
    pub item: String,
    /// The reviewer's account id.
    pub reviewer: String,
    /// The principal's account or group id.
    pub principal_id: String,
    /// The principal, for people (display name and email, or group name).
    pub principal: String,
    /// The entitlement, for people.
    pub entitlement: String,
    /// The item's signals, `; `-separated.
    pub signals: String,
    /// `approve`, `revoke`, or empty (undecided).
    pub decision: String,
    /// The decision's comment.
    pub comment: String,
}

/// Makes a cell safe for a spreadsheet (see the module's docs).
pub fn excel_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

fn unescape_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest)
            if matches!(
                rest.chars().next(),
                Some('=' | '+' | '-' | '@' | '\t' | '\r')
            ) =>
        {
            rest
        }
        _ => cell,
    }
}

fn quote(cell: &str) -> String {
    let safe = excel_safe(cell);
    if safe.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

/// Writes rows as CSV (header first).
pub fn write_csv(rows: &[ItemRow]) -> String {
    let mut out = String::with_capacity(64 + rows.len() * 128);
    out.push_str(&COLUMNS.join(","));
    out.push_str("\r\n");
    for r in rows {
        let cells = [
            &r.campaign,
            &r.item,
            &r.reviewer,
            &r.principal_id,
            &r.principal,
            &r.entitlement,
            &r.signals,
            &r.decision,
            &r.comment,
        ];
        let line: Vec<String> = cells.iter().map(|c| quote(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One problem of an import, with the line it is on (1-based; the header is
/// line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportProblem {
    /// The line.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// Splits CSV text into records of cells, each with the line it starts on.
/// Errors name the line of an unterminated quote.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, ImportProblem> {
    let mut records = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut line = 1usize;
    let mut start = 1usize;
    let mut in_quotes = false;
    let mut chars = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .chars()
        .peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => {
                in_quotes = true;
                any = true;
            }
            ',' => {
                cells.push(std::mem::take(&mut cell));
                any = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                if any || !cell.is_empty() {
                    cells.push(std::mem::take(&mut cell));
                    records.push((start, std::mem::take(&mut cells)));
                }
                any = false;
                line += 1;
                start = line;
            }
            _ => {
                cell.push(c);
                any = true;
            }
        }
    }
    if in_quotes {
        return Err(ImportProblem {
            line: start,
            problem: "a quoted cell is not closed".into(),
        });
    }
    if any || !cell.is_empty() {
        cells.push(cell);
        records.push((start, cells));
    }
    Ok(records)
}

/// One decision read from an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedDecision {
    /// The line it came from.
    pub line: usize,
    /// The item.
    pub item: u32,
    /// Approve or revoke.
    pub decision: Decision,
    /// The comment.
    pub comment: Option<String>,
}

/// Validates an import of decisions by `actor` as a whole and returns the
/// events that apply it, or every problem found (nothing is applied then).
/// Rows whose decision is empty are skipped (left undecided or as they were).
pub fn import(
    state: &Campaign,
    actor: &AccountId,
    text: &str,
    at: Timestamp,
) -> Result<(Vec<ImportedDecision>, Vec<Event>), ReviewError> {
    let records = parse_csv(text).map_err(|p| ReviewError::Import(vec![p]))?;
    let mut problems = Vec::new();
    let mut rows = records.into_iter();
    let Some((hline, header)) = rows.next() else {
        return Err(ReviewError::Import(vec![ImportProblem {
            line: 1,
            problem: "the file is empty: it needs the header line of `review export`".into(),
        }]));
    };
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(c_item), Some(c_decision), Some(c_comment)) =
        (col("item"), col("decision"), col("comment"))
    else {
        return Err(ReviewError::Import(vec![ImportProblem {
            line: hline,
            problem: format!(
                "the header must name the columns item, decision and comment (as `review export` writes: {})",
                COLUMNS.join(",")
            ),
        }]));
    };
    let c_campaign = col("campaign");
    let mut seen: std::collections::BTreeMap<u32, usize> = std::collections::BTreeMap::new();
    let mut work = state.clone();
    let mut decided = Vec::new();
    let mut events = Vec::new();
    for (line, cells) in rows {
        if cells.len() != header.len() {
            problems.push(ImportProblem {
                line,
                problem: format!(
                    "{} cells where the header has {}",
                    cells.len(),
                    header.len()
                ),
            });
            continue;
        }
        if let Some(c) = c_campaign {
            let named = unescape_cell(cells[c].trim());
            if !named.is_empty() && named != state.id.as_str() {
                problems.push(ImportProblem {
                    line,
                    problem: format!("the row is for campaign {named}, not {}", state.id),
                });
                continue;
            }
        }
        let raw_item = unescape_cell(cells[c_item].trim());
        let Some(item) = parse_item(raw_item).filter(|n| state.item(*n).is_some()) else {
            problems.push(ImportProblem {
                line,
                problem: format!(
                    "unknown item {raw_item:?}: the campaign has items i1 to i{}",
                    state.items.len()
                ),
            });
            continue;
        };
        if let Some(first) = seen.insert(item, line) {
            problems.push(ImportProblem {
                line,
                problem: format!("item i{item} appears twice (first on line {first})"),
            });
            continue;
        }
        let raw_decision = unescape_cell(cells[c_decision].trim()).to_lowercase();
        let decision = match raw_decision.as_str() {
            "" => continue,
            "approve" | "approved" | "keep" => Decision::Approve,
            "revoke" | "revoked" | "remove" => Decision::Revoke,
            other => {
                problems.push(ImportProblem {
                    line,
                    problem: format!("decision {other:?} is not approve, revoke or empty"),
                });
                continue;
            }
        };
        let comment =
            Some(unescape_cell(cells[c_comment].trim()).to_owned()).filter(|c| !c.is_empty());
        match campaign::decide(&work, item, actor, decision, comment.clone(), at) {
            Ok(evs) => {
                for e in &evs {
                    work.apply(e);
                }
                events.extend(evs);
                decided.push(ImportedDecision {
                    line,
                    item,
                    decision,
                    comment,
                });
            }
            Err(e) => problems.push(ImportProblem {
                line,
                problem: e.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok((decided, events))
    } else {
        Err(ReviewError::Import(problems))
    }
}

/// The item's decision as a CSV cell.
pub fn decision_cell(c: &Campaign, item: &Item) -> &'static str {
    match c.outcome(item) {
        campaign::Outcome::Approved => "approve",
        campaign::Outcome::Revoked => "revoke",
        campaign::Outcome::Undecided => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_escaped_and_read_back() {
        for bad in ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tx"] {
            let safe = excel_safe(bad);
            assert!(safe.starts_with('\''), "{bad:?}");
            assert_eq!(unescape_cell(&safe), bad);
        }
        assert_eq!(excel_safe("alice"), "alice");
        assert_eq!(unescape_cell("'quoted"), "'quoted");
    }

    #[test]
    fn csv_round_trips_quotes_commas_and_newlines_with_start_lines() {
        let row = ItemRow {
            campaign: "c1".into(),
            item: "i1".into(),
            reviewer: "r".into(),
            principal_id: "a1".into(),
            principal: "Doe, \"JD\"".into(),
            entitlement: "group x\ny".into(),
            signals: String::new(),
            decision: "revoke".into(),
            comment: "=HYPERLINK(\"x\")".into(),
        };
        let text = write_csv(&[row.clone(), row]);
        let parsed = parse_csv(&text).unwrap();
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].0, 2);
        assert_eq!(parsed[2].0, 4, "the first row spans two lines");
        assert_eq!(parsed[1].1[4], "Doe, \"JD\"");
        assert_eq!(parsed[1].1[5], "group x\ny");
        assert_eq!(parsed[1].1[8], "'=HYPERLINK(\"x\")");
        assert!(parse_csv("a,\"b\nc").is_err());
    }
}
