//! Event correlation: what the simulated components' event recorders do before an Event is
//! written, as client-go's `EventCorrelator` does it for the kubelet and the controllers.
//!
//! Three steps, in client-go's order (`EventCorrelate`):
//! 1. **Aggregation**: events that differ only in their message (same source, object, type
//!    and reason) are "similar". Once 10 distinct messages were seen within 10 minutes, the
//!    next one is written as one Event whose message is prefixed with
//!    `(combined from similar events): `, and later ones bump that Event's count.
//! 2. **Deduplication**: an event equal to one written before (same key) bumps that Event's
//!    `count` and `lastTimestamp` instead of creating another (done by the caller, which
//!    owns the written Events, under the key returned here).
//! 3. **Spam filter**: a token bucket per source and involved object (burst 25, one token
//!    back every 5 minutes). An event that finds the bucket empty is dropped after it was
//!    aggregated: a ReplicaSet that creates 10,000 pods records about 25 events, not 10,000.
//!
//! client-go keeps these records in LRU caches of 4096 entries and drops an arbitrary
//! message when the aggregation set is full; here the message sets are ordered (the
//! smallest message is dropped) so a seed replays the same Events. The LRU bound is not
//! modelled; instead records that no longer change any decision (a bucket that has filled
//! up again, an aggregation record older than its interval) are swept away once the maps
//! have doubled, so a long-running simulator does not keep one record per pod it ever had.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::lookup::LookupMap;

/// Tokens a new source/object pair starts with (client-go `defaultSpamBurst`).
pub const SPAM_BURST: f64 = 25.0;
/// Seconds for one token to come back (client-go `defaultSpamQPS` is 1/300).
pub const SPAM_REFILL_SECONDS: f64 = 300.0;
/// Distinct messages of similar events before they are combined (`defaultAggregateMaxEvents`).
pub const AGGREGATE_MAX_EVENTS: usize = 10;
/// Seconds after which an aggregation record starts over (`defaultAggregateIntervalInSeconds`).
pub const AGGREGATE_INTERVAL_SECONDS: i64 = 600;
/// The message prefix of a combined event (client-go `EventAggregatorByReasonMessageFunc`).
pub const COMBINED_PREFIX: &str = "(combined from similar events): ";

/// One event as a recorder sees it.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence<'a> {
    /// `source.component`.
    pub component: &'a str,
    /// The involved object's UID (stands for kind/namespace/name/UID/apiVersion).
    pub involved_uid: &'a str,
    pub warning: bool,
    pub reason: &'a str,
    pub message: &'a str,
}

/// The key an Event is deduplicated under: an exact event, or the combined event of one
/// aggregation group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKey {
    component: String,
    involved_uid: String,
    warning: bool,
    reason: String,
    /// The exact message, or `None` for the combined event of the group.
    message: Option<String>,
}

/// What to write for an occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Dropped by the spam filter.
    Skip,
    /// Write (or, if `key` was written before, bump) an Event with this message.
    Record { key: EventKey, message: String },
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Timestamp,
}

#[derive(Debug, Clone, Default)]
struct Similar {
    messages: BTreeSet<String>,
    last: Option<Timestamp>,
}

/// One aggregation group of an object: similar events share source, type and reason.
#[derive(Debug, Clone)]
struct Group {
    component: String,
    warning: bool,
    reason: String,
    similar: Similar,
}

/// The records of one involved object. An object hears from a few sources with a few
/// reasons each, so the records are short lists found by a scan that allocates nothing.
#[derive(Debug, Clone, Default)]
struct ObjectRecords {
    /// The spam filter's bucket per source component.
    spam: Vec<(String, Bucket)>,
    groups: Vec<Group>,
}

/// The recorders' correlation state for the whole simulated cluster.
#[derive(Debug, Default)]
pub struct Correlator {
    /// Records by involved object UID; only looked up, and swept by a predicate that looks
    /// at one record at a time.
    objects: LookupMap<String, ObjectRecords>,
    /// Buckets and groups held in all.
    records: usize,
    /// Record count past which the next occurrence sweeps (see [`Correlator::sweep`]).
    sweep_at: usize,
}

/// The smallest record count that is worth a sweep.
const SWEEP_MIN: usize = 4096;

