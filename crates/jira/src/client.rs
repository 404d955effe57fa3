//! The client: transport (auth, bounded concurrency, retries, pauses) and the
//! read operations. Writes live in `writes.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::backoff::{
    backoff_delay, parse_rate_limit_reset, parse_retry_after, Clock, Jitter, SystemClock,
};
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
    },
}

impl JiraClient {
    /// A client for a classic token (or any token with a base-URL override).
    /// For a scoped token without an override, use [`JiraClient::connect`],
    /// which resolves the site's cloud id.
    pub fn new(config: JiraConfig) -> Result<JiraClient, JiraError> {
        Self::with_clock(config, Arc::new(SystemClock::default()))
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
        Self::connect_with_clock(config, Arc::new(SystemClock::default())).await
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

    // ----- transport -------------------------------------------------------

    /// Waits while the site asked everyone to pause.
    async fn wait_for_pause(&self) {
        loop {
            let until = *self
                .inner
                .pause_until
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let now = self.inner.clock.now();
            if until <= now {
                return;
            }
            let d = until - now;
            self.inner.counters.waited(d);
            self.inner.clock.sleep(d).await;
        }
    }

    /// Asks every caller to pause until `now + d`.
    fn pause_all(&self, d: Duration) {
        let until = self.inner.clock.now() + d;
        let mut p = self
            .inner
            .pause_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if until > *p {
            *p = until;
        }
    }

    /// After a 429: take one permit away (down to 1 in use), to send less.
    fn shrink(&self) {
        self.inner.calm.store(0, Ordering::Relaxed);
        let limit = self.inner.config.concurrency as u32;
        let withheld = self.inner.withheld.load(Ordering::Relaxed);
        if withheld + 1 < limit && self.inner.sem.forget_permits(1) == 1 {
            self.inner.withheld.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// After a success: give a permit back once things are calm again.
    fn calm_down(&self) {
        if self.inner.withheld.load(Ordering::Relaxed) == 0 {
            return;
        }
        let calm = self.inner.calm.fetch_add(1, Ordering::Relaxed) + 1;
        if calm >= PERMIT_RESTORE_AFTER {
            self.inner.calm.store(0, Ordering::Relaxed);
            if self
                .inner
                .withheld
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| w.checked_sub(1))
                .is_ok()
            {
                self.inner.sem.add_permits(1);
            }
        }
    }

    async fn attempt(&self, call: &Call) -> Attempt {
        let permit = self.inner.sem.acquire().await;
        self.wait_for_pause().await;
        self.inner.counters.request(call.op);
        self.inner.sent.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .basic_auth(&self.inner.email, Some(self.inner.token.expose()))
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.inner.config.timeout);
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        let result = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let headers = resp.headers().clone();
                match self.read_body(resp).await {
                    Ok(Some(body)) => Attempt::Answered {
                        status,
                        headers,
                        body,
                    },
                    Ok(None) => Attempt::TooLarge,
                    Err(e) => Attempt::Failed {
                        reason: transport_reason(&e, self.inner.config.timeout),
                        not_sent: false,
                    },
                }
            }
            Err(e) => Attempt::Failed {
                reason: transport_reason(&e, self.inner.config.timeout),
                not_sent: e.is_connect(),
            },
        };
        drop(permit);
        result
    }

    /// Reads a body chunk by chunk, stopping (`None`) as soon as it would pass
    /// the size limit: a server cannot make the client hold more than that.
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
    ) -> Result<Option<Vec<u8>>, reqwest::Error> {
        let limit = self.inner.config.limits.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Ok(None);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await? {
            self.inner.counters.bytes(chunk.len());
            if body.len() + chunk.len() > limit {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    fn note_caller(&self, headers: &reqwest::header::HeaderMap) {
        let Some(id) = headers.get("x-aaccountid").and_then(|v| v.to_str().ok()) else {
            return;
        };
        let max = self.inner.config.limits.max_id_len;
        let mut caller = self.inner.caller.lock().unwrap_or_else(|p| p.into_inner());
        if caller.is_none() && !id.is_empty() && id.len() <= max {
            *caller = Some(id.to_owned());
        }
    }

    /// The account the client acts as, as Jira names it in the `X-AAccountId`
    /// header of its answers (documented for every authenticated response);
    /// `None` until an answer carried it.
    pub fn caller_account_id(&self) -> Option<String> {
        self.inner
            .caller
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// An answer came: Jira is reachable, the outage (if any) is over.
    fn reachable(&self) {
        let mut o = self.inner.outage.lock().unwrap_or_else(|p| p.into_inner());
        o.since = None;
        o.failures = 0;
    }

    /// A connection failure: counts it against the budget. Fails with
    /// [`JiraError::Unreachable`] once no answer came for longer than the
    /// budget, or the time waited after connection failures (over the
    /// client's life) would pass it with `next_wait` more.
    fn unreachable(
        &self,
        endpoint: &'static str,
        reason: &str,
        next_wait: Duration,
    ) -> Option<JiraError> {
        self.inner.counters.connection_failure();
        let budget = self.inner.config.unreachable_after;
        let now = self.inner.clock.now();
        let mut o = self.inner.outage.lock().unwrap_or_else(|p| p.into_inner());
        let since = *o.since.get_or_insert(now);
        o.failures += 1;
        let during = now.saturating_sub(since);
        if during >= budget || o.waited + next_wait > budget {
            return Some(JiraError::Unreachable {
                endpoint,
                failures: o.failures,
                during,
                budget,
                last: reason.to_owned(),
            });
        }
        o.waited += next_wait;
        None
    }

    /// Sends a call, retrying per the policy; returns a 2xx answer or a typed
    /// error.
    ///
    /// Retried: 429 and 503 (for every call: Jira refused the request without
    /// acting on it), honouring `Retry-After` or `X-RateLimit-Reset`, and
    /// pausing every caller of this client until then; connection failures
    /// where nothing was sent. Retried only for `repeatable` calls: timeouts,
    /// dropped connections, 500, 502, 504.
    pub(crate) async fn execute(&self, call: &Call) -> Result<Answer, JiraError> {
        let policy = &self.inner.config.retry;
        let endpoint = call.op.endpoint();
        let mut attempts = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            attempts += 1;
            if attempts > 1 {
                self.inner.counters.retry();
            }
            let outcome = self.attempt(call).await;
            if matches!(outcome, Attempt::Answered { .. } | Attempt::TooLarge) {
                self.reachable();
            }
            // Decide: done, or how long to wait before the next attempt.
            let (wait, shared, last_error): (Duration, bool, JiraError) = match outcome {
                Attempt::TooLarge => {
                    return Err(JiraError::Limit {
                        endpoint,
                        what: "the response body".into(),
                        limit: self.inner.config.limits.max_body_bytes as u64,
                        unit: " bytes",
                    });
                }
                Attempt::Answered {
                    status,
                    body,
                    headers,
                } if status.is_success() => {
                    self.note_caller(&headers);
                    self.calm_down();
                    return Ok(Answer { body });
                }
                Attempt::Answered {
                    status,
                    headers,
                    body,
                } if status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::SERVICE_UNAVAILABLE =>
                {
                    let hint = retry_hint(&headers, self.inner.clock.utc_now());
                    let is_429 = status == StatusCode::TOO_MANY_REQUESTS;
                    if is_429 {
                        self.inner.counters.rate_limited();
                        self.shrink();
                    }
                    let wait = match hint {
                        Some(d) if !d.is_zero() => d,
                        _ => backoff_delay(policy, attempts - 1, self.inner.jitter.factor()),
                    };
                    tracing::debug!(
                        endpoint,
                        status = status.as_u16(),
                        ?wait,
                        attempts,
                        "Jira asked to slow down"
                    );
                    let err = if is_429 {
                        JiraError::RateLimited {
                            endpoint,
                            attempts,
                            waited,
                            retry_after: None,
                        }
                    } else {
                        JiraError::Server {
                            endpoint,
                            status: status.as_u16(),
                            attempts,
                            message: error_message(&body),
                        }
                    };
                    (wait, is_429 || hint.is_some(), err)
                }
                Attempt::Answered { status, body, .. }
                    if call.repeatable && matches!(status.as_u16(), 500 | 502 | 504) =>
                {
                    let wait = backoff_delay(policy, attempts - 1, self.inner.jitter.factor());
                    let err = JiraError::Server {
                        endpoint,
                        status: status.as_u16(),
                        attempts,
                        message: error_message(&body),
                    };
                    (wait, false, err)
                }
                Attempt::Answered { status, body, .. } => {
                    return Err(self.status_error(call, status, &body, attempts));
                }
                Attempt::Failed { reason, not_sent } if not_sent && is_dns_failure(&reason) => {
                    return Err(JiraError::UnknownHost {
                        endpoint,
                        host: call.url.host_str().unwrap_or("?").to_owned(),
                    });
                }
                Attempt::Failed { reason, not_sent } => {
                    let wait = backoff_delay(policy, attempts - 1, self.inner.jitter.factor());
                    if let Some(e) = self.unreachable(endpoint, &reason, wait) {
                        return Err(e);
                    }
                    let err = JiraError::Transport {
                        endpoint,
                        reason,
                        attempts,
                    };
                    if !(call.repeatable || not_sent) {
                        return Err(err);
                    }
                    if attempts >= policy.max_attempts || waited + wait > policy.max_total_wait {
                        return Err(err);
                    }
                    waited += wait;
                    // Waiting after a connection failure is not rate-limit
                    // waiting: counted apart, and against the outage budget.
                    self.inner.counters.connection_waited(wait);
                    self.inner.clock.sleep(wait).await;
                    continue;
                }
            };
            if attempts >= policy.max_attempts {
                return Err(last_error);
            }
            if waited + wait > policy.max_total_wait {
                return Err(match last_error {
                    JiraError::RateLimited { .. } => JiraError::RateLimited {
                        endpoint,
                        attempts,
                        waited,
                        retry_after: Some(wait),
                    },
                    other => other,
                });
            }
            waited += wait;
            if shared {
                // Everyone waits (the top of `attempt` sleeps until then).
                self.pause_all(wait);
            } else {
                self.inner.counters.waited(wait);
                self.inner.clock.sleep(wait).await;
            }
        }
    }

    fn status_error(
        &self,
        call: &Call,
        status: StatusCode,
        body: &[u8],
        attempts: u32,
    ) -> JiraError {
        let endpoint = call.op.endpoint();
        let message = error_message(body);
        match status.as_u16() {
            401 => JiraError::Unauthorized {
                endpoint,
                hint: match self.inner.config.token_kind {
                    TokenKind::Scoped => {
                        Some("a scoped token must hold the scopes this operation needs".to_owned())
                    }
                    TokenKind::Classic => None,
                },
            },
            403 => JiraError::Forbidden {
                endpoint,
                resource: call.resource.clone(),
                permission: call.op.permission(),
                message,
            },
            404 => JiraError::NotFound {
                endpoint,
                resource: call.resource.clone(),
                message,
            },
            s if (400..500).contains(&s) => JiraError::Rejected {
                endpoint,
                status: s,
                resource: call.resource.clone(),
                message,
            },
            s => JiraError::Server {
                endpoint,
                status: s,
                attempts,
                message,
            },
        }
    }

    // ----- generic listing -------------------------------------------------

    fn pager<T>(&self, spec: ListSpec, decoder: PageDecoder<T>) -> Pager<T> {
        let max_pages = match spec.shape {
            Shape::Map => 1,
            _ => page_budget(
                spec.ceiling,
                spec.page_size,
                self.inner.config.limits.page_shrink,
            ),
        };
        Pager {
            client: self.clone(),
            cursor: Cursor::bounded(
                spec.shape,
                spec.op.endpoint(),
                spec.start_param,
                spec.ceiling,
                max_pages,
            ),
            spec,
            decoder,
            _items: PhantomData,
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        op: Operation,
        url: Url,
        resource: String,
    ) -> Result<T, JiraError> {
        let answer = self
            .execute(&Call {
                op,
                method: Method::GET,
                url,
                body: None,
                resource,
                repeatable: true,
            })
            .await?;
        decode(op, &answer.body)
    }

    // ----- reads -----------------------------------------------------------

    /// `GET /myself`: the calling account (the cheap credential check).
    pub async fn myself(&self) -> Result<User, JiraError> {
        self.get_json(
            Operation::Myself,
            self.api_url(&["myself"]),
            "the calling account".into(),
        )
        .await
    }

    /// Every user (`/users/search`, bare arrays of up to 1,000): all account
    /// types, inactive included, `emailAddress` kept whenever Jira shows it.
    pub fn users_pages(&self) -> Pager<User> {
        self.pager(
            ListSpec {
                op: Operation::UsersSearch,
                url: self.api_url(&["users", "search"]),
                ceiling: self.inner.config.limits.max_users,
                shape: Shape::BareArray,
                start_param: "startAt",
                size_param: "maxResults",
                page_size: USERS_PAGE,
                resource: "the user list".into(),
            },
            decode_bare_array::<User>,
        )
    }

    /// One user by account id (`GET /user?accountId=`): `None` when Jira
    /// answers 404 (no such account, or not visible). An answer naming another
    /// account is a decode error.
    pub async fn user(&self, account_id: &str) -> Result<Option<User>, JiraError> {
        let op = Operation::User;
        let mut url = self.api_url(&["user"]);
        url.query_pairs_mut().append_pair("accountId", account_id);
        let call = Call {
            op,
            method: Method::GET,
            url,
            body: None,
            resource: format!("user '{account_id}'"),
            repeatable: true,
        };
        let answer = match self.execute(&call).await {
            Ok(answer) => answer,
            Err(JiraError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let user: User = decode(op, &answer.body)?;
        if user.account_id != account_id {
            return Err(JiraError::Decode {
                endpoint: op.endpoint(),
                reason: format!(
                    "asked for account '{account_id}', Jira answered account '{}'",
                    crate::error::excerpt(user.account_id.as_bytes(), 100)
                ),
                excerpt: excerpt(&answer.body, 200),
            });
        }
        self.check_lengths(op.endpoint(), std::slice::from_ref(&user))?;
        Ok(Some(user))
    }

    /// Every user, collected.
    pub async fn users(&self) -> Result<Vec<User>, JiraError> {
        self.users_pages().collect_all().await
    }

    /// Every group (`/group/bulk`, pages of 50).
    pub fn groups_pages(&self) -> Pager<Group> {
        self.pager(
            ListSpec {
                op: Operation::GroupBulk,
                url: self.api_url(&["group", "bulk"]),
                ceiling: self.inner.config.limits.max_groups,
                shape: Shape::PageBean,
                start_param: "startAt",
                size_param: "maxResults",
                page_size: GROUPS_PAGE,
                resource: "the group list".into(),
            },
            decode_page_bean::<Group>,
        )
    }

    /// Every group, collected.
    pub async fn groups(&self) -> Result<Vec<Group>, JiraError> {
        self.groups_pages().collect_all().await
    }

    /// The members of a group, by group id, inactive users included
    /// (`/group/member?includeInactiveUsers=true`, pages of 50).
    pub fn group_members_pages(&self, group_id: &str) -> Pager<User> {
        let mut url = self.api_url(&["group", "member"]);
        url.query_pairs_mut()
            .append_pair("groupId", group_id)
            .append_pair("includeInactiveUsers", "true");
        self.pager(
            ListSpec {
                op: Operation::GroupMember,
                url,
                ceiling: self.inner.config.limits.max_group_members,
                shape: Shape::PageBean,
                start_param: "startAt",
                size_param: "maxResults",
                page_size: MEMBERS_PAGE,
                resource: format!("group '{group_id}'"),
            },
            decode_page_bean::<User>,
        )
    }

    /// The members of a group, collected.
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<User>, JiraError> {
        self.group_members_pages(group_id).collect_all().await
    }

    /// Every project, live and archived (`/project/search?status=live&status=archived`,
    /// pages of 100).
    pub fn projects_pages(&self) -> Pager<Project> {
        let mut url = self.api_url(&["project", "search"]);
        {
            let mut q = url.query_pairs_mut();
            for s in PROJECT_STATUSES {
                q.append_pair("status", s);
            }
        }
        self.pager(
            ListSpec {
                op: Operation::ProjectSearch,
                url,
                ceiling: self.inner.config.limits.max_projects,
                shape: Shape::PageBean,
                start_param: "startAt",
                size_param: "maxResults",
                page_size: PROJECTS_PAGE,
                resource: "the project list".into(),
            },
            decode_page_bean::<Project>,
        )
    }

    /// Every project, collected.
    pub async fn projects(&self) -> Result<Vec<Project>, JiraError> {
        self.projects_pages().collect_all().await
    }

    /// A project's roles (`/project/{k}/role`, a map of name → URL), in name
    /// order, each with its id (the URL's last segment).
    pub async fn project_roles(&self, project: &str) -> Result<Vec<RoleRef>, JiraError> {
        let op = Operation::ProjectRoles;
        let url = self.api_url(&["project", project, "role"]);
        let answer = self
            .execute(&Call {
                op,
                method: Method::GET,
                url,
                body: None,
                resource: format!("project '{project}'"),
                repeatable: true,
            })
            .await?;
        self.inner.counters.page();
        let map: BTreeMap<String, String> = decode(op, &answer.body)?;
        let roles = RoleRef::from_map(&map).map_err(|reason| JiraError::Decode {
            endpoint: op.endpoint(),
            reason,
            excerpt: excerpt(&answer.body, 200),
        })?;
        self.check_lengths(op.endpoint(), &roles)?;
        Ok(roles)
    }

    /// A role of a project with its actors (`/project/{k}/role/{id}`): users and
    /// groups (group actors are not expanded).
    pub async fn role(&self, project: &str, role_id: &str) -> Result<ProjectRole, JiraError> {
        /// The field that makes a role body a role with actors.
        #[derive(serde::Deserialize)]
        struct WithActors {
            #[allow(dead_code)]
            actors: serde::de::IgnoredAny,
        }
        let op = Operation::ProjectRole;
        let answer = self
            .execute(&Call {
                op,
                method: Method::GET,
                url: self.api_url(&["project", project, "role", role_id]),
                body: None,
                resource: format!("role {role_id} of project '{project}'"),
                repeatable: true,
            })
            .await?;
        if let Some(msg) = error_body_200(&answer.body) {
            return Err(JiraError::Decode {
                endpoint: op.endpoint(),
                reason: format!("Jira answered with status 200 but an error body: {msg}"),
                excerpt: excerpt(&answer.body, 200),
            });
        }
        decode::<WithActors>(op, &answer.body)?;
        let role: ProjectRole = decode(op, &answer.body)?;
        self.check_lengths(
            Operation::ProjectRole.endpoint(),
            std::slice::from_ref(&role),
        )?;
        Ok(role)
    }

    /// Product access (`/applicationrole`): which groups grant which product.
    pub async fn application_roles(&self) -> Result<Vec<ApplicationRole>, JiraError> {
        let roles: Vec<ApplicationRole> = self
            .get_json(
                Operation::ApplicationRoles,
                self.api_url(&["applicationrole"]),
                "product access".into(),
            )
            .await?;
        self.inner.counters.page();
        self.check_lengths(Operation::ApplicationRoles.endpoint(), &roles)?;
        Ok(roles)
    }

    /// The admin audit log (`/auditing/record`, offset/limit pages of 1,000).
    pub fn audit_records_pages(&self, query: &AuditQuery) -> Pager<AuditRecord> {
        let mut url = self.api_url(&["auditing", "record"]);
        {
            let mut q = url.query_pairs_mut();
            if let Some(f) = &query.from {
                q.append_pair("from", f);
            }
            if let Some(t) = &query.to {
                q.append_pair("to", t);
            }
            if let Some(f) = &query.filter {
                q.append_pair("filter", f);
            }
        }
        self.pager(
            ListSpec {
                op: Operation::AuditRecords,
                url,
                ceiling: self.inner.config.limits.max_audit_records,
                shape: Shape::PageBean,
                start_param: "offset",
                size_param: "limit",
                page_size: AUDIT_PAGE,
                resource: "the audit log".into(),
            },
            decode_audit,
        )
    }

    /// The admin audit log, collected.
    pub async fn audit_records(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, JiraError> {
        self.audit_records_pages(query).collect_all().await
    }

    /// Fails with [`JiraError::Limit`] when an item holds an id or name longer
    /// than the limits.
    pub(crate) fn check_lengths<T: Bounded>(
        &self,
        endpoint: &'static str,
        items: &[T],
    ) -> Result<(), JiraError> {
        let l = &self.inner.config.limits;
        match items
            .iter()
            .find_map(|i| i.too_long(l.max_id_len, l.max_name_len))
        {
            None => Ok(()),
            Some(t) => Err(JiraError::Limit {
                endpoint,
                what: format!("a {} of {} bytes", t.field, t.len),
                limit: t.limit as u64,
                unit: " bytes",
            }),
        }
    }

    #[cfg(test)]
    pub(crate) fn sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }
}

/// What to list and how.
struct ListSpec {
    op: Operation,
    url: Url,
    shape: Shape,
    start_param: &'static str,
    size_param: &'static str,
    page_size: u64,
    /// The most items the listing may hold.
    ceiling: u64,
    resource: String,
}

/// Page-at-a-time access to one listing, so a caller can process each page
/// without holding the whole list. Obtained from the `*_pages` methods.
///
/// ```no_run
/// # async fn f(client: grantledger_jira::JiraClient) -> Result<(), grantledger_jira::JiraError> {
/// let mut pages = client.users_pages();
/// while let Some(page) = pages.next_page().await? {
///     for user in page { /* ... */ let _ = user; }
/// }
/// # Ok(()) }
/// ```
pub struct Pager<T> {
    client: JiraClient,
    spec: ListSpec,
    cursor: Cursor,
    decoder: PageDecoder<T>,
    _items: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("endpoint", &self.spec.op.endpoint())
            .field("next_start", &self.cursor.next_start())
            .finish()
    }
}

impl<T: Bounded> Pager<T> {
    /// The next page's items, or `None` once the listing is complete. An empty
    /// page in the middle of a listing is returned as an empty `Vec`.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, JiraError> {
        let Some(start) = self.cursor.next_start() else {
            return Ok(None);
        };
        let (meta, items, fingerprint) = self.fetch(start).await?;
        self.cursor.advance(&meta, fingerprint)?;
        Ok(Some(items))
    }

    /// One page at an explicit offset, with its paging facts, without moving
    /// this pager's cursor. For callers that learn a listing's `total` from its
    /// first page and then fetch the remaining pages concurrently; such a caller
    /// must check the pages fit together (same `total`, full pages, no repeats)
    /// and fall back to [`Pager::next_page`] when they do not.
    pub async fn page_at(&self, start: u64) -> Result<(PageMeta, Vec<T>), JiraError> {
        let (meta, items, _) = self.fetch(start).await?;
        Ok((meta, items))
    }

    /// The page size this listing asks for.
    pub fn page_size(&self) -> u64 {
        self.spec.page_size
    }

    /// The most items this listing may hold (see [`crate::config::Limits`]).
    pub fn ceiling(&self) -> u64 {
        self.spec.ceiling
    }

    async fn fetch(&self, start: u64) -> Result<(PageMeta, Vec<T>, u64), JiraError> {
        let mut url = self.spec.url.clone();
        url.query_pairs_mut()
            .append_pair(self.spec.start_param, &start.to_string())
            .append_pair(self.spec.size_param, &self.spec.page_size.to_string());
        let call = Call {
            op: self.spec.op,
            method: Method::GET,
            url,
            body: None,
            resource: self.spec.resource.clone(),
            repeatable: true,
        };
        let answer = self.client.execute(&call).await?;
        self.client.inner.counters.page();
        let endpoint = self.spec.op.endpoint();
        let (meta, items) = (self.decoder)(&answer.body).map_err(|reason| JiraError::Decode {
            endpoint,
            reason,
            excerpt: excerpt(&answer.body, 200),
        })?;
        self.client.check_lengths(endpoint, &items)?;
        Ok((meta, items, fingerprint(&answer.body)))
    }

    /// Whether the listing is complete.
    pub fn is_done(&self) -> bool {
        self.cursor.next_start().is_none()
    }

    /// Pages taken so far.
    pub fn pages(&self) -> u64 {
        self.cursor.pages()
    }

    /// Every remaining item, collected.
    pub async fn collect_all(mut self) -> Result<Vec<T>, JiraError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}

/// Decodes a 2xx body, or says which endpoint sent what.
pub(crate) fn decode<T: DeserializeOwned>(op: Operation, body: &[u8]) -> Result<T, JiraError> {
    serde_json::from_slice(body).map_err(|e| JiraError::Decode {
        endpoint: op.endpoint(),
        reason: e.to_string(),
        excerpt: excerpt(body, 200),
    })
}

/// The messages of a 2xx body that is Jira's error collection.
fn error_body_200(body: &[u8]) -> Option<String> {
    if body.iter().copied().find(|b| !b.is_ascii_whitespace()) != Some(b'{') {
        return None;
    }
    serde_json::from_slice::<ErrorCollection>(body)
        .ok()
        .and_then(|ec| ec.summary())
}

/// Jira's message from an error body: the `ErrorCollection` summary, or a
/// short excerpt of a non-JSON body, or nothing for an empty body.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return None;
    }
    match serde_json::from_slice::<ErrorCollection>(body) {
        Ok(ec) => ec.summary(),
        Err(_) => Some(excerpt(body, 200)),
    }
}

/// The wait the server asked for: `Retry-After`, else `X-RateLimit-Reset`.
pub(crate) fn retry_hint(
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(d) = get("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(d);
    }
    get("x-ratelimit-reset").and_then(|v| parse_rate_limit_reset(v, now))
}

/// Whether a connect failure came from name resolution (hyper's resolver says
/// "dns error"; the system resolver "failed to lookup address information").
fn is_dns_failure(reason: &str) -> bool {
    reason.contains("dns error") || reason.contains("failed to lookup address")
}

fn transport_reason(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("the request timed out after {timeout:?}");
    }
    let kind = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the response"
    } else {
        "the connection failed"
    };
    // The source chain (hyper/io errors) names no URL and no credentials.
    let mut detail = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({detail})")
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

