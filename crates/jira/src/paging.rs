//! Paging, written once for Jira's three list shapes, and the proof that a
//! listing is complete.
//!
//! - **PageBean** (`{startAt, maxResults, total?, isLast?, nextPage?, values}`):
//!   follow `nextPage` (its `startAt`) while present; stop when `isLast` is
//!   true; when neither is sent, continue from `startAt + received` until an
//!   empty page or `startAt >= total`. The audit log's `{offset, limit, total,
//!   records}` is read as the same shape.
//! - **Bare array**: raise `startAt` by the number received until an empty page.
//! - **Map**: one response holds everything.
//!
//! Never stops on "a page shorter than asked" (Jira clamps page sizes and may
//! return short or even empty pages before the end).
//!
//! A listing is only called complete when its pages prove it (ADR 0006); each
//! of these ends it with [`JiraError::Pagination`] instead:
//! - a page whose echoed offset is not the offset asked (a server that skips
//!   ahead or goes back), a `nextPage` that skips past the items received or
//!   past the page size, a `startAt`/`nextPage` asked twice, a page identical to
//!   one already seen, a long run of empty pages still called "not last";
//! - a `total` that changes between pages, a page that reaches past its
//!   `total`, or a listing that ends with a number of items other than its
//!   `total`.
//!
//! And with [`JiraError::Limit`]: more items than the listing's ceiling (a
//! reported `total` above it fails on the first page), or more pages than
//! `ceil(ceiling / page size) × shrink + 11`. Nothing is allocated in
//! proportion to a number the server sent.
//!
//! (Over 600 lines with its unit tests, which are about 350 of them: they pin
//! down the cursor case by case and stay beside it.)

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use serde::de::DeserializeOwned;

use crate::error::JiraError;
use crate::types::{AuditRecords, ErrorCollection, PageBean};

/// The list shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A PageBean envelope (or the audit log's offset/limit envelope).
    PageBean,
    /// A bare JSON array paged by `startAt`.
    BareArray,
    /// One object holding everything.
    Map,
}

/// What one page says about paging.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageMeta {
    /// The page's offset as the server echoes it.
    pub start_at: Option<u64>,
    /// The effective page size.
    pub max_results: Option<u64>,
    /// The total, when reported.
    pub total: Option<u64>,
    /// Whether this is the last page, when reported.
    pub is_last: Option<bool>,
    /// The next page's URL, when given.
    pub next_page: Option<String>,
    /// Items on this page.
    pub count: usize,
}

/// How many empty pages in a row a server may call "not last" before the
/// listing is abandoned.
pub const MAX_EMPTY_RUN: u32 = 10;

/// The most pages a listing with this item ceiling, asked in pages of
/// `page_size`, may take when the server may clamp pages down to
/// `1/shrink` of what was asked: `ceil(ceiling / page_size) × shrink` plus a run
/// of empty pages and the final one.
pub fn page_budget(ceiling: u64, page_size: u64, shrink: u64) -> u64 {
    ceiling
        .div_ceil(page_size.max(1))
        .max(1)
        .saturating_mul(shrink.max(1))
        .saturating_add(u64::from(MAX_EMPTY_RUN) + 1)
}

/// The paging state of one listing.
#[derive(Debug)]
pub struct Cursor {
    shape: Shape,
    endpoint: &'static str,
    start_param: &'static str,
    next_start: Option<u64>,
    seen_starts: HashSet<u64>,
    seen_next: HashSet<String>,
    seen_pages: HashSet<u64>,
    empty_run: u32,
    pages: u64,
    items: u64,
    /// Whether the cursor moved past positions that held no item (an empty or
    /// short page followed by the page size): only a total can then prove
    /// nothing was missed.
    skipped: bool,
    /// The first page's `total` (`Some(None)`: the first page reported none).
    total: Option<Option<u64>>,
    ceiling: u64,
    max_pages: u64,
}

