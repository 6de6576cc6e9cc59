//! File utilities: cat ls mkdir rmdir rm cp mv ln touch chmod basename dirname find.

use jiff::Timestamp;

use super::args;
use crate::runtime::fs::{FsError, Kind, Node, Vfs};
use crate::runtime::process::Proc;

/// Reads an operand: `-` is stdin, anything else a file.
pub(crate) async fn read_operand(p: &Proc, name: &str) -> Result<Vec<u8>, FsError> {
    if name == "-" {
        Ok(p.io.stdin.read_all().await)
    } else if name == "/dev/null" {
        Ok(Vec::new())
    } else {
        p.sys.fs.read(&p.abs(name)).map(|b| b.to_vec())
    }
}

/// `cat [FILE...]`.
pub async fn cat(p: Proc) -> i32 {
    let mut files: Vec<String> = p.argv[1..]
        .iter()
        .filter(|a| !(a.starts_with('-') && a.len() > 1))
        .cloned()
        .collect();
    if files.is_empty() {
        files.push("-".into());
    }
    let mut code = 0;
    for f in files {
        if f == "-" {
            while let Some(chunk) = p.io.stdin.read_chunk().await {
                p.io.stdout.write(&chunk);
            }
            continue;
        }
        match read_operand(&p, &f).await {
            Ok(d) => p.io.stdout.write(&d),
            Err(e) => {
                p.err(with_name(e, &f));
                code = 1;
            }
        }
    }
    code
}

/// Rewrites the path shown in an error to the operand the user typed.
pub(crate) fn with_name(e: FsError, name: &str) -> FsError {
    let n = name.to_string();
    match e {
        FsError::NotFound(_) => FsError::NotFound(n),
        FsError::NotADir(_) => FsError::NotADir(n),
        FsError::IsADir(_) => FsError::IsADir(n),
        FsError::Exists(_) => FsError::Exists(n),
        FsError::ReadOnly(_) => FsError::ReadOnly(n),
        FsError::NotEmpty(_) => FsError::NotEmpty(n),
        FsError::Loop(_) => FsError::Loop(n),
        FsError::Busy(_) => FsError::Busy(n),
    }
}

/// `rwxr-xr-x`-style rendering of a mode with its type letter.
pub fn mode_string(kind: Kind, mode: u32) -> String {
    let mut s = String::from(match kind {
        Kind::Dir => 'd',
        Kind::Symlink => 'l',
        Kind::File => '-',
    });
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// `ls [-l] [-a] [-A] [-1] [-d] [PATH...]` (one name per line, as when not on a terminal).
pub async fn ls(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 2;
        }
    };
    let long = o.has('l');
    let all = o.has('a');
    let mut paths = o.operands.clone();
    if paths.is_empty() {
        paths.push(".".into());
    }
    let multi = paths.len() > 1;
    let mut code = 0;
    let line = |name: &str, path: &str| -> String {
        if !long {
            return format!("{name}\n");
        }
        let node = p.sys.fs.lnode(path);
        match node {
            Ok(n) => {
                let date = n.mtime().strftime("%b %e %H:%M");
                let link = match &*n {
                    Node::Symlink(s) => format!(" -> {}", s.target),
                    _ => String::new(),
                };
                format!(
                    "{} 1 root root {:>8} {date} {name}{link}\n",
                    mode_string(n.kind(), n.mode()),
                    n.size()
                )
            }
            Err(_) => format!("{name}\n"),
        }
    };
    let mut first = true;
    for path in &paths {
        let abs = p.abs(path);
        match p.sys.fs.lstat(&abs) {
            Err(e) => {
                p.io.stderr.print(&format!(
                    "ls: cannot access '{path}': {}\n",
                    e.to_string().rsplit(": ").next().unwrap_or("error")
                ));
                code = 2;
            }
            Ok(m)
                if m.kind != Kind::Dir
                    && !(m.kind == Kind::Symlink && p.sys.fs.is_dir(&abs) && !long)
                    || o.has('d') =>
            {
                p.io.stdout.print(&line(path, &abs));
            }
            Ok(_) => match p.sys.fs.read_dir(&abs) {
                Ok(entries) => {
                    if multi {
                        if !first {
                            p.io.stdout.print("\n");
                        }
                        p.io.stdout.print(&format!("{path}:\n"));
                    }
                    first = false;
                    if all {
                        p.io.stdout.print(&line(".", &abs));
                        p.io.stdout.print(&line("..", &abs));
                    }
                    for (name, _) in entries {
                        if name.starts_with('.') && !all && !o.has('A') {
                            continue;
                        }
                        p.io.stdout.print(&line(&name, &format!("{abs}/{name}")));
                    }
                }
                Err(e) => {
                    p.err(with_name(e, path));
                    code = 2;
                }
            },
        }
    }
    code
}

