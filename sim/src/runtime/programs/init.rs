//! Process managers from odo's init image: `go-init` (PID 1 that runs a pre hook, then the main
//! command) and `supervisord` (runs programs from an ini file; `supervisord ctl` controls the
//! running instance of the same container).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::future::{AbortHandle, Abortable, BoxFuture};
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};

use crate::runtime::process::{Proc, SupervisorRequest};
use crate::runtime::shell::run_external;

fn fields(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// `go-init -pre CMD -main CMD [-post CMD]`: commands are split on whitespace (no shell).
pub async fn go_init(p: Proc) -> i32 {
    let mut hooks: BTreeMap<&str, String> = BTreeMap::new();
    let mut i = 1;
    while i < p.argv.len() {
        let key = p.argv[i].trim_start_matches('-');
        if let (Some(k @ ("pre" | "main" | "post")), Some(v)) = (Some(key), p.argv.get(i + 1)) {
            hooks.insert(k, v.clone());
            i += 2;
        } else {
            p.err(format!("flag provided but not defined: {}", p.argv[i]));
            return 2;
        }
    }
    let Some(main) = hooks.get("main").filter(|m| !m.trim().is_empty()) else {
        p.io.stderr
            .print("[go-init] No main command defined, exiting\n");
        return 2;
    };
    if let Some(pre) = hooks.get("pre").filter(|m| !m.trim().is_empty()) {
        let code = run_external(p.child(fields(pre), p.io.clone())).await;
        if code != 0 {
            p.io.stderr.print(&format!(
                "[go-init] Pre-start command failed: exit status {code}\n"
            ));
        }
    }
    let child = p.child(fields(main), p.io.clone());
    let child_pid = child.pid.pid;
    let ctx = p.sys.ctx.clone();
    let mut sig = p.pid.signals.clone();
    let main_run = run_external(child);
    tokio::pin!(main_run);
    let code = loop {
        tokio::select! {
            biased;
            code = &mut main_run => break code,
            s = sig.any() => {
                // go-init forwards signals to the main process and waits for it.
                ctx.signal(child_pid, s);
                sig = sig_after(&p);
            }
        }
    };
    if let Some(post) = hooks.get("post").filter(|m| !m.trim().is_empty()) {
        run_external(p.child(fields(post), p.io.clone())).await;
    }
    code
}

/// A fresh receiver that waits for the next signal (the current one was handled).
fn sig_after(p: &Proc) -> crate::runtime::process::Signals {
    let mut s = p.pid.signals.clone();
    s.mark_seen();
    s
}

/// One `[program:x]` section of a supervisord configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramConf {
    /// Program name.
    pub name: String,
    /// Command line (split on whitespace).
    pub command: String,
    /// Start when supervisord starts.
    pub autostart: bool,
    /// Restart when it exits.
    pub autorestart: bool,
    /// Working directory.
    pub directory: Option<String>,
    /// Extra environment.
    pub environment: BTreeMap<String, String>,
}

/// Parses the `[program:*]` sections of a supervisord ini file.
pub fn parse_conf(text: &str) -> Vec<ProgramConf> {
    let mut out: Vec<ProgramConf> = Vec::new();
    let mut current: Option<ProgramConf> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.extend(current.take());
            if let Some(name) = section.strip_prefix("program:") {
                current = Some(ProgramConf {
                    name: name.trim().to_string(),
                    command: String::new(),
                    autostart: true,
                    autorestart: false,
                    directory: None,
                    environment: BTreeMap::new(),
                });
            }
            continue;
        }
        let Some(conf) = current.as_mut() else {
            continue;
        };
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "command" => conf.command = v.to_string(),
            "autostart" => conf.autostart = v == "true",
            "autorestart" => conf.autorestart = v == "true",
            "directory" => conf.directory = Some(v.to_string()),
            "environment" => {
                for kv in v.split(',') {
                    if let Some((a, b)) = kv.split_once('=') {
                        conf.environment
                            .insert(a.trim().to_string(), b.trim().trim_matches('"').to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out.extend(current);
    out
}

type Exit = (String, u64, i32);

struct Running {
    abort: AbortHandle,
    pid: u32,
    generation: u64,
}

/// `supervisord -c CONF [-d]` or `supervisord ctl {start|stop|restart|status} [PROGRAM...]`.
pub async fn supervisord(p: Proc) -> i32 {
    if p.argv.get(1).is_some_and(|a| a == "ctl") {
        return ctl(p).await;
    }
    let mut conf_path = None;
    let mut daemon = false;
    let mut i = 1;
    while i < p.argv.len() {
        match p.argv[i].as_str() {
            "-c" | "--configuration" => {
                conf_path = p.argv.get(i + 1).cloned();
                i += 1;
            }
            "-d" | "--daemon" => daemon = true,
            _ => {}
        }
        i += 1;
    }
    let Some(conf_path) = conf_path else {
        p.err("no configuration file given (-c FILE)");
        return 2;
    };
    let text = match p.sys.fs.read(&p.abs(&conf_path)) {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) => {
            p.io.stderr.print(&format!(
                "Error: can't read configuration file {conf_path}: {e}\n"
            ));
            return 2;
        }
    };
    let programs = parse_conf(&text);
    let (tx, rx) = mpsc::unbounded_channel::<SupervisorRequest>();
    p.sys.ctx.set_supervisor(Some(tx));
    if daemon {
        let child = p.child(vec!["supervisord".into()], p.io.clone());
        let jobs = p.sys.ctx.daemon_jobs();
        let fut: BoxFuture<'static, ()> = Box::pin(async move {
            serve_loop(child, programs, rx).await;
        });
        match jobs {
            Some(j) => {
                j.spawn(fut);
                return 0;
            }
            None => {
                fut.await;
                return 0;
            }
        }
    }
    serve_loop(p, programs, rx).await
}

