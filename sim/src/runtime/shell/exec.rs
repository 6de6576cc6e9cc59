//! Finding and starting commands: `$PATH` lookup on the container filesystem, program marker
//! files, `#!` interpreters, and the errors a shell or the OCI runtime reports.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

use crate::runtime::fs::{FsError, Node, Vfs, absolute};
use crate::runtime::process::Proc;
use crate::runtime::programs::{self, ProgramFn};

use super::DEFAULT_PATH;

/// How a resolved command runs.
pub enum Resolved {
    /// A builtin program.
    Program(ProgramFn),
    /// A script run by an interpreter: the full argv to run instead.
    Interpreted(Vec<String>),
}

/// Why a command could not be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// No such file in `$PATH` (or at the given path).
    #[error("{0}: not found")]
    NotFound(String),
    /// The file exists but is not executable, or is not a program this simulator knows.
    #[error("{0}: Permission denied")]
    PermissionDenied(String),
}

/// Finds `name` (in `$PATH` unless it contains `/`) and decides how it runs.
pub fn resolve(
    fs: &Vfs,
    env: &BTreeMap<String, String>,
    cwd: &str,
    argv: &[String],
) -> Result<Resolved, ExecError> {
    let Some(name) = argv.first() else {
        return Err(ExecError::NotFound(String::new()));
    };
    let path = if name.contains('/') {
        absolute(cwd, name)
    } else {
        let path_var = env.get("PATH").map(String::as_str).unwrap_or(DEFAULT_PATH);
        let found = path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| absolute(cwd, &format!("{d}/{name}")))
            .find(|p| matches!(fs.node(p).as_deref(), Ok(Node::File(_))));
        match found {
            Some(p) => p,
            None => return Err(ExecError::NotFound(name.clone())),
        }
    };
    let node = fs.node(&path).map_err(|e| match e {
        FsError::NotFound(_) | FsError::NotADir(_) => ExecError::NotFound(name.clone()),
        _ => ExecError::PermissionDenied(name.clone()),
    })?;
    let Node::File(f) = &*node else {
        return Err(ExecError::PermissionDenied(name.clone()));
    };
    if f.mode & 0o111 == 0 {
        return Err(ExecError::PermissionDenied(name.clone()));
    }
    if let Some(prog) = programs::program_of(&f.data) {
        // A busybox-style multi-call binary runs the applet named by argv[0].
        let applet = if prog == "busybox" {
            name.rsplit('/').next().unwrap_or(name)
        } else {
            prog
        };
        return programs::lookup(applet)
            .map(Resolved::Program)
            .ok_or_else(|| ExecError::PermissionDenied(name.clone()));
    }
    let mut interp = vec!["/bin/sh".to_string()];
    if let Some(rest) = f.data.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut parts = line.split_whitespace();
        if let Some(i) = parts.next() {
            interp = vec![i.to_string()];
            if let Some(arg) = parts.next() {
                interp.push(arg.to_string());
            }
        }
    }
    interp.push(path);
    interp.extend(argv[1..].iter().cloned());
    Ok(Resolved::Interpreted(interp))
}

/// Runs `p.argv` as a command found on the filesystem (no shell builtins or functions).
/// Prints `NAME: not found` and returns 127, or 126 when it cannot be executed.
pub async fn run_external(p: Proc) -> i32 {
    run_resolved(p, 0).await
}

fn run_resolved(mut p: Proc, depth: u32) -> BoxFuture<'static, i32> {
    Box::pin(async move {
        match resolve(&p.sys.fs, &p.env, &p.cwd, &p.argv) {
            Ok(Resolved::Program(f)) => f(p).await,
            Ok(Resolved::Interpreted(argv)) if depth < 4 => {
                p.argv = argv;
                run_resolved(p, depth + 1).await
            }
            Ok(Resolved::Interpreted(_)) => {
                p.err("too many levels of interpreters");
                126
            }
            Err(e @ ExecError::NotFound(_)) => {
                p.io.stderr.print(&format!("{e}\n"));
                127
            }
            Err(e) => {
                p.io.stderr.print(&format!("{e}\n"));
                126
            }
        }
    })
}