/// `mkdir [-p] [-m MODE] DIR...`.
pub async fn mkdir(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "m", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let mode = o
        .value('m')
        .and_then(|m| u32::from_str_radix(m, 8).ok())
        .unwrap_or(0o755);
    let mut code = 0;
    for d in &o.operands {
        if let Err(e) = p.sys.fs.mkdir(&p.abs(d), o.has('p'), mode, p.now()) {
            p.io.stderr.print(&format!(
                "mkdir: cannot create directory '{d}': {}\n",
                e.to_string().rsplit(": ").next().unwrap_or("error")
            ));
            code = 1;
        }
    }
    code
}

/// `rmdir DIR...`.
pub async fn rmdir(p: Proc) -> i32 {
    let mut code = 0;
    for d in &p.argv[1..] {
        let abs = p.abs(d);
        let res = if p.sys.fs.is_dir(&abs) {
            p.sys.fs.remove(&abs, false, p.now())
        } else {
            Err(FsError::NotADir(d.clone()))
        };
        if let Err(e) = res {
            p.err(with_name(e, d));
            code = 1;
        }
    }
    code
}

/// `rm [-r] [-f] PATH...`.
pub async fn rm(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let recursive = o.has('r') || o.has('R');
    let force = o.has('f');
    let mut code = 0;
    for path in &o.operands {
        let abs = p.abs(path);
        match p.sys.fs.lstat(&abs) {
            Err(_) if force => {}
            Err(_) => {
                p.io.stderr.print(&format!(
                    "rm: cannot remove '{path}': No such file or directory\n"
                ));
                code = 1;
            }
            Ok(m) if m.kind == Kind::Dir && !recursive => {
                p.io.stderr
                    .print(&format!("rm: cannot remove '{path}': Is a directory\n"));
                code = 1;
            }
            Ok(_) => {
                if let Err(e) = remove_tree(&p.sys.fs, &abs, p.now()) {
                    p.io.stderr.print(&format!(
                        "rm: cannot remove '{path}': {}\n",
                        e.to_string().rsplit(": ").next().unwrap_or("error")
                    ));
                    code = 1;
                }
            }
        }
    }
    code
}

/// Removes `path` recursively; a mount point inside is emptied instead of removed.
fn remove_tree(fs: &Vfs, path: &str, now: Timestamp) -> Result<(), FsError> {
    match fs.remove(path, true, now) {
        Err(FsError::Busy(_)) => {
            for (name, _) in fs.read_dir(path)? {
                remove_tree(fs, &format!("{path}/{name}"), now)?;
            }
            Err(FsError::Busy(path.to_string()))
        }
        r => r,
    }
}

/// Copies `node` to `target`, merging into an existing directory; `preserve` keeps times.
pub(crate) fn copy_node(
    fs: &Vfs,
    node: &Node,
    target: &str,
    preserve: bool,
    now: Timestamp,
) -> Result<(), FsError> {
    match node {
        Node::Dir(d) => {
            match fs.node(target) {
                Ok(n) if matches!(*n, Node::Dir(_)) => {}
                Ok(_) => return Err(FsError::Exists(target.to_string())),
                Err(_) => fs.put(target, Node::empty_dir(d.mode, now), false)?,
            }
            for (name, child) in &d.entries {
                copy_node(fs, child, &format!("{target}/{name}"), preserve, now)?;
            }
            if preserve {
                let (mode, mtime) = (d.mode, d.mtime);
                fs.modify(target, |n| {
                    n.set_mode(mode);
                    n.set_mtime(mtime);
                })?;
            }
            Ok(())
        }
        Node::File(f) => {
            let mut n = node.clone();
            if !preserve {
                n.set_mtime(now);
            }
            if let Ok(existing) = fs.lnode(target)
                && matches!(*existing, Node::Dir(_))
            {
                return Err(FsError::IsADir(target.to_string()));
            }
            let _ = f;
            fs.put(target, n, true)
        }
        Node::Symlink(_) => {
            let _ = fs.remove(target, false, now);
            fs.put(target, node.clone(), true)
        }
    }
}

fn basename(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string()
}

