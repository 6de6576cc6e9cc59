//! The world outside a container, as the kubelet provides it: virtual time and cluster DNS.
//!
//! Processes never read the wall clock or use tokio timers; they ask the [`Host`]. The kubelet
//! implements it over the simulator's clock and Service registry; [`TestHost`] is a small
//! deterministic implementation for tests (sleeping jumps virtual time forward at once).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;

/// Virtual time and name resolution for processes in containers.
pub trait Host: Send + Sync {
    /// The current (virtual) time.
    fn now(&self) -> Timestamp;
    /// A future that completes once `d` of virtual time has passed.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
    /// Resolves `name` as seen from a pod in `namespace`: `svc`, `svc.ns`, `svc.ns.svc`,
    /// `svc.ns.svc.cluster.local`, pod hostnames. Returns the name that answered (the fully
    /// qualified one the search list reached, which `nslookup` and `getent` print) and its
    /// addresses; `None` means NXDOMAIN.
    fn resolve(&self, name: &str, namespace: &str) -> Option<(String, Vec<Ipv4Addr>)>;
}

/// A deterministic [`Host`] for tests: time starts at a fixed instant; DNS answers from a table.
/// In the default (instant) mode `sleep` advances time at once and yields; in manual mode
/// sleepers wait until [`TestHost::advance`] moves time past their deadline.
#[derive(Clone)]
pub struct TestHost {
    inner: Arc<Mutex<TestHostState>>,
}

struct TestHostState {
    now: Timestamp,
    manual: bool,
    seq: u64,
    timers: BTreeMap<(Timestamp, u64), tokio::sync::oneshot::Sender<()>>,
    /// Fully qualified names (`svc.ns.svc.cluster.local`) and pod hostnames to addresses.
    names: BTreeMap<String, Vec<Ipv4Addr>>,
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl TestHost {
    /// A host at 2024-01-01T00:00:00Z with no names.
    pub fn new() -> Self {
        let start = Timestamp::from_second(1_704_067_200).unwrap_or(Timestamp::UNIX_EPOCH);
        TestHost {
            inner: Arc::new(Mutex::new(TestHostState {
                now: start,
                manual: false,
                seq: 0,
                timers: BTreeMap::new(),
                names: BTreeMap::new(),
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TestHostState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers Service `svc` in namespace `ns` with a cluster IP.
    pub fn add_service(&self, svc: &str, ns: &str, ip: Ipv4Addr) {
        self.state()
            .names
            .insert(format!("{svc}.{ns}.svc.cluster.local"), vec![ip]);
    }

    /// Registers a pod hostname (or any other fully qualified name) with its addresses.
    pub fn add_name(&self, name: &str, ips: Vec<Ipv4Addr>) {
        self.state().names.insert(name.to_string(), ips);
    }

    /// A host whose sleepers wait for [`TestHost::advance`].
    pub fn manual() -> Self {
        let h = Self::new();
        h.state().manual = true;
        h
    }

    /// Advances virtual time by `d`, waking the sleepers whose deadline has passed.
    pub fn advance(&self, d: Duration) {
        let mut s = self.state();
        s.now = s.now.checked_add(d).unwrap_or(s.now);
        let now = s.now;
        while let Some(entry) = s.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let _ = entry.remove().send(());
        }
    }

    /// How many processes are sleeping (manual mode).
    pub fn sleepers(&self) -> usize {
        self.state()
            .timers
            .values()
            .filter(|t| !t.is_closed())
            .count()
    }
}

/// Expands `name` into the fully qualified candidates a pod's resolv.conf search list yields.
pub fn dns_candidates(name: &str, namespace: &str) -> Vec<String> {
    let name = name.trim_end_matches('.');
    let mut out = vec![name.to_string()];
    for suffix in [
        format!("{namespace}.svc.cluster.local"),
        "svc.cluster.local".to_string(),
        "cluster.local".to_string(),
    ] {
        out.push(format!("{name}.{suffix}"));
    }
    out
}

impl Host for TestHost {
    fn now(&self) -> Timestamp {
        self.state().now
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let mut s = self.state();
        if !s.manual {
            drop(s);
            self.advance(d);
            return Box::pin(super::process::yield_now());
        }
        let deadline = s.now.checked_add(d).unwrap_or(s.now);
        let (tx, rx) = tokio::sync::oneshot::channel();
        s.seq += 1;
        let key = (deadline, s.seq);
        s.timers.insert(key, tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }

    fn resolve(&self, name: &str, namespace: &str) -> Option<(String, Vec<Ipv4Addr>)> {
        let s = self.state();
        dns_candidates(name, namespace)
            .into_iter()
            .find_map(|c| s.names.get(&c).cloned().map(|ips| (c, ips)))
    }
}