fn log(p: &Proc, msg: &str) {
    let t = p.now().strftime("%Y-%m-%dT%H:%M:%SZ");
    p.io.stderr
        .print(&format!("time=\"{t}\" level=info msg=\"{msg}\"\n"));
}

async fn serve_loop(
    p: Proc,
    programs: Vec<ProgramConf>,
    mut rx: mpsc::UnboundedReceiver<SupervisorRequest>,
) -> i32 {
    let conf: BTreeMap<String, ProgramConf> =
        programs.into_iter().map(|c| (c.name.clone(), c)).collect();
    let mut running: BTreeMap<String, Running> = BTreeMap::new();
    let mut generation = 0u64;
    let mut exits: FuturesUnordered<BoxFuture<'static, Option<Exit>>> = FuturesUnordered::new();
    let mut last_exit: BTreeMap<String, i32> = BTreeMap::new();
    let start = |name: &str,
                 running: &mut BTreeMap<String, Running>,
                 exits: &mut FuturesUnordered<BoxFuture<'static, Option<Exit>>>,
                 generation: &mut u64| {
        let Some(c) = conf.get(name) else { return };
        let mut child = p.child(fields(&c.command), p.io.clone());
        if let Some(d) = &c.directory {
            child.cwd = p.abs(d);
        }
        child.env.extend(c.environment.clone());
        let pid = child.pid.pid;
        *generation += 1;
        let g = *generation;
        let (abort, reg) = AbortHandle::new_pair();
        let n = name.to_string();
        exits.push(Box::pin(async move {
            Abortable::new(run_external(child), reg)
                .await
                .ok()
                .map(|code| (n, g, code))
        }));
        running.insert(
            name.to_string(),
            Running {
                abort,
                pid,
                generation: g,
            },
        );
        log(&p, &format!("success to start program {name}"));
    };
    log(&p, "supervisord started");
    for c in conf.values().filter(|c| c.autostart) {
        start(&c.name, &mut running, &mut exits, &mut generation);
    }
    let mut sig = p.pid.signals.clone();
    loop {
        tokio::select! {
            biased;
            Some(done) = exits.next(), if !exits.is_empty() => {
                let Some((name, g, code)) = done else { continue };
                if running.get(&name).is_some_and(|r| r.generation == g) {
                    running.remove(&name);
                    last_exit.insert(name.clone(), code);
                    log(&p, &format!("program {name} exited with status {code}"));
                    if conf.get(&name).is_some_and(|c| c.autorestart) {
                        p.sys.host.sleep(Duration::from_secs(1)).await;
                        start(&name, &mut running, &mut exits, &mut generation);
                    }
                }
            }
            req = rx.recv() => {
                let Some((args, reply)) = req else { continue };
                let (verb, names) = args.split_first().map(|(v, n)| (v.as_str(), n.to_vec())).unwrap_or(("status", vec![]));
                let names: Vec<String> = if names.is_empty() || names.iter().any(|n| n == "all") {
                    conf.keys().cloned().collect()
                } else {
                    names
                };
                let mut out = String::new();
                let mut code = 0;
                for name in names {
                    if !conf.contains_key(&name) {
                        out.push_str(&format!("{name}: ERROR (no such process)\n"));
                        code = 1;
                        continue;
                    }
                    match verb {
                        "stop" => {
                            if let Some(r) = running.remove(&name) {
                                p.sys.ctx.signal(r.pid, crate::runtime::process::SIGTERM);
                                r.abort.abort();
                                log(&p, &format!("program {name} stopped"));
                            }
                            out.push_str(&format!("{name}: stopped\n"));
                        }
                        "start" => {
                            if running.contains_key(&name) {
                                out.push_str(&format!("{name}: ERROR (already started)\n"));
                            } else {
                                start(&name, &mut running, &mut exits, &mut generation);
                                out.push_str(&format!("{name}: started\n"));
                            }
                        }
                        "restart" => {
                            if let Some(r) = running.remove(&name) {
                                r.abort.abort();
                            }
                            start(&name, &mut running, &mut exits, &mut generation);
                            out.push_str(&format!("{name}: stopped\n{name}: started\n"));
                        }
                        _ => {
                            let state = match (running.get(&name), last_exit.get(&name)) {
                                (Some(r), _) => format!("Running   pid {}", r.pid),
                                (None, Some(c)) => format!("Exited    status {c}"),
                                (None, None) => "Stopped".to_string(),
                            };
                            out.push_str(&format!("{name:<32} {state}\n"));
                        }
                    }
                }
                let _ = reply.send((code, out));
            }
            s = sig.any() => {
                log(&p, &format!("received signal {s}, stopping all programs"));
                for (_, r) in std::mem::take(&mut running) {
                    r.abort.abort();
                }
                p.sys.ctx.set_supervisor(None);
                return 0;
            }
        }
    }
}

async fn ctl(p: Proc) -> i32 {
    let args: Vec<String> = p.argv[2..]
        .iter()
        .filter(|a| !a.starts_with('-'))
        .cloned()
        .collect();
    let Some(tx) = p.sys.ctx.supervisor() else {
        p.io.stderr.print(
            "Error: unix:///tmp/supervisord.sock refused connection (is supervisord running?)\n",
        );
        return 1;
    };
    let (rtx, rrx) = oneshot::channel();
    if tx.send((args, rtx)).is_err() {
        p.io.stderr.print("Error: supervisord is not running\n");
        return 1;
    }
    match rrx.await {
        Ok((code, out)) => {
            p.io.stdout.print(&out);
            code
        }
        Err(_) => {
            p.io.stderr.print("Error: supervisord exited\n");
            1
        }
    }
}
