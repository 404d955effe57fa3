//! Paging, written once for Jira's three list shapes.
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
//! return short or even empty pages before the end). Never loops forever: a
//! `startAt` or `nextPage` asked twice, a page identical to one already seen,
//! a page that starts before the position asked for, or a long run of empty
//! pages that the server still calls "not last" all end the listing with
//! [`JiraError::Pagination`].

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use serde::de::DeserializeOwned;

use crate::error::JiraError;
use crate::types::{AuditRecords, PageBean};

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
}

impl Cursor {
    /// A listing from the beginning. `start_param` is the query parameter that
    /// carries the offset (`startAt`, or `offset` for the audit log).
    pub fn new(shape: Shape, endpoint: &'static str, start_param: &'static str) -> Cursor {
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

    fn fail(&mut self, detail: String) -> JiraError {
        self.next_start = None;
        JiraError::Pagination {
            endpoint: self.endpoint,
            detail,
        }
    }

    /// Takes one page (its paging facts and a fingerprint of its raw body) and
    /// decides what comes next.
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
        if count > 0 && !self.seen_pages.insert(body_fingerprint) {
            return Err(self.fail(format!(
                "the page asked at {}={asked} repeats a page already received",
                self.start_param
            )));
        }
        if let Some(echoed) = meta.start_at {
            if echoed < asked {
                return Err(self.fail(format!(
                    "asked for {}={asked} but the server answered a page at {echoed}",
                    self.start_param
                )));
            }
        }
        let pos = meta.start_at.unwrap_or(asked);
        let next = match self.shape {
            Shape::Map => None,
            Shape::BareArray => (count > 0).then_some(pos + count),
            Shape::PageBean => self.next_from_envelope(meta, pos, count)?,
        };
        if count == 0 {
            self.empty_run += 1;
        } else {
            self.empty_run = 0;
        }
        if let Some(n) = next {
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
                return Err(self.fail(format!("nextPage '{url}' was given twice")));
            }
            return match query_u64(url, self.start_param) {
                Some(n) => Ok(Some(n)),
                None => Err(self.fail(format!(
                    "nextPage '{url}' carries no {} to continue from",
                    self.start_param
                ))),
            };
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

/// Decodes one page of a given shape into its paging facts and items.
pub type PageDecoder<T> = fn(&[u8]) -> serde_json::Result<(PageMeta, Vec<T>)>;

/// Decodes a PageBean page.
pub fn decode_page_bean<T: DeserializeOwned>(
    body: &[u8],
) -> serde_json::Result<(PageMeta, Vec<T>)> {
    let p: PageBean<T> = serde_json::from_slice(body)?;
    let meta = PageMeta {
        start_at: p.start_at,
        max_results: p.max_results,
        total: p.total,
        is_last: p.is_last,
        next_page: p.next_page,
        count: p.values.len(),
    };
    Ok((meta, p.values))
}

/// Decodes a bare-array page.
pub fn decode_bare_array<T: DeserializeOwned>(
    body: &[u8],
) -> serde_json::Result<(PageMeta, Vec<T>)> {
    let items: Vec<T> = serde_json::from_slice(body)?;
    let meta = PageMeta {
        count: items.len(),
        ..PageMeta::default()
    };
    Ok((meta, items))
}

/// Decodes an audit-log page (`offset`/`limit`/`total`/`records`).
pub fn decode_audit(body: &[u8]) -> serde_json::Result<(PageMeta, Vec<crate::types::AuditRecord>)> {
    let p: AuditRecords = serde_json::from_slice(body)?;
    let meta = PageMeta {
        start_at: p.offset,
        max_results: p.limit,
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
    fn an_empty_page_short_of_the_total_does_not_end_the_listing() {
        // Neither isLast nor nextPage, a total of 120, and an empty page at 50.
        let asked = drive(Shape::PageBean, |s| match s {
            0 => (bean(0, 50, Some(120), None), 1),
            50 => (bean(50, 0, Some(120), None), 2),
            100 => (bean(100, 20, Some(120), None), 3),
            _ => panic!("asked {s}"),
        })
        .unwrap();
        assert_eq!(asked, vec![0, 50, 100]);
    }

    #[test]
    fn page_bean_empty_page_not_last_continues_by_page_size() {
        // A filtered-out page in the middle: empty but isLast=false.
        let asked = drive(Shape::PageBean, |s| match s {
            0 => (bean(0, 50, None, Some(false)), 1),
            50 => (bean(50, 0, None, Some(false)), 2),
            100 => (bean(100, 7, None, Some(true)), 3),
            _ => panic!("asked {s}"),
        })
        .unwrap();
        assert_eq!(asked, vec![0, 50, 100]);
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
    fn query_values_are_read() {
        assert_eq!(
            query_u64("https://h/p?a=1&startAt=40&b", "startAt"),
            Some(40)
        );
        assert_eq!(query_u64("/p?startAt=x", "startAt"), None);
        assert_eq!(query_u64("/p", "startAt"), None);
    }
}
