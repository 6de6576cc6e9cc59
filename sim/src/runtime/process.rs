//! Processes: the context a program runs with, the per-container process table, signals, and
//! background jobs.
//!
//! A program is an async function from a [`Proc`] to an exit code. Killing a process is dropping
//! its future; a signal sent with `kill` (or by the kubelet through
//! [`ContainerCtx::signal`]) is observed by programs through [`Signals`], so SIGTERM can be
//! handled gracefully while SIGKILL is simply the future being dropped.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use jiff::Timestamp;
use tokio::sync::{mpsc, watch};

use super::fs::Vfs;
use super::host::Host;
use super::io::Stdio;

/// SIGHUP.
pub const SIGHUP: i32 = 1;
/// SIGINT.
pub const SIGINT: i32 = 2;
/// SIGKILL.
pub const SIGKILL: i32 = 9;
/// SIGTERM.
pub const SIGTERM: i32 = 15;

/// Identity of the container a process runs in (what `hostname`, `id` and DNS need).
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// UID of the pod.
    pub pod_uid: String,
    /// Name of the pod.
    pub pod_name: String,
    /// Namespace of the pod (the DNS search domain).
    pub namespace: String,
    /// Hostname (the pod name unless spec.hostname is set).
    pub hostname: String,
    /// The pod IP, if assigned.
    pub pod_ip: Option<Ipv4Addr>,
    /// Name of the container.
    pub container: String,
    /// User id the processes run as.
    pub uid: u32,
    /// Group id the processes run as.
    pub gid: u32,
}

/// One entry of the process table (what `ps` shows).
#[derive(Clone, Debug)]
pub struct ProcInfo {
    /// Process id.
    pub pid: u32,
    /// Command line as started.
    pub cmdline: String,
    /// When it started.
    pub started: Timestamp,
}

struct ProcEntry {
    info: ProcInfo,
    signal: watch::Sender<Option<i32>>,
}

/// Requests to a running supervisord (`supervisord ctl ...` talks to it through this).
pub type SupervisorRequest = (Vec<String>, tokio::sync::oneshot::Sender<(i32, String)>);

/// State shared by every process of one container run: identity, process table, supervisord.
pub struct ContainerCtx {
    /// Who and where the container is.
    pub identity: Identity,
    procs: Mutex<BTreeMap<u32, ProcEntry>>,
    next_pid: AtomicU32,
    supervisor: Mutex<Option<mpsc::UnboundedSender<SupervisorRequest>>>,
    daemons: Mutex<Option<Jobs>>,
    ports: Mutex<BTreeMap<u16, u32>>,
}

impl ContainerCtx {
    /// A fresh context (a new PID namespace: the first process gets PID 1).
    pub fn new(identity: Identity) -> Arc<Self> {
        Arc::new(ContainerCtx {
            identity,
            procs: Mutex::new(BTreeMap::new()),
            next_pid: AtomicU32::new(1),
            supervisor: Mutex::new(None),
            daemons: Mutex::new(None),
            ports: Mutex::new(BTreeMap::new()),
        })
    }

    /// Registers a new process and returns its handle (the entry goes away when it is dropped).
    pub fn register(self: &Arc<Self>, cmdline: String, now: Timestamp) -> Pid {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        let info = ProcInfo {
            pid,
            cmdline,
            started: now,
        };
        if let Ok(mut t) = self.procs.lock() {
            t.insert(pid, ProcEntry { info, signal: tx });
        }
        Pid {
            pid,
            ctx: self.clone(),
            signals: Signals { rx, pid },
        }
    }

    /// The processes running now, by PID.
    pub fn processes(&self) -> Vec<ProcInfo> {
        self.procs
            .lock()
            .map(|t| t.values().map(|e| e.info.clone()).collect())
            .unwrap_or_default()
    }

    /// Sends `sig` to `pid`; false if there is no such process.
    pub fn signal(&self, pid: u32, sig: i32) -> bool {
        self.procs
            .lock()
            .ok()
            .and_then(|t| t.get(&pid).map(|e| e.signal.send(Some(sig)).is_ok()))
            .unwrap_or(false)
    }

