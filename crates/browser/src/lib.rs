//! Headless Chromium for tests and benchmarks (dev-only): a page a person
//! opens is checked in a real browser.
//!
//! [`Browser::launch`] starts the system's `chromedriver` on a free loopback
//! port and, through it, a headless `chromium` with a fresh profile and the
//! flags this project's closed network needs; the session collects the
//! browser's console (`goog:loggingPrefs`), so [`Browser::console_errors`]
//! lists every error a page logged (a `console.error`, an uncaught
//! exception or unhandled rejection — reported by a script the harness
//! evaluates before each page's own —, a resource that failed, a
//! Content-Security-Policy violation)
//! and [`Browser::assert_no_console_errors`] turns them into a failure. The
//! driver is fantoccini (WebDriver); see ADR 0018.
//!
//! When Chromium or chromedriver is missing, `launch` fails with
//! [`BrowserError::Missing`], which says what to install; a test never
//! passes without a browser.
//!
//! ```no_run
//! # async fn example() -> Result<(), grantledger_browser::BrowserError> {
//! let browser = grantledger_browser::Browser::launch().await?;
//! browser.open_file(std::path::Path::new("/tmp/report.html")).await?;
//! assert_eq!(browser.title().await?, "Report");
//! browser.assert_no_console_errors().await?;
//! browser.close().await
//! # }
//! ```

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{PrintConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

/// What to install when the browser is missing (Debian and Ubuntu package names).
pub const INSTALL_HINT: &str = "install Chromium and its WebDriver from the system packages: `sudo apt-get install -y chromium chromium-driver` (Debian; on Ubuntu `chromium-browser chromium-chromedriver`), or point GRANTLEDGER_CHROMIUM and GRANTLEDGER_CHROMEDRIVER at the binaries";

/// The flags Chromium is started with. Besides headless and sandbox-less
/// running (containers, root), they turn off everything that would reach
/// the network on its own (background updates, sync, QUIC), which a closed
/// network refuses and a test must not depend on.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
];

/// Logs uncaught exceptions and unhandled rejections as console errors.
const REPORT_UNCAUGHT: &str = "addEventListener('error', (e) => { if (e instanceof ErrorEvent) console.error('Uncaught ' + ((e.error && e.error.stack) || e.message) + ' (' + e.filename + ':' + e.lineno + ')'); }); addEventListener('unhandledrejection', (e) => console.error('Unhandled rejection: ' + ((e.reason && e.reason.stack) || e.reason)));";

/// How long [`Browser::open`] waits for a page's load event.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// How long chromedriver may take to listen, and a session to start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Why the browser could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Chromium or chromedriver is not installed.
    #[error("{what} was not found (looked for {looked_for}): {INSTALL_HINT}")]
    Missing {
        /// "Chromium" or "chromedriver".
        what: &'static str,
        /// The names and paths tried.
        looked_for: String,
    },
    /// chromedriver did not start or did not listen in time.
    #[error("chromedriver ({path}) did not start: {reason}")]
    Driver {
        /// The chromedriver binary.
        path: PathBuf,
        /// What went wrong, with the end of its output when there is one.
        reason: String,
    },
    /// chromedriver refused to start a Chromium session.
    #[error("chromedriver could not start a headless Chromium session ({chromium}): {source}")]
    Session {
        /// The Chromium binary.
        chromium: PathBuf,
        /// The driver's answer.
        #[source]
        source: fantoccini::error::NewSessionError,
    },
    /// A WebDriver command failed.
    #[error("the browser failed to {doing}: {source}")]
    Command {
        /// What was being done.
        doing: &'static str,
        /// The driver's answer.
        #[source]
        source: fantoccini::error::CmdError,
    },
    /// The page logged errors to the console.
    #[error("the page logged {} console error(s):\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    ConsoleErrors(Vec<ConsoleEntry>),
    /// A file could not be written or a temporary directory made.
    #[error("{doing} {}: {source}", path.display())]
    Io {
        /// What was being done.
        doing: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The browser answered something this harness does not understand.
    #[error("unexpected answer from the browser while {doing}: {answer}")]
    Unexpected {
        /// What was being done.
        doing: &'static str,
        /// The answer, as JSON.
        answer: String,
    },
}

