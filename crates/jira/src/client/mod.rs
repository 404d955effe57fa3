//! The client: transport (auth, bounded concurrency, retries, pauses) and the
//! read operations. Writes live in `writes.rs`.
//!
//! This module holds the client and its construction; `transport` (one
//! attempt, the retry loop, the connection budget, typed errors), `throttle`
//! (pauses and the concurrency bound under 429s), `reads` (the operations),
//! `pager` (page-at-a-time listings) and, for tests, `fakes` (a scripted
//! loopback server and a fake clock).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grantledger_clock::{Clock, SystemClock};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::backoff::{backoff_delay, parse_rate_limit_reset, parse_retry_after, Jitter};
use crate::config::{check_base_url, site_url, JiraConfig, TokenKind, ATLASSIAN_GATEWAY};
use crate::error::{excerpt, JiraError};
use crate::metrics::{Counters, Metrics, Operation};
use crate::paging::{
    decode_audit, decode_bare_array, decode_page_bean, fingerprint, page_budget, Cursor,
    PageDecoder, PageMeta, Shape,
};
use crate::types::{
    ApplicationRole, AuditQuery, AuditRecord, Bounded, ErrorCollection, Group, Project,
    ProjectRole, RoleRef, TenantInfo, User,
};

mod pager;
mod reads;
mod resolve;
mod throttle;
mod transport;

#[cfg(test)]
mod dns_tests;
#[cfg(test)]
mod fakes;
#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod pushback_tests;
#[cfg(test)]
mod transport_tests;

use pager::ListSpec;
pub use pager::Pager;
pub(crate) use transport::*;

/// Page size of `/users/search` (Jira's maximum).
pub const USERS_PAGE: u64 = 1000;
/// Page size of `/group/bulk`.
pub const GROUPS_PAGE: u64 = 50;
/// Page size of `/group/member` (Jira's maximum).
pub const MEMBERS_PAGE: u64 = 50;
/// Page size of `/project/search` (Jira's maximum).
pub const PROJECTS_PAGE: u64 = 100;
/// Page size of `/auditing/record`.
pub const AUDIT_PAGE: u64 = 1000;
/// The `status` values sent to `/project/search`: live and archived projects.
/// (Without `status`, Jira lists live projects only; `deleted` — the recycle
/// bin — is left out: those projects grant no access.)
pub const PROJECT_STATUSES: [&str; 2] = ["live", "archived"];

/// Successes in a row after which one permit taken away by a 429 comes back.
const PERMIT_RESTORE_AFTER: u32 = 20;

/// A Jira Cloud REST client. Cheap to clone; clones share the connection pool,
/// the concurrency limit, the rate-limit pause and the counters.
#[derive(Clone)]
pub struct JiraClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    api_base: Url,
    email: String,
    token: crate::secret::ApiToken,
    pub(crate) config: JiraConfig,
    sem: Semaphore,
    /// Permits taken away after 429s, to give back after calm.
    withheld: AtomicU32,
    calm: AtomicU32,
    /// Every caller waits until this clock reading before sending.
    pause_until: Mutex<Duration>,
    pub(crate) counters: Counters,
    pub(crate) clock: Arc<dyn Clock>,
    jitter: Jitter,
    /// Requests sent, for unit tests of the retry path.
    sent: AtomicU64,
    /// Connection failures since the last answer, against the budget.
    outage: Mutex<Outage>,
    /// The calling account, from the first `X-AAccountId` answer header.
    caller: Mutex<Option<String>>,
}

/// The current run of connection failures (no answer in between), and the
/// time waited after connection failures over the client's life.
#[derive(Debug, Default)]
struct Outage {
    since: Option<Duration>,
    failures: u64,
    waited: Duration,
}

impl fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraClient")
            .field("api_base", &self.inner.api_base.as_str())
            .field("email", &self.inner.email)
            .field("token", &self.inner.token)
            .finish()
    }
}

/// One HTTP call: what, where, and whether it may be repeated blindly.
pub(crate) struct Call {
    pub(crate) op: Operation,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<serde_json::Value>,
    /// What the call concerns, for error messages ("group 'id'").
    pub(crate) resource: String,
    /// Whether a failure after the request may have reached Jira (timeout,
    /// dropped connection, 500/502/504) may be retried as is. True for reads;
    /// writes reconcile instead (see `writes.rs`).
    pub(crate) repeatable: bool,
}

/// A successful (2xx) answer.
pub(crate) struct Answer {
    pub(crate) body: Vec<u8>,
}

