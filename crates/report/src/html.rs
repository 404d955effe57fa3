//! The HTML document: one file, inline CSS, no script, no external resource.
//!
//! Layout: a header, a contents line, the summary (campaign facts and
//! totals), progress per reviewer, the evidence with the commands that check
//! it, remediation, and the decisions (the long table, last, so the rest is
//! one screen away). The long tables are cut into chunks of [`CHUNK_ROWS`]
//! rows, each its own fixed-layout table in a `content-visibility: auto`
//! block: the browser lays out and paints only the chunks on screen. Above
//! [`TABLE_ROWS_MAX`] rows a table becomes a monospaced listing, one text
//! node per chunk, which keeps a 230,000-item report quick to open (see the
//! `report` bench). Cells omit their optional end tags (`</td>`, `</tr>`), which HTML allows,
//! to keep large reports small.

use crate::campaign::{CampaignReport, Evidence, ItemRow, RemediationRow, ReviewerProgress};
use crate::escape::{escape_into, shown_len};

/// Rows per chunk of a long table.
const CHUNK_ROWS: usize = 500;

/// Above this many rows, the decisions and the remediation are a text
/// listing instead of an HTML table (see [`RenderOptions::table_rows_max`]).
pub const TABLE_ROWS_MAX: usize = 10_000;

/// How [`render_html_with`] lays a report out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// The most rows the decisions or the remediation are shown as an HTML
    /// table; a longer one is a monospaced listing in blocks of 500 items,
    /// aligned per block, one text node per block. A browser builds a table
    /// row of ten cells as some twenty DOM nodes, which at 230,000 items took
    /// 3.6 times as long to open as the listing (9.5 s against 2.6 s, the
    /// `report` bench with `GL_BENCH_BASELINE=1`); the listing keeps every
    /// value and prints.
    pub table_rows_max: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            table_rows_max: TABLE_ROWS_MAX,
        }
    }
}