impl Cursor {
    /// A listing from the beginning, without a ceiling. `start_param` is the
    /// query parameter that carries the offset (`startAt`, or `offset` for the
    /// audit log).
    pub fn new(shape: Shape, endpoint: &'static str, start_param: &'static str) -> Cursor {
        Cursor::bounded(shape, endpoint, start_param, u64::MAX, u64::MAX)
    }

    /// A listing that may hold at most `ceiling` items in at most `max_pages`
    /// pages (see [`page_budget`]).
    pub fn bounded(
        shape: Shape,
        endpoint: &'static str,
        start_param: &'static str,
        ceiling: u64,
        max_pages: u64,
    ) -> Cursor {
        let mut seen_starts = HashSet::new();
        seen_starts.insert(0);
        Cursor {
            shape,
            endpoint,
            start_param,
            next_start: Some(0),
            seen_starts,
            seen_next: HashSet::new(),
            seen_pages: HashSet::new(),
            empty_run: 0,
            pages: 0,
            items: 0,
            skipped: false,
            total: None,
            ceiling,
            max_pages,
        }
    }

    /// The offset of the next page to ask for; `None` once the listing is done.
    pub fn next_start(&self) -> Option<u64> {
        self.next_start
    }

    /// Pages taken so far.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Items received so far.
    pub fn items(&self) -> u64 {
        self.items
    }

    fn fail(&mut self, detail: String) -> JiraError {
        self.next_start = None;
        JiraError::Pagination {
            endpoint: self.endpoint,
            detail,
        }
    }

    fn limit(&mut self, what: String, limit: u64, unit: &'static str) -> JiraError {
        self.next_start = None;
        JiraError::Limit {
            endpoint: self.endpoint,
            what,
            limit,
            unit,
        }
    }

    /// Takes one page (its paging facts and a fingerprint of its raw body) and
    /// decides what comes next, or why the listing cannot be trusted.
    pub fn advance(&mut self, meta: &PageMeta, body_fingerprint: u64) -> Result<(), JiraError> {
        let asked = match self.next_start {
            Some(s) => s,
            None => return Err(self.fail("a page arrived after the listing ended".into())),
        };
        self.pages += 1;
        if self.shape == Shape::Map {
            self.next_start = None;
            return Ok(());
        }
        let count = meta.count as u64;
        self.items = self.items.saturating_add(count);
        if self.items > self.ceiling {
            let what = format!(
                "the listing's item count ({} after {} pages)",
                self.items, self.pages
            );
            return Err(self.limit(what, self.ceiling, " items"));
        }
        if self.pages > self.max_pages {
            let what = format!("the listing's page count ({} items so far)", self.items);
            return Err(self.limit(what, self.max_pages, " pages"));
        }
        if count > 0 && !self.seen_pages.insert(body_fingerprint) {
            return Err(self.fail(format!(
                "the page asked at {}={asked} repeats a page already received",
                self.start_param
            )));
        }
        if let Some(echoed) = meta.start_at {
            if echoed != asked {
                return Err(self.fail(format!(
                    "asked for {}={asked} but the server answered a page at {echoed}",
                    self.start_param
                )));
            }
        }
        match self.total {
            None => self.total = Some(meta.total),
            Some(first) if first != meta.total => {
                return Err(self.fail(format!(
                    "the total changed from {} to {} between pages",
                    show(first),
                    show(meta.total)
                )))
            }
            Some(_) => {}
        }
        if let Some(total) = meta.total {
            if total > self.ceiling {
                let what = format!("the listing's reported total ({total})");
                return Err(self.limit(what, self.ceiling, " items"));
            }
            if asked.saturating_add(count) > total || self.items > total {
                return Err(self.fail(format!(
                    "the page at {}={asked} holds {count} items, past the total {total}",
                    self.start_param
                )));
            }
        }
        let next = match self.shape {
            Shape::Map => None,
            Shape::BareArray => (count > 0).then_some(asked + count),
            Shape::PageBean => self.next_from_envelope(meta, asked, count)?,
        };
        if count == 0 {
            self.empty_run += 1;
        } else {
            self.empty_run = 0;
        }
        match next {
            Some(n) => {
                if n > asked + count {
                    self.skipped = true;
                }
                if self.empty_run > MAX_EMPTY_RUN {
                    return Err(self.fail(format!(
                        "{} empty pages in a row, yet the server says more follow",
                        self.empty_run
                    )));
                }
                if !self.seen_starts.insert(n) {
                    return Err(self.fail(format!(
                        "the next page would be {}={n} again, which was already asked for",
                        self.start_param
                    )));
                }
            }
            None => match meta.total {
                Some(total) if self.items != total => {
                    return Err(self.fail(format!(
                        "the listing ended at {}={asked} with {} items, but its total is {total}",
                        self.start_param, self.items
                    )));
                }
                None if self.skipped => {
                    return Err(self.fail(format!(
                        "the listing ended at {}={asked} after skipping positions that held no item, with no total to prove nothing was missed",
                        self.start_param
                    )));
                }
                _ => {}
            },
        }
        self.next_start = next;
        Ok(())
    }