/// `cp [-r|-R|-a|-p] SRC... DEST`.
pub async fn cp(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let recursive = o.has('r') || o.has('R') || o.has('a');
    let preserve = o.has('a') || o.has('p');
    let Some((dest, srcs)) = o.operands.split_last() else {
        p.err("missing file operand");
        return 1;
    };
    if srcs.is_empty() {
        p.err(format!("missing destination file operand after '{dest}'"));
        return 1;
    }
    let dest_abs = p.abs(dest);
    let dest_is_dir = p.sys.fs.is_dir(&dest_abs);
    if srcs.len() > 1 && !dest_is_dir {
        p.err(format!("target '{dest}' is not a directory"));
        return 1;
    }
    let mut code = 0;
    for src in srcs {
        let src_abs = p.abs(src);
        let follow = !o.has('a') && !o.has('P');
        let node = match p.sys.fs.subtree(&src_abs, follow || !recursive) {
            Ok(n) => n,
            Err(e) => {
                p.err(format!(
                    "cannot stat '{src}': {}",
                    e.to_string().rsplit(": ").next().unwrap_or("error")
                ));
                code = 1;
                continue;
            }
        };
        if matches!(node, Node::Dir(_)) && !recursive {
            p.err(format!("-r not specified; omitting directory '{src}'"));
            code = 1;
            continue;
        }
        let target = if dest_is_dir {
            let b = if src.ends_with("/.") || src == "." {
                String::new()
            } else {
                basename(src)
            };
            if b.is_empty() {
                dest_abs.clone()
            } else {
                format!("{dest_abs}/{b}")
            }
        } else {
            dest_abs.clone()
        };
        if let Err(e) = copy_node(&p.sys.fs, &node, &target, preserve, p.now()) {
            p.err(e);
            code = 1;
        }
    }
    code
}

/// `mv SRC... DEST`.
pub async fn mv(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let Some((dest, srcs)) = o.operands.split_last() else {
        p.err("missing file operand");
        return 1;
    };
    let dest_abs = p.abs(dest);
    let dest_is_dir = p.sys.fs.is_dir(&dest_abs);
    let mut code = 0;
    for src in srcs {
        let target = if dest_is_dir {
            format!("{dest_abs}/{}", basename(src))
        } else {
            dest_abs.clone()
        };
        if let Err(e) = p.sys.fs.rename(&p.abs(src), &target, p.now()) {
            p.err(format!(
                "cannot move '{src}': {}",
                e.to_string().rsplit(": ").next().unwrap_or("error")
            ));
            code = 1;
        }
    }
    code
}

/// `ln [-s] [-f] TARGET LINK` (hard links are copies).
pub async fn ln(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let [target, link] = o.operands.as_slice() else {
        p.err("usage: ln [-sf] TARGET LINK");
        return 1;
    };
    let mut link_abs = p.abs(link);
    if p.sys.fs.is_dir(&link_abs) && !o.has('n') {
        link_abs = format!("{link_abs}/{}", basename(target));
    }
    if o.has('f') {
        let _ = p.sys.fs.remove(&link_abs, false, p.now());
    }
    let res = if o.has('s') {
        p.sys.fs.symlink(target, &link_abs, p.now())
    } else {
        p.sys
            .fs
            .node(&p.abs(target))
            .and_then(|n| p.sys.fs.put(&link_abs, (*n).clone(), false))
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            p.err(format!(
                "failed to create link '{link}': {}",
                e.to_string().rsplit(": ").next().unwrap_or("error")
            ));
            1
        }
    }
}

/// `touch FILE...`.
pub async fn touch(p: Proc) -> i32 {
    let mut code = 0;
    let now = p.now();
    for f in p.argv[1..].iter().filter(|a| !a.starts_with('-')) {
        let abs = p.abs(f);
        let res = if p.sys.fs.exists(&abs) {
            p.sys.fs.modify(&abs, |n| n.set_mtime(now))
        } else {
            p.sys.fs.write(&abs, b"", false, 0o644, now)
        };
        if let Err(e) = res {
            p.err(format!(
                "cannot touch '{f}': {}",
                e.to_string().rsplit(": ").next().unwrap_or("error")
            ));
            code = 1;
        }
    }
    code
}

/// `chmod [-R] MODE FILE...` (octal modes and `+x`/`-w`/`u+x`-style symbolic modes).
pub async fn chmod(p: Proc) -> i32 {
    let recursive = p.argv.get(1).is_some_and(|a| a == "-R");
    let rest = &p.argv[if recursive { 2 } else { 1 }..];
    let Some((mode, files)) = rest.split_first() else {
        p.err("missing operand");
        return 1;
    };
    let mut code = 0;
    for f in files {
        let abs = p.abs(f);
        let mut paths = vec![abs.clone()];
        if recursive && let Ok(n) = p.sys.fs.subtree(&abs, true) {
            paths = walk_paths(&abs, &n);
        }
        for path in paths {
            let res = p.sys.fs.modify(&path, |n| {
                let cur = n.mode();
                n.set_mode(apply_mode(cur, mode));
            });
            if let Err(e) = res {
                p.err(with_name(e, f));
                code = 1;
            }
        }
    }
    code
}

