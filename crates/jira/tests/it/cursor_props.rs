//! Property: the paging cursor, fed any sequence of pages, either yields the
//! exact items of a consistent listing or an error, never a silent gap.
//!
//! The model: a page's items are the positions it says it holds (`startAt ..
//! startAt + count`), so what the cursor collects is a multiset of positions.
//! A server may answer any page: another offset than asked, any count, a total
//! that lies or changes, `isLast` and `nextPage` that lie or are omitted.

use grantledger_jira::paging::{page_budget, Cursor, PageMeta, Shape};
use proptest::prelude::*;

const PAGE: u64 = 8;

#[derive(Clone, Debug)]
struct Script {
    /// Added to the offset asked (0: honest).
    skip: i8,
    /// Items on the page, or `None` for what an honest server would send.
    count: Option<u8>,
    /// 0: the true total; 1: omitted; 2: true + delta; 3: true - delta.
    total: u8,
    delta: u8,
    /// 0: honest; 1: omitted; 2: true; 3: false.
    is_last: u8,
    /// 0: honest; 1: omitted; 2: right after the items; 3: a random offset.
    next: u8,
    next_at: u8,
}

fn script() -> impl Strategy<Value = Script> {
    (
        prop_oneof![6 => Just(0i8), 1 => -3i8..=5],
        prop_oneof![3 => Just(None), 1 => (0u8..=10).prop_map(Some)],
        prop_oneof![5 => Just(0u8), 1 => 1u8..=3],
        1u8..=5,
        prop_oneof![4 => Just(0u8), 1 => 1u8..=3],
        prop_oneof![4 => Just(0u8), 1 => 1u8..=3],
        0u8..=80,
    )
        .prop_map(
            |(skip, count, total, delta, is_last, next, next_at)| Script {
                skip,
                count,
                total,
                delta,
                is_last,
                next,
                next_at,
            },
        )
}

/// The page a server following `s` answers for `asked`, over `truth` items.
fn answer(truth: u64, asked: u64, s: &Script) -> PageMeta {
    let start = (asked as i64 + i64::from(s.skip)).max(0) as u64;
    let honest = PAGE.min(truth.saturating_sub(start));
    let count = s.count.map_or(honest, u64::from);
    let total = match s.total {
        0 => Some(truth),
        1 => None,
        2 => Some(truth + u64::from(s.delta)),
        _ => Some(truth.saturating_sub(u64::from(s.delta))),
    };
    let last = start + count >= truth;
    let is_last = match s.is_last {
        0 => Some(last),
        1 => None,
        2 => Some(true),
        _ => Some(false),
    };
    let url = |n: u64| {
        format!("https://x/rest/api/3/group/member?groupId=g&startAt={n}&maxResults={PAGE}")
    };
    let next_page = match s.next {
        0 => (!last).then(|| url(start + PAGE)),
        1 => None,
        2 => Some(url(start + count)),
        _ => Some(url(u64::from(s.next_at))),
    };
    PageMeta {
        start_at: Some(start),
        max_results: Some(PAGE),
        total,
        is_last,
        next_page,
        count: count as usize,
    }
}

/// Drives a cursor; returns the positions collected and the totals reported.
fn drive(truth: u64, scripts: &[Script]) -> (Result<Vec<u64>, String>, Vec<Option<u64>>) {
    let ceiling = 100;
    let mut c = Cursor::bounded(
        Shape::PageBean,
        "GET /x",
        "startAt",
        ceiling,
        page_budget(ceiling, PAGE, 4),
    );
    let honest = Script {
        skip: 0,
        count: None,
        total: 0,
        delta: 0,
        is_last: 0,
        next: 0,
        next_at: 0,
    };
    let mut got = Vec::new();
    let mut totals = Vec::new();
    let mut k = 0;
    while let Some(asked) = c.next_start() {
        let s = scripts.get(k).unwrap_or(&honest);
        k += 1;
        let meta = answer(truth, asked, s);
        totals.push(meta.total);
        let start = meta.start_at.unwrap_or(asked);
        // Each page's body differs (its offset and count are in it).
        let fingerprint = start << 16 | meta.count as u64;
        if let Err(e) = c.advance(&meta, fingerprint) {
            return (Err(e.to_string()), totals);
        }
        got.extend(start..start + meta.count as u64);
        assert!(k < 10_000, "the cursor did not stop");
    }
    (Ok(got), totals)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_cursor_yields_a_consistent_listing_or_an_error(
        truth in 0u64..60,
        scripts in prop::collection::vec(script(), 0..30),
    ) {
        let (result, totals) = drive(truth, &scripts);
        if let Ok(mut got) = result {
            got.sort_unstable();
            match totals[0] {
                // Every page reported the same total: exactly the positions 0..total.
                Some(total) => {
                    prop_assert!(totals.iter().all(|t| *t == Some(total)), "{totals:?}");
                    prop_assert_eq!(got, (0..total).collect::<Vec<_>>());
                }
                // No total: a gapless prefix, each position once.
                None => {
                    let n = got.len() as u64;
                    prop_assert_eq!(got, (0..n).collect::<Vec<_>>());
                }
            }
        }
    }

    #[test]
    fn an_honest_server_is_listed_completely(truth in 0u64..100) {
        let (result, _) = drive(truth, &[]);
        prop_assert_eq!(result, Ok((0..truth).collect::<Vec<_>>()));
    }
}