    /// Records the control channel of this container's supervisord.
    pub fn set_supervisor(&self, tx: Option<mpsc::UnboundedSender<SupervisorRequest>>) {
        if let Ok(mut s) = self.supervisor.lock() {
            *s = tx;
        }
    }

    /// Records where daemons started by exec'd processes run (the main process's job set).
    pub fn set_daemon_jobs(&self, jobs: Option<Jobs>) {
        if let Ok(mut s) = self.daemons.lock() {
            *s = jobs;
        }
    }

    /// Where daemons (`supervisord -d`) run: alongside the container's main process.
    pub fn daemon_jobs(&self) -> Option<Jobs> {
        self.daemons.lock().ok().and_then(|s| s.clone())
    }

    /// TCP ports a process listens on now, with the PID that listens (for probes, endpoints
    /// and port-forward).
    pub fn listening(&self) -> BTreeMap<u16, u32> {
        self.ports.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The control channel of this container's running supervisord, if any.
    pub fn supervisor(&self) -> Option<mpsc::UnboundedSender<SupervisorRequest>> {
        self.supervisor.lock().ok().and_then(|s| s.clone())
    }
}

/// A registered process; unregisters on drop.
pub struct Pid {
    /// The process id.
    pub pid: u32,
    ctx: Arc<ContainerCtx>,
    /// The process's signal receiver.
    pub signals: Signals,
}

impl Drop for Pid {
    fn drop(&mut self) {
        if let Ok(mut t) = self.ctx.procs.lock() {
            t.remove(&self.pid);
        }
    }
}

/// Signals delivered to one process.
#[derive(Clone)]
pub struct Signals {
    rx: watch::Receiver<Option<i32>>,
    pid: u32,
}

impl Signals {
    /// A receiver that never gets a signal (for detached helpers).
    pub fn none() -> Self {
        let (_tx, rx) = watch::channel(None);
        Signals { rx, pid: 0 }
    }

    /// The last signal received, if any.
    pub fn pending(&self) -> Option<i32> {
        *self.rx.borrow()
    }

    /// Whether a signal that terminates a process without handlers is pending (PID 1 ignores
    /// everything but SIGKILL, as on Linux).
    pub fn fatal_pending(&self) -> Option<i32> {
        self.pending().filter(|s| self.pid != 1 || *s == SIGKILL)
    }

    /// Whether `sig` ends this process when it has no handler (PID 1 only dies of SIGKILL).
    pub fn is_fatal(&self, sig: i32) -> bool {
        self.pid != 1 || sig == SIGKILL
    }

    /// A signal that arrived since this receiver last looked, marking it seen.
    pub fn take_new(&mut self) -> Option<i32> {
        if self.rx.has_changed().unwrap_or(false) {
            *self.rx.borrow_and_update()
        } else {
            None
        }
    }

    /// Marks the current signal as handled, so [`Signals::any`] waits for the next one.
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Waits for a signal that terminates a process without handlers. PID 1 ignores every
    /// signal but SIGKILL, as on Linux; with no sender left this never finishes.
    pub async fn terminated(&mut self) -> i32 {
        if let Some(s) = self.fatal_pending() {
            return s;
        }
        loop {
            if self.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
            if let Some(s) = self.fatal_pending() {
                return s;
            }
        }
    }

