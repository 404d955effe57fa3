//! Rendering as Jira's JSON: responses, errors, pages, users and groups.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::generate::mix64;
use crate::org::SimUser;

/// A JSON response.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

/// A failed operation as Jira answers it: a status and, unless Jira sends
/// none, an `ErrorCollection` body. Handlers return it with `?`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    /// `None` for the body-less answers (a 401 without credentials).
    body: Option<ErrorCollection>,
}

/// Jira's `ErrorCollection`: general messages, and messages per field.
#[derive(Debug)]
struct ErrorCollection {
    messages: Vec<String>,
    errors: Map<String, Value>,
}

impl ApiError {
    /// An `ErrorCollection` with one general message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: Some(ErrorCollection {
                messages: vec![message.into()],
                errors: Map::new(),
            }),
        }
    }

    /// 400 with one general message.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 with one general message.
    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 with one general message.
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 400 with an `ErrorCollection` naming the bad parameter or field.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> ApiError {
        let mut errors = Map::new();
        errors.insert(field.to_owned(), Value::String(message.into()));
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: Some(ErrorCollection {
                messages: Vec::new(),
                errors,
            }),
        }
    }

    /// A status without a body, where Jira sends none.
    pub(crate) fn bare(status: StatusCode) -> ApiError {
        ApiError { status, body: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.body {
            None => self.status.into_response(),
            Some(ErrorCollection { messages, errors }) => json_response(
                self.status,
                &json!({ "errorMessages": messages, "errors": errors }),
            ),
        }
    }
}

/// Percent-encodes a query component.
pub(super) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL of `path` with the request's parameters, `startAt` and
/// `maxResults` replaced.
pub(super) fn page_url(
    base: &str,
    path: &str,
    q: &[(String, String)],
    start: usize,
    max: usize,
) -> String {
    let mut parts: Vec<String> = q
        .iter()
        .filter(|(k, _)| k != "startAt" && k != "maxResults")
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    parts.push(format!("startAt={start}"));
    parts.push(format!("maxResults={max}"));
    format!("{base}{path}?{}", parts.join("&"))
}

/// A `PageBean` over `total` items of which `values` start at `start`.
pub(super) fn page_bean(
    base: &str,
    path: &str,
    q: &[(String, String)],
    start: usize,
    max: usize,
    total: usize,
    values: Vec<Value>,
) -> Value {
    let is_last = start + values.len() >= total;
    let mut page = Map::new();
    page.insert("self".into(), json!(page_url(base, path, q, start, max)));
    if !is_last {
        page.insert(
            "nextPage".into(),
            json!(page_url(base, path, q, start + max, max)),
        );
    }
    page.insert("maxResults".into(), json!(max));
    page.insert("startAt".into(), json!(start));
    page.insert("total".into(), json!(total));
    page.insert("isLast".into(), json!(is_last));
    page.insert("values".into(), Value::Array(values));
    Value::Object(page)
}

pub(super) fn slice<T>(items: &[T], start: usize, max: usize) -> &[T] {
    let from = start.min(items.len());
    let to = start.saturating_add(max).min(items.len());
    &items[from..to]
}

pub(super) fn initials(name: &str) -> String {
    let s: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect();
    s.to_uppercase()
}

pub(super) fn avatar_urls(name: &str, account_id: &str) -> Value {
    let n = mix64(fnv(account_id)) % 6;
    let ini = enc(&initials(name));
    let url = |s: u32| {
        format!("https://avatar-management--avatars.us-west-2.prod.public.atl-paas.example/initials/{ini}-{n}.png?size={s}&s={s}")
    };
    json!({ "48x48": url(48), "24x24": url(24), "16x16": url(16), "32x32": url(32) })
}

pub(super) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

const TIME_ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Europe/London",
    "America/Los_Angeles",
];

/// A user as `UserDetails` (`full` adds the `User`-only field `locale`).
/// `emailAddress` is absent when the account has none or hides it.
pub(super) fn user_json(base: &str, u: &SimUser, full: bool) -> Value {
    let mut m = Map::new();
    m.insert(
        "self".into(),
        json!(format!(
            "{base}/rest/api/3/user?accountId={}",
            enc(&u.account_id)
        )),
    );
    m.insert("accountId".into(), json!(u.account_id));
    m.insert("accountType".into(), json!(u.account_type));
    if let (Some(email), false) = (&u.email, u.email_hidden) {
        m.insert("emailAddress".into(), json!(email));
    }
    m.insert(
        "avatarUrls".into(),
        avatar_urls(&u.display_name, &u.account_id),
    );
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("active".into(), json!(u.active));
    if u.account_type != "app" {
        let tz = TIME_ZONES[(fnv(&u.account_id) % TIME_ZONES.len() as u64) as usize];
        m.insert("timeZone".into(), json!(tz));
    }
    if full {
        m.insert("locale".into(), json!("en_US"));
    }
    Value::Object(m)
}

pub(super) fn group_self(base: &str, group_id: &str) -> String {
    format!("{base}/rest/api/3/group?groupId={}", enc(group_id))
}