    fn next_from_envelope(
        &mut self,
        meta: &PageMeta,
        pos: u64,
        count: u64,
    ) -> Result<Option<u64>, JiraError> {
        if meta.is_last == Some(true) {
            return Ok(None);
        }
        if let Some(url) = &meta.next_page {
            if !self.seen_next.insert(url.clone()) {
                return Err(self.fail(format!("nextPage '{}' was given twice", clip(url))));
            }
            let Some(n) = query_u64(url, self.start_param) else {
                return Err(self.fail(format!(
                    "nextPage '{}' carries no {} to continue from",
                    clip(url),
                    self.start_param
                )));
            };
            // The next page starts right after what was received, or after the
            // page size when the server filtered the page; anything else skips
            // items or goes back.
            let step = meta.max_results.unwrap_or(count).max(count);
            if n < pos + count || n > pos + step {
                return Err(self.fail(format!(
                    "nextPage jumps from {}={pos} ({count} items, page size {step}) to {n}",
                    self.start_param
                )));
            }
            return Ok(Some(n));
        }
        if meta.is_last == Some(false) {
            // More follows but the server gave no link: continue after what was
            // received, or after the server's page size if the page was empty
            // (Jira may filter a page down to nothing).
            let step = if count > 0 {
                count
            } else {
                match meta.max_results {
                    Some(m) if m > 0 => m,
                    _ => {
                        return Err(self.fail(
                            "an empty page marked not last, with no nextPage and no maxResults"
                                .into(),
                        ))
                    }
                }
            };
            return Ok(Some(pos + step));
        }
        // Neither isLast nor nextPage: the total decides when there is one (any
        // page may be empty, so an empty page short of the total moves on by the
        // page size); without a total, an empty page ends the list.
        if count == 0 {
            return match (meta.total, meta.max_results) {
                (Some(total), Some(step)) if step > 0 && pos < total => Ok(Some(pos + step)),
                (Some(total), _) if pos < total => Err(self.fail(format!(
                    "an empty page at {}={pos} short of the total {total}, with no page size to continue by",
                    self.start_param
                ))),
                _ => Ok(None),
            };
        }
        let next = pos + count;
        match meta.total {
            Some(total) if next >= total => Ok(None),
            _ => Ok(Some(next)),
        }
    }
}

fn show(total: Option<u64>) -> String {
    total.map_or_else(|| "none".to_owned(), |t| t.to_string())
}

/// At most 200 characters of a server-sent string, for messages.
fn clip(s: &str) -> String {
    crate::error::excerpt(s.as_bytes(), 200)
}

/// The value of query parameter `name` in a URL (absolute or relative).
fn query_u64(url: &str, name: &str) -> Option<u64> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