#[cfg(test)]
mod transport_tests_support {
    //! A scripted loopback server and a fake clock, for transport tests.
    use super::*;
    use crate::backoff::SleepFuture;
    use crate::config::RetryPolicy;
    use crate::secret::ApiToken;
    use std::sync::Mutex as StdMutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A clock whose sleeps return at once and move time forward.
    #[derive(Default)]
    pub(crate) struct FakeClock {
        pub(crate) now: StdMutex<Duration>,
        pub(crate) sleeps: StdMutex<Vec<Duration>>,
    }

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            *self.now.lock().unwrap()
        }
        fn utc_now(&self) -> chrono::DateTime<chrono::Utc> {
            let base = chrono::DateTime::parse_from_rfc3339("2026-06-05T05:59:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc);
            base + chrono::Duration::from_std(self.now()).unwrap()
        }
        fn sleep(&self, d: Duration) -> SleepFuture {
            *self.now.lock().unwrap() += d;
            self.sleeps.lock().unwrap().push(d);
            Box::pin(async {})
        }
    }

    /// Serves one scripted response per connection (`None` = close without
    /// answering), and records each request's first line.
    pub(crate) async fn scripted(
        script: Vec<Option<String>>,
    ) -> (String, Arc<StdMutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            for reply in script {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                log.lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or("").to_owned());
                if let Some(r) = reply {
                    let _ = sock.write_all(r.as_bytes()).await;
                }
                let _ = sock.shutdown().await;
            }
        });
        (format!("http://{addr}"), seen)
    }

    pub(crate) fn reply(status: &str, headers: &[&str], body: &str) -> Option<String> {
        let mut s = format!(
            "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for h in headers {
            s.push_str(h);
            s.push_str("\r\n");
        }
        s.push_str("\r\n");
        s.push_str(body);
        Some(s)
    }

    pub(crate) const ME: &str =
        r#"{"accountId":"abc","accountType":"atlassian","active":true,"displayName":"A"}"#;

    pub(crate) fn client(base: &str, clock: Arc<FakeClock>, retry: RetryPolicy) -> JiraClient {
        let mut c = JiraConfig::for_base_url(base, "a@b.c", ApiToken::new("SECRET-tok")).unwrap();
        c.retry = retry;
        c.timeout = Duration::from_secs(5);
        JiraClient::with_clock(c, clock).unwrap()
    }
}

