//! Paging faults: list endpoints that answer with pages a client must not
//! trust. Each mode is applied to the simulator's honest answer (or to the
//! request before it is answered), so everything else stays faithful.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::generate::{mix64, SplitMix64};
use crate::handlers::ApiError;

/// How list endpoints misbehave. Set with [`crate::Faults::paging`]; applied
/// to the operations [`crate::Faults::paging_ops`] selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PagingFault {
    /// Honest pages.
    #[default]
    None,
    /// Pages hold at most this many items whatever was asked (the clamped
    /// `maxResults` is echoed, as Jira does).
    CapPageSize(usize),
    /// `total` is left out of PageBean pages.
    OmitTotal,
    /// `isLast` is left out.
    OmitIsLast,
    /// `nextPage` is left out.
    OmitNextPage,
    /// `total`, `isLast` and `nextPage` are all left out.
    OmitAll,
    /// Every PageBean page after the first is empty, marked not last, with a
    /// `nextPage` onwards; a bare array's pages after the first are empty (for
    /// a bare array, that ends the listing early).
    EmptyPagesMidListing,
    /// A page asked at `startAt > 0` is answered from `startAt + n`, echoing
    /// the offset it really starts at.
    SkipAhead(usize),
    /// Like `SkipAhead`, but the page claims to start where it was asked.
    SkipAheadHidden(usize),
    /// `total` is reported `n` too large.
    TotalTooLarge(u64),
    /// `total` is reported `n` too small.
    TotalTooSmall(u64),
    /// `total` grows with every page (`true total + startAt`).
    TotalChanging,
    /// The first page says `total: n, maxResults: 1` with one item; later
    /// pages answer 404.
    HugeTotal(u64),
    /// Every page after the first answers 404 (a listing that fails half-way).
    FailLaterPages,
    /// `/users/search` returns one new user for every `startAt`, never ending.
    EndlessUsers,
    /// Status 200 with Jira's error body.
    ErrorBody,
    /// Status 200 with `[]`.
    EmptyArray,
    /// Status 200 with `{}`.
    EmptyObject,
    /// Every display name (users) or name (groups, projects) is this many bytes.
    LongNames(usize),
    /// The honest body followed by this many bytes of JSON whitespace.
    PaddedBody(usize),
    /// Every list answered with a random schema-valid body from this seed
    /// (mixed with the request's sequence number): items taken from the real
    /// page, repeated or made up, offsets, totals, `isLast` and `nextPage`
    /// chosen at random.
    Hostile(u64),
}

/// The list operations, as `METHOD path-template`.
pub(crate) const LIST_OPS: [&str; 4] = [
    "GET /rest/api/3/users/search",
    "GET /rest/api/3/group/bulk",
    "GET /rest/api/3/group/member",
    "GET /rest/api/3/project/search",
];

fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

