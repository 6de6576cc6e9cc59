//! A deterministic executor for container processes.
//!
//! Every process of the real runtime (each container's PID 1, exec sessions, exec probes)
//! is a task here rather than on tokio, so the cluster loop decides when processes run: at
//! each virtual instant it polls every woken task, in task-id order, until all of them wait
//! (on a virtual-time sleep, a pipe, stdin from a client). Only then may time move on. That
//! is what keeps auto mode from jumping over runnable processes and makes runs replayable.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures::future::BoxFuture;

use crate::kubelet::ExitSender;

/// Polling rounds per [`Executor::run_ready`] call.
const MAX_ROUNDS: usize = 10_000;

/// Identifies a task.
pub(crate) type TaskId = u64;

/// Who to tell that a task became runnable.
#[derive(Default)]
pub(crate) struct Wakeup {
    /// The cluster loop (auto and real-time modes wake on it).
    cluster: Mutex<Option<ExitSender>>,
    /// Exec sessions that drive the executor themselves (manual mode).
    pub local: tokio::sync::Notify,
}

impl Wakeup {
    /// Connects the cluster's wake-up (done on the first container start).
    pub fn set_cluster(&self, exits: &ExitSender) {
        let mut c = lock(&self.cluster);
        if c.is_none() {
            *c = Some(exits.clone());
        }
    }

    /// Tells everyone waiting that there is work.
    pub fn wake(&self) {
        if let Some(e) = lock(&self.cluster).as_ref() {
            e.wake();
        }
        self.local.notify_waiters();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct TaskWaker {
    id: TaskId,
    ready: Arc<Mutex<BTreeSet<TaskId>>>,
    wakeup: Arc<Wakeup>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.ready).insert(self.id);
        self.wakeup.wake();
    }
}

/// The task set.
pub(crate) struct Executor {
    tasks: Mutex<BTreeMap<TaskId, BoxFuture<'static, ()>>>,
    ready: Arc<Mutex<BTreeSet<TaskId>>>,
    /// Tasks killed while being polled: dropped instead of put back.
    killed: Mutex<BTreeSet<TaskId>>,
    poll: Mutex<()>,
    next: AtomicU64,
    /// Wake-up targets.
    pub wakeup: Arc<Wakeup>,
}

impl Default for Executor {
    fn default() -> Self {
        Self {
            tasks: Mutex::default(),
            ready: Arc::default(),
            killed: Mutex::default(),
            poll: Mutex::new(()),
            next: AtomicU64::new(1),
            wakeup: Arc::default(),
        }
    }
}

impl Executor {
    /// Adds a task; it first runs at the next [`Executor::run_ready`].
    pub fn spawn(&self, fut: BoxFuture<'static, ()>) -> TaskId {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.tasks).insert(id, fut);
        lock(&self.ready).insert(id);
        self.wakeup.wake();
        id
    }

    /// Drops a task (SIGKILL of everything it runs).
    pub fn kill(&self, id: TaskId) {
        let fut = lock(&self.tasks).remove(&id);
        match fut {
            Some(f) => drop(f),
            None => {
                lock(&self.killed).insert(id);
            }
        }
        lock(&self.ready).remove(&id);
    }

    /// Whether a task is still alive (and not being polled).
    #[cfg(test)]
    pub fn alive(&self, id: TaskId) -> bool {
        lock(&self.tasks).contains_key(&id)
    }

    /// Polls woken tasks, lowest id first, until none is woken; true if any was polled.
    pub fn run_ready(&self) -> bool {
        let _g = lock(&self.poll);
        self.poll_all()
    }

    /// Like [`Executor::run_ready`], but does nothing when someone else is polling.
    pub fn try_run_ready(&self) -> bool {
        match self.poll.try_lock() {
            Ok(_g) => self.poll_all(),
            Err(_) => false,
        }
    }

    /// Polls in rounds: every task woken before the round, lowest id first; tasks woken
    /// during a round run in the next one (so a process that yields cannot starve others).
    /// Stops after [`MAX_ROUNDS`] rounds, leaving the rest woken, so a process that never
    /// waits (a busy loop) burns virtual time instead of stopping the cluster.
    fn poll_all(&self) -> bool {
        let mut any = false;
        for _ in 0..MAX_ROUNDS {
            let round = std::mem::take(&mut *lock(&self.ready));
            if round.is_empty() {
                break;
            }
            for id in round {
                any |= self.poll_one(id);
            }
        }
        any
    }

    fn poll_one(&self, id: TaskId) -> bool {
        {
            let fut = lock(&self.tasks).remove(&id);
            let Some(mut fut) = fut else { return false };
            let waker = Waker::from(Arc::new(TaskWaker {
                id,
                ready: self.ready.clone(),
                wakeup: self.wakeup.clone(),
            }));
            let mut cx = Context::from_waker(&waker);
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(()) => drop(fut),
                Poll::Pending => {
                    if lock(&self.killed).remove(&id) {
                        drop(fut);
                    } else {
                        lock(&self.tasks).insert(id, fut);
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_run_in_id_order_until_all_wait() {
        let ex = Executor::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let l = log.clone();
        let a = ex.spawn(Box::pin(async move {
            l.lock().unwrap().push("a1");
            let _ = rx.await;
            l.lock().unwrap().push("a2");
        }));
        let l = log.clone();
        ex.spawn(Box::pin(async move {
            l.lock().unwrap().push("b");
            let _ = tx.send(());
        }));
        assert!(ex.run_ready());
        assert_eq!(*log.lock().unwrap(), ["a1", "b", "a2"]);
        assert!(!ex.alive(a));
        assert!(!ex.run_ready());
    }

    #[test]
    fn killed_tasks_are_dropped() {
        let ex = Executor::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let id = ex.spawn(Box::pin(async move {
            let _keep = tx;
            std::future::pending::<()>().await;
        }));
        ex.run_ready();
        assert!(ex.alive(id));
        ex.kill(id);
        assert!(!ex.alive(id));
        assert!(rx.blocking_recv().is_err(), "the task's state was dropped");
    }
}
