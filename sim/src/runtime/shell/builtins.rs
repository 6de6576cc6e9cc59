//! Shell builtins that change the shell itself: cd pwd export unset set shift exit return
//! break continue local read eval . source exec wait trap command type, and no-ops.

use futures::future::BoxFuture;

use super::{Ctl, R, Shell, resolve};
use crate::runtime::fs::absolute;
use crate::runtime::io::Stdio;

/// Names handled by [`Shell::builtin`].
pub const BUILTINS: &[&str] = &[
    ":", ".", "cd", "pwd", "export", "readonly", "unset", "set", "shift", "exit", "return",
    "break", "continue", "local", "read", "eval", "source", "exec", "wait", "trap", "command",
    "type", "which", "umask", "ulimit", "hash", "alias", "shopt",
];

/// The POSIX special builtins among [`BUILTINS`]: assignments before them persist.
pub const SPECIAL: &[&str] = &[
    ":", ".", "break", "continue", "eval", "exec", "exit", "export", "readonly", "return", "set",
    "shift", "trap", "unset",
];

fn num_arg(argv: &[String], default: i32) -> i32 {
    argv.get(1).and_then(|a| a.parse().ok()).unwrap_or(default)
}

impl Shell {
    /// Runs `argv` if it names a shell builtin.
    pub(crate) fn builtin<'a>(
        &'a mut self,
        argv: &'a [String],
        env_over: &'a [(String, String)],
        io: &'a Stdio,
    ) -> BoxFuture<'a, Option<R>> {
        Box::pin(async move {
            let name = argv[0].as_str();
            if !BUILTINS.contains(&name) {
                return None;
            }
            let err = |msg: String| {
                io.stderr.print(&format!("{}: {name}: {msg}\n", self.arg0));
            };
            Some(match name {
                ":" | "umask" | "ulimit" | "hash" | "alias" | "shopt" => Ok(0),
                "cd" => {
                    let target = match argv.get(1).map(String::as_str) {
                        None => self.vars.get("HOME").cloned().unwrap_or_else(|| "/".into()),
                        Some("-") => {
                            let o = self.vars.get("OLDPWD").cloned().unwrap_or_default();
                            io.stdout.print(&format!("{o}\n"));
                            o
                        }
                        Some(d) => d.to_string(),
                    };
                    let abs = absolute(&self.cwd, &target);
                    if self.sys.fs.is_dir(&abs) {
                        let old = std::mem::replace(&mut self.cwd, abs.clone());
                        self.vars.insert("OLDPWD".into(), old);
                        self.vars.insert("PWD".into(), abs);
                        Ok(0)
                    } else {
                        err(format!("can't cd to {target}: No such file or directory"));
                        Ok(2)
                    }
                }
                "pwd" => {
                    io.stdout.print(&format!("{}\n", self.cwd));
                    Ok(0)
                }
                "export" | "readonly" => {
                    let args: Vec<&String> =
                        argv[1..].iter().filter(|a| !a.starts_with('-')).collect();
                    if args.is_empty() {
                        let mut s = String::new();
                        for k in &self.exported {
                            if let Some(v) = self.vars.get(k) {
                                s.push_str(&format!("export {k}='{}'\n", v.replace('\'', "'\\''")));
                            }
                        }
                        io.stdout.print(&s);
                    }
                    for a in args {
                        let (k, v) = match a.split_once('=') {
                            Some((k, v)) => (k.to_string(), Some(v.to_string())),
                            None => (a.clone(), None),
                        };
                        if let Some(v) = v {
                            self.set_var(&k, v);
                        }
                        if name == "export" {
                            self.exported.insert(k);
                        }
                    }
                    Ok(0)
                }
                "unset" => {
                    let funcs = argv.get(1).is_some_and(|a| a == "-f");
                    for a in argv[1..].iter().filter(|a| !a.starts_with('-')) {
                        if funcs {
                            self.funcs.remove(a);
                        } else {
                            self.vars.remove(a);
                            self.exported.remove(a);
                        }
                    }
                    Ok(0)
                }
                "set" => self.set_builtin(argv, io),
                "shift" => {
                    let n = num_arg(argv, 1).max(0) as usize;
                    if n > self.positional.len() {
                        err("can't shift that many".into());
                        Ok(1)
                    } else {
                        self.positional.drain(..n);
                        Ok(0)
                    }
                }
                "exit" => Err(Ctl::Exit(num_arg(argv, self.last) & 0xff)),
                "return" => Err(Ctl::Return(num_arg(argv, self.last))),
                "break" => Err(Ctl::Break(num_arg(argv, 1).max(1) as u32)),
                "continue" => Err(Ctl::Continue(num_arg(argv, 1).max(1) as u32)),
                "local" => {
                    for a in &argv[1..] {
                        let (k, v) = match a.split_once('=') {
                            Some((k, v)) => (k.to_string(), v.to_string()),
                            None => (a.clone(), String::new()),
                        };
                        let old = self.vars.get(&k).cloned();
                        if let Some(frame) = self.locals.last_mut() {
                            frame.entry(k.clone()).or_insert(old);
                        }
                        self.set_var(&k, v);
                    }
                    Ok(0)
                }
                "read" => {
                    let mut raw = false;
                    let mut names = Vec::new();
                    let mut i = 1;
                    while i < argv.len() {
                        match argv[i].as_str() {
                            "-r" => raw = true,
                            "-p" => {
                                i += 1;
                                if let Some(p) = argv.get(i) {
                                    io.stderr.print(p);
                                }
                            }
                            a => names.push(a.to_string()),
                        }
                        i += 1;
                    }
                    if names.is_empty() {
                        names.push("REPLY".into());
                    }
                    let line = io.stdin.read_line().await;
                    let status = i32::from(line.is_none());
                    let mut line = line.unwrap_or_default();
                    if !raw {
                        line = line.replace('\\', "");
                    }
                    let ifs = self
                        .vars
                        .get("IFS")
                        .cloned()
                        .unwrap_or_else(|| " \t\n".into());
                    let mut rest = line.trim_matches(|c| ifs.contains(c)).to_string();
                    let n = names.len();
                    for (k, var) in names.iter().enumerate() {
                        if k + 1 == n {
                            self.set_var(var, rest.clone());
                            break;
                        }
                        let (head, tail) = match rest.find(|c| ifs.contains(c)) {
                            Some(pos) => (rest[..pos].to_string(), rest[pos..].to_string()),
                            None => (rest.clone(), String::new()),
                        };
                        self.set_var(var, head);
                        rest = tail.trim_start_matches(|c| ifs.contains(c)).to_string();
                    }
                    Ok(status)
                }
                "eval" => {
                    let text = argv[1..].join(" ");
                    let saved = std::mem::replace(&mut self.io, io.clone());
                    let r = Box::pin(self.eval(&text)).await;
                    self.io = saved;
                    r
                }
                "." | "source" => {
                    let Some(file) = argv.get(1) else {
                        err("filename argument required".into());
                        return Some(Ok(2));
                    };
                    match self.sys.fs.read(&absolute(&self.cwd, file)) {
                        Ok(d) => {
                            let text = String::from_utf8_lossy(&d).into_owned();
                            Box::pin(self.eval(&text)).await
                        }
                        Err(_) => {
                            err(format!("can't open '{file}'"));
                            Ok(2)
                        }
                    }
                }
                "exec" => {
                    if argv.len() == 1 {
                        self.io = io.clone();
                        return Some(Ok(0));
                    }
                    let r = self
                        .dispatch(argv[1..].to_vec(), env_over.to_vec(), io.clone(), true)
                        .await;
                    match r {
                        Ok(c) => Err(Ctl::Exit(c)),
                        other => other,
                    }
                }
                "wait" => {
                    let wanted: Vec<u32> =
                        argv[1..].iter().filter_map(|a| a.parse().ok()).collect();
                    let mut last = 0;
                    let jobs = std::mem::take(&mut self.bg);
                    let mut jobs = jobs.into_iter();
                    while let Some((pid, rx)) = jobs.next() {
                        if !(wanted.is_empty() || wanted.contains(&pid)) {
                            self.bg.push((pid, rx));
                            continue;
                        }
                        let wait = self.signal_wait();
                        tokio::select! {
                            biased;
                            code = rx => last = code.unwrap_or(127),
                            s = wait => {
                                // A trapped signal interrupts `wait` (status 128 + signal).
                                self.bg.extend(jobs);
                                self.sigs.mark_seen();
                                return Some(match self.traps.get(super::signal_name(s)).cloned() {
                                    Some(action) => Box::pin(self.eval(&action)).await.map(|_| 128 + s),
                                    None => Err(Ctl::Exit(128 + s)),
                                });
                            }
                        }
                    }
                    Ok(last)
                }
                "trap" => {
                    if let Some((action, sigs)) = argv[1..].split_first() {
                        for s in sigs {
                            let key = s.trim_start_matches("SIG").to_string();
                            let key = match key.parse::<i32>() {
                                Ok(0) => "EXIT".to_string(),
                                Ok(n) => super::signal_name(n).to_string(),
                                Err(_) => key,
                            };
                            if action == "-" {
                                self.traps.remove(&key);
                            } else {
                                self.traps.insert(key, action.clone());
                            }
                        }
                    }
                    Ok(0)
                }
                "command" | "type" | "which" => {
                    let verbose = name == "type";
                    let lookup =
                        name == "which" || argv.get(1).is_some_and(|a| a == "-v" || a == "-V");
                    if !lookup && !verbose {
                        // `command NAME ARGS`: run without function lookup.
                        if argv.len() < 2 {
                            return Some(Ok(0));
                        }
                        let saved = std::mem::take(&mut self.funcs);
                        let r = self
                            .dispatch(argv[1..].to_vec(), env_over.to_vec(), io.clone(), false)
                            .await;
                        self.funcs = saved;
                        return Some(r);
                    }
                    let mut code = 0;
                    for n in argv[1..].iter().filter(|a| !a.starts_with('-')) {
                        let found = if BUILTINS.contains(&n.as_str()) || self.funcs.contains_key(n)
                        {
                            Some(n.clone())
                        } else {
                            let env = self.child_env();
                            let path_var = env
                                .get("PATH")
                                .cloned()
                                .unwrap_or_else(|| super::DEFAULT_PATH.into());
                            if n.contains('/') {
                                resolve(&self.sys.fs, &env, &self.cwd, std::slice::from_ref(n))
                                    .ok()
                                    .map(|_| n.clone())
                            } else {
                                path_var.split(':').map(|d| format!("{d}/{n}")).find(|p| {
                                    resolve(&self.sys.fs, &env, &self.cwd, std::slice::from_ref(p))
                                        .is_ok()
                                })
                            }
                        };
                        match found {
                            Some(f) if verbose && f.contains('/') => {
                                io.stdout.print(&format!("{n} is {f}\n"))
                            }
                            Some(_) if verbose => {
                                io.stdout.print(&format!("{n} is a shell builtin\n"))
                            }
                            Some(f) => io.stdout.print(&format!("{f}\n")),
                            None => {
                                if verbose {
                                    io.stderr.print(&format!("{}: {n}: not found\n", self.arg0));
                                }
                                code = 1;
                            }
                        }
                    }
                    Ok(code)
                }
                _ => Ok(0),
            })
        })
    }

    fn set_builtin(&mut self, argv: &[String], io: &Stdio) -> R {
        if argv.len() == 1 {
            let mut s = String::new();
            for (k, v) in &self.vars {
                s.push_str(&format!("{k}='{}'\n", v.replace('\'', "'\\''")));
            }
            io.stdout.print(&s);
            return Ok(0);
        }
        let mut i = 1;
        while i < argv.len() {
            let a = &argv[i];
            if a == "--" {
                self.positional = argv[i + 1..].to_vec();
                return Ok(0);
            }
            let on = a.starts_with('-');
            if !(on || a.starts_with('+')) {
                self.positional = argv[i..].to_vec();
                return Ok(0);
            }
            for c in a[1..].chars() {
                match c {
                    'e' => self.opts.errexit = on,
                    'x' => self.opts.xtrace = on,
                    'u' => self.opts.nounset = on,
                    'o' => {
                        i += 1;
                        match argv.get(i).map(String::as_str) {
                            Some("pipefail") => self.opts.pipefail = on,
                            Some("errexit") => self.opts.errexit = on,
                            Some("nounset") => self.opts.nounset = on,
                            Some("xtrace") => self.opts.xtrace = on,
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        Ok(0)
    }
}
