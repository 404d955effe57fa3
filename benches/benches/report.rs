//! The campaign report at the size of a review of the `large` org: render a
//! synthetic 230,000-item `CampaignReport`, write it, open it in headless
//! Chromium and time it, against the goal that it opens in under 3 s.
//!
//! `cargo bench -p grantledger-benches --bench report`
//! Settings: `GL_BENCH_ITEMS` (items, default 230,000), `GL_BENCH_RUNS` (opens
//! per variant, default 3; medians are printed), `GL_BENCH_BASELINE=1` to add
//! the baseline: the same campaign with its decisions as HTML tables (what
//! `render_html` does up to `TABLE_ROWS_MAX` rows), which shows what the
//! listing buys (off by default: it takes a minute or more; the same tables
//! without `content-visibility` did not finish loading within chromedriver's
//! 300 s at 230,000 items), `GL_BENCH_PAGE` (open this HTML file
//! instead of rendering one, to time a variant by hand). The rendered report
//! is kept as `<target dir>/test-artifacts/report-bench.html`.
//!
//! Figures: render time and file size; per variant the page's own clock from
//! navigation start to DOMContentLoaded, first contentful paint, the load event,
//! and two animation frames after load (the loaded page laid out and painted
//! once: what "opens" means here, and what the goal is compared with), and the
//! wall time of the WebDriver navigation. Needs Chromium and chromedriver from
//! the system packages (see the README's "Browser tests").

use std::path::Path;
use std::time::{Duration, Instant};

use grantledger_benches::{env_u64, median, mib};
use grantledger_browser::{Browser, PageTimings};
use grantledger_report::*;

/// The goal: the report opens in under 3 s.
const GOAL_MS: f64 = 3_000.0;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Zoë", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
    "Radia", "Tim", "Hedy", "Alan", "Sophie", "Niklaus", "Karen", "John", "שרה", "محمد",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Ångström",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Turing",
    "Wilson",
    "Wirth",
    "Spärck Jones",
    "McCarthy",
    "כהן",
    "علي",
];
const SIGNALS: &[&str] = &[
    "inactive in Jira",
    "app account",
    "privileged",
    "granted by JIT request",
    "added since last campaign",
    "never reviewed",
];