#[cfg(test)]
mod transport_tests {
    //! The retry loop against a scripted loopback server and a fake clock.
    use super::transport_tests_support::*;
    use super::*;
    use crate::config::RetryPolicy;

    #[tokio::test]
    async fn retry_after_then_backoff_then_success() {
        let (base, seen) = scripted(vec![
            reply("429 Too Many Requests", &["Retry-After: 7"], ""),
            reply("503 Service Unavailable", &[], ""),
            reply("200 OK", &["Content-Type: application/json"], ME),
        ])
        .await;
        let clock = Arc::new(FakeClock::default());
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            ..RetryPolicy::default()
        };
        let c = client(&base, clock.clone(), policy);
        let me = c.myself().await.unwrap();
        assert_eq!(me.account_id, "abc");
        let sleeps = clock.sleeps.lock().unwrap().clone();
        assert_eq!(sleeps.len(), 2, "{sleeps:?}");
        assert_eq!(sleeps[0], Duration::from_secs(7));
        // Second retry: base × 2 with jitter 0.7–1.3.
        assert!(
            sleeps[1] >= Duration::from_millis(140) && sleeps[1] <= Duration::from_millis(260),
            "{sleeps:?}"
        );
        let m = c.metrics();
        assert_eq!((m.requests, m.retries, m.rate_limited), (3, 2, 1));
        assert!(m.wait_ms >= 7140, "{m:?}");
        assert_eq!(c.sent(), 3);
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn rate_limit_reset_header_is_honoured() {
        let (base, _) = scripted(vec![
            reply(
                "429 Too Many Requests",
                &["X-RateLimit-Reset: 2026-06-05T06:00Z"],
                "",
            ),
            reply("200 OK", &[], ME),
        ])
        .await;
        let clock = Arc::new(FakeClock::default());
        let c = client(&base, clock.clone(), RetryPolicy::default());
        c.myself().await.unwrap();
        assert_eq!(*clock.sleeps.lock().unwrap(), vec![Duration::from_secs(60)]);
    }