/// One entry of the browser's console log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// "SEVERE", "WARNING", "INFO", ...
    pub level: String,
    /// The message, with its source.
    pub message: String,
}

impl std::fmt::Display for ConsoleEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.level, self.message)
    }
}

/// Navigation timings of the current page, in milliseconds from the start
/// of the navigation (the page's `performance` clock).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageTimings {
    /// The DOMContentLoaded event ended: the document is parsed.
    pub dom_content_loaded_ms: f64,
    /// The load event ended.
    pub load_ms: f64,
    /// The first paint with content, when the browser reports one.
    pub first_contentful_paint_ms: Option<f64>,
    /// Two animation frames after the load event: the loaded page has
    /// been laid out and painted at least once.
    pub painted_after_load_ms: f64,
}

/// A headless Chromium, with its chromedriver and a fresh profile, all
/// removed by [`Browser::close`] (or, failing that, on drop).
#[derive(Debug)]
pub struct Browser {
    client: Option<Client>,
    /// The session's id, to end it from `Drop` (where nothing can be awaited).
    session: Option<String>,
    /// chromedriver's loopback port.
    port: u16,
    driver: Child,
    chromium: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium at a 1280×1024 window.
    ///
    /// The binaries are `GRANTLEDGER_CHROMIUM` / `GRANTLEDGER_CHROMEDRIVER`
    /// when set, else the first of `chromium`, `chromium-browser`,
    /// `google-chrome` and `chromedriver` found on `PATH` (and Debian's
    /// `/usr/lib/chromium/chromedriver`).
    pub async fn launch() -> Result<Self, BrowserError> {
        let chromium = find(
            "Chromium",
            "GRANTLEDGER_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
            &[],
        )?;
        let chromedriver = find(
            "chromedriver",
            "GRANTLEDGER_CHROMEDRIVER",
            &["chromedriver"],
            &["/usr/lib/chromium/chromedriver"],
        )?;
        let profile = tempfile::Builder::new()
            .prefix("grantledger-chromium-")
            .tempdir()
            .map_err(|source| BrowserError::Io {
                doing: "creating a profile directory in",
                path: std::env::temp_dir(),
                source,
            })?;
        let port = free_port().map_err(|e| BrowserError::Driver {
            path: chromedriver.clone(),
            reason: format!("no free loopback port: {e}"),
        })?;
        let log_path = profile.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).map_err(|source| BrowserError::Io {
            doing: "creating",
            path: log_path.clone(),
            source,
        })?;
        let mut cmd = Command::new(&chromedriver);
        cmd.arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log_path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let driver = cmd.spawn().map_err(|e| BrowserError::Driver {
            path: chromedriver.clone(),
            reason: e.to_string(),
        })?;
        let mut browser = Browser {
            client: None,
            session: None,
            port,
            driver,
            chromium: chromium.clone(),
            _profile: profile,
        };
        browser.wait_listening(port, &chromedriver, &log_path)?;