/// A campaign shaped like one over every group membership and role grant of
/// the `large` org: a few hundred reviewers, most items approved, some
/// revoked (each with a remediation row), some undecided, a comment on one
/// in ten.
fn synthetic(items: u64) -> CampaignReport {
    let mut rng = Rng(0x5eed);
    let reviewers: Vec<String> = (0..300)
        .map(|i| {
            format!(
                "{} {} (reviewer{i}@example.com)",
                FIRST[i % FIRST.len()],
                LAST[(i / FIRST.len()) % LAST.len()]
            )
        })
        .collect();
    let mut progress: Vec<ReviewerProgress> = reviewers
        .iter()
        .map(|r| ReviewerProgress {
            reviewer: r.clone(),
            assigned: 0,
            decided: 0,
            approved: 0,
            revoked: 0,
        })
        .collect();
    let mut totals = Totals {
        items,
        approved: 0,
        revoked: 0,
        undecided: 0,
        reassigned: 0,
    };
    let mut rows = Vec::with_capacity(items as usize);
    let mut remediation = Vec::new();
    for n in 0..items {
        let user = rng.below(40_000);
        let r = rng.below(reviewers.len() as u64) as usize;
        let principal = format!(
            "{} {} (user{user}@example.com)",
            FIRST[(user % 20) as usize],
            LAST[((user / 20) % 20) as usize]
        );
        let entitlement = if rng.below(3) == 0 {
            format!("Developers of PRJ{}", rng.below(2_000))
        } else {
            format!("group team-{}-members", rng.below(8_000))
        };
        let roll = rng.below(100);
        let decision = if roll < 62 {
            "approved"
        } else if roll < 77 {
            "revoked"
        } else {
            "undecided"
        };
        let p = &mut progress[r];
        p.assigned += 1;
        let item_id = format!("i-{n:06}");
        let decided = decision != "undecided";
        match decision {
            "approved" => {
                totals.approved += 1;
                p.approved += 1;
                p.decided += 1;
            }
            "revoked" => {
                totals.revoked += 1;
                p.revoked += 1;
                p.decided += 1;
            }
            _ => totals.undecided += 1,
        }
        if rng.below(50) == 0 {
            totals.reassigned += 1;
        }
        let signals = (0..rng.below(3))
            .map(|_| SIGNALS[rng.below(SIGNALS.len() as u64) as usize].to_owned())
            .collect();
        let remedy = (decision == "revoked").then(|| {
            let (status, detail) = match rng.below(10) {
                0 => (
                    "pending",
                    "revoke command issued, not yet in Jira".to_owned(),
                ),
                1 => ("flagged", "not removed after 3 syncs".to_owned()),
                _ => (
                    "verified",
                    format!("verified by sync run s-{}", rng.below(90)),
                ),
            };
            remediation.push(RemediationRow {
                item_id: item_id.clone(),
                principal: principal.clone(),
                entitlement: entitlement.clone(),
                command_id: Some(format!("cmd-c1-{item_id}")),
                status: status.to_owned(),
                detail: detail.clone(),
            });
            format!("{status}: {detail}")
        });
        rows.push(ItemRow {
            item_id,
            principal,
            principal_id: format!("5b10a2844c20165700ede{:03x}", user % 4096),
            entitlement,
            reviewer: reviewers[r].clone(),
            decision: decision.to_owned(),
            decided_by: decided.then(|| reviewers[r].clone()),
            decided_at: decided.then(|| {
                format!(
                    "2026-01-{:02}T{:02}:{:02}:00Z",
                    6 + rng.below(20),
                    rng.below(24),
                    rng.below(60)
                )
            }),
            comment: (decided && rng.below(10) == 0)
                .then(|| "Checked with the team lead; see ticket OPS-1234.".to_owned()),
            signals,
            remediation: remedy,
        });
    }
    CampaignReport {
        campaign_id: "c1".into(),
        name: "Quarterly review: every group membership and role grant".into(),
        status: "closed".into(),
        scope: vec!["all groups".into(), "all projects, all roles".into()],
        created_at: "2026-01-05T09:00:00Z".into(),
        due: Some("2026-01-31T23:59:59Z".into()),
        closed_at: Some("2026-02-01T09:00:00Z".into()),
        undecided_rule: "kept".into(),
        totals,
        reviewers: progress,
        items: rows,
        remediation,
        evidence: Evidence {
            launch_position: 5_000_000,
            launch_time: "2026-01-05T09:30:00Z".into(),
            launch_head: format!("5000000:{}", "ab".repeat(32)),
            item_count: items,
            item_digest: "cd".repeat(32),
            digest_doc: "docs/review-digest.md".into(),
            head_at_close: Some(format!("5300000:{}", "ef".repeat(32))),
            verify_commands: vec![
                "grantledger review verify c1".into(),
                format!(
                    "grantledger log verify --expect-head 5000000:{}",
                    "ab".repeat(32)
                ),
            ],
        },
        generated_at: "2026-02-01T09:05:00Z".into(),
        generator: "grantledger 0.1.0".into(),
    }
}

struct Opened {
    wall: Duration,
    t: PageTimings,
}

async fn open_runs(browser: &Browser, page: &Path, runs: usize) -> Vec<Opened> {
    let mut out = Vec::new();
    for _ in 0..runs {
        browser.open("about:blank").await.expect("blank page");
        let start = Instant::now();
        browser.open_file(page).await.expect("the report opens");
        let wall = start.elapsed();
        let t = browser.timings().await.expect("timings");
        browser
            .assert_no_console_errors()
            .await
            .expect("no console error");
        out.push(Opened { wall, t });
    }
    out
}