    #[tokio::test]
    async fn retry_after_beyond_the_budget_fails_at_once() {
        let (base, _) = scripted(vec![reply(
            "429 Too Many Requests",
            &["Retry-After: 600"],
            "",
        )])
        .await;
        let clock = Arc::new(FakeClock::default());
        let policy = RetryPolicy {
            max_total_wait: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let c = client(&base, clock.clone(), policy);
        let e = c.myself().await.unwrap_err();
        match &e {
            JiraError::RateLimited {
                attempts,
                retry_after,
                ..
            } => {
                assert_eq!(*attempts, 1);
                assert_eq!(*retry_after, Some(Duration::from_secs(600)));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(clock.sleeps.lock().unwrap().is_empty());
        assert!(!e.to_string().contains("SECRET"));
    }

    #[tokio::test]
    async fn attempts_are_capped() {
        let script = (0..3)
            .map(|_| reply("502 Bad Gateway", &[], "{\"errorMessages\":[\"upstream\"]}"))
            .collect();
        let (base, _) = scripted(script).await;
        let clock = Arc::new(FakeClock::default());
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let c = client(&base, clock.clone(), policy);
        let e = c.myself().await.unwrap_err();
        assert!(
            matches!(
                e,
                JiraError::Server {
                    status: 502,
                    attempts: 3,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("upstream"));
        assert_eq!(clock.sleeps.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_write_is_not_resent_blindly_after_a_dropped_connection() {
        // POST dropped; the client re-checks membership (GET member) and finds
        // the account there, so it does not POST again.
        let page = r#"{"startAt":0,"maxResults":50,"total":1,"isLast":true,"values":[{"accountId":"u1","active":true}]}"#;
        let (base, seen) = scripted(vec![None, reply("200 OK", &[], page)]).await;
        let clock = Arc::new(FakeClock::default());
        let c = client(&base, clock, RetryPolicy::default());
        let out = c.add_group_member("g1", "u1").await.unwrap();
        assert_eq!(out, crate::types::WriteOutcome::ConfirmedAfterRetry);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen[0].starts_with("POST /rest/api/3/group/user?groupId=g1"),
            "{seen:?}"
        );
        assert!(seen[1].starts_with("GET /rest/api/3/group/member?groupId=g1&includeInactiveUsers=true&startAt=0&maxResults=50"), "{seen:?}");
    }

    #[tokio::test]
    async fn status_errors_are_typed() {
        let (base, _) = scripted(vec![
            reply("401 Unauthorized", &[], ""),
            reply("403 Forbidden", &[], r#"{"errorMessages":["Browse users and groups permission is required to view groups."],"errors":{}}"#),
            reply("404 Not Found", &[], r#"{"errorMessages":["Role with given id not found."],"errors":{}}"#),
            reply("200 OK", &[], "{\"accountId\": tru"),
        ])
        .await;
        let c = client(
            &base,
            Arc::new(FakeClock::default()),
            RetryPolicy::default(),
        );
        let e = c.myself().await.unwrap_err();
        assert!(
            e.to_string().contains("check the email and API token"),
            "{e}"
        );
        let e = c.groups().await.unwrap_err();
        assert!(matches!(e, JiraError::Forbidden { .. }));
        assert!(e.to_string().contains("Browse users and groups"), "{e}");
        let e = c.role("MKY", "999").await.unwrap_err();
        assert!(e.to_string().contains("role 999 of project 'MKY'"), "{e}");
        let e = c.myself().await.unwrap_err();
        assert!(
            matches!(
                e,
                JiraError::Decode {
                    endpoint: "GET /rest/api/3/myself",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("{\\\"accountId\\\": tru"), "{e}");
    }
}

#[cfg(test)]
mod limit_tests {
    use super::transport_tests_support::*;
    use super::*;
    use crate::config::RetryPolicy;

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_not_held() {
        let big = format!("{{\"accountId\":\"{}\"}}", "x".repeat(5000));
        let (base, _) = scripted(vec![reply("200 OK", &[], &big)]).await;
        let mut c =
            JiraConfig::for_base_url(&base, "a@b.c", crate::secret::ApiToken::new("t")).unwrap();
        c.limits.max_body_bytes = 1000;
        let c = JiraClient::with_clock(c, Arc::new(FakeClock::default())).unwrap();
        let e = c.myself().await.unwrap_err();
        assert!(matches!(e, JiraError::Limit { limit: 1000, .. }), "{e:?}");
        assert!(
            e.to_string().contains(
                "GET /rest/api/3/myself: the response body exceeds the limit of 1000 bytes"
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_role_body_without_actors_is_not_a_role_without_actors() {
        let (base, _) = scripted(vec![
            reply(
                "200 OK",
                &[],
                r#"{"errorMessages":["Site temporarily unavailable"]}"#,
            ),
            reply("200 OK", &[], "{}"),
            reply(
                "200 OK",
                &[],
                r#"{"id":10002,"name":"Developers","actors":[]}"#,
            ),
        ])
        .await;
        let c = client(
            &base,
            Arc::new(FakeClock::default()),
            RetryPolicy::default(),
        );
        let e = c.role("P", "10002").await.unwrap_err();
        assert!(
            e.to_string()
                .contains("error body: Site temporarily unavailable"),
            "{e}"
        );
        let e = c.role("P", "10002").await.unwrap_err();
        assert!(e.to_string().contains("missing field `actors`"), "{e}");
        assert!(c.role("P", "10002").await.unwrap().actors.is_empty());
    }

    #[tokio::test]
    async fn an_over_long_name_fails_the_listing() {
        let page = format!(
            r#"{{"startAt":0,"maxResults":50,"total":1,"isLast":true,"values":[{{"groupId":"g1","name":"{}"}}]}}"#,
            "n".repeat(300)
        );
        let (base, _) = scripted(vec![reply("200 OK", &[], &page)]).await;
        let mut c =
            JiraConfig::for_base_url(&base, "a@b.c", crate::secret::ApiToken::new("t")).unwrap();
        c.limits.max_name_len = 100;
        let c = JiraClient::with_clock(c, Arc::new(FakeClock::default())).unwrap();
        let e = c.groups().await.unwrap_err();
        assert!(
            e.to_string().contains(
                "GET /rest/api/3/group/bulk: a name of 300 bytes exceeds the limit of 100 bytes"
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_jira_ends_within_the_budget_and_is_not_rate_limit_waiting() {
        // A port nobody listens on: every connection is refused.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let clock = Arc::new(FakeClock::default());
        let mut cfg =
            JiraConfig::for_base_url(&base, "a@b.c", crate::secret::ApiToken::new("t")).unwrap();
        cfg.retry = RetryPolicy {
            max_attempts: 4,
            max_total_wait: Duration::from_secs(600),
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(8),
        };
        cfg.unreachable_after = Duration::from_secs(30);
        let c = JiraClient::with_clock(cfg, clock.clone()).unwrap();
        // Each call gives up after its attempts; the outage goes on across calls
        // until the budget ends it.
        let mut errors = Vec::new();
        for _ in 0..20 {
            let e = c.myself().await.unwrap_err();
            let done = matches!(e, JiraError::Unreachable { .. });
            errors.push(e);
            if done {
                break;
            }
        }
        let last = errors.last().unwrap();
        assert!(matches!(last, JiraError::Unreachable { .. }), "{errors:?}");
        assert!(
            last.to_string().contains("Jira could not be reached"),
            "{last}"
        );
        assert!(errors.len() > 1, "{errors:?}");
        let slept: Duration = clock.sleeps.lock().unwrap().iter().sum();
        assert!(slept <= Duration::from_secs(30), "{slept:?}");
        let m = c.metrics();
        assert_eq!(m.wait_ms, 0, "{m:?}");
        // Counted per sleep in whole milliseconds.
        assert!(
            m.connection_wait_ms.abs_diff(slept.as_millis() as u64) <= 10,
            "{m:?}"
        );
        assert_eq!(m.connection_failures, m.requests, "{m:?}");
    }
}

#[cfg(test)]
mod pushback_tests {
    use super::transport_tests_support::*;
    use super::*;
    use crate::config::RetryPolicy;

    #[tokio::test]
    async fn a_429_withholds_a_permit_until_calm_returns() {
        let mut script = vec![reply("429 Too Many Requests", &["Retry-After: 1"], "")];
        script.extend((0..=PERMIT_RESTORE_AFTER).map(|_| reply("200 OK", &[], ME)));
        let (base, _) = scripted(script).await;
        let c = client(
            &base,
            Arc::new(FakeClock::default()),
            RetryPolicy::default(),
        );
        assert_eq!(c.inner.sem.available_permits(), 8);
        c.myself().await.unwrap(); // 429, then a success
        assert_eq!(c.inner.sem.available_permits(), 7);
        for _ in 0..PERMIT_RESTORE_AFTER - 1 {
            c.myself().await.unwrap();
        }
        assert_eq!(c.inner.sem.available_permits(), 8);
    }
}

#[cfg(test)]
mod dns_tests {
    use super::is_dns_failure;

    #[test]
    fn name_resolution_failures_are_told_apart_from_other_connect_errors() {
        assert!(is_dns_failure(
            "could not connect (failed to lookup address information: Name or service not known)"
        ));
        assert!(is_dns_failure(
            "could not connect (dns error: no record found)"
        ));
        assert!(!is_dns_failure(
            "could not connect (Connection refused (os error 111))"
        ));
        assert!(!is_dns_failure("the request timed out after 30s"));
    }
}
