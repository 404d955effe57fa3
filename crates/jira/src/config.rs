//! Connection settings: which site, which credentials, how hard to push.

use std::net::IpAddr;
use std::time::Duration;

use url::{Host, Url};

use crate::error::JiraError;
use crate::secret::ApiToken;

/// Default number of requests in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Default per-request timeout (connect to end of body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Atlassian's API gateway, used with scoped API tokens.
pub const ATLASSIAN_GATEWAY: &str = "https://api.atlassian.com";

/// Which kind of API token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenKind {
    /// A classic token: Basic auth against the site itself.
    #[default]
    Classic,
    /// A scoped token (required for service accounts): Basic auth through
    /// `https://api.atlassian.com/ex/jira/<cloudId>`; the cloud id is resolved
    /// with `GET https://<site>/_edge/tenant_info` by [`crate::JiraClient::connect`].
    Scoped,
}

/// How failed requests are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The most one request may spend waiting between attempts. A `Retry-After`
    /// that would exceed what is left fails at once with
    /// [`JiraError::RateLimited`] instead of sleeping in vain.
    pub max_total_wait: Duration,
    /// The first backoff delay when the server gives no hint.
    pub base_delay: Duration,
    /// The cap of the exponential backoff (before jitter).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_total_wait: Duration::from_secs(120),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Everything needed to talk to one Jira Cloud site.
///
/// `Debug` is safe to print: the token masks itself.
#[derive(Clone, Debug)]
pub struct JiraConfig {
    /// `acme`, `acme.atlassian.net` or `https://acme.atlassian.net`.
    pub site: String,
    /// The admin's email (the Basic auth user name).
    pub email: String,
    /// The API token.
    pub token: ApiToken,
    /// Classic or scoped token.
    pub token_kind: TokenKind,
    /// Replaces the site's REST base (for the simulator). `http://` only on a
    /// loopback host.
    pub base_url: Option<Url>,
    /// Replaces `https://api.atlassian.com` for scoped tokens (for tests).
    pub gateway_url: Option<Url>,
    /// Requests in flight at once (at least 1).
    pub concurrency: usize,
    /// Per-request timeout, from connecting to the end of the body.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// How long Jira may stay unreachable (every request failing to connect,
    /// timing out or losing its connection, with no answer in between) before
    /// every request of this client fails with [`JiraError::Unreachable`]. The
    /// time also bounds the total waited after connection failures.
    pub unreachable_after: Duration,
    /// What a server can make the client hold.
    pub limits: Limits,
}

/// Default for [`JiraConfig::unreachable_after`].
pub const DEFAULT_UNREACHABLE_AFTER: Duration = Duration::from_secs(180);

/// Bounds on what a server can make the client hold or do. Past any of them the
/// listing (or request) fails with [`JiraError::Limit`], naming the endpoint and
/// the limit. The defaults sit well above the largest real Jira Cloud site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest response body read, in bytes (the largest real page, 1,000
    /// users, is about 1 MiB).
    pub max_body_bytes: usize,
    /// The longest id (account, group, project, role) accepted, in bytes.
    pub max_id_len: usize,
    /// The longest name, key, email or URL accepted, in bytes.
    pub max_name_len: usize,
    /// The most users one listing of `/users/search` may hold.
    pub max_users: u64,
    /// The most groups `/group/bulk` may list.
    pub max_groups: u64,
    /// The most members one group's listing may hold.
    pub max_group_members: u64,
    /// The most projects `/project/search` may list.
    pub max_projects: u64,
    /// The most audit records one query may return.
    pub max_audit_records: u64,
    /// How far below the page size asked a server may clamp its pages and still
    /// be followed to the ceiling: a listing may take at most
    /// `ceil(ceiling / page size asked) × page_shrink + 11` pages.
    pub page_shrink: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_id_len: 256,
            max_name_len: 4096,
            max_users: 200_000,
            max_groups: 50_000,
            max_group_members: 50_000,
            max_projects: 20_000,
            max_audit_records: 1_000_000,
            page_shrink: 20,
        }
    }
}

impl JiraConfig {
    /// Settings with defaults: classic token, concurrency 8, 30 s timeout,
    /// the default retry policy.
    pub fn new(site: impl Into<String>, email: impl Into<String>, token: ApiToken) -> JiraConfig {
        JiraConfig {
            site: site.into(),
            email: email.into(),
            token,
            token_kind: TokenKind::Classic,
            base_url: None,
            gateway_url: None,
            concurrency: DEFAULT_CONCURRENCY,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            unreachable_after: DEFAULT_UNREACHABLE_AFTER,
            limits: Limits::default(),
        }
    }

