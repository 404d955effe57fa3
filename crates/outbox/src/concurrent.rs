//! Bounded concurrency without spawning: futures borrowed from the caller (an
//! executor behind `&self`) are polled together on the calling task, at most
//! `limit` at a time. Jira calls overlap; the log's appends stay on this task and
//! are serialized by the log as always.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// A started future and its place in the input.
type Running<'a, T> = (usize, Pin<Box<dyn Future<Output = T> + Send + 'a>>);

/// Runs `futures` with at most `limit` (at least 1) of them in flight at once,
/// starting them in order as others finish, and returns their outputs in the
/// order given.
pub async fn bounded<'a, T>(
    futures: impl IntoIterator<Item = impl Future<Output = T> + Send + 'a>,
    limit: usize,
) -> Vec<T> {
    let limit = limit.max(1);
    let mut queue = futures.into_iter().enumerate();
    let mut in_flight: Vec<Running<'a, T>> = Vec::new();
    let mut done: Vec<(usize, T)> = Vec::new();
    let mut exhausted = false;
    std::future::poll_fn(|cx| loop {
        while !exhausted && in_flight.len() < limit {
            match queue.next() {
                Some((i, f)) => in_flight.push((i, Box::pin(f))),
                None => exhausted = true,
            }
        }
        let before = in_flight.len();
        let mut k = 0;
        while k < in_flight.len() {
            if let Poll::Ready(out) = in_flight[k].1.as_mut().poll(cx) {
                let (i, _) = in_flight.swap_remove(k);
                done.push((i, out));
            } else {
                k += 1;
            }
        }
        if exhausted && in_flight.is_empty() {
            return Poll::Ready(());
        }
        // Some finished and freed a slot: start the next ones now.
        if in_flight.len() == before || exhausted {
            return Poll::Pending;
        }
    })
    .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, out)| out).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn at_most_limit_run_at_once_and_outputs_keep_their_order() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let tasks = (0..20u64).map(|i| {
            let (running, peak) = (&running, &peak);
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5 + (i * 7) % 11)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                i * 10
            }
        });
        let out = bounded(tasks, 4).await;
        assert_eq!(out, (0..20u64).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 4, "four ran at once, no more");
        let none: Vec<u8> = bounded(Vec::<std::future::Ready<u8>>::new(), 3).await;
        assert!(none.is_empty());
        let one = bounded([std::future::ready(1), std::future::ready(2)], 0).await;
        assert_eq!(one, vec![1, 2], "a limit of 0 runs one at a time");
    }
}
