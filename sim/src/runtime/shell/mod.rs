//! The shell that runs inside containers: scripts are parsed with `brush-parser` and
//! interpreted over the container's simulated filesystem.
//!
//! Supported: pipelines (stages run concurrently, connected by in-memory pipes), `&& || ; &`,
//! `if/for/while/until/case`, functions, variables and parameter expansion, `$(...)`,
//! `$((...))`, quoting, globbing, redirections (`> >> < 2>&1 &> <<EOF <<<`), `set -e/-x/-u`,
//! `exec`, and the shell builtins in [`builtins`]. Commands are looked up in `$PATH` on the
//! container filesystem; image files stand for builtin programs (see `programs`).

mod arith;
mod builtins;
mod compound;
mod exec;
mod expand;
pub mod glob;
mod redirect;

pub use exec::{ExecError, Resolved, resolve, run_external};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use brush_parser::ast::{
    self, AndOr, AndOrList, Command, CommandPrefixOrSuffixItem, CompoundList, IoRedirect, Pipeline,
    SeparatorOperator, SimpleCommand,
};
use futures::future::BoxFuture;
use tokio::sync::oneshot;

use super::io::{ChannelSink, Input, Out, Stdio};
use super::process::{Jobs, Pid, Proc, SIGHUP, SIGINT, SIGTERM, Signals, System};
use super::programs;

/// Control flow that unwinds through the interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctl {
    /// `break N`.
    Break(u32),
    /// `continue N`.
    Continue(u32),
    /// `return N`.
    Return(i32),
    /// `exit N`, `set -e` failures, fatal signals.
    Exit(i32),
}

/// Result of running a piece of script: an exit status or unwinding control flow.
pub(crate) type R = Result<i32, Ctl>;

/// Shell options set with `set`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ShellOpts {
    errexit: bool,
    xtrace: bool,
    nounset: bool,
    pipefail: bool,
}

/// The trap name of a signal number.
pub(crate) fn signal_name(sig: i32) -> &'static str {
    match sig {
        SIGHUP => "HUP",
        SIGINT => "INT",
        SIGTERM => "TERM",
        9 => "KILL",
        _ => "",
    }
}

/// The status of a command whose redirection failed (ash and dash: 2).
const REDIRECT_FAILED: i32 = 2;

/// The default `$PATH` when the environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A variable set for one command by a prefix assignment, and its value before.
struct TempVar {
    name: String,
    old: Option<String>,
    temp: String,
}

/// One shell process's state.
pub struct Shell {
    io: Stdio,
    sys: System,
    pid: Arc<Pid>,
    jobs: Jobs,
    cwd: String,
    vars: BTreeMap<String, String>,
    exported: BTreeSet<String>,
    funcs: BTreeMap<String, Arc<ast::FunctionDefinition>>,
    positional: Vec<String>,
    arg0: String,
    last: i32,
    opts: ShellOpts,
    cond: u32,
    locals: Vec<BTreeMap<String, Option<String>>>,
    bg: Vec<(u32, oneshot::Receiver<i32>)>,
    last_bg: Option<u32>,
    traps: BTreeMap<String, String>,
    /// Status of the last command substitution of the command being expanded.
    subst_status: Option<i32>,
    /// This shell's view of its signals (which ones its traps already handled).
    sigs: Signals,
}

fn parser_options() -> brush_parser::ParserOptions {
    brush_parser::ParserOptions {
        enable_extended_globbing: false,
        posix_mode: false,
        sh_mode: false,
        tilde_expansion_at_word_start: true,
        tilde_expansion_after_colon: false,
        parser_impl: brush_parser::ParserImpl::Peg,
    }
}

/// Parses a script into a program.
pub fn parse(script: &str) -> Result<ast::Program, String> {
    let mut p =
        brush_parser::Parser::new(std::io::Cursor::new(script.as_bytes()), &parser_options());
    p.parse_program().map_err(|e| format!("syntax error: {e}"))
}