const STYLE: &str = r#"
:root{color-scheme:light;--fg:#1b1f24;--mut:#57606a;--line:#d0d7de;--bg2:#f6f8fa;--ok:#1a7f37;--rv:#cf222e;--un:#9a6700}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1280px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:#fff}
header h1{font-size:24px;margin:0 0 2px}
.sub{color:var(--mut);margin:0}
nav{margin:12px 0;color:var(--mut)}
nav a{margin-right:14px}
h2{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0 0 14px}
dl.kv dt{color:var(--mut)}
dl.kv dd{margin:0;overflow-wrap:anywhere}
ul.plain{margin:0;padding-left:18px}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.stat{border:1px solid var(--line);border-radius:6px;padding:6px 14px;min-width:120px}
.stat b{display:block;font-size:22px;font-variant-numeric:tabular-nums}
.bar{display:inline-block;width:120px;height:9px;border:1px solid var(--line);border-radius:4px;background:var(--bg2);overflow:hidden;vertical-align:middle}
.bar i{display:block;height:100%;background:var(--ok)}
table{border-collapse:collapse;width:100%}
th,td{padding:3px 6px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:var(--bg2);font-weight:600;overflow-wrap:normal}
.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
pre{margin:4px 0;padding:6px 10px;background:var(--bg2);border:1px solid var(--line);border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere}
.ok{color:var(--ok)}
.rv{color:var(--rv);font-weight:600}
.un{color:var(--un)}
.note{color:var(--mut)}
.verify li{margin-bottom:10px}
.verify p{margin:2px 0}
.chunk{content-visibility:auto;contain-intrinsic-size:auto 14000px}
table.big{table-layout:fixed;font-size:12.5px}
table.big td:nth-child(3){font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:11px}
table.dec td:nth-child(8){white-space:pre-line}
.chunk+.chunk thead{display:none}
pre.listing{margin:0 0 8px;padding:6px 8px;font-size:11.5px;line-height:1.35;white-space:pre;overflow-x:auto;background:none;border:0;border-top:1px solid var(--line);border-radius:0}
footer{margin-top:28px;color:var(--mut);font-size:12px}
@page{size:A4 landscape;margin:10mm}
@media print{
body{max-width:none;padding:0;font-size:10pt}
nav{display:none}
a{color:inherit;text-decoration:none}
#evidence,#decisions{break-before:page}
h2,h3{break-after:avoid}
tr,.stat,dl.kv,.verify pre,.verify li{break-inside:avoid}
.stat{min-width:0;padding:4px 12px}
.stat b{font-size:16pt}
thead{display:table-header-group}
.chunk{content-visibility:visible}
.chunk+.chunk thead{display:table-header-group}
table.big{font-size:8pt}
pre.listing{font-size:7pt;white-space:pre-wrap;overflow:visible}
.bar,.bar i,th{print-color-adjust:exact;-webkit-print-color-adjust:exact}
}
"#;

/// Renders `report` as a complete standalone HTML document.
///
/// Every text of the model is escaped; control and bidirectional formatting
/// characters are shown as `[U+XXXX]`. The document has no script and loads
/// nothing (its Content-Security-Policy forbids both), so it reads the same
/// offline, in any browser, and printed.
pub fn render_html(report: &CampaignReport) -> String {
    render_html_with(report, &RenderOptions::default())
}

/// [`render_html`] with the layout chosen by `options`.
pub fn render_html_with(report: &CampaignReport, options: &RenderOptions) -> String {
    // About 330 bytes per decision row; the rest is small.
    let mut out = Html(String::with_capacity(
        8_192 + report.items.len() * 330 + report.remediation.len() * 200,
    ));
    out.head(report);
    out.raw("<body>\n");
    out.header(report);
    out.summary(report);
    out.reviewers(&report.reviewers);
    out.evidence(&report.evidence, &report.campaign_id);
    out.remediation(&report.remediation, options);
    out.decisions(&report.items, options);
    out.footer(report);
    out.raw("</body>\n</html>\n");
    out.0
}

struct Html(String);

impl Html {
    fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    fn text(&mut self, s: &str) {
        escape_into(&mut self.0, s);
    }

    fn num(&mut self, n: u64) {
        self.0.push_str(&thousands(n));
    }

    fn opt(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.raw("<span class=note>—</span>"),
        }
    }

    fn head(&mut self, r: &CampaignReport) {
        self.raw("<!DOCTYPE html>\n<html lang=en dir=ltr>\n<head>\n<meta charset=utf-8>\n");
        self.raw("<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n");
        self.raw("<meta name=viewport content=\"width=device-width, initial-scale=1\">\n");
        self.raw("<meta name=generator content=\"");
        self.text(&r.generator);
        self.raw("\">\n<title>Access review: ");
        self.text(&r.name);
        self.raw(" (");
        self.text(&r.status);
        self.raw(")</title>\n<style>");
        self.raw(STYLE);
        self.raw("</style>\n</head>\n");
    }

    fn header(&mut self, r: &CampaignReport) {
        self.raw("<header>\n<h1>Access review: ");
        self.text(&r.name);
        self.raw("</h1>\n<p class=sub>Campaign <code>");
        self.text(&r.campaign_id);
        self.raw("</code> · ");
        self.text(&r.status);
        self.raw(" · report generated ");
        self.text(&r.generated_at);
        self.raw(" by ");
        self.text(&r.generator);
        self.raw("</p>\n</header>\n<nav><a href=\"#summary\">Summary</a><a href=\"#reviewers\">Reviewers</a><a href=\"#evidence\">Evidence</a><a href=\"#remediation\">Remediation</a><a href=\"#decisions\">Decisions</a></nav>\n");
    }

    fn summary(&mut self, r: &CampaignReport) {
        let t = &r.totals;
        self.raw("<section id=summary>\n<h2>Summary</h2>\n<dl class=kv>\n<dt>Campaign<dd>");
        self.text(&r.name);
        self.raw(" (<code>");
        self.text(&r.campaign_id);
        self.raw("</code>)\n<dt>Status<dd>");
        self.text(&r.status);
        self.raw("\n<dt>Scope<dd>");
        if r.scope.is_empty() {
            self.raw("<span class=note>none given</span>");
        } else {
            self.raw("<ul class=plain>");
            for s in &r.scope {
                self.raw("<li>");
                self.text(s);
            }
            self.raw("</ul>");
        }
        self.raw("\n<dt>Created<dd>");
        self.text(&r.created_at);
        self.raw("\n<dt>Due<dd>");
        self.opt(r.due.as_deref());
        self.raw("\n<dt>Closed<dd>");
        self.opt(r.closed_at.as_deref());
        self.raw("\n<dt>Undecided items at close<dd>");
        self.text(&r.undecided_rule);
        self.raw("\n</dl>\n<div class=stats>\n");
        let decided = t.items.saturating_sub(t.undecided);
        for (label, n, class) in [
            ("Items", t.items, ""),
            ("Decided", decided, ""),
            ("Approved", t.approved, " ok"),
            ("Revoked", t.revoked, " rv"),
            ("Undecided", t.undecided, " un"),
            ("Reassigned", t.reassigned, ""),
        ] {
            self.raw("<div class=\"stat");
            self.raw(class);
            self.raw("\"><b>");
            self.num(n);
            self.raw("</b>");
            self.raw(label);
            self.raw("</div>\n");
        }
        self.raw("</div>\n<p>");
        self.num(decided);
        self.raw(" of ");
        self.num(t.items);
        self.raw(" items decided (");
        self.raw(&percent(decided, t.items));
        self.raw(") ");
        self.bar(decided, t.items);
        self.raw("</p>\n</section>\n");
    }

    fn bar(&mut self, part: u64, whole: u64) {
        self.raw("<span class=bar><i style=\"width:");
        self.raw(&percent(part, whole));
        self.raw("\"></i></span>");
    }

    fn reviewers(&mut self, reviewers: &[ReviewerProgress]) {
        self.raw("<section id=reviewers>\n<h2>Progress per reviewer</h2>\n");
        if reviewers.is_empty() {
            self.raw("<p class=note>No reviewers.</p>\n</section>\n");
            return;
        }
        self.raw("<table>\n<thead><tr><th>Reviewer<th class=n>Assigned<th class=n>Decided<th class=n>Approved<th class=n>Revoked<th class=n>Undecided<th>Progress</thead>\n<tbody>\n");
        for p in reviewers {
            self.raw("<tr><td>");
            self.text(&p.reviewer);
            self.raw("<td class=n>");
            self.num(p.assigned);
            self.raw("<td class=n>");
            self.num(p.decided);
            self.raw("<td class=n>");
            self.num(p.approved);
            self.raw("<td class=n>");
            self.num(p.revoked);
            self.raw("<td class=n>");
            self.num(p.assigned.saturating_sub(p.decided));
            self.raw("<td>");
            self.bar(p.decided, p.assigned);
            self.raw(" ");
            self.raw(&percent(p.decided, p.assigned));
            self.raw("\n");
        }
        self.raw("</tbody>\n</table>\n</section>\n");
    }

    fn evidence(&mut self, e: &Evidence, campaign_id: &str) {
        self.raw("<section id=evidence>\n<h2>Evidence</h2>\n<dl class=kv>\n<dt>Launch position<dd><code>");
        self.num_plain(e.launch_position);
        self.raw("</code>\n<dt>Launch time<dd>");
        self.text(&e.launch_time);
        self.raw("\n<dt>Log head at launch<dd><code>");
        self.text(&e.launch_head);
        self.raw("</code>\n<dt>Items frozen<dd>");
        self.num(e.item_count);
        self.raw("\n<dt>Item-set digest<dd><code>");
        self.text(&e.item_digest);
        self.raw("</code>\n<dt>Digest specified in<dd><code>");
        self.text(&e.digest_doc);
        self.raw("</code>\n<dt>Log head at close<dd>");
        match &e.head_at_close {
            Some(h) => {
                self.raw("<code>");
                self.text(h);
                self.raw("</code>");
            }
            None => self.raw("<span class=note>not closed yet</span>"),
        }
        self.raw("\n</dl>\n<h3>What each value proves</h3>\n<ul class=verify>\n<li><p>The items were frozen from the log as it stood at position ");
        self.num_plain(e.launch_position);
        self.raw(" (head <code>");
        self.text(&e.launch_head);
        self.raw("</code>). A log that still holds that head — same position, same hash — has had nothing before the launch changed or removed since, because every record's hash covers the one before it.\n<li><p>The digest covers the ");
        self.num(e.item_count);
        self.raw(" items in the canonical order and bytes that <code>");
        self.text(&e.digest_doc);
        self.raw("</code> specifies. Recomputing it from the log at the launch position (with the command below, or with an auditor's own code from an export) proves the population reviewed was exactly the access held at launch: no item added, dropped or changed.\n<li><p>");
        match &e.head_at_close {
            Some(h) => {
                self.raw("Every decision, reassignment and the close itself are records at or before the head at close, <code>");
                self.text(h);
                self.raw("</code>. A log that still holds that head has had none of them changed or removed.");
            }
            None => self.raw(
                "The campaign is not closed: its decisions can still change, and there is no head at close to note yet.",
            ),
        }
        self.raw("\n</ul>\n<h3>How to verify</h3>\n");
        if e.verify_commands.is_empty() {
            self.raw("<p class=note>No verification commands were given for campaign <code>");
            self.text(campaign_id);
            self.raw("</code>.</p>\n");
        } else {
            self.raw("<ol class=verify>\n");
            for c in &e.verify_commands {
                self.raw("<li><pre><code>");
                self.text(c);
                self.raw("</code></pre><p>");
                self.raw(explain(c));
                self.raw("</p>\n");
            }
            self.raw("</ol>\n");
        }
        self.raw("</section>\n");
    }

    fn num_plain(&mut self, n: u64) {
        self.raw(&n.to_string());
    }

    fn remediation(&mut self, rows: &[RemediationRow], options: &RenderOptions) {
        self.raw("<section id=remediation>\n<h2>Remediation</h2>\n");
        if rows.is_empty() {
            self.raw("<p class=note>Nothing to remediate: no item was revoked, or the campaign is not closed.</p>\n</section>\n");
            return;
        }
        let mut by_status: Vec<(&str, u64)> = Vec::new();
        for r in rows {
            match by_status.iter_mut().find(|(s, _)| *s == r.status) {
                Some((_, n)) => *n += 1,
                None => by_status.push((&r.status, 1)),
            }
        }
        self.raw("<p>");
        self.num(rows.len() as u64);
        self.raw(" revoked items: ");
        for (i, (s, n)) in by_status.iter().enumerate() {
            if i > 0 {
                self.raw(", ");
            }
            self.num(*n);
            self.raw(" ");
            self.text(s);
        }
        self.raw(".</p>\n");
        if rows.len() > options.table_rows_max {
            self.remediation_listing(rows);
            self.raw("</section>\n");
            return;
        }
        for chunk in rows.chunks(CHUNK_ROWS) {
            self.raw("<div class=chunk><table class=\"big rem\"><colgroup><col style=\"width:9%\"><col style=\"width:20%\"><col style=\"width:13%\"><col style=\"width:22%\"><col style=\"width:12%\"><col style=\"width:24%\"></colgroup>\n<thead><tr><th>Item<th>Principal<th>Command<th>Entitlement<th>Status<th>Detail</thead>\n<tbody>\n");
            for r in chunk {
                self.raw("<tr><td>");
                self.text(&r.item_id);
                self.raw("<td>");
                self.text(&r.principal);
                self.raw("<td>");
                self.opt(r.command_id.as_deref());
                self.raw("<td>");
                self.text(&r.entitlement);
                self.raw("<td>");
                self.text(&r.status);
                self.raw("<td>");
                self.text(&r.detail);
                self.raw("\n");
            }
            self.raw("</tbody></table></div>\n");
        }
        self.raw("</section>\n");
    }

    fn decisions(&mut self, items: &[ItemRow], options: &RenderOptions) {
        self.raw("<section id=decisions>\n<h2>Decisions</h2>\n");
        if items.is_empty() {
            self.raw("<p class=note>No items.</p>\n</section>\n");
            return;
        }
        if items.len() > options.table_rows_max {
            self.raw("<p class=note>");
            self.num(items.len() as u64);
            self.raw(" items, listed in blocks of 500: each item's first line says who holds what, its second the reviewer and the decision, and a third, when there is one, the comment, the signals the reviewer saw and what became of a revocation. (A listing rather than a table keeps a report this size quick to open.)</p>\n");
            self.decisions_listing(items);
            self.raw("</section>\n");
            return;
        }
        self.raw("<p class=note>One row per item: who holds what, the reviewer, the decision with its comment, the signals the reviewer saw, and what became of a revocation.</p>\n");
        for chunk in items.chunks(CHUNK_ROWS) {
            self.raw("<div class=chunk><table class=\"big dec\"><colgroup><col style=\"width:7%\"><col style=\"width:13%\"><col style=\"width:8%\"><col style=\"width:13%\"><col style=\"width:11%\"><col style=\"width:7%\"><col style=\"width:13%\"><col style=\"width:11%\"><col style=\"width:8%\"><col style=\"width:9%\"></colgroup>\n<thead><tr><th>Item<th>Principal<th>Id<th>Entitlement<th>Reviewer<th>Decision<th>Decided by, at<th>Comment<th>Signals<th>Remediation</thead>\n<tbody>\n");
            for it in chunk {
                self.row(it);
            }
            self.raw("</tbody></table></div>\n");
        }
        self.raw("</section>\n");
    }

    /// The decisions as a listing: per block of [`CHUNK_ROWS`] items, a
    /// header and two aligned lines an item (who holds what; the reviewer
    /// and the decision), and a third with what else there is.
    fn decisions_listing(&mut self, items: &[ItemRow]) {
        for chunk in items.chunks(CHUNK_ROWS) {
            let l1 = widths(chunk.iter().map(|it| {
                [
                    it.item_id.as_str(),
                    &it.principal,
                    &it.principal_id,
                    &it.entitlement,
                ]
            }));
            let l2 = widths(chunk.iter().map(|it| {
                [
                    "",
                    it.reviewer.as_str(),
                    &it.decision,
                    it.decided_by.as_deref().unwrap_or("-"),
                ]
            }));
            let indent = l1[0].max(l2[0]).max(4);
            let w1 = [indent, l1[1].max(9), l1[2].max(2), 0];
            let w2 = [indent, l2[1].max(8), l2[2].max(8), 0];
            self.raw("<pre class=\"chunk listing\">");
            self.cells(&["Item", "Principal", "Id", "Entitlement"], &w1);
            self.cells(&["", "Reviewer", "Decision", "Decided by, at"], &w2);
            self.raw(&"-".repeat(indent + w1[1] + w1[2] + 30));
            self.raw("\n");
            for it in chunk {
                self.cells(
                    &[
                        &it.item_id,
                        &it.principal,
                        &it.principal_id,
                        &it.entitlement,
                    ],
                    &w1,
                );
                let by_at = match (&it.decided_by, &it.decided_at) {
                    (Some(by), Some(at)) => format!("{by}, {at}"),
                    (Some(one), None) | (None, Some(one)) => one.clone(),
                    (None, None) => "-".to_owned(),
                };
                self.cells(&["", &it.reviewer, &it.decision, &by_at], &w2);
                let mut more: Vec<(&str, String)> = Vec::new();
                if let Some(c) = &it.comment {
                    more.push(("comment", c.clone()));
                }
                if !it.signals.is_empty() {
                    more.push(("signals", it.signals.join(", ")));
                }
                if let Some(r) = &it.remediation {
                    more.push(("remediation", r.clone()));
                }
                if !more.is_empty() {
                    self.spaces(indent + 2);
                    for (i, (label, value)) in more.iter().enumerate() {
                        if i > 0 {
                            self.raw("; ");
                        }
                        self.raw(label);
                        self.raw(": ");
                        self.listed(value, Some(indent + 2));
                    }
                    self.raw("\n");
                }
            }
            self.raw("</pre>\n");
        }
    }

    /// The remediation as a listing: one aligned line a row.
    fn remediation_listing(&mut self, rows: &[RemediationRow]) {
        for chunk in rows.chunks(CHUNK_ROWS) {
            let w = widths(chunk.iter().map(|r| {
                [
                    r.item_id.as_str(),
                    &r.principal,
                    r.command_id.as_deref().unwrap_or("-"),
                    &r.entitlement,
                    &r.status,
                    "",
                ]
            }));
            let w = [
                w[0].max(4),
                w[1].max(9),
                w[2].max(7),
                w[3].max(11),
                w[4].max(6),
                0,
            ];
            self.raw("<pre class=\"chunk listing\">");
            self.cells(
                &[
                    "Item",
                    "Principal",
                    "Command",
                    "Entitlement",
                    "Status",
                    "Detail",
                ],
                &w,
            );
            self.raw(&"-".repeat(w.iter().sum::<usize>() + 20));
            self.raw("\n");
            for r in chunk {
                self.cells(
                    &[
                        &r.item_id,
                        &r.principal,
                        r.command_id.as_deref().unwrap_or("-"),
                        &r.entitlement,
                        &r.status,
                        &r.detail,
                    ],
                    &w,
                );
            }
            self.raw("</pre>\n");
        }
    }

    /// One line of a listing: each value escaped, isolated for bidi, padded
    /// to its column's width and two spaces (the last one unpadded).
    fn cells(&mut self, values: &[&str], widths: &[usize]) {
        for (i, (v, w)) in values.iter().zip(widths).enumerate() {
            self.listed(v, None);
            if i + 1 < values.len() {
                self.spaces(w.saturating_sub(shown_len(v)) + 2);
            }
        }
        self.raw("\n");
    }

    fn spaces(&mut self, n: usize) {
        self.0.extend(std::iter::repeat_n(' ', n));
    }

    /// `s` for a listing: escaped, tabs as spaces, wrapped in first-strong
    /// isolates when it holds right-to-left letters (so that it cannot
    /// reorder the text around it); a line break is `↵` in a column
    /// (`indent` `None`) and a new line indented by `indent` spaces otherwise.
    fn listed(&mut self, s: &str, indent: Option<usize>) {
        let rtl = s.chars().any(is_rtl);
        if rtl {
            self.raw("\u{2068}");
        }
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                match indent {
                    Some(n) => {
                        self.raw("\n");
                        self.spaces(n);
                    }
                    None => self.raw("↵"),
                }
            }
            if line.contains('\t') {
                self.text(&line.replace('\t', " "));
            } else {
                self.text(line);
            }
        }
        if rtl {
            self.raw("\u{2069}");
        }
    }

    fn row(&mut self, it: &ItemRow) {
        self.raw("<tr><td>");
        self.text(&it.item_id);
        self.raw("<td>");
        self.text(&it.principal);
        self.raw("<td>");
        self.text(&it.principal_id);
        self.raw("<td>");
        self.text(&it.entitlement);
        self.raw("<td>");
        self.text(&it.reviewer);
        self.raw(match it.decision.as_str() {
            "approved" => "<td class=ok>",
            "revoked" => "<td class=rv>",
            "undecided" => "<td class=un>",
            _ => "<td>",
        });
        self.text(&it.decision);
        self.raw("<td>");
        match (&it.decided_by, &it.decided_at) {
            (Some(by), Some(at)) => {
                self.text(by);
                self.raw("<br>");
                self.text(at);
            }
            (Some(one), None) | (None, Some(one)) => self.text(one),
            (None, None) => {}
        }
        self.raw("<td>");
        if let Some(c) = &it.comment {
            self.text(c);
        }
        self.raw("<td>");
        for (i, s) in it.signals.iter().enumerate() {
            if i > 0 {
                self.raw(", ");
            }
            self.text(s);
        }
        self.raw("<td>");
        if let Some(r) = &it.remediation {
            self.text(r);
        }
        self.raw("\n");
    }

    fn footer(&mut self, r: &CampaignReport) {
        self.raw("<footer>Generated ");
        self.text(&r.generated_at);
        self.raw(" by ");
        self.text(&r.generator);
        self.raw(" from campaign <code>");
        self.text(&r.campaign_id);
        self.raw("</code>. The report is a view of the log; the evidence above, not this file, is what an auditor checks.</footer>\n");
    }
}