impl Correlator {
    /// Decides what an occurrence at `now` becomes.
    pub fn correlate(&mut self, now: Timestamp, ev: Occurrence<'_>) -> Decision {
        if self.records > self.sweep_at.max(SWEEP_MIN) {
            self.sweep(now);
            self.sweep_at = 2 * self.records;
        }
        if !self.objects.contains_key(ev.involved_uid) {
            self.objects
                .insert(ev.involved_uid.to_string(), ObjectRecords::default());
        }
        let Some(object) = self.objects.get_mut(ev.involved_uid) else {
            return Decision::Skip;
        };
        let (decision, added) = Self::aggregate(object, now, ev);
        let (allowed, added_bucket) = Self::take_token(object, now, ev);
        self.records += usize::from(added) + usize::from(added_bucket);
        if allowed { decision } else { Decision::Skip }
    }

    /// The aggregation step: the key and message the occurrence is written under, and
    /// whether a new group was started.
    fn aggregate(
        object: &mut ObjectRecords,
        now: Timestamp,
        ev: Occurrence<'_>,
    ) -> (Decision, bool) {
        let found = object.groups.iter().position(|g| {
            g.warning == ev.warning && g.reason == ev.reason && g.component == ev.component
        });
        let added = found.is_none();
        let i = found.unwrap_or_else(|| {
            object.groups.push(Group {
                component: ev.component.to_string(),
                warning: ev.warning,
                reason: ev.reason.to_string(),
                similar: Similar::default(),
            });
            object.groups.len() - 1
        });
        let rec = &mut object.groups[i].similar;
        if rec
            .last
            .is_some_and(|t| now.as_second() - t.as_second() > AGGREGATE_INTERVAL_SECONDS)
        {
            *rec = Similar::default();
        }
        rec.messages.insert(ev.message.to_string());
        rec.last = Some(now);
        let key = |message: Option<String>| EventKey {
            component: ev.component.to_string(),
            involved_uid: ev.involved_uid.to_string(),
            warning: ev.warning,
            reason: ev.reason.to_string(),
            message,
        };
        if rec.messages.len() < AGGREGATE_MAX_EVENTS {
            let decision = Decision::Record {
                key: key(Some(ev.message.to_string())),
                message: ev.message.to_string(),
            };
            return (decision, added);
        }
        rec.messages.pop_first();
        let decision = Decision::Record {
            key: key(None),
            message: format!("{COMBINED_PREFIX}{}", ev.message),
        };
        (decision, added)
    }

    /// Forgets the records that decide nothing any more: a token bucket full again at `now`
    /// is what a new one is, and an aggregation record quiet for longer than its interval
    /// starts over anyway. No later decision changes.
    fn sweep(&mut self, now: Timestamp) {
        let mut records = 0;
        self.objects.retain(|_, object| {
            object.spam.retain(|(_, b)| {
                let elapsed = now.duration_since(b.last).as_secs_f64().max(0.0);
                b.tokens + elapsed / SPAM_REFILL_SECONDS < SPAM_BURST
            });
            object.groups.retain(|g| {
                g.similar
                    .last
                    .is_some_and(|t| now.as_second() - t.as_second() <= AGGREGATE_INTERVAL_SECONDS)
            });
            records += object.spam.len() + object.groups.len();
            !(object.spam.is_empty() && object.groups.is_empty())
        });
        self.records = records;
    }

