//! Waiting: the server's retry hints, and capped exponential backoff with
//! jitter. Time (and sleeping) comes from the injectable
//! [`grantledger_clock::Clock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::config::RetryPolicy;

/// Reads `Retry-After`: delta-seconds (Jira's form; a fraction is accepted), or
/// an HTTP date relative to `now`. `None` when unreadable.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && (0.0..1e9).contains(&secs) {
            return Some(Duration::from_secs_f64(secs));
        }
        return None;
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Reads `X-RateLimit-Reset`: an ISO-8601 timestamp, in Jira's minute precision
/// (`2026-06-05T06:00Z`) or with seconds / an offset. Returns the time left
/// until then (zero if already past). `None` when unreadable — in particular
/// for epoch seconds, which this header is not.
pub fn parse_rate_limit_reset(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    let at: DateTime<Utc> = if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        t.with_timezone(&Utc)
    } else {
        let naive = v.strip_suffix('Z').and_then(|s| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
                .ok()
        })?;
        naive.and_utc()
    };
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The `retry`-th backoff delay (0-based) before jitter: `base × 2^retry`,
/// capped at `max_delay`.
pub fn backoff_base(policy: &RetryPolicy, retry: u32) -> Duration {
    let factor = 1u32.checked_shl(retry.min(30)).unwrap_or(u32::MAX);
    policy
        .base_delay
        .checked_mul(factor)
        .unwrap_or(policy.max_delay)
        .min(policy.max_delay)
}

/// The backoff delay with a jitter factor (expected in 0.7..=1.3).
pub fn backoff_delay(policy: &RetryPolicy, retry: u32, jitter: f64) -> Duration {
    backoff_base(policy, retry).mul_f64(jitter.clamp(JITTER_MIN, JITTER_MAX))
}

/// The smallest jitter factor.
pub const JITTER_MIN: f64 = 0.7;
/// The largest jitter factor.
pub const JITTER_MAX: f64 = 1.3;

/// A small, lock-free pseudo-random source for jitter (splitmix64). Jitter only
/// spreads retries; it needs no cryptographic quality.
#[derive(Debug)]
pub struct Jitter {
    state: AtomicU64,
}

impl Jitter {
    /// Seeded explicitly (tests) .
    pub fn seeded(seed: u64) -> Jitter {
        Jitter {
            state: AtomicU64::new(seed),
        }
    }

    /// Seeded from the time and the process id.
    pub fn from_entropy() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Jitter::seeded(t ^ (u64::from(std::process::id()) << 32))
    }

    /// The next factor in `JITTER_MIN..=JITTER_MAX`.
    pub fn factor(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        JITTER_MIN + unit * (JITTER_MAX - JITTER_MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 5, 5, 58, 30).unwrap()
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("1", now()), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("0.5", now()),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after("Fri, 05 Jun 2026 05:59:00 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-3", now()), None);
    }

    #[test]
    fn rate_limit_reset_is_iso_with_minute_precision() {
        assert_eq!(
            parse_rate_limit_reset("2026-06-05T06:00Z", now()),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_rate_limit_reset("2026-06-05T05:59:00Z", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_rate_limit_reset("2026-06-05T07:59+02:00", now()),
            None,
            "minute precision with an offset is not RFC 3339"
        );
        assert_eq!(
            parse_rate_limit_reset("2026-06-05T08:00:00+02:00", now()),
            Some(Duration::from_secs(90))
        );
        // In the past: nothing left to wait.
        assert_eq!(
            parse_rate_limit_reset("2026-06-05T05:00Z", now()),
            Some(Duration::ZERO)
        );
        // Epoch seconds are not this header's format.
        assert_eq!(parse_rate_limit_reset("1780639200", now()), None);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        assert_eq!(backoff_base(&p, 0), Duration::from_millis(100));
        assert_eq!(backoff_base(&p, 1), Duration::from_millis(200));
        assert_eq!(backoff_base(&p, 3), Duration::from_millis(800));
        assert_eq!(backoff_base(&p, 4), Duration::from_secs(1));
        assert_eq!(backoff_base(&p, 200), Duration::from_secs(1));
        let j = Jitter::seeded(42);
        for retry in 0..40 {
            let d = backoff_delay(&p, retry, j.factor());
            let b = backoff_base(&p, retry);
            assert!(d >= b.mul_f64(0.7) && d <= b.mul_f64(1.3), "{d:?} vs {b:?}");
        }
    }

    #[test]
    fn jitter_stays_in_bounds_and_spreads() {
        let j = Jitter::seeded(7);
        let xs: Vec<f64> = (0..10_000).map(|_| j.factor()).collect();
        assert!(xs.iter().all(|x| (JITTER_MIN..=JITTER_MAX).contains(x)));
        let lo = xs.iter().cloned().fold(f64::MAX, f64::min);
        let hi = xs.iter().cloned().fold(f64::MIN, f64::max);
        assert!(lo < 0.72 && hi > 1.28, "{lo} {hi}");
    }
}
