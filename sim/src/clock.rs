//! Time as the simulator sees it: the clock, the event queue and the trace.
//!
//! Nothing inside the simulator reads the wall clock directly: timestamps come from a
//! [`TimeSource`], so a test can run on a manual clock that starts at a fixed instant and
//! replays byte for byte. Everything the cluster does later is an item on one [`EventQueue`]
//! ordered by (virtual time, sequence number); [`TimeMode`] says who moves the clock (a test,
//! an idle-driven driver, or the wall clock for `odo-sim serve`); the [`Trace`] records every
//! event so the same seed and the same requests give the same trace.

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
///
/// Every write stamps a time or two, and virtual time moves a second at a time while
/// thousands of writes happen within it: the last second formatted is kept per thread.
pub fn rfc3339(ts: Timestamp) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> =
            const { std::cell::RefCell::new((0, String::new())) };
    }
    let format = |ts: Timestamp| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    // Before 1970 whole seconds round the other way; such times are not worth a cache.
    if ts < Timestamp::UNIX_EPOCH {
        return format(ts);
    }
    let second = ts.as_second();
    LAST.with_borrow_mut(|(last, text)| {
        if *last != second || text.is_empty() {
            *text = format(ts);
            *last = second;
        }
        text.clone()
    })
}

impl ManualTime {
    /// Moves the clock to `to` (never backwards).
    pub fn set(&self, to: Timestamp) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if to > *now {
            *now = to;
        }
    }
}

/// Adds a std duration to an instant, saturating at the end of time.
pub fn after(ts: Timestamp, by: Duration) -> Timestamp {
    let span = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
    ts.checked_add(span).unwrap_or(Timestamp::MAX)
}

/// The duration from `earlier` to `later` (zero when `later` is not after `earlier`).
pub fn since(later: Timestamp, earlier: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or(Duration::ZERO)
}

/// How simulated time moves.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum TimeMode {
    /// Time moves only when told (`Sim::advance`, `Sim::settle`): the deterministic default.
    #[default]
    Manual,
    /// A background driver processes work as it arrives and, whenever the cluster is idle,
    /// jumps straight to the next scheduled event (never further than `horizon` at a stretch
    /// past the last external activity, so a crash-looping pod cannot spin forever).
    Auto {
        /// How far virtual time may run ahead without any API activity.
        horizon: Duration,
    },
    /// Virtual time follows the wall clock, `scale` times faster (`odo-sim serve`).
    RealTime {
        /// Speed-up factor (1.0 = real time).
        scale: f64,
    },
}

/// One scheduled event: due at `at`, ordered by `(at, seq)`.
#[derive(Debug)]
struct Scheduled<T> {
    at: Timestamp,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Scheduled<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<T> Eq for Scheduled<T> {}
impl<T> PartialOrd for Scheduled<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Scheduled<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The single event queue of a simulated cluster: items ordered by (virtual time, sequence
/// number), so two events due at the same instant fire in the order they were scheduled.
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Scheduled<T>>>,
    seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self {
            heap: std::collections::BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<T> EventQueue<T> {
    /// Schedules `item` at `at`; returns its sequence number.
    pub fn push(&mut self, at: Timestamp, item: T) -> u64 {
        self.seq += 1;
        self.heap.push(std::cmp::Reverse(Scheduled {
            at,
            seq: self.seq,
            item,
        }));
        self.seq
    }

    /// When the next event is due.
    pub fn next_at(&self) -> Option<Timestamp> {
        self.heap.peek().map(|s| s.0.at)
    }

    /// The next event, without removing it.
    pub fn peek(&self) -> Option<&T> {
        self.heap.peek().map(|s| &s.0.item)
    }

    /// Removes the next event, whenever it is due.
    pub fn pop(&mut self) -> Option<(Timestamp, u64, T)> {
        self.heap.pop().map(|s| (s.0.at, s.0.seq, s.0.item))
    }

    /// Removes the next event if it is due at or before `now`: `(at, seq, item)`.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, u64, T)> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|s| (s.0.at, s.0.seq, s.0.item))
    }

    /// How many events are scheduled.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// One line of the event trace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TraceEntry {
    /// Virtual milliseconds since the cluster started.
    pub at_ms: u64,
    /// Position in the trace.
    pub seq: u64,
    /// What happened, e.g. `container-started default/web-1/app`.
    pub what: String,
}

impl std::fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>7}.{:03}s #{:<6} {}",
            self.at_ms / 1000,
            self.at_ms % 1000,
            self.seq,
            self.what
        )
    }
}

