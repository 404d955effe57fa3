//! One injectable time source for the whole engine.
//!
//! A [`Clock`] tells wall time (for `recorded_at`, run ids, expiry deadlines and
//! `X-RateLimit-Reset`), gives a monotonic reading (for budgets and throttle
//! windows) and sleeps (for backoff and for waiting until a deadline). Every
//! component that needs time takes an `Arc<dyn Clock>`, so one [`ManualClock`]
//! drives a whole test — the log's timestamps, the client's backoff, the
//! simulator's audit records and a scheduler's deadlines — and nothing sleeps for
//! real.
//!
//! [`SystemClock`] is the real one (the system's wall clock and tokio's timer).
//! [`ManualClock`] stands still until moved; its sleeps either wait until the
//! clock is moved past their deadline ([`ManualClock::new`]) or move the clock
//! forward themselves and return at once ([`ManualClock::auto_advancing`], for
//! retry loops whose waits a test only wants to see).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use grantledger_clock::{Clock, ManualClock};
//! use grantledger_model::Timestamp;
//!
//! let clock = ManualClock::auto_advancing(Timestamp::from_micros(0));
//! clock.sleep(Duration::from_secs(60)).await; // returns at once
//! assert_eq!(clock.now(), Timestamp::from_micros(60_000_000));
//! assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
//! # });
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use grantledger_model::Timestamp;

/// A boxed sleep.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of time: wall time, a monotonic reading, and sleeping.
pub trait Clock: Send + Sync + 'static {
    /// Wall time now.
    fn now(&self) -> Timestamp;

    /// A monotonic reading from an arbitrary origin: it never goes back, even
    /// when the wall clock does.
    fn monotonic(&self) -> Duration;

    /// Completes once `d` has passed on this clock.
    fn sleep(&self, d: Duration) -> SleepFuture;

    /// Completes once wall time reaches `deadline` (at once if it has).
    ///
    /// The wait is measured on the monotonic reading from the moment of the call;
    /// a caller that must not act early checks [`Clock::now`] again on waking.
    fn sleep_until(&self, deadline: Timestamp) -> SleepFuture {
        self.sleep(until(self.now(), deadline))
    }
}

/// A timestamp as chrono's UTC time (the epoch for one out of chrono's range),
/// for the places that format or parse times: HTTP dates, Jira's audit times.
pub fn utc(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(t.as_micros()).unwrap_or_default()
}

/// The time from `now` to `deadline`, zero when it has passed.
pub fn until(now: Timestamp, deadline: Timestamp) -> Duration {
    let micros = deadline.as_micros().saturating_sub(now.as_micros());
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

/// The system's wall clock and tokio's timer (sleeping needs a tokio runtime
/// with time enabled).
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A system clock whose monotonic reading starts now.
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
        };
        Timestamp::from_micros(micros)
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, d: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A clock that stands still until moved: for tests. Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    wall: Timestamp,
    monotonic: Duration,
    auto_advance: bool,
    /// Every sleep asked for, in order.
    sleeps: Vec<Duration>,
    /// Sleeps waiting for the clock to reach their deadline: id → (deadline, waker).
    waiting: BTreeMap<u64, (Duration, Option<Waker>)>,
    next_id: u64,
}

impl ManualClock {
    /// A clock showing `at` whose sleeps wait until the clock is moved past
    /// their deadline with [`ManualClock::advance`] or [`ManualClock::set`].
    pub fn new(at: Timestamp) -> Self {
        Self::with_mode(at, false)
    }

    /// A clock showing `at` whose sleeps move the clock forward by their length
    /// and return at once (they are recorded: [`ManualClock::sleeps`]).
    pub fn auto_advancing(at: Timestamp) -> Self {
        Self::with_mode(at, true)
    }