enum Attempt {
    /// The body went past the size limit; reading stopped there.
    TooLarge,
    Answered {
        status: StatusCode,
        headers: reqwest::header::HeaderMap,
        body: Vec<u8>,
    },
    Failed {
        reason: String,
        /// Nothing reached the server (connection refused, DNS).
        not_sent: bool,
        /// The host name did not resolve (told by type, see `resolve`).
        unresolved: bool,
    },
}

impl JiraClient {
    /// A client for a classic token (or any token with a base-URL override).
    /// For a scoped token without an override, use [`JiraClient::connect`],
    /// which resolves the site's cloud id.
    pub fn new(config: JiraConfig) -> Result<JiraClient, JiraError> {
        Self::with_clock(config, Arc::new(SystemClock::new()))
    }

    /// Like [`JiraClient::new`], with an injected clock (tests).
    pub fn with_clock(config: JiraConfig, clock: Arc<dyn Clock>) -> Result<JiraClient, JiraError> {
        let api_base = match (&config.base_url, config.token_kind) {
            (Some(url), _) => check_base_url(url.clone(), "the base URL", true)?,
            (None, TokenKind::Classic) => site_url(&config.site)?,
            (None, TokenKind::Scoped) => {
                return Err(JiraError::Config(
                    "a scoped API token needs the site's cloud id: use JiraClient::connect, which resolves it"
                        .into(),
                ))
            }
        };
        Self::build(config, api_base, clock)
    }

    /// Builds a client and, for a scoped token, resolves the cloud id with
    /// `GET https://<site>/_edge/tenant_info` and talks to
    /// `https://api.atlassian.com/ex/jira/<cloudId>`.
    pub async fn connect(config: JiraConfig) -> Result<JiraClient, JiraError> {
        Self::connect_with_clock(config, Arc::new(SystemClock::new())).await
    }

    /// Like [`JiraClient::connect`], with an injected clock.
    pub async fn connect_with_clock(
        config: JiraConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<JiraClient, JiraError> {
        if config.token_kind == TokenKind::Classic {
            return Self::with_clock(config, clock);
        }
        // The tenant lookup goes to the site itself (or the override).
        let site = match &config.base_url {
            Some(url) => check_base_url(url.clone(), "the base URL", true)?,
            None => site_url(&config.site)?,
        };
        let gateway = match &config.gateway_url {
            Some(url) => check_base_url(url.clone(), "the gateway URL", true)?,
            None => Url::parse(ATLASSIAN_GATEWAY)
                .map_err(|e| JiraError::Config(format!("gateway URL: {e}")))?,
        };
        let probe = Self::build(config.clone(), site.clone(), clock.clone())?;
        let mut url = site.clone();
        push_path(&mut url, &["_edge", "tenant_info"]);
        let answer = probe
            .execute(&Call {
                op: Operation::TenantInfo,
                method: Method::GET,
                url,
                body: None,
                resource: format!("the tenant info of {}", site.as_str().trim_end_matches('/')),
                repeatable: true,
            })
            .await?;
        let info: TenantInfo = decode(Operation::TenantInfo, &answer.body)?;
        if info.cloud_id.is_empty()
            || !info
                .cloud_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(JiraError::Decode {
                endpoint: Operation::TenantInfo.endpoint(),
                reason: "the cloud id is empty or has unexpected characters".into(),
                excerpt: excerpt(&answer.body, 200),
            });
        }
        let mut api_base = gateway;
        push_path(&mut api_base, &["ex", "jira", &info.cloud_id]);
        let client = Self::build(config, api_base, clock)?;
        // Carry the lookup's cost over.
        let m = probe.metrics();
        for _ in 0..m.requests {
            client.inner.counters.request(Operation::TenantInfo);
        }
        client.inner.counters.bytes(m.bytes_received as usize);
        Ok(client)
    }