    /// Waits for the next signal not yet seen by this receiver (for programs that handle
    /// SIGTERM themselves).
    pub async fn any(&mut self) -> i32 {
        loop {
            if self.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
            if let Some(s) = *self.rx.borrow_and_update() {
                return s;
            }
        }
    }
}

/// Lets other processes run before this one goes on: wakes itself and yields once. Unlike
/// `tokio::task::yield_now` it needs no tokio scheduler, so any executor (the kubelet's
/// deterministic one included) sees the process as runnable at once.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

/// Background jobs of one top-level process (`cmd &`): they run while that process runs.
#[derive(Clone)]
pub struct Jobs(mpsc::UnboundedSender<BoxFuture<'static, ()>>);

impl Jobs {
    /// Starts `fut` in the background of the current top-level process.
    pub fn spawn(&self, fut: BoxFuture<'static, ()>) {
        let _ = self.0.send(fut);
    }

    /// Runs `main` while driving every job it spawns; jobs are dropped when `main` ends.
    pub async fn run_with<F: Future<Output = i32> + Send>(main: impl FnOnce(Jobs) -> F) -> i32 {
        let (tx, mut rx) = mpsc::unbounded_channel::<BoxFuture<'static, ()>>();
        let main = main(Jobs(tx));
        let driver = async move {
            let mut running = FuturesUnordered::new();
            loop {
                tokio::select! {
                    biased;
                    Some(job) = rx.recv() => running.push(job),
                    Some(()) = running.next(), if !running.is_empty() => {}
                    else => std::future::pending::<()>().await,
                }
            }
        };
        tokio::select! {
            biased;
            code = main => code,
            () = driver => 0,
        }
    }
}

/// Everything a container's processes share: its filesystem, the host and the container state.
#[derive(Clone)]
pub struct System {
    /// The container's filesystem.
    pub fs: Vfs,
    /// Virtual time and DNS.
    pub host: Arc<dyn Host>,
    /// Identity, process table and supervisord of this container run.
    pub ctx: Arc<ContainerCtx>,
}

/// A running program's view of the world.
pub struct Proc {
    /// Arguments, `argv[0]` included.
    pub argv: Vec<String>,
    /// The environment.
    pub env: BTreeMap<String, String>,
    /// Working directory (absolute).
    pub cwd: String,
    /// Standard streams.
    pub io: Stdio,
    /// Filesystem, host and container.
    pub sys: System,
    /// This process's PID and signals.
    pub pid: Arc<Pid>,
    /// Where `&` puts background jobs.
    pub jobs: Jobs,
}

impl Proc {
    /// The current virtual time.
    pub fn now(&self) -> Timestamp {
        self.sys.host.now()
    }

    /// `path` made absolute against the working directory.
    pub fn abs(&self, path: &str) -> String {
        super::fs::absolute(&self.cwd, path)
    }

    /// The program name as invoked (`argv[0]` without directories).
    pub fn name(&self) -> String {
        self.argv
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .unwrap_or_default()
    }

    /// Prints `name: msg` on stderr (the usual utility error format).
    pub fn err(&self, msg: impl std::fmt::Display) {
        self.io.stderr.print(&format!("{}: {msg}\n", self.name()));
    }

    /// A child context running `argv` with the same environment, directory and streams.
    pub fn child(&self, argv: Vec<String>, io: Stdio) -> Proc {
        let cmdline = argv.join(" ");
        Proc {
            argv,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            io,
            sys: self.sys.clone(),
            pid: Arc::new(self.sys.ctx.register(cmdline, self.sys.host.now())),
            jobs: self.jobs.clone(),
        }
    }

    /// Sleeps `d` of virtual time; returns the terminating signal if one interrupts it.
    pub async fn sleep(&self, d: std::time::Duration) -> Option<i32> {
        let mut sig = self.pid.signals.clone();
        // `sleep infinity` and other sleeps past any simulated horizon only end by a signal.
        if d > std::time::Duration::from_secs(100 * 365 * 86_400) {
            return Some(sig.terminated().await);
        }
        tokio::select! {
            biased;
            () = self.sys.host.sleep(d) => None,
            s = sig.terminated() => Some(s),
        }
    }

    /// Waits forever, or until a terminating signal (returns the exit code 128+sig).
    pub async fn serve_forever(&self) -> i32 {
        let mut sig = self.pid.signals.clone();
        128 + sig.any().await
    }

    /// Listens on `ports` (visible through [`ContainerCtx::listening`]) until a terminating
    /// signal; returns 128+sig. The ports are released when this returns or is dropped.
    pub async fn listen_forever(&self, ports: &[u16]) -> i32 {
        struct Release(Arc<ContainerCtx>, Vec<u16>, u32);
        impl Drop for Release {
            fn drop(&mut self) {
                if let Ok(mut p) = self.0.ports.lock() {
                    for port in &self.1 {
                        if p.get(port) == Some(&self.2) {
                            p.remove(port);
                        }
                    }
                }
            }
        }
        let pid = self.pid.pid;
        if let Ok(mut p) = self.sys.ctx.ports.lock() {
            for port in ports {
                p.insert(*port, pid);
            }
        }
        let _release = Release(self.sys.ctx.clone(), ports.to_vec(), pid);
        self.serve_forever().await
    }
}