        let user_data = browser._profile.path().join("user-data");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        args.push("--window-size=1280,1024".into());
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("pageLoadStrategy".into(), json!("normal"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = tokio::time::timeout(
            START_TIMEOUT,
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .map_err(|_| BrowserError::Driver {
            path: chromedriver.clone(),
            reason: format!(
                "no session after {START_TIMEOUT:?}; its log: {}",
                tail(&log_path)
            ),
        })?
        .map_err(|source| BrowserError::Session { chromium, source })?;
        browser.session = client.session_id().await.ok().flatten();
        browser.client = Some(client);
        // chromedriver's console log has `console.error` and failed loads but
        // not uncaught exceptions: a script evaluated before each page's own
        // logs those (and unhandled promise rejections) as console errors.
        browser
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": REPORT_UNCAUGHT }),
            )
            .await?;
        Ok(browser)
    }

    fn wait_listening(
        &mut self,
        port: u16,
        chromedriver: &Path,
        log_path: &Path,
    ) -> Result<(), BrowserError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(BrowserError::Driver {
                    path: chromedriver.to_owned(),
                    reason: format!("it exited ({status}); its log: {}", tail(log_path)),
                });
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(BrowserError::Driver {
                    path: chromedriver.to_owned(),
                    reason: format!(
                        "not listening on 127.0.0.1:{port} after {START_TIMEOUT:?}; its log: {}",
                        tail(log_path)
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The WebDriver client, for what this harness does not wrap.
    pub fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("a launched browser has a client")
    }

    /// The Chromium binary in use.
    pub fn chromium(&self) -> &Path {
        &self.chromium
    }

    /// Opens `url` and waits for its load event (at most [`LOAD_TIMEOUT`]).
    pub async fn open(&self, url: &str) -> Result<(), BrowserError> {
        self.client()
            .goto(url)
            .await
            .map_err(|source| BrowserError::Command {
                doing: "open the page",
                source,
            })?;
        // chromedriver can answer a navigation to a large file before its
        // load event; wait for the document to say it is complete.
        let started = Instant::now();
        loop {
            let state = self.eval("return document.readyState;", vec![]).await?;
            if state == "complete" {
                return Ok(());
            }
            if started.elapsed() > LOAD_TIMEOUT {
                return Err(BrowserError::Unexpected {
                    doing: "waiting for the page's load event",
                    answer: format!("readyState {state} after {LOAD_TIMEOUT:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Opens a local file (made absolute) and waits for its load event.
    pub async fn open_file(&self, path: &Path) -> Result<(), BrowserError> {
        let abs = std::path::absolute(path).map_err(|source| BrowserError::Io {
            doing: "resolving",
            path: path.to_owned(),
            source,
        })?;
        self.open(&file_url(&abs)).await
    }

    /// The document's title.
    pub async fn title(&self) -> Result<String, BrowserError> {
        self.client()
            .title()
            .await
            .map_err(|source| BrowserError::Command {
                doing: "read the title",
                source,
            })
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Result<Value, BrowserError> {
        self.client()
            .execute(script, args)
            .await
            .map_err(|source| BrowserError::Command {
                doing: "run a script in the page",
                source,
            })
    }

    /// The rendered text of the element `selector` matches first
    /// (`innerText`: what a reader sees, without hidden elements), or
    /// `None` when nothing matches.
    pub async fn text_of(&self, selector: &str) -> Result<Option<String>, BrowserError> {
        let v = self
            .eval(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                vec![json!(selector)],
            )
            .await?;
        element_text(v)
    }

    /// Scrolls the element `selector` matches first to the top of the
    /// window, waits until its `innerText` has settled (the same over three
    /// frames, six frames at least, three seconds at most) and returns it;
    /// `None` when nothing matches.
    ///
    /// [`text_of`](Self::text_of) reads the text as the page stands: a part
    /// laid out lazily (`content-visibility: auto`, as a long report's
    /// chunks are) is left out until it has come near the window once, and
    /// whether it has by the time a script runs depends on timing. This is
    /// the text a reader sees after scrolling there.
    pub async fn text_when_scrolled_to(
        &self,
        selector: &str,
    ) -> Result<Option<String>, BrowserError> {
        let v = self
            .client()
            .execute_async(
                "const [selector, done] = arguments;
                 const e = document.querySelector(selector);
                 if (!e) { done(null); return; }
                 e.scrollIntoView({block: 'start'});
                 let frames = 0, same = 0, last = null;
                 const t0 = performance.now();
                 const step = () => {
                     frames++;
                     const s = e.innerText;
                     same = s === last ? same + 1 : 0;
                     last = s;
                     if ((frames >= 6 && same >= 2) || performance.now() - t0 > 3000) done(s);
                     else requestAnimationFrame(step);
                 };
                 requestAnimationFrame(step);",
                vec![json!(selector)],
            )
            .await
            .map_err(|source| BrowserError::Command {
                doing: "scroll to an element and read its text",
                source,
            })?;
        element_text(v)
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver
    /// (`goog/cdp/execute`) and returns its result.
    pub async fn cdp(&self, cmd: &'static str, params: Value) -> Result<Value, BrowserError> {
        self.client()
            .issue_cmd(Cdp { cmd, params })
            .await
            .map_err(|source| BrowserError::Command {
                doing: "run a DevTools command",
                source,
            })
    }

    /// The console entries logged since the last call (the driver hands
    /// each entry out once).
    pub async fn console(&self) -> Result<Vec<ConsoleEntry>, BrowserError> {
        let answer = self
            .client()
            .issue_cmd(BrowserLog)
            .await
            .map_err(|source| BrowserError::Command {
                doing: "read the console log",
                source,
            })?;
        let entries = answer.as_array().ok_or_else(|| BrowserError::Unexpected {
            doing: "reading the console log",
            answer: answer.to_string(),
        })?;
        Ok(entries
            .iter()
            .map(|e| ConsoleEntry {
                level: e["level"].as_str().unwrap_or("?").to_owned(),
                message: e["message"].as_str().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    /// The console errors (`SEVERE` entries) logged since the last read.
    pub async fn console_errors(&self) -> Result<Vec<ConsoleEntry>, BrowserError> {
        Ok(self
            .console()
            .await?
            .into_iter()
            .filter(|e| e.level == "SEVERE")
            .collect())
    }

    /// Fails with [`BrowserError::ConsoleErrors`] when the page logged an
    /// error since the last read.
    pub async fn assert_no_console_errors(&self) -> Result<(), BrowserError> {
        let errors = self.console_errors().await?;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(BrowserError::ConsoleErrors(errors))
        }
    }

    /// Sets the window's size (the viewport a screenshot shows).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), BrowserError> {
        self.client()
            .set_window_size(width, height)
            .await
            .map_err(|source| BrowserError::Command {
                doing: "resize the window",
                source,
            })
    }

    /// Saves a PNG of the viewport to `path` (its directory is created).
    pub async fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        let png = self
            .client()
            .screenshot()
            .await
            .map_err(|source| BrowserError::Command {
                doing: "take a screenshot",
                source,
            })?;
        write_file(path, &png)
    }

    /// Prints the page to a PDF at `path` (A4, backgrounds on; the page's
    /// `@media print` rules apply).
    pub async fn print_pdf(&self, path: &Path) -> Result<(), BrowserError> {
        let config = PrintConfiguration::builder()
            .background(true)
            .build()
            .map_err(|e| BrowserError::Unexpected {
                doing: "configuring the print",
                answer: e.to_string(),
            })?;
        let pdf = self
            .client()
            .print(config)
            .await
            .map_err(|source| BrowserError::Command {
                doing: "print the page",
                source,
            })?;
        write_file(path, &pdf)
    }

    /// The current page's navigation timings (call after [`Browser::open`]).
    pub async fn timings(&self) -> Result<PageTimings, BrowserError> {
        let v = self
            .client()
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 requestAnimationFrame(() => requestAnimationFrame(() => {
                   const nav = performance.getEntriesByType('navigation')[0];
                   const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                   done([nav.domContentLoadedEventEnd, nav.loadEventEnd,
                         fcp ? fcp.startTime : null, performance.now()]);
                 }));",
                vec![],
            )
            .await
            .map_err(|source| BrowserError::Command {
                doing: "read the page's timings",
                source,
            })?;
        let num = |i: usize| v.get(i).and_then(Value::as_f64);
        match (num(0), num(1), num(3)) {
            (Some(dcl), Some(load), Some(painted)) => Ok(PageTimings {
                dom_content_loaded_ms: dcl,
                load_ms: load,
                first_contentful_paint_ms: num(2),
                painted_after_load_ms: painted,
            }),
            _ => Err(BrowserError::Unexpected {
                doing: "reading the page's timings",
                answer: v.to_string(),
            }),
        }
    }

    /// Ends the session (Chromium exits) and chromedriver.
    pub async fn close(mut self) -> Result<(), BrowserError> {
        self.session = None;
        let closed = match self.client.take() {
            Some(c) => c.close().await,
            None => Ok(()),
        };
        self.stop_driver();
        closed.map_err(|source| BrowserError::Command {
            doing: "close the session",
            source,
        })
    }

    /// Ends chromedriver (by its own pid, never a group or a name).
    fn stop_driver(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    /// After a panic, the session was not closed: end it with a plain
    /// `DELETE /session/{id}` (chromedriver then quits Chromium), then
    /// chromedriver.
    fn drop(&mut self) {
        if let Ok(None) = self.driver.try_wait() {
            if let Some(id) = self.session.take() {
                delete_session(self.port, &id);
            }
            self.stop_driver();
        }
    }
}

/// Sends `DELETE /session/{id}` to chromedriver and waits (briefly) for its
/// answer; best effort.
fn delete_session(port: u16, id: &str) {
    use std::io::Write as _;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!(
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
    }
}

/// chromedriver's console log endpoint (outside the W3C protocol).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// chromedriver's DevTools passthrough (outside the W3C protocol).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}

/// An element's text as a script returned it: a string, or null when no
/// element matched.
fn element_text(v: Value) -> Result<Option<String>, BrowserError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(BrowserError::Unexpected {
            doing: "reading an element's text",
            answer: other.to_string(),
        }),
    }
}

/// A `file://` URL for an absolute path, with the bytes a URL cannot hold
/// percent-encoded.
pub fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Where tests and benchmarks put what a person should look at afterwards
/// (screenshots, PDFs): `test-artifacts` in the target directory the running
/// test or bench binary was built in (`$CARGO_TARGET_DIR` or `target/`),
/// found from the binary's own path (`<target>/<profile>/deps/<binary>`).
pub fn artifacts_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let target = exe
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "deps"))
        .and_then(|deps| deps.parent()?.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    target.join("test-artifacts")
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BrowserError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| BrowserError::Io {
            doing: "creating",
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| BrowserError::Io {
        doing: "writing",
        path: path.to_owned(),
        source,
    })
}

fn find(
    what: &'static str,
    env: &str,
    names: &[&str],
    fallbacks: &[&str],
) -> Result<PathBuf, BrowserError> {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        tried.push(format!("{env}={}", p.display()));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
        tried.push(format!("{name} on PATH"));
    }
    for f in fallbacks {
        let p = PathBuf::from(f);
        if p.is_file() {
            return Ok(p);
        }
        tried.push((*f).to_owned());
    }
    Err(BrowserError::Missing {
        what,
        looked_for: tried.join(", "),
    })
}

fn free_port() -> std::io::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// The last 2,000 bytes of a log file, for an error message.
fn tail(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let start = s.len().saturating_sub(2_000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    let t = s[start..].trim();
    if t.is_empty() {
        "(empty)".to_owned()
    } else {
        t.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_browser_says_what_to_install() {
        let e = find(
            "Chromium",
            "GRANTLEDGER_TEST_NO_SUCH_VARIABLE",
            &["no-such-browser-for-grantledger"],
            &["/no/such/chromium"],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("Chromium was not found"), "{msg}");
        assert!(
            msg.contains("no-such-browser-for-grantledger on PATH, /no/such/chromium"),
            "{msg}"
        );
        assert!(
            msg.contains("apt-get install -y chromium chromium-driver"),
            "{msg}"
        );
    }

    #[test]
    fn file_urls_encode_what_a_url_cannot_hold() {
        assert_eq!(
            file_url(Path::new("/tmp/a b/ré#port.html")),
            "file:///tmp/a%20b/r%C3%A9%23port.html"
        );
    }

    #[test]
    fn artifacts_go_to_the_target_dir_of_the_binary() {
        let dir = artifacts_dir();
        assert!(dir.ends_with("test-artifacts"), "{}", dir.display());
        let exe = std::env::current_exe().unwrap();
        assert!(
            exe.starts_with(dir.parent().unwrap()),
            "{} {}",
            exe.display(),
            dir.display()
        );
    }
}