    fn build(
        config: JiraConfig,
        api_base: Url,
        clock: Arc<dyn Clock>,
    ) -> Result<JiraClient, JiraError> {
        if config.email.trim().is_empty() {
            return Err(JiraError::Config(
                "the email (the Jira admin's account) is empty".into(),
            ));
        }
        if config.concurrency == 0 {
            return Err(JiraError::Config("concurrency must be at least 1".into()));
        }
        if config.retry.max_attempts == 0 {
            return Err(JiraError::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        if config.timeout.is_zero() {
            return Err(JiraError::Config(
                "the request timeout must not be zero".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("grantledger-jira/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(resolve::TypedResolver))
            .build()
            .map_err(|e| JiraError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(JiraClient {
            inner: Arc::new(Inner {
                http,
                api_base,
                email: config.email.trim().to_owned(),
                token: config.token.clone(),
                sem: Semaphore::new(config.concurrency),
                withheld: AtomicU32::new(0),
                calm: AtomicU32::new(0),
                pause_until: Mutex::new(Duration::ZERO),
                counters: Counters::default(),
                clock,
                jitter: Jitter::from_entropy(),
                sent: AtomicU64::new(0),
                outage: Mutex::new(Outage::default()),
                caller: Mutex::new(None),
                config,
            }),
        })
    }

    /// The base every REST path is appended to (the site, the gateway's
    /// `/ex/jira/<cloudId>`, or the override).
    pub fn api_base(&self) -> &Url {
        &self.inner.api_base
    }

    /// The limits this client holds servers to.
    pub fn limits(&self) -> &crate::config::Limits {
        &self.inner.config.limits
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.inner.counters.snapshot()
    }

    /// The URL of `/rest/api/3/<segments...>` (segments are percent-encoded).
    pub(crate) fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.api_base.clone();
        let mut all = vec!["rest", "api", "3"];
        all.extend_from_slice(segments);
        push_path(&mut url, &all);
        url
    }

    #[cfg(test)]
    pub(crate) fn sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }
}

/// Appends path segments (percent-encoded) to a base URL.
pub(crate) fn push_path(url: &mut Url, segments: &[&str]) {
    if let Ok(mut p) = url.path_segments_mut() {
        p.pop_if_empty().extend(segments);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ApiToken;

    fn client(base: &str) -> JiraClient {
        let c = JiraConfig::for_base_url(base, "a@b.c", ApiToken::new("t0ken-SECRET")).unwrap();
        JiraClient::new(c).unwrap()
    }

    #[test]
    fn urls_are_built_under_the_base() {
        let c = client("http://127.0.0.1:9/");
        assert_eq!(
            c.api_url(&["project", "A B/C", "role", "10002"]).as_str(),
            "http://127.0.0.1:9/rest/api/3/project/A%20B%2FC/role/10002"
        );
        let c = client("https://api.atlassian.com/ex/jira/abc-123");
        assert_eq!(
            c.api_url(&["myself"]).as_str(),
            "https://api.atlassian.com/ex/jira/abc-123/rest/api/3/myself"
        );
    }

    #[test]
    fn classic_site_base_and_scoped_needs_connect() {
        let c = JiraClient::new(JiraConfig::new("acme", "a@b.c", ApiToken::new("x"))).unwrap();
        assert_eq!(c.api_base().as_str(), "https://acme.atlassian.net/");
        let mut cfg = JiraConfig::new("acme", "a@b.c", ApiToken::new("x"));
        cfg.token_kind = TokenKind::Scoped;
        assert!(matches!(JiraClient::new(cfg), Err(JiraError::Config(_))));
        let cfg =
            JiraConfig::for_base_url("http://example.com", "a@b.c", ApiToken::new("x")).unwrap();
        let e = JiraClient::new(cfg).unwrap_err();
        assert!(e.to_string().contains("plain http"), "{e}");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = client("http://127.0.0.1:9");
        let d = format!("{c:?}");
        assert!(!d.contains("SECRET"), "{d}");
        let cfg =
            JiraConfig::for_base_url("http://127.0.0.1:9", "a@b.c", ApiToken::new("t0ken-SECRET"))
                .unwrap();
        assert!(!format!("{cfg:?}").contains("SECRET"));
    }

    #[test]
    fn error_messages_from_bodies() {
        assert_eq!(error_message(b""), None);
        assert_eq!(
            error_message(br#"{"errorMessages":["Role with given id not found."],"errors":{}}"#),
            Some("Role with given id not found.".into())
        );
        assert_eq!(
            error_message(br#"{"errorMessages":[],"errors":{"accountId":"required"}}"#),
            Some("accountId: required".into())
        );
        assert_eq!(
            error_message(b"<html>oops</html>"),
            Some("<html>oops</html>".into())
        );
    }

    #[test]
    fn retry_hint_prefers_retry_after() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let now = chrono::DateTime::parse_from_rfc3339("2026-06-05T05:59:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-06-05T06:00Z"),
        );
        assert_eq!(retry_hint(&h, now), Some(Duration::from_secs(60)));
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_hint(&h, now), Some(Duration::from_secs(3)));
        assert_eq!(retry_hint(&HeaderMap::new(), now), None);
    }
}
