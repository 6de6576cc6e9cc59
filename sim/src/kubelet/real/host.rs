//! [`SimHost`]: virtual time and cluster DNS for processes, over the simulator's clock and
//! store.
//!
//! A sleep is a deadline in a timer table that the cluster loop treats as one more event:
//! `Cluster::run` moves the clock to the earliest of its own queue and these deadlines, fires
//! the due sleepers and lets the woken processes run before it looks further. In manual mode
//! sleepers wake on `advance`/`settle`, in auto mode when the cluster jumps to them, and in
//! real-time mode when the wall clock gets there.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;
use serde_json::Value;

use crate::clock::{TimeSource, after};
use crate::resources::TypeId;
use crate::runtime::Host;
use crate::runtime::host::dns_candidates;
use crate::store::{ListQuery, Store};

/// The sleepers of every process, by (deadline, sequence).
#[derive(Default)]
pub(crate) struct Timers {
    seq: u64,
    map: BTreeMap<(Timestamp, u64), tokio::sync::oneshot::Sender<()>>,
}

impl Timers {
    /// The earliest deadline of a sleeper that still waits.
    pub fn next(&mut self) -> Option<Timestamp> {
        while let Some(e) = self.map.first_entry() {
            if e.get().is_closed() {
                e.remove();
                continue;
            }
            return Some(e.key().0);
        }
        None
    }

    /// Wakes every sleeper due at or before `now`; true if any woke.
    pub fn fire(&mut self, now: Timestamp) -> bool {
        let mut any = false;
        while let Some(e) = self.map.first_entry() {
            if e.key().0 > now {
                break;
            }
            any |= e.remove().send(()).is_ok();
        }
        any
    }
}

/// What every pod's host shares.
pub(crate) struct HostShared {
    pub clock: Arc<dyn TimeSource>,
    pub timers: Mutex<Timers>,
    pub store: Arc<Store>,
    pub svc: Option<TypeId>,
    pub ep: Option<TypeId>,
    pub pod: Option<TypeId>,
}

/// The host of one pod's containers.
#[derive(Clone)]
pub struct SimHost {
    shared: Arc<HostShared>,
    /// The pod's own hostname and IP (what /etc/hosts says).
    me: Option<(String, Ipv4Addr)>,
}

impl SimHost {
    pub(crate) fn new(shared: Arc<HostShared>, me: Option<(String, Ipv4Addr)>) -> Self {
        Self { shared, me }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl HostShared {
    fn get(&self, tid: Option<TypeId>, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.store.get(tid?, ns, name).ok()
    }

    /// The addresses of Service `name` in `ns`: its ClusterIP, or the ready endpoint
    /// addresses of a headless Service.
    fn service(&self, ns: &str, name: &str) -> Option<Vec<Ipv4Addr>> {
        let svc = self.get(self.svc, ns, name)?;
        let ip = svc
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("None");
        if let Ok(ip) = ip.parse() {
            return Some(vec![ip]);
        }
        let ep = self.get(self.ep, ns, name)?;
        let ips: Vec<Ipv4Addr> = ep
            .get("subsets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("addresses").and_then(Value::as_array))
            .flatten()
            .filter_map(|a| a.get("ip").and_then(Value::as_str)?.parse().ok())
            .collect();
        (!ips.is_empty()).then_some(ips)
    }

    /// `hostname.subdomain.ns.svc.cluster.local` of a pod with `spec.hostname`/`subdomain`.
    fn pod_by_hostname(&self, ns: &str, subdomain: &str, hostname: &str) -> Option<Vec<Ipv4Addr>> {
        let list = self
            .store
            .list(self.pod?, Some(ns), &ListQuery::default())
            .ok()?;
        list.items.iter().find_map(|p| {
            let spec = p.get("spec")?;
            let h = spec.get("hostname").and_then(Value::as_str)?;
            let s = spec.get("subdomain").and_then(Value::as_str)?;
            if h != hostname || s != subdomain {
                return None;
            }
            let ip = p.pointer("/status/podIP")?.as_str()?.parse().ok()?;
            Some(vec![ip])
        })
    }

    fn lookup(&self, fqdn: &str) -> Option<Vec<Ipv4Addr>> {
        let rest = fqdn.strip_suffix(".svc.cluster.local")?;
        let parts: Vec<&str> = rest.split('.').collect();
        match parts.as_slice() {
            [svc, ns] => self.service(ns, svc),
            [host, sub, ns] => self.pod_by_hostname(ns, sub, host),
            _ => None,
        }
    }
}

impl Host for SimHost {
    fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let deadline = after(self.shared.clock.now(), d);
        let (tx, rx) = tokio::sync::oneshot::channel();
        {
            let mut t = lock(&self.shared.timers);
            t.seq += 1;
            let key = (deadline, t.seq);
            t.map.insert(key, tx);
        }
        Box::pin(async move {
            let _ = rx.await;
        })
    }

    fn resolve(&self, name: &str, namespace: &str) -> Option<(String, Vec<Ipv4Addr>)> {
        let name = name.trim_end_matches('.');
        if let Ok(ip) = name.parse::<Ipv4Addr>() {
            return Some((name.to_string(), vec![ip]));
        }
        if name == "localhost" {
            return Some((name.to_string(), vec![Ipv4Addr::LOCALHOST]));
        }
        if let Some((h, ip)) = &self.me
            && h == name
        {
            return Some((name.to_string(), vec![*ip]));
        }
        dns_candidates(name, namespace)
            .into_iter()
            .find_map(|c| self.shared.lookup(&c).map(|ips| (c, ips)))
    }
}