/// Per column, the longest value's length in characters, at most
/// [`LISTING_COLUMN_MAX`] (a longer value pushes the rest of its line).
fn widths<'a, const N: usize>(rows: impl Iterator<Item = [&'a str; N]>) -> [usize; N] {
    let mut w = [0; N];
    for row in rows {
        for (w, v) in w.iter_mut().zip(row) {
            *w = (*w).max(shown_len(v).min(LISTING_COLUMN_MAX));
        }
    }
    w
}

/// The widest a listing's column is padded to.
const LISTING_COLUMN_MAX: usize = 48;

/// Letters of right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko,
/// Samaritan, Mandaic and their presentation forms).
fn is_rtl(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{08ff}' | '\u{fb1d}'..='\u{fdff}' | '\u{fe70}'..='\u{feff}')
}

/// What running `command` proves, in one sentence, recognised by the
/// grantledger subcommand it runs.
fn explain(command: &str) -> &'static str {
    let has = |w: &str| command.contains(w);
    if has("review verify") {
        "Recomputes the campaign's item set from the log at the launch position and its digest, and compares both with what the campaign recorded: proves the population reviewed was exactly the access at launch."
    } else if has("log verify") && has("--export") {
        "Checks an export of the log offline, record by record and link by link, and with --expect-head that it holds the noted head: proves the exported records are the log's, uncut, with no access to the data directory."
    } else if has("log verify") && has("--expect-head") {
        "Walks the log's hash chain and checks that it still holds the given head at its position: proves no record up to that head was changed, removed or replaced since the head was noted."
    } else if has("log verify") {
        "Walks the log's hash chain from the first record to the head: proves every record is intact and linked to the one before it."
    } else if has("log export") {
        "Writes the log's records as JSON lines, so that they can be checked independently of the data directory (by the command above or by an auditor's own code)."
    } else if has("verify_export") {
        "Runs the reference verifier, written from the published log format rather than from grantledger's code: checks an export's records and chain independently."
    } else {
        "Exits with status 0 when its check passes; any other status means the evidence does not hold."
    }
}