/// Everything the cluster did, in order: the record that makes a run replayable and
/// comparable (same seed + same requests = same trace, byte for byte).
#[derive(Debug, Clone, Default)]
pub struct Trace {
    start: Option<Timestamp>,
    entries: Vec<TraceEntry>,
    enabled: bool,
    count: u64,
}

impl Trace {
    /// A trace whose offsets count from `start`; `enabled = false` only counts entries.
    pub fn new(start: Timestamp, enabled: bool) -> Self {
        Self {
            start: Some(start),
            entries: Vec::new(),
            enabled,
            count: 0,
        }
    }

    /// Records one entry at `now`.
    pub fn record(&mut self, now: Timestamp, what: impl FnOnce() -> String) {
        self.count += 1;
        if !self.enabled {
            return;
        }
        let at_ms = self
            .start
            .map(|s| since(now, s).as_millis() as u64)
            .unwrap_or_default();
        self.entries.push(TraceEntry {
            at_ms,
            seq: self.count,
            what: what(),
        });
    }

    /// The recorded entries.
    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }

    /// How many entries were recorded (also when recording text is disabled).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The trace as text, one entry per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            out.push_str(&e.to_string());
            out.push('\n');
        }
        out
    }
}

/// The cluster's random source: one seeded generator, separate from the store's, used for
/// pod IPs, scheduling ties and fault rates.
pub fn cluster_rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6f64_6f2d_7369_6d00)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(EPOCH_SECONDS + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// The per-thread last second gives what formatting each instant afresh gives, in any
    /// order of instants (repeats, going back, fractions, before 1970).
    #[test]
    fn rfc3339_cache_formats_every_instant_as_strftime_does() {
        let plain = |ts: Timestamp| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nanos = [
            0_i128,
            999_999_999,
            1_000_000_000,
            1_000_000_001,
            500_000_000,
            -500_000_000,
            -1_000_000_000,
            86_400_000_000_000,
            86_399_999_999_999,
            1_000_000_000,
        ];
        for base in [EPOCH_SECONDS, 0] {
            for n in nanos {
                let ts = Timestamp::from_nanosecond(i128::from(base) * 1_000_000_000 + n)
                    .unwrap_or(Timestamp::UNIX_EPOCH);
                assert_eq!(rfc3339(ts), plain(ts), "{ts:?}");
                assert_eq!(rfc3339(ts), plain(ts), "{ts:?} again");
            }
        }
        assert_eq!(rfc3339(t(0)), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339(t(61)), "2026-01-01T00:01:01Z");
    }

    #[test]
    fn queue_orders_by_time_then_sequence() {
        let mut q = EventQueue::default();
        q.push(t(5), "late");
        q.push(t(1), "first");
        q.push(t(1), "second");
        q.push(t(3), "middle");
        assert_eq!(q.pop_due(t(0)), None);
        let order: Vec<&str> = std::iter::from_fn(|| q.pop_due(t(10)).map(|e| e.2)).collect();
        assert_eq!(order, ["first", "second", "middle", "late"]);
        assert!(q.is_empty());
    }

    #[test]
    fn pop_due_respects_now() {
        let mut q = EventQueue::default();
        q.push(t(2), 1);
        q.push(t(4), 2);
        assert_eq!(q.pop_due(t(3)).map(|e| e.2), Some(1));
        assert_eq!(q.pop_due(t(3)), None);
        assert_eq!(q.next_at(), Some(t(4)));
    }

    #[test]
    fn trace_renders_offsets() {
        let mut tr = Trace::new(t(0), true);
        tr.record(t(0), || "a".into());
        tr.record(after(t(0), Duration::from_millis(1500)), || "b".into());
        assert_eq!(
            tr.render(),
            "      0.000s #1      a\n      1.500s #2      b\n"
        );
        let mut off = Trace::new(t(0), false);
        off.record(t(1), || "x".into());
        assert_eq!(off.count(), 1);
        assert!(off.entries().is_empty());
    }

    #[test]
    fn manual_time_never_goes_back() {
        let c = ManualTime::starting_at(t(10));
        c.set(t(5));
        assert_eq!(c.now(), t(10));
        c.set(t(20));
        assert_eq!(c.now(), t(20));
        assert_eq!(since(t(20), t(10)), Duration::from_secs(10));
        assert_eq!(since(t(10), t(20)), Duration::ZERO);
    }
}