/// A stable fingerprint of a page body, to notice a server that repeats a page.
pub fn fingerprint(body: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// Decodes one page of a given shape into its paging facts and items, or says
/// why the body is not such a page.
pub type PageDecoder<T> = fn(&[u8]) -> Result<(PageMeta, Vec<T>), String>;

/// Why a body is not of the expected JSON kind (`open` is `{` or `[`), naming
/// Jira's error collection when that is what came.
fn wrong_shape(body: &[u8], open: u8) -> Option<String> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first == Some(open) && open == b'[' {
        return None;
    }
    if let Some(msg) = error_body(body) {
        return Some(format!(
            "Jira answered with status 200 but an error body: {msg}"
        ));
    }
    if first == Some(open) {
        return None;
    }
    let want = if open == b'{' {
        "an object"
    } else {
        "an array"
    };
    let got = match first {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        None => "an empty body",
        Some(_) => "another JSON value",
    };
    Some(format!("expected {want} for a page, got {got}"))
}

/// The summary of a body that is Jira's `ErrorCollection` with messages.
fn error_body(body: &[u8]) -> Option<String> {
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first != Some(b'{') {
        return None;
    }
    serde_json::from_slice::<ErrorCollection>(body)
        .ok()
        .and_then(|ec| ec.summary())
}

/// Decodes a PageBean page: an object with `startAt`, `maxResults` and
/// `values` (see [`PageBean`]).
pub fn decode_page_bean<T: DeserializeOwned>(body: &[u8]) -> Result<(PageMeta, Vec<T>), String> {
    if let Some(why) = wrong_shape(body, b'{') {
        return Err(why);
    }
    let p: PageBean<T> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let meta = PageMeta {
        start_at: Some(p.start_at),
        max_results: Some(p.max_results),
        total: p.total,
        is_last: p.is_last,
        next_page: p.next_page,
        count: p.values.len(),
    };
    Ok((meta, p.values))
}

/// Decodes a bare-array page.
pub fn decode_bare_array<T: DeserializeOwned>(body: &[u8]) -> Result<(PageMeta, Vec<T>), String> {
    if let Some(why) = wrong_shape(body, b'[') {
        return Err(why);
    }
    let items: Vec<T> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let meta = PageMeta {
        count: items.len(),
        ..PageMeta::default()
    };
    Ok((meta, items))
}