/// `n` with thousands separators: 230000 → "230,000".
/// `n` with its digits grouped by three: `230,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `part` of `whole` as a percentage with one decimal ("100%" and "0%" exact);
/// 0 of 0 is "100%" (nothing left to do).
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 || part >= whole {
        return "100%".to_owned();
    }
    if part == 0 {
        return "0%".to_owned();
    }
    // Per mille, rounded down, so that 99.96% never shows as 100%.
    let pm = (u128::from(part) * 1000 / u128::from(whole)) as u64;
    format!("{}.{}%", pm / 10, pm % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(230_000), "230,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn percent_never_rounds_up_to_done() {
        assert_eq!(percent(0, 10), "0%");
        assert_eq!(percent(10, 10), "100%");
        assert_eq!(percent(0, 0), "100%");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(9999, 10000), "99.9%");
    }

    #[test]
    fn commands_are_explained_by_what_they_run() {
        assert!(explain("grantledger review verify c1").contains("item set"));
        assert!(explain("grantledger log verify --expect-head 3:ab").contains("head"));
        assert!(
            explain("grantledger log verify --export x.jsonl --expect-head 3:ab")
                .contains("export")
        );
        assert!(explain("grantledger log verify").contains("hash chain"));
        assert!(explain("something else").contains("status 0"));
    }
}
