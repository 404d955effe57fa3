//! A page with a console error fails the check — whether it logs one, throws,
//! or has a script blocked by its Content-Security-Policy — and a clean page
//! passes. One browser for all the pages, to keep the test quick.

use std::path::Path;

use grantledger_browser::{Browser, BrowserError};

fn page(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "<!DOCTYPE html><html><head><meta charset=utf-8><title>{name}</title>{body}</html>"
        ),
    )
    .unwrap();
    path
}

async fn errors_of(browser: &Browser, path: &Path) -> Vec<String> {
    browser.open_file(path).await.unwrap();
    match browser.assert_no_console_errors().await {
        Ok(()) => Vec::new(),
        Err(BrowserError::ConsoleErrors(e)) => e.into_iter().map(|e| e.message).collect(),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test]
async fn a_page_with_a_console_error_fails_and_a_clean_page_passes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e}"));

    let logged = page(
        d,
        "logged.html",
        "<script>console.error('boom-logged')</script>",
    );
    let errors = errors_of(&browser, &logged).await;
    assert!(
        errors.iter().any(|m| m.contains("boom-logged")),
        "console.error is caught: {errors:?}"
    );

    let thrown = page(
        d,
        "thrown.html",
        "<script>throw new Error('boom-thrown')</script>",
    );
    let errors = errors_of(&browser, &thrown).await;
    assert!(
        errors.iter().any(|m| m.contains("boom-thrown")),
        "an uncaught exception is caught: {errors:?}"
    );

    let blocked = page(
        d,
        "blocked.html",
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'\"><script>document.title='ran'</script>",
    );
    let errors = errors_of(&browser, &blocked).await;
    assert!(
        errors.iter().any(|m| m.contains("Content Security Policy")),
        "a script the CSP blocked is caught: {errors:?}"
    );
    assert_eq!(
        browser.title().await.unwrap(),
        "blocked.html",
        "and did not run"
    );

    let clean = page(
        d,
        "clean.html",
        "<body><p id=p>hello <b>there</b></p><script>console.log('fine')</script>",
    );
    assert_eq!(errors_of(&browser, &clean).await, Vec::<String>::new());
    assert_eq!(browser.title().await.unwrap(), "clean.html");
    assert_eq!(
        browser.text_of("#p").await.unwrap().as_deref(),
        Some("hello there")
    );
    assert_eq!(browser.text_of("#nothing").await.unwrap(), None);

    // A lazily laid-out block far below the window: its text is read once
    // the page has been scrolled to it.
    let lazy = page(
        d,
        "lazy.html",
        "<body><div style=\"height:20000px\">top</div><div id=far><div style=\"content-visibility:auto;contain-intrinsic-size:auto 500px\">far below</div></div>",
    );
    browser.open_file(&lazy).await.unwrap();
    assert_eq!(
        browser
            .text_when_scrolled_to("#far")
            .await
            .unwrap()
            .as_deref(),
        Some("far below")
    );
    assert_eq!(
        browser.text_when_scrolled_to("#nothing").await.unwrap(),
        None
    );

    let png = d.join("shot.png");
    browser.screenshot(&png).await.unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let pdf = d.join("page.pdf");
    browser.print_pdf(&pdf).await.unwrap();
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"), "a PDF");

    browser.close().await.unwrap();
}