fn walk_paths(base: &str, n: &Node) -> Vec<String> {
    let mut out = vec![base.to_string()];
    if let Node::Dir(d) = n {
        for (name, c) in &d.entries {
            out.extend(walk_paths(&format!("{base}/{name}"), c));
        }
    }
    out
}

/// Applies an octal or symbolic (`[ugoa]*[+-=][rwx]+`) mode to `cur`.
pub fn apply_mode(cur: u32, spec: &str) -> u32 {
    if let Ok(m) = u32::from_str_radix(spec, 8) {
        return m;
    }
    let mut mode = cur;
    for clause in spec.split(',') {
        let op_pos = clause.find(['+', '-', '=']).unwrap_or(clause.len());
        let (who, rest) = clause.split_at(op_pos);
        let Some(op) = rest.chars().next() else {
            continue;
        };
        let mut bits = 0;
        for c in rest[1..].chars() {
            bits |= match c {
                'r' => 4,
                'w' => 2,
                'x' => 1,
                _ => 0,
            };
        }
        let who = if who.is_empty() || who.contains('a') {
            "ugo".to_string()
        } else {
            who.to_string()
        };
        for w in who.chars() {
            let shift = match w {
                'u' => 6,
                'g' => 3,
                _ => 0,
            };
            match op {
                '+' => mode |= bits << shift,
                '-' => mode &= !(bits << shift),
                _ => mode = (mode & !(7 << shift)) | (bits << shift),
            }
        }
    }
    mode
}

/// `basename PATH [SUFFIX]`.
pub async fn basename_cmd(p: Proc) -> i32 {
    let Some(path) = p.argv.get(1) else {
        p.err("missing operand");
        return 1;
    };
    let mut b = basename(path);
    if b.is_empty() {
        b = "/".into();
    }
    if let Some(suffix) = p.argv.get(2)
        && b != *suffix
        && let Some(s) = b.strip_suffix(suffix.as_str())
    {
        b = s.to_string();
    }
    p.io.stdout.print(&format!("{b}\n"));
    0
}

/// `dirname PATH`.
pub async fn dirname(p: Proc) -> i32 {
    let Some(path) = p.argv.get(1) else {
        p.err("missing operand");
        return 1;
    };
    let t = path.trim_end_matches('/');
    let d = match t.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => t[..i].trim_end_matches('/').to_string(),
        None if path.starts_with('/') => "/".into(),
        None => ".".into(),
    };
    p.io.stdout.print(&format!("{d}\n"));
    0
}

/// `find [PATH...] [-name PATTERN] [-type f|d|l] [-maxdepth N]` (prints matching paths).
pub async fn find(p: Proc) -> i32 {
    let mut roots = Vec::new();
    let mut i = 1;
    while i < p.argv.len() && !p.argv[i].starts_with('-') {
        roots.push(p.argv[i].clone());
        i += 1;
    }
    if roots.is_empty() {
        roots.push(".".into());
    }
    let (mut name, mut typ, mut maxdepth) = (None, None, usize::MAX);
    while i < p.argv.len() {
        let v = p.argv.get(i + 1).cloned();
        match p.argv[i].as_str() {
            "-name" => name = v,
            "-type" => typ = v,
            "-maxdepth" => maxdepth = v.and_then(|v| v.parse().ok()).unwrap_or(usize::MAX),
            other => {
                p.err(format!("unknown predicate '{other}'"));
                return 1;
            }
        }
        i += 2;
    }
    let mut code = 0;
    for root in roots {
        match p.sys.fs.subtree(&p.abs(&root), true) {
            Ok(n) => {
                let mut out = Vec::new();
                find_walk(&root, &n, 0, maxdepth, &mut out);
                for (path, kind) in out {
                    let base = basename(&path);
                    if let Some(pat) = &name
                        && !crate::runtime::shell::glob::matches(pat, &base)
                    {
                        continue;
                    }
                    let want = match typ.as_deref() {
                        Some("f") => kind == Kind::File,
                        Some("d") => kind == Kind::Dir,
                        Some("l") => kind == Kind::Symlink,
                        _ => true,
                    };
                    if want {
                        p.io.stdout.print(&format!("{path}\n"));
                    }
                }
            }
            Err(e) => {
                p.err(with_name(e, &root));
                code = 1;
            }
        }
    }
    code
}

fn find_walk(path: &str, n: &Node, depth: usize, max: usize, out: &mut Vec<(String, Kind)>) {
    out.push((path.to_string(), n.kind()));
    if depth >= max {
        return;
    }
    if let Node::Dir(d) = n {
        for (name, c) in &d.entries {
            let sep = if path.ends_with('/') { "" } else { "/" };
            find_walk(&format!("{path}{sep}{name}"), c, depth + 1, max, out);
        }
    }
}
