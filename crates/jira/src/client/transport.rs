//! Transport: one attempt (auth, bounded body), the retry loop, the
//! connection budget, and typed errors from statuses and bodies.

use super::*;

impl JiraClient {
    pub(super) async fn attempt(&self, call: &Call) -> Attempt {
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
                        unresolved: false,
                    },
                }
            }
            Err(e) => Attempt::Failed {
                reason: transport_reason(&e, self.inner.config.timeout),
                not_sent: e.is_connect(),
                unresolved: super::resolve::is_name_not_resolved(&e),
            },
        };
        drop(permit);
        result
    }

    /// Reads a body chunk by chunk, stopping (`None`) as soon as it would pass
    /// the size limit: a server cannot make the client hold more than that.
    pub(super) async fn read_body(
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

    pub(super) fn note_caller(&self, headers: &reqwest::header::HeaderMap) {
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
    pub(super) fn reachable(&self) {
        let mut o = self.inner.outage.lock().unwrap_or_else(|p| p.into_inner());
        o.since = None;
        o.failures = 0;
    }

    /// A connection failure: counts it against the budget. Fails with
    /// [`JiraError::Unreachable`] once no answer came for longer than the
    /// budget, or the time waited after connection failures (over the
    /// client's life) would pass it with `next_wait` more.
    pub(super) fn unreachable(
        &self,
        endpoint: &'static str,
        reason: &str,
        next_wait: Duration,
    ) -> Option<JiraError> {
        self.inner.counters.connection_failure();
        let budget = self.inner.config.unreachable_after;
        let now = self.inner.clock.monotonic();
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
                    let hint = retry_hint(&headers, grantledger_clock::utc(self.inner.clock.now()));
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
                Attempt::Failed {
                    unresolved: true, ..
                } => {
                    return Err(JiraError::UnknownHost {
                        endpoint,
                        host: call.url.host_str().unwrap_or("?").to_owned(),
                    });
                }
                Attempt::Failed {
                    reason, not_sent, ..
                } => {
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

    pub(super) fn status_error(
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
pub(super) fn error_body_200(body: &[u8]) -> Option<String> {
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

/// What went wrong with a request that got no answer, in one line: the kind of
/// failure and the innermost cause (which names no URL and no credentials).
/// Name resolution failures are told by type elsewhere (`resolve`).
pub(super) fn transport_reason(e: &reqwest::Error, timeout: Duration) -> String {
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
