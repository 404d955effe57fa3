//! The small fixture's report in a real headless Chromium: it renders, shows
//! the title, the totals and the evidence, logs no console error, and the
//! hostile names stayed text; the listing form a large campaign gets too.
//! Screenshots and a PDF print are kept under
//! `<target dir>/test-artifacts/` for a person to look at.
//!
//! Needs Chromium and chromedriver from the system packages (README,
//! "Browser tests"); without them the test fails saying what to install.

use grantledger_browser::{artifacts_dir, Browser};
use grantledger_report::{render_html, render_html_with, RenderOptions};
use serde_json::{json, Value};

use crate::fixture::{campaign, HOSTILE};

#[tokio::test]
async fn the_report_renders_in_chromium_with_no_console_error() {
    let c = campaign();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, render_html(&c)).unwrap();

    let browser = Browser::launch()
        .await
        .unwrap_or_else(|e| panic!("cannot run the browser test: {e}"));
    browser.set_window_size(1280, 2200).await.unwrap();
    browser.open_file(&page).await.unwrap();

    // The title is the campaign's name as text: the hostile names ran nothing
    // (their script would have set it to "pwned").
    assert_eq!(
        browser.title().await.unwrap(),
        "Access review: Q1 2026 admins & <developers> \"review\" (closed)"
    );
    let counts = browser
        .eval(
            "return [document.scripts.length, document.images.length,
                     document.querySelectorAll('[onerror]').length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        counts,
        json!([0, 0, 0]),
        "no script, image or handler in the DOM"
    );
    let decisions = browser
        .eval(
            "return document.getElementById('decisions').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        decisions.as_str().unwrap().contains(HOSTILE),
        "the hostile name is shown as text"
    );

    // The totals, as a reader sees them.
    let stats = browser
        .eval(
            "return Array.from(document.querySelectorAll('.stat'), e => e.innerText.replace(/\\s+/g, ' '));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!([
            "5 Items",
            "4 Decided",
            "2 Approved",
            "2 Revoked",
            "1 Undecided",
            "1 Reassigned"
        ])
    );
    let summary = browser.text_of("#summary").await.unwrap().unwrap();
    assert!(
        summary.contains("4 of 5 items decided (80.0%)"),
        "{summary}"
    );
    let reviewers = browser.text_of("#reviewers").await.unwrap().unwrap();
    assert!(
        reviewers.contains("Grace Hopper\t2\t1\t0\t1\t1"),
        "{reviewers}"
    );

    // The evidence and the commands that check it are on screen.
    let evidence = browser.text_of("#evidence").await.unwrap().unwrap();
    let e = &c.evidence;
    for value in [
        "1204",
        &e.launch_time,
        &e.launch_head,
        &e.item_digest,
        &e.digest_doc,
        e.head_at_close.as_deref().unwrap(),
    ]
    .into_iter()
    .chain(e.verify_commands.iter().map(String::as_str))
    {
        assert!(
            evidence.contains(value),
            "{value} not visible in:\n{evidence}"
        );
    }

    // Laid out: a page of about two screens, and the decisions table has its
    // rows.
    let layout: Value = browser
        .eval(
            "return [document.documentElement.scrollHeight,
                     document.querySelectorAll('#decisions tbody tr').length];",
            vec![],
        )
        .await
        .unwrap();
    assert!(layout[0].as_f64().unwrap() > 1500.0, "{layout}");
    assert_eq!(layout[1], json!(5));

    browser.assert_no_console_errors().await.unwrap();

    let artifacts = artifacts_dir();
    let png = artifacts.join("report.png");
    let pdf = artifacts.join("report.pdf");
    browser.screenshot(&png).await.unwrap();
    browser.print_pdf(&pdf).await.unwrap();
    browser.assert_no_console_errors().await.unwrap();

    // The listing form a large campaign gets renders too, with every item.
    let listing = dir.path().join("report-listing.html");
    std::fs::write(
        &listing,
        render_html_with(&c, &RenderOptions { table_rows_max: 1 }),
    )
    .unwrap();
    browser.open_file(&listing).await.unwrap();
    // The listing is laid out lazily (content-visibility): read it as a
    // reader does, after scrolling to it.
    let text = browser
        .text_when_scrolled_to("#decisions")
        .await
        .unwrap()
        .unwrap();
    for it in &c.items {
        assert!(text.contains(&it.item_id), "{} not in:\n{text}", it.item_id);
    }
    assert!(text.contains(HOSTILE), "the hostile name is shown as text");
    let evidence = browser.text_of("#evidence").await.unwrap().unwrap();
    assert!(evidence.contains(&e.item_digest));
    browser.assert_no_console_errors().await.unwrap();
    let listing_png = artifacts.join("report-listing.png");
    browser.screenshot(&listing_png).await.unwrap();

    browser.close().await.unwrap();
    println!(
        "screenshots: {} {}\nprinted:     {}",
        png.display(),
        listing_png.display(),
        pdf.display()
    );
}