    fn with_mode(at: Timestamp, auto_advance: bool) -> Self {
        ManualClock {
            inner: Arc::new(Mutex::new(State {
                wall: at,
                monotonic: Duration::ZERO,
                auto_advance,
                sleeps: Vec::new(),
                waiting: BTreeMap::new(),
                next_id: 0,
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock forward by `d`, waking every sleep whose deadline it
    /// reaches.
    pub fn advance(&self, d: Duration) {
        let mut s = self.state();
        s.advance(d);
    }

    /// Moves the clock forward by `micros` microseconds (negative values are
    /// ignored: time does not run backwards through `advance`).
    pub fn advance_micros(&self, micros: i64) {
        self.advance(Duration::from_micros(u64::try_from(micros).unwrap_or(0)));
    }

    /// Sets wall time. Moving it forward also moves the monotonic reading (and
    /// wakes sleeps); moving it back leaves the monotonic reading where it is, as
    /// a real clock's would.
    pub fn set(&self, at: Timestamp) {
        let mut s = self.state();
        let forward = until(s.wall, at);
        s.advance(forward);
        s.wall = at;
    }

    /// Every sleep asked for so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state().sleeps.clone()
    }

    /// How many sleeps are waiting for the clock to move: a test can wait for a
    /// task to be asleep before it moves the clock.
    pub fn sleepers(&self) -> usize {
        self.state().waiting.len()
    }
}

impl State {
    fn advance(&mut self, d: Duration) {
        self.monotonic += d;
        let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        self.wall = Timestamp::from_micros(self.wall.as_micros().saturating_add(micros));
        let now = self.monotonic;
        for (deadline, waker) in self.waiting.values_mut() {
            if *deadline <= now {
                if let Some(w) = waker.take() {
                    w.wake();
                }
            }
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.state().wall
    }

    fn monotonic(&self) -> Duration {
        self.state().monotonic
    }

    fn sleep(&self, d: Duration) -> SleepFuture {
        let mut s = self.state();
        s.sleeps.push(d);
        if s.auto_advance {
            s.advance(d);
            return Box::pin(std::future::ready(()));
        }
        let id = s.next_id;
        s.next_id += 1;
        let deadline = s.monotonic + d;
        s.waiting.insert(id, (deadline, None));
        Box::pin(ManualSleep {
            clock: self.inner.clone(),
            id,
            deadline,
        })
    }
}

/// A sleep on a [`ManualClock`]: ready once the clock reaches its deadline.
struct ManualSleep {
    clock: Arc<Mutex<State>>,
    id: u64,
    deadline: Duration,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        if s.monotonic >= self.deadline {
            s.waiting.remove(&self.id);
            return Poll::Ready(());
        }
        if let Some(entry) = s.waiting.get_mut(&self.id) {
            entry.1 = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        let mut s = self.clock.lock().unwrap_or_else(|e| e.into_inner());
        s.waiting.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * 1_000_000)
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_never_goes_back_monotonically() {
        let c = ManualClock::new(at(100));
        assert_eq!(c.now(), at(100));
        c.advance(Duration::from_secs(5));
        assert_eq!(c.now(), at(105));
        assert_eq!(c.monotonic(), Duration::from_secs(5));
        c.set(at(50));
        assert_eq!(c.now(), at(50));
        assert_eq!(c.monotonic(), Duration::from_secs(5));
        c.set(at(60));
        assert_eq!(c.monotonic(), Duration::from_secs(15));
    }

    #[tokio::test]
    async fn a_sleep_waits_until_the_clock_reaches_its_deadline() {
        let c = ManualClock::new(at(0));
        let c2 = c.clone();
        let task = tokio::spawn(async move {
            c2.sleep_until(at(30)).await;
            c2.now()
        });
        while c.sleepers() == 0 {
            tokio::task::yield_now().await;
        }
        c.advance(Duration::from_secs(29));
        tokio::task::yield_now().await;
        assert!(!task.is_finished(), "woke a second early");
        assert_eq!(c.sleepers(), 1);
        c.advance(Duration::from_secs(1));
        assert_eq!(task.await.unwrap(), at(30));
        assert_eq!(c.sleepers(), 0);
        assert_eq!(c.sleeps(), vec![Duration::from_secs(30)]);
    }

    #[tokio::test]
    async fn a_dropped_sleep_stops_waiting_and_a_past_deadline_is_at_once() {
        let c = ManualClock::new(at(10));
        let s = c.sleep(Duration::from_secs(1));
        assert_eq!(c.sleepers(), 1);
        drop(s);
        assert_eq!(c.sleepers(), 0);
        c.sleep_until(at(5)).await;
        assert_eq!(c.now(), at(10));
    }

    #[tokio::test]
    async fn an_auto_advancing_clock_moves_by_each_sleep() {
        let c = ManualClock::auto_advancing(at(0));
        c.sleep(Duration::from_millis(250)).await;
        c.sleep(Duration::from_millis(750)).await;
        assert_eq!(c.now(), at(1));
        assert_eq!(c.monotonic(), Duration::from_secs(1));
        assert_eq!(c.sleepers(), 0);
    }

    #[tokio::test]
    async fn the_system_clock_is_after_2020_and_sleeps_for_real() {
        let c = SystemClock::new();
        assert!(c.now().as_micros() > 1_577_836_800_000_000);
        let before = c.monotonic();
        c.sleep(Duration::from_millis(5)).await;
        assert!(c.monotonic() - before >= Duration::from_millis(5));
    }

    #[test]
    fn until_is_zero_for_a_past_deadline() {
        assert_eq!(until(at(10), at(5)), Duration::ZERO);
        assert_eq!(until(at(5), at(10)), Duration::from_secs(5));
    }
}
