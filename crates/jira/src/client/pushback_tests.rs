//! The concurrency bound under 429s.

use super::*;

use super::fakes::*;
use crate::config::RetryPolicy;

#[tokio::test]
async fn a_429_withholds_a_permit_until_calm_returns() {
    let mut script = vec![reply("429 Too Many Requests", &["Retry-After: 1"], "")];
    script.extend((0..=PERMIT_RESTORE_AFTER).map(|_| reply("200 OK", &[], ME)));
    let (base, _) = scripted(script).await;
    let c = client(&base, fake_clock(), RetryPolicy::default());
    assert_eq!(c.inner.sem.available_permits(), 8);
    c.myself().await.unwrap(); // 429, then a success
    assert_eq!(c.inner.sem.available_permits(), 7);
    for _ in 0..PERMIT_RESTORE_AFTER - 1 {
        c.myself().await.unwrap();
    }
    assert_eq!(c.inner.sem.available_permits(), 8);
}