/// The `sh` program: `sh [-eux] [-c SCRIPT [ARG0 [ARG...]] | FILE [ARG...]]`.
pub async fn sh_main(p: Proc) -> i32 {
    let mut opts = ShellOpts::default();
    let mut command: Option<String> = None;
    let mut want_c = false;
    let mut i = 1;
    while i < p.argv.len() {
        let a = &p.argv[i];
        if a == "-o" || a == "+o" {
            if p.argv.get(i + 1).is_some_and(|o| o == "pipefail") {
                opts.pipefail = a == "-o";
            }
            i += 2;
            continue;
        }
        if a == "--" {
            i += 1;
            break;
        }
        if a.len() > 1 && a.starts_with('-') {
            for c in a[1..].chars() {
                match c {
                    'c' => want_c = true,
                    'e' => opts.errexit = true,
                    'x' => opts.xtrace = true,
                    'u' => opts.nounset = true,
                    _ => {}
                }
            }
            i += 1;
        } else {
            break;
        }
    }
    let rest: Vec<String> = p.argv[i..].to_vec();
    let (script, arg0, positional) = if want_c {
        let Some((s, more)) = rest.split_first() else {
            p.io.stderr.print("sh: -c requires an argument\n");
            return 2;
        };
        command = Some(s.clone());
        let (a0, pos) = match more.split_first() {
            Some((a0, pos)) => (a0.clone(), pos.to_vec()),
            None => (p.argv[0].clone(), vec![]),
        };
        (s.clone(), a0, pos)
    } else if let Some((file, pos)) = rest.split_first() {
        match p.sys.fs.read(&p.abs(file)) {
            Ok(d) => (
                String::from_utf8_lossy(&d).into_owned(),
                file.clone(),
                pos.to_vec(),
            ),
            Err(_) => {
                p.io.stderr.print(&format!(
                    "sh: can't open '{file}': No such file or directory\n"
                ));
                return 127;
            }
        }
    } else {
        let d = p.io.stdin.read_all().await;
        (
            String::from_utf8_lossy(&d).into_owned(),
            p.argv[0].clone(),
            vec![],
        )
    };
    let _ = command;
    let mut sh = Shell::new(p, arg0, positional);
    sh.opts = opts;
    sh.run_script(&script).await
}

impl Shell {
    /// A shell for process `p` with `$0` and positional parameters.
    pub fn new(p: Proc, arg0: String, positional: Vec<String>) -> Self {
        let exported: BTreeSet<String> = p.env.keys().cloned().collect();
        let mut vars = p.env.clone();
        vars.insert("PWD".into(), p.cwd.clone());
        vars.entry("IFS".into()).or_insert_with(|| " \t\n".into());
        Shell {
            io: p.io,
            sys: p.sys,
            sigs: p.pid.signals.clone(),
            pid: p.pid,
            jobs: p.jobs,
            cwd: p.cwd,
            vars,
            exported,
            funcs: BTreeMap::new(),
            positional,
            arg0,
            last: 0,
            opts: ShellOpts::default(),
            cond: 0,
            locals: Vec::new(),
            bg: Vec::new(),
            last_bg: None,
            traps: BTreeMap::new(),
            subst_status: None,
        }
    }

    /// Parses and runs `script`; returns the exit status (running the EXIT trap).
    pub async fn run_script(&mut self, script: &str) -> i32 {
        let prog = match parse(script) {
            Ok(p) => p,
            Err(e) => {
                self.io.stderr.print(&format!("{}: {e}\n", self.arg0));
                return 2;
            }
        };
        let r = self.run_program(&prog).await;
        let code = match r {
            Ok(c) | Err(Ctl::Exit(c)) | Err(Ctl::Return(c)) => c,
            Err(_) => self.last,
        };
        if let Some(trap) = self.traps.remove("EXIT") {
            self.last = code;
            let _ = Box::pin(self.eval(&trap)).await;
        }
        code
    }

