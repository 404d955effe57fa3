//! Fault injection settings and request statistics.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::paging_faults::PagingFault;

/// Faults injected into `/rest` requests. Change them while the server runs
/// with [`crate::SimServer::set_faults`].
///
/// Every `*_every: Some(n)` fires on the requests whose sequence number
/// (1-based, counted over all `/rest` requests since the server started,
/// whatever the faults were then) is a multiple of `n`. When several fire on the same request, the first in this order wins:
/// dropped connection, 429, 503, malformed JSON, slow response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every `/rest` request.
    pub latency: Duration,
    /// Every Nth `/rest` request answers 429.
    pub rate_limit_every: Option<u64>,
    /// Or this fraction of requests answers 429 (chosen by a deterministic
    /// PRNG over the request sequence number, so a run is reproducible).
    pub rate_limit_ratio: f64,
    /// `Retry-After` on those 429s, in seconds; 0 omits the header (and
    /// `X-RateLimit-Reset`), so a client must fall back to its own backoff.
    pub retry_after_secs: u64,
    /// Every Nth answers 503 (with `Retry-After` when `retry_after_secs > 0`).
    pub server_error_every: Option<u64>,
    /// Every Nth answers 200 with the real body cut in half (invalid JSON).
    pub malformed_every: Option<u64>,
    /// Every Nth: the request is carried out (a write takes effect), then the
    /// connection is closed without a response.
    pub drop_every: Option<u64>,
    /// Every Nth is answered `slow_by` late.
    pub slow_every: Option<u64>,
    /// How late a slow response is.
    pub slow_by: Duration,
    /// Paging endpoints ignore `startAt` and always answer the first page
    /// (a server that does not advance).
    pub repeat_page: bool,
    /// A paging fault of the list endpoints (see [`PagingFault`]).
    pub paging: PagingFault,
    /// With a paging fault: list pages hold at most this many items whatever
    /// was asked (so that small orgs have listings of several pages).
    pub page_cap: Option<usize>,
    /// The operations (`"GET /rest/api/3/group/member"`) the paging fault
    /// applies to; empty means every list operation (`/users/search`,
    /// `/group/bulk`, `/group/member`, `/project/search`).
    pub paging_ops: Vec<String>,
}

/// Which fault, if any, a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Drop,
    RateLimit,
    ServerError,
    Malformed,
    Slow,
}

impl Fault {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::Drop => "dropped_connection",
            Fault::RateLimit => "rate_limited",
            Fault::ServerError => "server_error",
            Fault::Malformed => "malformed_json",
            Fault::Slow => "slow_response",
        }
    }
}

impl Faults {
    /// The fault for the request with this 1-based sequence number.
    pub(crate) fn pick(&self, seq: u64) -> Option<Fault> {
        let every = |n: Option<u64>| matches!(n, Some(n) if n > 0 && seq % n == 0);
        let ratio_hit = self.rate_limit_ratio > 0.0 && {
            let r = crate::generate::mix64(seq ^ 0x7261_7465_6c69_6d69);
            ((r >> 11) as f64 / (1u64 << 53) as f64) < self.rate_limit_ratio
        };
        if every(self.drop_every) {
            Some(Fault::Drop)
        } else if every(self.rate_limit_every) || ratio_hit {
            Some(Fault::RateLimit)
        } else if every(self.server_error_every) {
            Some(Fault::ServerError)
        } else if every(self.malformed_every) {
            Some(Fault::Malformed)
        } else if every(self.slow_every) {
            Some(Fault::Slow)
        } else {
            None
        }
    }
}

/// Request counts since start (or the last reset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// Every request to `/rest` and `/_edge` (faulted ones included).
    pub total: u64,
    /// Per operation, keyed `"METHOD path-template"`, e.g.
    /// `"GET /rest/api/3/group/member"`.
    pub by_operation: BTreeMap<String, u64>,
    /// Requests that got an injected fault.
    pub faults_injected: u64,
    /// Injected faults per kind: `dropped_connection`, `rate_limited`,
    /// `server_error`, `malformed_json`, `slow_response`.
    pub faults_by_kind: BTreeMap<String, u64>,
    /// Writes Jira carried out (answered 2xx, whether or not the answer was
    /// then lost to an injected dropped connection), per operation: the
    /// changes made, as opposed to the write requests sent, which
    /// `by_operation` counts with those Jira refused.
    #[serde(default)]
    pub changes: BTreeMap<String, u64>,
    /// The most `/rest` requests the server was handling at once (from arrival,
    /// injected latency included, to the answer): how many calls a client had
    /// in Jira at the same time.
    #[serde(default)]
    pub peak_in_flight: u64,
}