/// Decodes an audit-log page (`offset`/`limit`/`total`/`records`, the first
/// two and the records required).
pub fn decode_audit(body: &[u8]) -> Result<(PageMeta, Vec<crate::types::AuditRecord>), String> {
    if let Some(why) = wrong_shape(body, b'{') {
        return Err(why);
    }
    let p: AuditRecords = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let meta = PageMeta {
        start_at: Some(p.offset),
        max_results: Some(p.limit),
        total: p.total,
        is_last: None,
        next_page: None,
        count: p.records.len(),
    };
    Ok((meta, p.records))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bean(start: u64, count: usize, total: Option<u64>, is_last: Option<bool>) -> PageMeta {
        PageMeta {
            start_at: Some(start),
            max_results: Some(50),
            total,
            is_last,
            next_page: None,
            count,
        }
    }

    /// Feeds pages from `server(start) -> (meta, fingerprint)` until done or error.
    fn drive(
        shape: Shape,
        mut server: impl FnMut(u64) -> (PageMeta, u64),
    ) -> Result<Vec<u64>, JiraError> {
        let mut c = Cursor::new(shape, "GET /x", "startAt");
        let mut asked = Vec::new();
        while let Some(s) = c.next_start() {
            asked.push(s);
            assert!(asked.len() < 1000, "cursor looped");
            let (m, f) = server(s);
            c.advance(&m, f)?;
        }
        Ok(asked)
    }

    #[test]
    fn page_bean_follows_is_last_not_short_pages() {
        // Pages of 50 clamped to 30 items, 100 items in all, isLast on the last.
        let asked = drive(Shape::PageBean, |s| {
            let n = 30.min(100 - s as usize);
            (bean(s, n, Some(100), Some(s + n as u64 >= 100)), s)
        })
        .unwrap();
        assert_eq!(asked, vec![0, 30, 60, 90]);
    }

    #[test]
    fn page_bean_follows_next_page_links() {
        let asked = drive(Shape::PageBean, |s| {
            let mut m = bean(s, 2, None, Some(s >= 4));
            if s < 4 {
                m.next_page = Some(format!(
                    "https://x/rest/api/3/group/bulk?maxResults=2&startAt={}",
                    s + 2
                ));
            }
            (m, s)
        })
        .unwrap();
        assert_eq!(asked, vec![0, 2, 4]);
    }

    #[test]
    fn page_bean_without_is_last_uses_total_or_empty_page() {
        // total given: stops at total even though the last page is full.
        let asked = drive(Shape::PageBean, |s| (bean(s, 10, Some(30), None), s)).unwrap();
        assert_eq!(asked, vec![0, 10, 20]);
        // neither total nor isLast: stops on the empty page.
        let asked = drive(Shape::PageBean, |s| {
            (bean(s, if s < 25 { 5 } else { 0 }, None, None), s)
        })
        .unwrap();
        assert_eq!(asked, vec![0, 5, 10, 15, 20, 25]);
    }

    #[test]
    fn an_empty_page_short_of_the_total_is_followed_but_the_items_must_add_up() {
        // Neither isLast nor nextPage, a total of 120, and an empty page at 50:
        // the cursor moves on by the page size, but 70 items against a total of
        // 120 is not a complete listing.
        let mut asked = Vec::new();
        let e = drive(Shape::PageBean, |s| {
            asked.push(s);
            match s {
                0 => (bean(0, 50, Some(120), None), 1),
                50 => (bean(50, 0, Some(120), None), 2),
                100 => (bean(100, 20, Some(120), None), 3),
                _ => panic!("asked {s}"),
            }
        })
        .unwrap_err();
        assert_eq!(asked, vec![0, 50, 100]);
        assert!(
            e.to_string()
                .contains("with 70 items, but its total is 120"),
            "{e}"
        );
    }

    #[test]
    fn a_page_that_skips_ahead_is_an_error() {
        // Asked at 7, answered with the page at 14 marked last: the items in
        // between would be lost.
        let e = drive(Shape::PageBean, |s| match s {
            0 => (bean(0, 7, Some(21), Some(false)), 1),
            7 => (bean(14, 7, Some(21), Some(true)), 2),
            _ => panic!("asked {s}"),
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("asked for startAt=7 but the server answered a page at 14"),
            "{e}"
        );
    }

    #[test]
    fn a_last_page_short_of_or_past_the_total_is_an_error() {
        let e = drive(Shape::PageBean, |s| (bean(s, 5, Some(8), Some(true)), s)).unwrap_err();
        assert!(
            e.to_string().contains("with 5 items, but its total is 8"),
            "{e}"
        );
        let e = drive(Shape::PageBean, |s| (bean(s, 9, Some(8), Some(true)), s)).unwrap_err();
        assert!(e.to_string().contains("past the total 8"), "{e}");
    }

    #[test]
    fn a_total_that_changes_is_an_error() {
        let e = drive(Shape::PageBean, |s| {
            (bean(s, 10, Some(30 + s), Some(false)), s)
        })
        .unwrap_err();
        assert!(e.to_string().contains("total changed from 30 to 40"), "{e}");
    }

    #[test]
    fn a_next_page_that_skips_is_an_error() {
        let e = drive(Shape::PageBean, |s| {
            let mut m = bean(s, 2, None, Some(false));
            m.next_page = Some(format!("https://x/y?startAt={}", s + 60));
            (m, s)
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("nextPage jumps from startAt=0"),
            "{e}"
        );
    }

    #[test]
    fn ceilings_bound_items_pages_and_reported_totals() {
        let limited = |shape, ceiling, max_pages| {
            Cursor::bounded(shape, "GET /x", "startAt", ceiling, max_pages)
        };
        // An endless bare array (one new item per offset) stops at the ceiling.
        let mut c = limited(Shape::BareArray, 100, u64::MAX);
        let mut n = 0;
        let e = loop {
            let s = c.next_start().unwrap();
            let meta = PageMeta {
                count: 1,
                ..PageMeta::default()
            };
            n += 1;
            if let Err(e) = c.advance(&meta, s) {
                break e;
            }
        };
        assert_eq!(n, 101);
        assert!(matches!(e, JiraError::Limit { limit: 100, .. }), "{e}");
        // A reported total past the ceiling fails on the first page.
        let mut c = limited(Shape::PageBean, 100, u64::MAX);
        let e = c
            .advance(&bean(0, 1, Some(1_000_000_000_000), Some(false)), 0)
            .unwrap_err();
        assert!(
            e.to_string().contains("reported total (1000000000000)"),
            "{e}"
        );
        // Pages of one item each, within the ceiling but past the page budget.
        let budget = page_budget(100, 50, 4);
        assert_eq!(budget, 2 * 4 + 11);
        let mut c = limited(Shape::PageBean, 100, budget);
        let mut pages = 0;
        let e = loop {
            let s = c.next_start().unwrap();
            pages += 1;
            if let Err(e) = c.advance(&bean(s, 1, Some(100), Some(false)), s) {
                break e;
            }
        };
        assert_eq!(pages, budget + 1);
        assert!(e.to_string().contains("page count"), "{e}");
    }

    #[test]
    fn an_empty_page_not_last_moves_on_by_the_page_size_but_leaves_the_listing_unproven() {
        // A filtered-out page in the middle: empty but isLast=false. Without a
        // total nothing proves the skipped positions held nothing.
        let page = |s, total| match s {
            0 => (bean(0, 50, total, Some(false)), 1),
            50 => (bean(50, 0, total, Some(false)), 2),
            100 => (bean(100, 7, total, Some(true)), 3),
            _ => panic!("asked {s}"),
        };
        let e = drive(Shape::PageBean, |s| page(s, None)).unwrap_err();
        assert!(
            e.to_string()
                .contains("no total to prove nothing was missed"),
            "{e}"
        );
        // With a total, the positions must tile it: items at 100..107 lie past
        // a total of 57, and a total of 107 is not reached by 57 items.
        let e = drive(Shape::PageBean, |s| page(s, Some(57))).unwrap_err();
        assert!(e.to_string().contains("past the total 57"), "{e}");
        let e = drive(Shape::PageBean, |s| page(s, Some(107))).unwrap_err();
        assert!(
            e.to_string()
                .contains("with 57 items, but its total is 107"),
            "{e}"
        );
    }

    #[test]
    fn bare_arrays_page_until_empty() {
        let total = 2500u64;
        let asked = drive(Shape::BareArray, |s| {
            // Server clamps to 1000 but returns a short page (900) once.
            let n = if s == 1000 { 900 } else { 1000 };
            let n = n.min(total.saturating_sub(s));
            (
                PageMeta {
                    count: n as usize,
                    ..PageMeta::default()
                },
                s,
            )
        })
        .unwrap();
        assert_eq!(asked, vec![0, 1000, 1900, 2500]);
    }

    #[test]
    fn map_is_one_page() {
        let asked = drive(Shape::Map, |_| {
            (
                PageMeta {
                    count: 3,
                    ..PageMeta::default()
                },
                0,
            )
        })
        .unwrap();
        assert_eq!(asked, vec![0]);
    }

    #[test]
    fn repeated_page_is_an_error() {
        // The server ignores startAt: a bare array returns the same body each time.
        let e = drive(Shape::BareArray, |_| {
            (
                PageMeta {
                    count: 10,
                    ..PageMeta::default()
                },
                99,
            )
        })
        .unwrap_err();
        assert!(matches!(e, JiraError::Pagination { .. }), "{e}");
        assert!(e.to_string().contains("repeats"), "{e}");
    }

    #[test]
    fn server_going_back_is_an_error() {
        let e = drive(Shape::PageBean, |s| {
            (bean(0, 10, Some(100), Some(false)), s)
        })
        .unwrap_err();
        assert!(e.to_string().contains("answered a page at 0"), "{e}");
    }

    #[test]
    fn repeated_next_page_is_an_error() {
        let e = drive(Shape::PageBean, |s| {
            let mut m = bean(s, 2, None, Some(false));
            m.next_page = Some("https://x/y?startAt=2".into());
            (m, s)
        })
        .unwrap_err();
        assert!(matches!(e, JiraError::Pagination { .. }));
    }

    #[test]
    fn next_page_without_start_is_an_error() {
        let e = drive(Shape::PageBean, |s| {
            let mut m = bean(s, 2, None, Some(false));
            m.next_page = Some("https://x/y?cursor=abc".into());
            (m, s)
        })
        .unwrap_err();
        assert!(e.to_string().contains("carries no startAt"), "{e}");
    }

    #[test]
    fn endless_empty_pages_are_an_error() {
        let e = drive(Shape::PageBean, |s| (bean(s, 0, None, Some(false)), s)).unwrap_err();
        assert!(e.to_string().contains("empty pages in a row"), "{e}");
    }

    #[test]
    fn decoders_read_each_shape() {
        let (m, v) = decode_page_bean::<serde_json::Value>(
            br#"{"startAt":0,"maxResults":2,"isLast":true,"values":[1,2]}"#,
        )
        .unwrap();
        assert_eq!((m.count, m.is_last, v.len()), (2, Some(true), 2));
        let (m, _) = decode_bare_array::<serde_json::Value>(b"[]").unwrap();
        assert_eq!(m.count, 0);
        let (m, r) =
            decode_audit(br#"{"offset":5,"limit":2,"total":9,"records":[{"id":1},{"id":2}]}"#)
                .unwrap();
        assert_eq!((m.start_at, m.total, r.len()), (Some(5), Some(9), 2));
        assert!(decode_bare_array::<serde_json::Value>(b"{\"a\":").is_err());
    }

    #[test]
    fn bodies_that_are_not_pages_are_errors_not_empty_listings() {
        let err = |body: &[u8]| decode_page_bean::<serde_json::Value>(body).unwrap_err();
        let e = err(br#"{"errorMessages":["Site temporarily unavailable"]}"#);
        assert!(
            e.contains("status 200 but an error body: Site temporarily unavailable"),
            "{e}"
        );
        assert!(err(b"[]").contains("expected an object for a page, got an array"));
        assert!(err(b"").contains("got an empty body"));
        assert!(err(b"{}").contains("missing field"));
        assert!(err(br#"{"startAt":0,"maxResults":50}"#).contains("missing field `values`"));
        let e =
            decode_bare_array::<serde_json::Value>(br#"{"errorMessages":["down"]}"#).unwrap_err();
        assert!(e.contains("error body: down"), "{e}");
        let e = decode_bare_array::<serde_json::Value>(br#"{"values":[]}"#).unwrap_err();
        assert!(
            e.contains("expected an array for a page, got an object"),
            "{e}"
        );
        assert!(decode_audit(br#"{"errorMessages":["x"]}"#).is_err());
        assert!(decode_audit(br#"{"offset":0,"limit":10}"#).is_err());
    }

    #[test]
    fn query_values_are_read() {
        assert_eq!(
            query_u64("https://h/p?a=1&startAt=40&b", "startAt"),
            Some(40)
        );
        assert_eq!(query_u64("/p?startAt=x", "startAt"), None);
        assert_eq!(query_u64("/p", "startAt"), None);
    }
}