fn med(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(label: &str, runs: &[Opened]) -> f64 {
    let dcl = med(runs.iter().map(|o| o.t.dom_content_loaded_ms).collect());
    let load = med(runs.iter().map(|o| o.t.load_ms).collect());
    let painted = med(runs.iter().map(|o| o.t.painted_after_load_ms).collect());
    let wall = med(runs.iter().map(|o| o.wall.as_secs_f64() * 1000.0).collect());
    let fcp: Vec<f64> = runs
        .iter()
        .filter_map(|o| o.t.first_contentful_paint_ms)
        .collect();
    let fcp = if fcp.is_empty() {
        "n/a".to_owned()
    } else {
        format!("{:.0} ms", med(fcp))
    };
    println!(
        "{label}: DOMContentLoaded {dcl:.0} ms, first contentful paint {fcp}, load {load:.0} ms, painted after load {painted:.0} ms (WebDriver navigation {wall:.0} ms); medians of {}",
        runs.len()
    );
    painted
}

fn main() {
    let items = env_u64("GL_BENCH_ITEMS", 230_000);
    let runs = env_u64("GL_BENCH_RUNS", 3).max(1) as usize;
    let baseline = env_u64("GL_BENCH_BASELINE", 0) != 0;
    if let Some(page) = std::env::var_os("GL_BENCH_PAGE") {
        let page = std::path::PathBuf::from(page);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let browser = Browser::launch()
                .await
                .unwrap_or_else(|e| panic!("cannot run the report bench: {e}"));
            let opened = open_runs(&browser, &page, runs).await;
            report(&page.display().to_string(), &opened);
            browser.close().await.expect("close the browser");
        });
        return;
    }

    let t = Instant::now();
    let model = synthetic(items);
    println!(
        "campaign: {items} items, {} reviewers, {} remediation rows (built in {:.2?})",
        model.reviewers.len(),
        model.remediation.len(),
        t.elapsed()
    );
    let (render, html) = median(runs, || render_html(&model));
    println!(
        "render_html: {:.0} ms (median of {runs}), {:.1} MiB ({:.0} bytes an item)",
        render.as_secs_f64() * 1000.0,
        mib(html.len() as u64),
        html.len() as f64 / items.max(1) as f64
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let artifacts = grantledger_browser::artifacts_dir();
    std::fs::create_dir_all(&artifacts).expect("the artifacts directory");
    let page = artifacts.join("report-bench.html");
    let t = Instant::now();
    std::fs::write(&page, &html).expect("write the report");
    println!("written in {:.0?} to {}", t.elapsed(), page.display());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let browser = Browser::launch()
            .await
            .unwrap_or_else(|e| panic!("cannot run the report bench: {e}"));
        let chunked = open_runs(&browser, &page, runs).await;
        let painted = report("report (default: listing above 10,000 rows)", &chunked);
        println!(
            "  goal: opens in < {GOAL_MS:.0} ms; painted after load / goal = {:.2} ({})",
            painted / GOAL_MS,
            if painted < GOAL_MS { "met" } else { "NOT met" }
        );
        // What a reader sees at the decisions, for a person to look at.
        browser
            .eval(
                "document.getElementById('decisions').scrollIntoView(); return null;",
                vec![],
            )
            .await
            .expect("scroll to the decisions");
        let shot = grantledger_browser::artifacts_dir().join("report-bench-decisions.png");
        browser.screenshot(&shot).await.expect("screenshot");
        println!("  screenshot of the decisions: {}", shot.display());
        if baseline {
            let tables = render_html_with(
                &model,
                &RenderOptions {
                    table_rows_max: usize::MAX,
                },
            );
            let tables_page = dir.path().join("report-tables.html");
            std::fs::write(&tables_page, &tables).expect("write the baseline");
            println!(
                "baseline: the decisions as tables, {:.1} MiB",
                mib(tables.len() as u64)
            );
            let opened = open_runs(&browser, &tables_page, runs).await;
            let tables_painted = report("baseline (tables)", &opened);
            println!(
                "  listing / tables (painted after load) = {:.2}",
                painted / tables_painted
            );
        }
        browser.close().await.expect("close the browser");
    });
}
