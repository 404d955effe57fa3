//! Throttling: the site-wide pause after a 429 and the concurrency that
//! shrinks under pushback and grows back after calm.

use super::*;

impl JiraClient {
    /// Waits while the site asked everyone to pause.
    pub(super) async fn wait_for_pause(&self) {
        loop {
            let until = *self
                .inner
                .pause_until
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let now = self.inner.clock.monotonic();
            if until <= now {
                return;
            }
            let d = until - now;
            self.inner.counters.waited(d);
            self.inner.clock.sleep(d).await;
        }
    }

    /// Asks every caller to pause until `now + d`.
    pub(super) fn pause_all(&self, d: Duration) {
        let until = self.inner.clock.monotonic() + d;
        let mut p = self
            .inner
            .pause_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if until > *p {
            *p = until;
        }
    }

    /// After a 429: take one permit away (down to 1 in use), to send less.
    pub(super) fn shrink(&self) {
        self.inner.calm.store(0, Ordering::Relaxed);
        let limit = self.inner.config.concurrency as u32;
        let withheld = self.inner.withheld.load(Ordering::Relaxed);
        if withheld + 1 < limit && self.inner.sem.forget_permits(1) == 1 {
            self.inner.withheld.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// After a success: give a permit back once things are calm again.
    pub(super) fn calm_down(&self) {
        if self.inner.withheld.load(Ordering::Relaxed) == 0 {
            return;
        }
        let calm = self.inner.calm.fetch_add(1, Ordering::Relaxed) + 1;
        if calm >= PERMIT_RESTORE_AFTER {
            self.inner.calm.store(0, Ordering::Relaxed);
            if self
                .inner
                .withheld
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| w.checked_sub(1))
                .is_ok()
            {
                self.inner.sem.add_permits(1);
            }
        }
    }
}