    fn subshell(&self) -> Shell {
        Shell {
            io: self.io.clone(),
            sys: self.sys.clone(),
            pid: self.pid.clone(),
            sigs: self.sigs.clone(),
            jobs: self.jobs.clone(),
            cwd: self.cwd.clone(),
            vars: self.vars.clone(),
            exported: self.exported.clone(),
            funcs: self.funcs.clone(),
            positional: self.positional.clone(),
            arg0: self.arg0.clone(),
            last: self.last,
            opts: self.opts,
            cond: self.cond,
            locals: Vec::new(),
            bg: Vec::new(),
            last_bg: self.last_bg,
            traps: BTreeMap::new(),
            subst_status: None,
        }
    }

    /// Runs `text` as script in this shell (for `eval`, traps, `.`).
    pub(crate) async fn eval(&mut self, text: &str) -> R {
        match parse(text) {
            Ok(prog) => self.run_program(&prog).await,
            Err(e) => {
                self.io.stderr.print(&format!("{}: {e}\n", self.arg0));
                Ok(2)
            }
        }
    }

    fn run_program<'a>(&'a mut self, prog: &'a ast::Program) -> BoxFuture<'a, R> {
        Box::pin(async move {
            let mut last = 0;
            for cc in &prog.complete_commands {
                last = self.run_list(cc).await?;
            }
            Ok(last)
        })
    }

    fn check_signal(&self) -> Result<(), Ctl> {
        match self.pid.signals.fatal_pending() {
            Some(s) if !self.traps.contains_key(signal_name(s)) => Err(Ctl::Exit(128 + s)),
            _ => Ok(()),
        }
    }

    /// Runs the trap of a signal that arrived since the last check, if one is set.
    async fn run_pending_trap(&mut self) -> Result<(), Ctl> {
        if let Some(s) = self.sigs.take_new()
            && let Some(action) = self.traps.get(signal_name(s)).cloned()
        {
            Box::pin(self.eval(&action)).await?;
        }
        Ok(())
    }

