//! Time as the simulator sees it.
//!
//! Nothing inside the simulator reads the wall clock directly: timestamps come from a
//! [`TimeSource`], so a test can run on a manual clock that starts at a fixed instant and
//! replays byte for byte, while `odo-sim serve` uses real time.

use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;

/// Where the simulator reads "now" from.
pub trait TimeSource: Send + Sync + 'static {
    /// The current simulated instant.
    fn now(&self) -> Timestamp;
}

/// Wall-clock time, for a served simulator.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemTime;

impl TimeSource for SystemTime {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to: the deterministic default for in-process use.
#[derive(Debug)]
pub struct ManualTime {
    now: Mutex<Timestamp>,
}

/// The instant a manual clock starts at (a fixed point so that runs are reproducible).
pub const EPOCH_SECONDS: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

impl Default for ManualTime {
    fn default() -> Self {
        Self::starting_at(Timestamp::from_second(EPOCH_SECONDS).unwrap_or(Timestamp::UNIX_EPOCH))
    }
}

impl ManualTime {
    /// A manual clock starting at `start`.
    pub fn starting_at(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let span = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        *now = now.checked_add(span).unwrap_or(Timestamp::MAX);
    }
}

impl TimeSource for ManualTime {
    fn now(&self) -> Timestamp {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Formats an instant the way Kubernetes writes `metav1.Time`: RFC 3339, whole seconds, `Z`.
pub fn rfc3339(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
