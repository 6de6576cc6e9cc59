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
    /// `svc.ns.svc.cluster.local`, pod hostnames. `None` means NXDOMAIN.
    fn resolve(&self, name: &str, namespace: &str) -> Option<Vec<Ipv4Addr>>;
}

/// A deterministic [`Host`] for tests: time starts at a fixed instant and `sleep` advances it
/// immediately (yielding once so other processes run), DNS answers from a table.
#[derive(Clone)]
pub struct TestHost {
    inner: Arc<Mutex<TestHostState>>,
}

struct TestHostState {
    now: Timestamp,
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

    /// Advances virtual time by `d`.
    pub fn advance(&self, d: Duration) {
        let mut s = self.state();
        s.now = s.now.checked_add(d).unwrap_or(s.now);
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
        self.advance(d);
        Box::pin(tokio::task::yield_now())
    }

    fn resolve(&self, name: &str, namespace: &str) -> Option<Vec<Ipv4Addr>> {
        let s = self.state();
        dns_candidates(name, namespace)
            .into_iter()
            .find_map(|c| s.names.get(&c).cloned())
    }
}