    /// Settings for a server at `base_url` (the simulator), with defaults.
    pub fn for_base_url(
        base_url: &str,
        email: impl Into<String>,
        token: ApiToken,
    ) -> Result<JiraConfig, JiraError> {
        let url = Url::parse(base_url)
            .map_err(|e| JiraError::Config(format!("base URL '{base_url}' is not a URL: {e}")))?;
        let site = url.host_str().unwrap_or("localhost").to_owned();
        let mut c = JiraConfig::new(site, email, token);
        c.base_url = Some(url);
        Ok(c)
    }
}

/// Turns the site setting into the site's origin URL.
///
/// `acme` → `https://acme.atlassian.net`; `acme.atlassian.net` (or any host
/// name with a dot) → `https://acme.atlassian.net`; a full URL is kept (an
/// `http://` one only for a loopback host). Paths, queries and credentials in
/// the URL are refused.
pub fn site_url(site: &str) -> Result<Url, JiraError> {
    let s = site.trim();
    if s.is_empty() {
        return Err(JiraError::Config(
            "the Jira site is empty: give e.g. 'acme', 'acme.atlassian.net' or 'https://acme.atlassian.net'"
                .into(),
        ));
    }
    if s.contains("://") {
        let url = Url::parse(s).map_err(|e| {
            JiraError::Config(format!("the Jira site '{s}' is not a valid URL: {e}"))
        })?;
        return check_base_url(url, "the Jira site", false);
    }
    let host_ok = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.']);
    if !host_ok {
        return Err(JiraError::Config(format!(
            "the Jira site '{s}' is not a site name: give e.g. 'acme', 'acme.atlassian.net' or 'https://acme.atlassian.net'"
        )));
    }
    let host = if s.contains('.') {
        s.to_ascii_lowercase()
    } else {
        format!("{}.atlassian.net", s.to_ascii_lowercase())
    };
    let url = Url::parse(&format!("https://{host}"))
        .map_err(|e| JiraError::Config(format!("the Jira site '{s}' is not valid: {e}")))?;
    check_base_url(url, "the Jira site", false)
}

/// Whether the URL's host is a loopback address (127.0.0.0/8, ::1, localhost).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            d.eq_ignore_ascii_case("localhost")
        }
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks a base URL: `https`, or `http` on a loopback host; no credentials,
/// query or fragment; a path only when `allow_path`.
pub fn check_base_url(url: Url, what: &str, allow_path: bool) -> Result<Url, JiraError> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(JiraError::Config(format!(
                "{what} '{url}' uses plain http: only https is allowed, except for a loopback host (127.0.0.1, ::1, localhost)"
            )))
        }
        other => {
            return Err(JiraError::Config(format!(
                "{what} '{url}' has scheme '{other}': use https"
            )))
        }
    }
    if url.host().is_none() {
        return Err(JiraError::Config(format!("{what} '{url}' has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(JiraError::Config(format!(
            "{what} must not carry credentials in the URL: give the email and token separately"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(JiraError::Config(format!(
            "{what} '{url}' must not have a query or fragment"
        )));
    }
    if !allow_path && url.path() != "/" && !url.path().is_empty() {
        return Err(JiraError::Config(format!(
            "{what} '{url}' must not have a path: give the site's address only"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_site_names_expand_to_atlassian_net() {
        assert_eq!(
            site_url("acme").unwrap().as_str(),
            "https://acme.atlassian.net/"
        );
        assert_eq!(
            site_url("Acme.Atlassian.net").unwrap().as_str(),
            "https://acme.atlassian.net/"
        );
        assert_eq!(
            site_url(" https://acme.atlassian.net/ ").unwrap().as_str(),
            "https://acme.atlassian.net/"
        );
        assert_eq!(
            site_url("jira.example.com").unwrap().as_str(),
            "https://jira.example.com/"
        );
    }

    #[test]
    fn bad_sites_are_config_errors() {
        for bad in [
            "",
            "acme corp",
            "-acme",
            "acme/",
            "https://acme.atlassian.net/jira",
            "https://user:pw@acme.atlassian.net",
            "ftp://acme.atlassian.net",
            "https://acme.atlassian.net/?x=1",
        ] {
            assert!(
                matches!(site_url(bad), Err(JiraError::Config(_))),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.5.6.7",
            "http://[::1]:9000",
            "http://localhost:3000",
            "http://LOCALHOST.",
        ] {
            let url = Url::parse(ok).unwrap();
            assert!(check_base_url(url, "base URL", true).is_ok(), "{ok}");
        }
        for bad in [
            "http://acme.atlassian.net",
            "http://10.0.0.1",
            "http://[::2]",
            "http://localhost.evil.com",
            "http://128.0.0.1",
        ] {
            let url = Url::parse(bad).unwrap();
            let e = check_base_url(url, "base URL", true).unwrap_err();
            assert!(e.to_string().contains("plain http"), "{bad}: {e}");
        }
        assert!(site_url("http://acme.atlassian.net").is_err());
        assert!(site_url("http://127.0.0.1:1234").is_ok());
    }
}