    /// Waits for a signal that either has a trap or terminates this shell.
    pub(crate) fn signal_wait(&self) -> impl Future<Output = i32> + Send + 'static {
        let mut sig = self.sigs.clone();
        let trapped: Vec<i32> = [SIGHUP, SIGINT, SIGTERM]
            .into_iter()
            .filter(|s| self.traps.contains_key(signal_name(*s)))
            .collect();
        async move {
            loop {
                let s = sig.any().await;
                if trapped.contains(&s) || sig.is_fatal(s) {
                    return s;
                }
            }
        }
    }

    fn run_list<'a>(&'a mut self, list: &'a CompoundList) -> BoxFuture<'a, R> {
        Box::pin(async move {
            let mut last = self.last;
            for item in &list.0 {
                self.run_pending_trap().await?;
                self.check_signal()?;
                match item.1 {
                    SeparatorOperator::Async => {
                        self.spawn_background(&item.0);
                        last = 0;
                    }
                    SeparatorOperator::Sequence => last = self.run_and_or(&item.0).await?,
                }
            }
            Ok(last)
        })
    }

    fn spawn_background(&mut self, aol: &AndOrList) {
        let mut sub = self.subshell();
        sub.io.stdin = Input::empty();
        let child_pid = Arc::new(self.sys.ctx.register(aol.to_string(), self.sys.host.now()));
        let pid_num = child_pid.pid;
        sub.sigs = child_pid.signals.clone();
        sub.pid = child_pid;
        let aol = aol.clone();
        let (tx, rx) = oneshot::channel();
        self.bg.push((pid_num, rx));
        self.last_bg = Some(pid_num);
        self.jobs.spawn(Box::pin(async move {
            let code = match sub.run_and_or(&aol).await {
                Ok(c) | Err(Ctl::Exit(c)) | Err(Ctl::Return(c)) => c,
                Err(_) => 0,
            };
            let _ = tx.send(code);
        }));
    }

    fn run_and_or<'a>(&'a mut self, aol: &'a AndOrList) -> BoxFuture<'a, R> {
        Box::pin(async move {
            let more = !aol.additional.is_empty();
            let mut status = self.run_pipeline(&aol.first, more).await?;
            for (i, next) in aol.additional.iter().enumerate() {
                let is_last = i + 1 == aol.additional.len();
                match next {
                    AndOr::And(p) if status == 0 => status = self.run_pipeline(p, !is_last).await?,
                    AndOr::Or(p) if status != 0 => status = self.run_pipeline(p, !is_last).await?,
                    _ => {}
                }
            }
            Ok(status)
        })
    }

    fn run_pipeline<'a>(&'a mut self, p: &'a Pipeline, in_cond: bool) -> BoxFuture<'a, R> {
        Box::pin(async move {
            let cond = in_cond || p.bang;
            if cond {
                self.cond += 1;
            }
            let r = if p.seq.len() == 1 {
                self.run_command(&p.seq[0]).await
            } else {
                Ok(self.run_stages(&p.seq).await)
            };
            if cond {
                self.cond -= 1;
            }
            let mut status = r?;
            if p.bang {
                status = i32::from(status == 0);
            }
            self.last = status;
            if !cond && status != 0 && self.opts.errexit && self.cond == 0 {
                return Err(Ctl::Exit(status));
            }
            Ok(status)
        })
    }

    async fn run_stages(&mut self, seq: &[Command]) -> i32 {
        let n = seq.len();
        let mut futs = Vec::with_capacity(n);
        let mut next_stdin = self.io.stdin.clone();
        for (i, cmd) in seq.iter().enumerate() {
            let mut sub = self.subshell();
            sub.cond = 0;
            sub.io.stdin = next_stdin.clone();
            if i + 1 < n {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                sub.io.stdout = Out::new(ChannelSink(tx));
                next_stdin = Input::channel(rx);
            }
            futs.push(async move {
                let r = sub.run_command(cmd).await;
                drop(sub);
                match r {
                    Ok(c) | Err(Ctl::Exit(c)) | Err(Ctl::Return(c)) => c,
                    Err(_) => 0,
                }
            });
        }
        let codes = futures::future::join_all(futs).await;
        if self.opts.pipefail
            && let Some(c) = codes.iter().rev().find(|c| **c != 0)
        {
            return *c;
        }
        codes.last().copied().unwrap_or(0)
    }

    fn run_command<'a>(&'a mut self, cmd: &'a Command) -> BoxFuture<'a, R> {
        Box::pin(async move {
            match cmd {
                Command::Simple(sc) => self.run_simple(sc).await,
                Command::Compound(cc, redirs) => {
                    let saved = self.io.clone();
                    if let Some(rl) = redirs {
                        let list: Vec<&IoRedirect> = rl.0.iter().collect();
                        match self.redirect_io(&list).await {
                            Ok(io) => self.io = io,
                            Err(e) => {
                                self.io.stderr.print(&format!("{}: {e}\n", self.arg0));
                                return Ok(REDIRECT_FAILED);
                            }
                        }
                    }
                    let r = self.run_compound(cc).await;
                    self.io = saved;
                    r
                }
                Command::Function(fd) => {
                    self.funcs
                        .insert(fd.fname.value.clone(), Arc::new(fd.clone()));
                    Ok(0)
                }
                Command::ExtendedTest(e, _) => {
                    let ok = self.eval_extended_test(&e.expr).await?;
                    Ok(i32::from(!ok))
                }
            }
        })
    }

    fn run_simple<'a>(&'a mut self, sc: &'a SimpleCommand) -> BoxFuture<'a, R> {
        Box::pin(async move {
            let mut assigns = Vec::new();
            let mut words: Vec<&ast::Word> = Vec::new();
            let mut redirs: Vec<&IoRedirect> = Vec::new();
            for item in sc.prefix.iter().flat_map(|p| p.0.iter()) {
                match item {
                    CommandPrefixOrSuffixItem::AssignmentWord(a, _) => assigns.push(a),
                    CommandPrefixOrSuffixItem::IoRedirect(r) => redirs.push(r),
                    CommandPrefixOrSuffixItem::Word(w) => words.push(w),
                    CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                        return self.unsupported("process substitution");
                    }
                }
            }
            if let Some(w) = &sc.word_or_name {
                words.push(w);
            }
            for item in sc.suffix.iter().flat_map(|p| p.0.iter()) {
                match item {
                    CommandPrefixOrSuffixItem::AssignmentWord(_, w)
                    | CommandPrefixOrSuffixItem::Word(w) => words.push(w),
                    CommandPrefixOrSuffixItem::IoRedirect(r) => redirs.push(r),
                    CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                        return self.unsupported("process substitution");
                    }
                }
            }
            self.subst_status = None;
            let owned: Vec<ast::Word> = words.into_iter().cloned().collect();
            let argv = self.expand_words(&owned).await?;
            let mut env_over = Vec::new();
            for a in assigns {
                let name = match &a.name {
                    ast::AssignmentName::VariableName(n) => n.clone(),
                    ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
                };
                let value = match &a.value {
                    ast::AssignmentValue::Scalar(w) => self.expand_string(&w.value).await?,
                    ast::AssignmentValue::Array(items) => {
                        let mut vs = Vec::new();
                        for (_, w) in items {
                            vs.push(self.expand_string(&w.value).await?);
                        }
                        vs.join(" ")
                    }
                };
                let value = if a.append {
                    format!(
                        "{}{value}",
                        self.vars.get(&name).cloned().unwrap_or_default()
                    )
                } else {
                    value
                };
                env_over.push((name, value));
            }
            let subst_status = self.subst_status.unwrap_or(0);
            let io = match self.redirect_io(&redirs).await {
                Ok(io) => io,
                Err(e) => {
                    self.io.stderr.print(&format!("{}: {e}\n", self.arg0));
                    return Ok(REDIRECT_FAILED);
                }
            };
            if argv.is_empty() {
                for (k, v) in env_over {
                    self.set_var(&k, v);
                }
                return Ok(subst_status);
            }
            if self.opts.xtrace {
                let mut line = String::from("+");
                for (k, v) in &env_over {
                    line.push_str(&format!(" {k}={v}"));
                }
                for a in &argv {
                    line.push(' ');
                    line.push_str(a);
                }
                line.push('\n');
                self.io.stderr.print(&line);
            }
            self.dispatch(argv, env_over, io, false).await
        })
    }

    fn unsupported(&self, what: &str) -> R {
        self.io
            .stderr
            .print(&format!("{}: {what}: not supported\n", self.arg0));
        Ok(2)
    }

    /// Runs a command: shell builtin, function, builtin utility, or a program from `$PATH`.
    /// With `replace` (from `exec`) the command keeps this shell's PID.
    pub(crate) fn dispatch<'a>(
        &'a mut self,
        argv: Vec<String>,
        env_over: Vec<(String, String)>,
        io: Stdio,
        replace: bool,
    ) -> BoxFuture<'a, R> {
        Box::pin(async move {
            let name = argv[0].clone();
            if builtins::BUILTINS.contains(&name.as_str()) {
                // POSIX: assignments before a special builtin (`x=1 eval ...`) stay in the shell;
                // before a regular one (`IFS= read -r line`) they hold for that command only.
                let saved = if builtins::SPECIAL.contains(&name.as_str()) {
                    for (k, v) in &env_over {
                        self.set_var(k, v.clone());
                    }
                    Vec::new()
                } else {
                    self.set_temporarily(&env_over)
                };
                let r = self.builtin(&argv, &env_over, &io).await;
                self.restore(saved);
                if let Some(r) = r {
                    return r;
                }
            }
            if let Some(f) = self.funcs.get(&name).cloned() {
                // As in dash: assignments before a function call hold for the call only.
                let saved = self.set_temporarily(&env_over);
                let r = self.call_function(&f, argv[1..].to_vec(), io).await;
                self.restore(saved);
                return r;
            }
            let mut env = self.child_env();
            for (k, v) in env_over {
                env.insert(k, v);
            }
            let pid = if replace {
                self.pid.clone()
            } else {
                Arc::new(self.sys.ctx.register(argv.join(" "), self.sys.host.now()))
            };
            let proc = Proc {
                argv,
                env,
                cwd: self.cwd.clone(),
                io,
                sys: self.sys.clone(),
                pid,
                jobs: self.jobs.clone(),
            };
            // Utilities a shell has built in run without a $PATH lookup.
            let direct = matches!(
                name.as_str(),
                "echo" | "printf" | "test" | "[" | "true" | "false" | "kill"
            );
            let fut: BoxFuture<'static, i32> = if direct {
                match programs::lookup(&name) {
                    Some(f) => f(proc),
                    None => Box::pin(async { 127 }),
                }
            } else {
                match resolve(&proc.sys.fs, &proc.env, &proc.cwd, &proc.argv) {
                    Ok(_) => Box::pin(run_external(proc)),
                    Err(ExecError::NotFound(n)) => {
                        proc.io
                            .stderr
                            .print(&format!("{}: {n}: not found\n", self.arg0));
                        return Ok(127);
                    }
                    Err(ExecError::PermissionDenied(n)) => {
                        proc.io
                            .stderr
                            .print(&format!("{}: {n}: Permission denied\n", self.arg0));
                        return Ok(126);
                    }
                }
            };
            let wait = self.signal_wait();
            tokio::select! {
                biased;
                code = fut => Ok(code),
                s = wait => {
                    // The command is gone with the signal; a trap runs in its place.
                    self.sigs.mark_seen();
                    match self.traps.get(signal_name(s)).cloned() {
                        Some(action) => {
                            Box::pin(self.eval(&action)).await?;
                            Ok(128 + s)
                        }
                        None => Err(Ctl::Exit(128 + s)),
                    }
                }
            }
        })
    }

    async fn call_function(
        &mut self,
        f: &ast::FunctionDefinition,
        args: Vec<String>,
        io: Stdio,
    ) -> R {
        let saved_pos = std::mem::replace(&mut self.positional, args);
        let saved_io = std::mem::replace(&mut self.io, io);
        self.locals.push(BTreeMap::new());
        let mut r = Ok(0);
        if let Some(rl) = &f.body.1 {
            let list: Vec<&IoRedirect> = rl.0.iter().collect();
            match self.redirect_io(&list).await {
                Ok(io) => self.io = io,
                Err(e) => {
                    self.io.stderr.print(&format!("{}: {e}\n", self.arg0));
                    r = Err(Ctl::Return(REDIRECT_FAILED));
                }
            }
        }
        if r.is_ok() {
            r = self.run_compound(&f.body.0).await;
        }
        if let Some(frame) = self.locals.pop() {
            for (k, old) in frame {
                match old {
                    Some(v) => {
                        self.vars.insert(k, v);
                    }
                    None => {
                        self.vars.remove(&k);
                    }
                }
            }
        }
        self.io = saved_io;
        self.positional = saved_pos;
        match r {
            Err(Ctl::Return(c)) => {
                self.last = c;
                Ok(c)
            }
            other => other,
        }
    }

    /// The environment passed to child processes (exported variables).
    fn child_env(&self) -> BTreeMap<String, String> {
        self.exported
            .iter()
            .filter_map(|k| self.vars.get(k).map(|v| (k.clone(), v.clone())))
            .collect()
    }

    /// Sets the prefix assignments of one command; returns what to [`Shell::restore`] after it.
    fn set_temporarily(&mut self, assigns: &[(String, String)]) -> Vec<TempVar> {
        let mut saved = Vec::with_capacity(assigns.len());
        for (k, v) in assigns {
            saved.push(TempVar {
                name: k.clone(),
                old: self.vars.get(k).cloned(),
                temp: v.clone(),
            });
            self.set_var(k, v.clone());
        }
        saved
    }

    /// Undoes [`Shell::set_temporarily`], except for variables the command itself assigned.
    fn restore(&mut self, saved: Vec<TempVar>) {
        for t in saved.into_iter().rev() {
            if self.vars.get(&t.name) != Some(&t.temp) {
                continue;
            }
            match t.old {
                Some(v) => self.set_var(&t.name, v),
                None => {
                    self.vars.remove(&t.name);
                }
            }
        }
    }

    pub(crate) fn set_var(&mut self, name: &str, value: String) {
        if name == "PWD" {
            self.cwd = value.clone();
        }
        self.vars.insert(name.to_string(), value);
    }
}
