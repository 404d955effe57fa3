//! Typed errors a user can act on. None of them ever holds a token.

use std::time::Duration;

use crate::secret::TokenError;

/// What went wrong talking to Jira.
///
/// `endpoint` fields read like `GET /rest/api/3/group/member` (the operation, not
/// the full URL); `resource` fields name the group, project or role concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JiraError {
    /// The settings are unusable (site, base URL, email).
    #[error("bad Jira configuration: {0}")]
    Config(String),

    /// The token could not be read.
    #[error("bad Jira configuration: {0}")]
    Token(#[from] TokenError),

    /// 401.
    #[error("{endpoint}: Jira refused the credentials (401): check the email and API token{}", hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Unauthorized {
        /// The operation.
        endpoint: &'static str,
        /// Extra guidance (e.g. about scoped tokens), if any.
        hint: Option<String>,
    },

    /// 403.
    #[error("{endpoint}: permission denied (403) on {resource}: the account needs {permission}{}", message.as_deref().map(|m| format!("; Jira says: {m}")).unwrap_or_default())]
    Forbidden {
        /// The operation.
        endpoint: &'static str,
        /// What was being read or changed.
        resource: String,
        /// The permission this operation needs.
        permission: &'static str,
        /// Jira's own message, if any.
        message: Option<String>,
    },

    /// 404.
    #[error("{endpoint}: not found (404): {resource}{}", message.as_deref().map(|m| format!("; Jira says: {m}")).unwrap_or_default())]
    NotFound {
        /// The operation.
        endpoint: &'static str,
        /// What was not found.
        resource: String,
        /// Jira's own message, if any.
        message: Option<String>,
    },

    /// Another 4xx (400, 409, ...): the request was refused as invalid.
    #[error("{endpoint}: Jira refused the request ({status}) for {resource}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Rejected {
        /// The operation.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// What was being read or changed.
        resource: String,
        /// Jira's own message, if any.
        message: Option<String>,
    },

    /// 429 (or 503 with a retry hint) until the retry budget ran out.
    #[error("{endpoint}: rate limited by Jira after {attempts} attempts and {waited:?} of waiting{}; lower the concurrency or raise the retry budget", retry_after.map(|d| format!(" (Jira asked to wait {d:?} more)")).unwrap_or_default())]
    RateLimited {
        /// The operation.
        endpoint: &'static str,
        /// Attempts made.
        attempts: u32,
        /// Time spent waiting between them.
        waited: Duration,
        /// The wait Jira asked for last, if it was beyond the budget.
        retry_after: Option<Duration>,
    },

    /// 5xx after retries (or at once, for a write whose retry is unsafe).
    #[error("{endpoint}: Jira server error {status} after {attempts} attempts{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Server {
        /// The operation.
        endpoint: &'static str,
        /// The HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// Jira's own message, if any.
        message: Option<String>,
    },

    /// The site's host name does not resolve: a wrong site name (or no DNS).
    /// Not retried: a name that does not resolve now will not in a second.
    #[error("{endpoint}: the site's host {host} does not resolve: check the site name (--site, JIRA_SITE or the config file) and this machine's DNS")]
    UnknownHost {
        /// The operation.
        endpoint: &'static str,
        /// The host name.
        host: String,
    },

    /// The connection failed or timed out, after retries.
    #[error("{endpoint}: {reason} after {attempts} attempts")]
    Transport {
        /// The operation.
        endpoint: &'static str,
        /// What happened (connect error, timeout, connection closed).
        reason: String,
        /// Attempts made.
        attempts: u32,
    },

    /// A 2xx body that does not decode as the operation's response.
    #[error("{endpoint}: cannot decode Jira's response ({reason}); body starts: {excerpt:?}")]
    Decode {
        /// The operation.
        endpoint: &'static str,
        /// The decoder's message.
        reason: String,
        /// At most ~200 characters of the body.
        excerpt: String,
    },

    /// The server does not advance through pages (a repeated `startAt`,
    /// `nextPage` or page), or its paging does not prove the listing complete
    /// (an offset other than asked, a `total` that changes or disagrees with
    /// the items received). The listing is unfinished.
    #[error("{endpoint}: paging does not advance or does not add up: {detail}; the listing was stopped and counts as unfinished")]
    Pagination {
        /// The operation.
        endpoint: &'static str,
        /// What was seen.
        detail: String,
    },

    /// A server answered more than the client accepts to hold: a body larger
    /// than the limit, an over-long name or id, a listing beyond its ceiling.
    #[error("{endpoint}: {what} exceeds the limit of {limit}{unit}; the listing counts as unfinished (raise the limit in the configuration if the site really is that large)")]
    Limit {
        /// The operation.
        endpoint: &'static str,
        /// What went past the limit, e.g. "the response body" or "the user
        /// listing's item count (reported total 1000000000000)".
        what: String,
        /// The limit.
        limit: u64,
        /// The limit's unit ("bytes", "items", "pages"), with a leading space.
        unit: &'static str,
    },

    /// Jira could not be reached: every request failed to connect, timed out or
    /// lost its connection for longer than the configured budget. Fatal for a
    /// sync: no later request can fare better.
    #[error("{endpoint}: Jira could not be reached: {failures} connection failures and no answer for {during:?} (budget {budget:?}); last failure: {last}")]
    Unreachable {
        /// The operation that hit the budget.
        endpoint: &'static str,
        /// Connection failures counted since the last answer.
        failures: u64,
        /// How long no request was answered.
        during: Duration,
        /// The configured budget.
        budget: Duration,
        /// The last failure's reason.
        last: String,
    },

    /// A field grantledger needs is missing from a response.
    #[error("Jira's response lacks `{field}` for {context}")]
    MissingField {
        /// The field.
        field: &'static str,
        /// The object concerned.
        context: String,
    },
}

impl JiraError {
    /// Whether the error came from the credentials (401).
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, JiraError::Unauthorized { .. })
    }
}

/// At most `max` characters of `body`, for an error message.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(max).collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_is_bounded() {
        let body = "x".repeat(1000);
        let e = excerpt(body.as_bytes(), 200);
        assert_eq!(e.chars().count(), 201);
        assert_eq!(excerpt(b"{\"a\":", 200), "{\"a\":");
    }

    #[test]
    fn messages_guide_the_user() {
        let e = JiraError::Unauthorized {
            endpoint: "GET /rest/api/3/myself",
            hint: None,
        };
        assert!(e.to_string().contains("check the email and API token"));
        let e = JiraError::Forbidden {
            endpoint: "POST /rest/api/3/group/user",
            resource: "group 'g1'".into(),
            permission: "site-admin rights",
            message: None,
        };
        assert!(e.to_string().contains("site-admin"));
        assert!(e.to_string().contains("group 'g1'"));
    }
}