fn int(q: &[(String, String)], name: &str) -> Option<u64> {
    q.iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// What the fault needs to remember about the request.
pub(crate) struct Asked {
    start: u64,
    max: u64,
    path: String,
    query: Vec<(String, String)>,
}

/// Rewrites the request before the honest handler answers it.
pub(crate) fn before(fault: PagingFault, cap: Option<usize>, req: &mut Request) -> Asked {
    let mut q = query_pairs(req);
    let asked = Asked {
        start: int(&q, "startAt").unwrap_or(0),
        max: int(&q, "maxResults").unwrap_or(50),
        path: req.uri().path().to_owned(),
        query: q.clone(),
    };
    let set = |q: &mut Vec<(String, String)>, k: &str, v: u64| {
        q.retain(|(n, _)| n != k);
        q.push((k.to_owned(), v.to_string()));
    };
    if let Some(n) = cap {
        set(&mut q, "maxResults", asked.max.min(n as u64));
    }
    match fault {
        PagingFault::CapPageSize(n) => set(&mut q, "maxResults", asked.max.min(n as u64)),
        PagingFault::SkipAhead(n) | PagingFault::SkipAheadHidden(n) if asked.start > 0 => {
            set(&mut q, "startAt", asked.start + n as u64)
        }
        PagingFault::HugeTotal(_) if asked.start == 0 => set(&mut q, "maxResults", 1),
        _ if cap.is_none() => return asked,
        _ => {}
    }
    let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if let Ok(uri) = format!("{}?{}", asked.path, query.join("&")).parse() {
        *req.uri_mut() = uri;
    }
    asked
}

fn json_200(body: String) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

fn next_url(asked: &Asked, base: &str, start: u64, max: u64) -> String {
    let mut parts: Vec<String> = asked
        .query
        .iter()
        .filter(|(k, _)| k != "startAt" && k != "maxResults")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.push(format!("startAt={start}"));
    parts.push(format!("maxResults={max}"));
    format!("{base}{}?{}", asked.path, parts.join("&"))
}

/// Rewrites the honest answer.
pub(crate) async fn after(
    fault: PagingFault,
    op: &str,
    asked: &Asked,
    base: &str,
    seq: u64,
    response: Response,
) -> Response {
    match fault {
        PagingFault::ErrorBody => {
            return json_200(
                json!({"errorMessages": ["Site temporarily unavailable"], "errors": {}})
                    .to_string(),
            )
        }
        PagingFault::EmptyArray => return json_200("[]".into()),
        PagingFault::EmptyObject => return json_200("{}".into()),
        PagingFault::HugeTotal(_) | PagingFault::FailLaterPages if asked.start > 0 => {
            return ApiError::not_found("No page there.").into_response()
        }
        PagingFault::EndlessUsers if op.ends_with("/users/search") => {
            let id = format!("endless-{}", asked.start);
            return json_200(
                json!([{ "accountId": id, "accountType": "atlassian", "active": true,
                          "displayName": format!("Endless {}", asked.start) }])
                .to_string(),
            );
        }
        _ => {}
    }
    if !response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let out = match fault {
        PagingFault::PaddedBody(n) => {
            let mut s = v.to_string();
            s.push_str(&" ".repeat(n));
            s
        }
        PagingFault::Hostile(seed) => hostile(seed, seq, op, asked, base, &v).to_string(),
        _ => {
            rewrite(fault, asked, base, &mut v);
            v.to_string()
        }
    };
    let mut resp = json_200(out);
    *resp.status_mut() = parts.status;
    resp
}

fn rewrite(fault: PagingFault, asked: &Asked, base: &str, v: &mut Value) {
    if let PagingFault::LongNames(n) = fault {
        let long = "n".repeat(n);
        let items = match v {
            Value::Array(a) => Some(a),
            Value::Object(m) => m.get_mut("values").and_then(Value::as_array_mut),
            _ => None,
        };
        for item in items.into_iter().flatten() {
            if let Some(m) = item.as_object_mut() {
                for field in ["displayName", "name"] {
                    if m.contains_key(field) {
                        m.insert(field.into(), json!(long));
                    }
                }
            }
        }
        return;
    }
    if let (PagingFault::EmptyPagesMidListing, Value::Array(items)) = (fault, &mut *v) {
        if asked.start > 0 {
            items.clear();
        }
        return;
    }
    let Some(page) = v.as_object_mut() else {
        return;
    };
    let total = page.get("total").and_then(Value::as_u64).unwrap_or(0);
    let max = page.get("maxResults").and_then(Value::as_u64).unwrap_or(50);
    match fault {
        PagingFault::OmitTotal => {
            page.remove("total");
        }
        PagingFault::OmitIsLast => {
            page.remove("isLast");
        }
        PagingFault::OmitNextPage => {
            page.remove("nextPage");
        }
        PagingFault::OmitAll => {
            page.remove("total");
            page.remove("isLast");
            page.remove("nextPage");
        }
        PagingFault::EmptyPagesMidListing if asked.start > 0 => {
            page.insert("values".into(), json!([]));
            page.insert("isLast".into(), json!(false));
            page.insert(
                "nextPage".into(),
                json!(next_url(asked, base, asked.start + max, max)),
            );
        }
        PagingFault::SkipAheadHidden(_) => {
            page.insert("startAt".into(), json!(asked.start));
        }
        PagingFault::TotalTooLarge(n) => {
            page.insert("total".into(), json!(total + n));
        }
        PagingFault::TotalTooSmall(n) => {
            page.insert("total".into(), json!(total.saturating_sub(n)));
        }
        PagingFault::TotalChanging => {
            page.insert("total".into(), json!(total + asked.start));
        }
        PagingFault::HugeTotal(n) => {
            page.insert("total".into(), json!(n));
            page.insert("isLast".into(), json!(false));
            page.insert("nextPage".into(), json!(next_url(asked, base, 1, 1)));
        }
        _ => {}
    }
}

/// A random, schema-valid answer to a list request.
fn hostile(seed: u64, seq: u64, op: &str, asked: &Asked, base: &str, honest: &Value) -> Value {
    let mut rng = SplitMix64::new(mix64(seed ^ mix64(seq)));
    let real: Vec<Value> = match honest {
        Value::Array(a) => a.clone(),
        Value::Object(m) => m
            .get("values")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let n = rng.below(8);
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let pick = rng.below(10);
        if !real.is_empty() && pick < 7 {
            items.push(real[rng.below(real.len())].clone());
        } else {
            items.push(made_up(op, &mut rng));
        }
    }
    if op.ends_with("/users/search") {
        return Value::Array(items);
    }
    let mut page = Map::new();
    let start = if rng.chance(0.7) {
        asked.start
    } else {
        rng.below(100) as u64
    };
    page.insert("startAt".into(), json!(start));
    let max = [asked.max, 1, rng.below(100) as u64][rng.below(3)];
    page.insert("maxResults".into(), json!(max));
    match rng.below(4) {
        0 => {}
        1 => {
            page.insert("total".into(), json!(rng.below(40)));
        }
        2 => {
            page.insert("total".into(), json!(start + items.len() as u64));
        }
        _ => {
            page.insert("total".into(), json!(1_000_000_000_000u64));
        }
    }
    match rng.below(3) {
        0 => {}
        1 => {
            page.insert("isLast".into(), json!(true));
        }
        _ => {
            page.insert("isLast".into(), json!(false));
        }
    }
    if rng.chance(0.5) {
        let next = [
            start + items.len() as u64,
            start + max,
            rng.below(200) as u64,
        ][rng.below(3)];
        page.insert("nextPage".into(), json!(next_url(asked, base, next, max)));
    }
    page.insert("values".into(), Value::Array(items));
    Value::Object(page)
}

/// A plausible item that the org does not have.
fn made_up(op: &str, rng: &mut SplitMix64) -> Value {
    let k = rng.next_u64() % 1000;
    if op.ends_with("/group/bulk") {
        json!({ "groupId": format!("fake-group-{k}"), "name": format!("fake group {k}") })
    } else if op.ends_with("/project/search") {
        json!({ "id": format!("{}", 90_000 + k), "key": format!("FAKE{k}"), "name": format!("Fake {k}"),
                "projectTypeKey": "software", "archived": false })
    } else {
        json!({ "accountId": format!("fake-{k}"), "accountType": "atlassian", "active": true,
                "displayName": format!("Fake {k}") })
    }
}
