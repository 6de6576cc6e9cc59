//! Container restart back-off, as the kubelet computes it (client-go `flowcontrol.Backoff`):
//! the first restart is immediate, then 10 s, 20 s, 40 s ... capped at 300 s; an entry not
//! touched for more than twice the cap (10 minutes of running) starts over.

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::since;

/// The initial back-off period (`backOffPeriod`).
pub const INITIAL: Duration = Duration::from_secs(10);
/// The cap (`MaxContainerBackOff`).
pub const MAX: Duration = Duration::from_secs(300);

/// The back-off state of one container (or one image pull).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    period: Option<Duration>,
    last_update: Option<Timestamp>,
}

impl Backoff {
    fn expired(&self, at: Timestamp) -> bool {
        self.last_update
            .is_none_or(|last| since(at, last) > MAX * 2)
    }

    /// Whether a restart after a failure that ended at `finished` must still wait at `now`;
    /// returns when the wait ends.
    pub fn wait_until(&self, now: Timestamp, finished: Timestamp) -> Option<Timestamp> {
        let period = self.period?;
        if self.expired(finished) {
            return None;
        }
        let until = crate::clock::after(finished, period);
        (now < until).then_some(until)
    }

    /// Records a restart at `now`, growing the period (or starting over after expiry).
    pub fn next(&mut self, now: Timestamp) {
        self.period = match self.period {
            Some(p) if !self.expired(now) => Some((p * 2).min(MAX)),
            _ => Some(INITIAL),
        };
        self.last_update = Some(now);
    }

    /// The current period, if any.
    pub fn period(&self) -> Option<Duration> {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::after;

    fn t(s: u64) -> Timestamp {
        after(Timestamp::UNIX_EPOCH, Duration::from_secs(s))
    }

    #[test]
    fn doubles_to_the_cap_then_resets_after_ten_minutes() {
        let mut b = Backoff::default();
        // First failure: restart at once.
        assert_eq!(b.wait_until(t(0), t(0)), None);
        b.next(t(0));
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..7 {
            // Crashes right after starting.
            let until = b
                .wait_until(t(now), t(now))
                .map(|u| since(u, t(now)).as_secs());
            waits.push(until.unwrap_or(0));
            now += until.unwrap_or(0);
            b.next(t(now));
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300]);
        // Running 10 minutes and a bit: the next failure restarts at once, from 10 s again.
        let later = now + 601;
        assert_eq!(b.wait_until(t(later), t(later)), None);
        b.next(t(later));
        assert_eq!(b.period(), Some(INITIAL));
    }
}