    /// The spam filter's token bucket for the occurrence's source and object: whether the
    /// occurrence may be written, and whether a new bucket was started.
    fn take_token(object: &mut ObjectRecords, now: Timestamp, ev: Occurrence<'_>) -> (bool, bool) {
        let found = object.spam.iter().position(|(c, _)| c == ev.component);
        let added = found.is_none();
        let i = found.unwrap_or_else(|| {
            object.spam.push((
                ev.component.to_string(),
                Bucket {
                    tokens: SPAM_BURST,
                    last: now,
                },
            ));
            object.spam.len() - 1
        });
        let bucket = &mut object.spam[i].1;
        let elapsed = now.duration_since(bucket.last).as_secs_f64().max(0.0);
        bucket.tokens = (bucket.tokens + elapsed / SPAM_REFILL_SECONDS).min(SPAM_BURST);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            (true, added)
        } else {
            (false, added)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).expect("timestamp")
    }

    fn occ<'a>(uid: &'a str, reason: &'a str, message: &'a str) -> Occurrence<'a> {
        Occurrence {
            component: "replicaset-controller",
            involved_uid: uid,
            warning: false,
            reason,
            message,
        }
    }

    /// The messages written (`None` for a skip), one per occurrence of distinct messages.
    fn run(c: &mut Correlator, n: usize, t: i64) -> Vec<Option<String>> {
        (0..n)
            .map(|i| {
                let m = format!("Created pod: p{i:05}");
                match c.correlate(at(t), occ("rs", "SuccessfulCreate", &m)) {
                    Decision::Skip => None,
                    Decision::Record { message, .. } => Some(message),
                }
            })
            .collect()
    }

    #[test]
    fn nine_distinct_then_combined_then_dropped_after_the_burst() {
        let mut c = Correlator::default();
        let out = run(&mut c, 40, 0);
        for (i, m) in out.iter().take(9).enumerate() {
            assert_eq!(m.as_deref(), Some(format!("Created pod: p{i:05}").as_str()));
        }
        for (i, m) in out.iter().enumerate().take(25).skip(9) {
            assert_eq!(
                m.as_deref(),
                Some(format!("{COMBINED_PREFIX}Created pod: p{i:05}").as_str())
            );
        }
        assert!(out[25..].iter().all(Option::is_none), "{out:?}");
    }

    #[test]
    fn one_token_comes_back_every_five_minutes() {
        let mut c = Correlator::default();
        run(&mut c, 30, 0);
        let again = run(&mut c, 3, 299);
        assert_eq!(again, vec![None, None, None], "no token before 300 s");
        let mut c = Correlator::default();
        run(&mut c, 30, 0);
        let again = run(&mut c, 3, 300);
        assert_eq!(again.iter().filter(|m| m.is_some()).count(), 1);
    }

    #[test]
    fn other_objects_reasons_and_sources_have_their_own_records() {
        let mut c = Correlator::default();
        run(&mut c, 30, 0);
        let other = c.correlate(at(0), occ("rs2", "SuccessfulCreate", "Created pod: x"));
        assert_eq!(
            other,
            Decision::Record {
                key: EventKey {
                    component: "replicaset-controller".into(),
                    involved_uid: "rs2".into(),
                    warning: false,
                    reason: "SuccessfulCreate".into(),
                    message: Some("Created pod: x".into()),
                },
                message: "Created pod: x".into(),
            }
        );
        let kubelet = c.correlate(
            at(0),
            Occurrence {
                component: "kubelet",
                ..occ("rs", "Pulled", "m")
            },
        );
        assert!(matches!(kubelet, Decision::Record { .. }));
    }

    /// Sweeping after every occurrence decides exactly what never sweeping does, over
    /// objects that come and go and time that jumps past the refill and the interval.
    #[test]
    fn sweeping_changes_no_decision_and_forgets_quiet_objects() {
        let (mut swept, mut kept) = (Correlator::default(), Correlator::default());
        let mut t = 0;
        for round in 0..70 {
            t += [1, 60, 120, 1, 299, 601, 3000][round % 7];
            for i in 0..30 {
                // Five objects at a time, six occurrences each: buckets run dry and refill.
                let uid = format!("pod-{}", (round / 7 * 5 + i % 5) % 12);
                // Messages that go on changing, so groups reach the combined event.
                let msg = format!("Created pod: p{}", (round * 6 + i / 5) % 20);
                let o = occ(&uid, "SuccessfulCreate", &msg);
                let a = swept.correlate(at(t), o);
                swept.sweep(at(t));
                assert_eq!(a, kept.correlate(at(t), o), "round {round}, {uid}, {msg}");
            }
        }
        swept.sweep(at(t + 100_000));
        assert!(swept.objects.is_empty() && swept.records == 0);
        assert!(!kept.objects.is_empty());
    }

    #[test]
    fn a_repeated_message_keeps_its_own_key_and_a_quiet_group_starts_over() {
        let mut c = Correlator::default();
        let first = c.correlate(at(0), occ("pod", "BackOff", "Back-off restarting"));
        let second = c.correlate(at(10), occ("pod", "BackOff", "Back-off restarting"));
        assert_eq!(first, second, "the same key: the Event's count is bumped");
        let mut c = Correlator::default();
        run(&mut c, 12, 0);
        let later = c.correlate(at(2000), occ("rs", "SuccessfulCreate", "Created pod: q"));
        assert!(
            matches!(&later, Decision::Record { message, .. } if message == "Created pod: q"),
            "{later:?}"
        );
    }
}
