//! System utilities: true false sleep env printenv date hostname id whoami uname nslookup getent
//! kill ps test/[ — everything that looks at the process, the clock or cluster DNS.

use std::time::Duration;

use brush_parser::ast::{BinaryPredicate, TestExpr, UnaryPredicate};

use crate::runtime::fs::{Kind, Vfs, absolute};
use crate::runtime::process::{Proc, SIGHUP, SIGINT, SIGKILL, SIGTERM};

/// `true`.
pub async fn true_cmd(_p: Proc) -> i32 {
    0
}

/// `false`.
pub async fn false_cmd(_p: Proc) -> i32 {
    1
}

/// Parses `1`, `0.5`, `2s`, `3m`, `1h`, `1d`, `infinity` into a duration.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "infinity" || s == "inf" {
        return Some(Duration::from_secs(u64::MAX / 4));
    }
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1.0),
        'm' => (&s[..s.len() - 1], 60.0),
        'h' => (&s[..s.len() - 1], 3600.0),
        'd' => (&s[..s.len() - 1], 86400.0),
        _ => (s, 1.0),
    };
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(v * mult))
}

/// `pwd`.
pub async fn pwd(p: Proc) -> i32 {
    p.io.stdout.print(&format!("{}\n", p.cwd));
    0
}

/// `sleep DURATION...` in virtual time.
pub async fn sleep(p: Proc) -> i32 {
    let mut total = Duration::ZERO;
    for a in &p.argv[1..] {
        match parse_duration(a) {
            Some(d) => total = total.saturating_add(d),
            None => {
                p.err(format!("invalid time interval '{a}'"));
                return 1;
            }
        }
    }
    if p.argv.len() < 2 {
        p.err("missing operand");
        return 1;
    }
    match p.sleep(total).await {
        None => 0,
        Some(sig) => 128 + sig,
    }
}

/// `env [-i] [NAME=VALUE...] [COMMAND...]`: prints the environment or runs a command in it.
pub async fn env(mut p: Proc) -> i32 {
    let mut i = 1;
    while let Some(a) = p.argv.get(i) {
        if a == "-i" || a == "-" {
            p.env.clear();
        } else if let Some((k, v)) = a.split_once('=') {
            p.env.insert(k.to_string(), v.to_string());
        } else {
            break;
        }
        i += 1;
    }
    if i >= p.argv.len() {
        let mut s = String::new();
        for (k, v) in &p.env {
            s.push_str(&format!("{k}={v}\n"));
        }
        p.io.stdout.print(&s);
        return 0;
    }
    let argv = p.argv[i..].to_vec();
    let mut child = p.child(argv, p.io.clone());
    child.env = p.env.clone();
    crate::runtime::shell::run_external(child).await
}

/// `printenv [NAME...]`.
pub async fn printenv(p: Proc) -> i32 {
    if p.argv.len() < 2 {
        let mut s = String::new();
        for (k, v) in &p.env {
            s.push_str(&format!("{k}={v}\n"));
        }
        p.io.stdout.print(&s);
        return 0;
    }
    let mut code = 0;
    for name in &p.argv[1..] {
        match p.env.get(name) {
            Some(v) => p.io.stdout.print(&format!("{v}\n")),
            None => code = 1,
        }
    }
    code
}

/// `date [-u] [+FORMAT]` from virtual time (always UTC).
pub async fn date(p: Proc) -> i32 {
    let fmt = p
        .argv
        .iter()
        .skip(1)
        .find_map(|a| a.strip_prefix('+'))
        .unwrap_or("%a %b %e %H:%M:%S UTC %Y");
    let z = p.now().to_zoned(jiff::tz::TimeZone::UTC);
    p.io.stdout.print(&format!("{}\n", z.strftime(fmt)));
    0
}

/// `hostname [-i]`.
pub async fn hostname(p: Proc) -> i32 {
    let id = &p.sys.ctx.identity;
    if p.argv.get(1).is_some_and(|a| a == "-i") {
        let ip = id
            .pod_ip
            .map(|i| i.to_string())
            .unwrap_or_else(|| "127.0.0.1".into());
        p.io.stdout.print(&format!("{ip}\n"));
    } else {
        p.io.stdout.print(&format!("{}\n", id.hostname));
    }
    0
}

/// The name of id `id` in the container's `/etc/passwd` (users) or `/etc/group` (groups), as
/// the real tools look it up: `None` when the file or the entry is missing.
fn name_of(p: &Proc, file: &str, id: u32) -> Option<String> {
    let text = p.sys.fs.read(file).ok()?;
    String::from_utf8_lossy(&text).lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let num: u32 = fields.nth(1)?.parse().ok()?;
        (num == id && !name.is_empty()).then(|| name.to_string())
    })
}

/// `ID(NAME)`, or the bare number when the id has no name (as `id` prints it).
fn with_name(id: u32, name: Option<String>) -> String {
    name.map_or_else(|| id.to_string(), |n| format!("{id}({n})"))
}

/// `id [-u|-g] [-n]`, names from the container's `/etc/passwd` and `/etc/group`.
pub async fn id(p: Proc) -> i32 {
    let (uid, gid) = (p.sys.ctx.identity.uid, p.sys.ctx.identity.gid);
    let flags: String = p.argv[1..]
        .iter()
        .filter_map(|a| a.strip_prefix('-'))
        .collect();
    let (user, group) = (
        name_of(&p, "/etc/passwd", uid),
        name_of(&p, "/etc/group", gid),
    );
    let name = flags.contains('n');
    let out = if flags.contains('u') {
        if !name {
            uid.to_string()
        } else if let Some(u) = user {
            u
        } else {
            p.err(format!("cannot find name for user ID {uid}"));
            return 1;
        }
    } else if flags.contains('g') {
        if !name {
            gid.to_string()
        } else if let Some(g) = group {
            g
        } else {
            p.err(format!("cannot find name for group ID {gid}"));
            return 1;
        }
    } else {
        let g = with_name(gid, group);
        format!("uid={} gid={g} groups={g}", with_name(uid, user))
    };
    p.io.stdout.print(&format!("{out}\n"));
    0
}

/// `whoami`: the user's name from `/etc/passwd`.
pub async fn whoami(p: Proc) -> i32 {
    let uid = p.sys.ctx.identity.uid;
    if let Some(name) = name_of(&p, "/etc/passwd", uid) {
        p.io.stdout.print(&format!("{name}\n"));
        0
    } else {
        p.err(format!("cannot find name for user ID {uid}"));
        1
    }
}

/// `uname [-a|-s|-r|-m|-n]`.
pub async fn uname(p: Proc) -> i32 {
    let out = match p.argv.get(1).map(String::as_str) {
        Some("-a") => format!(
            "Linux {} 6.1.0-odo-sim #1 SMP x86_64 GNU/Linux",
            p.sys.ctx.identity.hostname
        ),
        Some("-r") => "6.1.0-odo-sim".into(),
        Some("-m") => "x86_64".into(),
        Some("-n") => p.sys.ctx.identity.hostname.clone(),
        _ => "Linux".into(),
    };
    p.io.stdout.print(&format!("{out}\n"));
    0
}

const DNS_SERVER: &str = "10.96.0.10";

/// `nslookup NAME` through the simulated cluster DNS (busybox output format).
pub async fn nslookup(p: Proc) -> i32 {
    let Some(name) = p.argv.iter().skip(1).find(|a| !a.starts_with('-')) else {
        p.err("usage: nslookup HOST [DNS_SERVER]");
        return 1;
    };
    let ns = p.sys.ctx.identity.namespace.clone();
    p.io.stdout.print(&format!(
        "Server:\t\t{DNS_SERVER}\nAddress:\t{DNS_SERVER}:53\n\n"
    ));
    match p.sys.host.resolve(name, &ns) {
        Some((fqdn, ips)) if !ips.is_empty() => {
            let mut s = String::new();
            for ip in ips {
                s.push_str(&format!("Name:\t{fqdn}\nAddress: {ip}\n\n"));
            }
            p.io.stdout.print(&s);
            0
        }
        _ => {
            p.io.stdout.print(&format!(
                "** server can't find {name}.{ns}.svc.cluster.local: NXDOMAIN\n\n"
            ));
            1
        }
    }
}

/// `getent hosts NAME` through the simulated cluster DNS.
pub async fn getent(p: Proc) -> i32 {
    let (Some(db), Some(name)) = (p.argv.get(1), p.argv.get(2)) else {
        p.err("usage: getent hosts NAME");
        return 1;
    };
    if db != "hosts" && db != "ahosts" {
        p.err(format!("Unknown database: {db}"));
        return 1;
    }
    // Like glibc: one line per address, with the canonical (fully qualified) name.
    match p.sys.host.resolve(name, &p.sys.ctx.identity.namespace) {
        Some((fqdn, ips)) if !ips.is_empty() => {
            let mut s = String::new();
            for ip in ips {
                s.push_str(&format!("{ip:<15} {fqdn}\n"));
            }
            p.io.stdout.print(&s);
            0
        }
        _ => 2,
    }
}

/// Parses a signal name or number (`TERM`, `SIGTERM`, `15`).
pub fn parse_signal(s: &str) -> Option<i32> {
    match s.trim_start_matches("SIG") {
        "HUP" => Some(SIGHUP),
        "INT" => Some(SIGINT),
        "KILL" => Some(SIGKILL),
        "TERM" => Some(SIGTERM),
        "USR1" => Some(10),
        "USR2" => Some(12),
        "0" => Some(0),
        n => n.parse().ok(),
    }
}

/// `kill [-s SIG|-SIG] PID...`.
pub async fn kill(p: Proc) -> i32 {
    let mut sig = SIGTERM;
    let mut pids = Vec::new();
    let mut i = 1;
    while i < p.argv.len() {
        let a = &p.argv[i];
        if a == "-s" {
            i += 1;
            sig = p
                .argv
                .get(i)
                .and_then(|s| parse_signal(s))
                .unwrap_or(SIGTERM);
        } else if a == "-l" {
            p.io.stdout.print("HUP INT KILL TERM USR1 USR2\n");
            return 0;
        } else if let Some(s) = a.strip_prefix('-') {
            match parse_signal(s) {
                Some(s) => sig = s,
                None => {
                    p.err(format!("bad signal name '{s}'"));
                    return 1;
                }
            }
        } else {
            pids.push(a.clone());
        }
        i += 1;
    }
    let mut code = 0;
    for pid in pids {
        let ok = pid.parse::<u32>().ok().is_some_and(|n| {
            sig == 0 && p.sys.ctx.processes().iter().any(|x| x.pid == n)
                || sig != 0 && p.sys.ctx.signal(n, sig)
        });
        if !ok {
            p.err(format!("can't kill pid {pid}: No such process"));
            code = 1;
        }
    }
    code
}

/// `ps` (busybox layout: PID USER TIME COMMAND).
pub async fn ps(p: Proc) -> i32 {
    let mut s = String::from("PID   USER     TIME  COMMAND\n");
    // The USER column: root by name, other users by number (the simulated ps does not read
    // /etc/passwd).
    let uid = p.sys.ctx.identity.uid;
    let user = if uid == 0 {
        "root".to_string()
    } else {
        uid.to_string()
    };
    for pr in p.sys.ctx.processes() {
        s.push_str(&format!("{:>5} {:<8} 0:00 {}\n", pr.pid, user, pr.cmdline));
    }
    p.io.stdout.print(&s);
    0
}

/// `test EXPR` and `[ EXPR ]`.
pub async fn test(p: Proc) -> i32 {
    let mut args: Vec<String> = p.argv[1..].to_vec();
    if p.name() == "[" {
        if args.last().map(String::as_str) != Some("]") {
            p.err("missing ]");
            return 2;
        }
        args.pop();
    }
    match brush_parser::test_command::parse(&args) {
        Ok(expr) => match eval_test(&p, &expr) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                p.err(e);
                2
            }
        },
        Err(_) => {
            p.err(format!("syntax error: `{}'", args.join(" ")));
            2
        }
    }
}

/// Evaluates a parsed `test` expression against the process's filesystem and environment.
pub fn eval_test(p: &Proc, e: &TestExpr) -> Result<bool, String> {
    Ok(match e {
        TestExpr::False => false,
        TestExpr::Literal(s) => !s.is_empty(),
        TestExpr::And(a, b) => eval_test(p, a)? && eval_test(p, b)?,
        TestExpr::Or(a, b) => eval_test(p, a)? || eval_test(p, b)?,
        TestExpr::Not(a) => !eval_test(p, a)?,
        TestExpr::Parenthesized(a) => eval_test(p, a)?,
        TestExpr::UnaryTest(op, s) => unary(&p.sys.fs, &p.cwd, &|n| p.env.contains_key(n), op, s),
        TestExpr::BinaryTest(op, a, b) => binary(op, a, b)?,
    })
}

/// A unary `test` predicate.
pub fn unary(
    fs: &Vfs,
    cwd: &str,
    is_set: &dyn Fn(&str) -> bool,
    op: &UnaryPredicate,
    s: &str,
) -> bool {
    use UnaryPredicate as U;
    let path = absolute(cwd, s);
    match op {
        U::StringHasZeroLength => s.is_empty(),
        U::StringHasNonZeroLength => !s.is_empty(),
        U::FileExists => !s.is_empty() && fs.exists(&path),
        U::FileExistsAndIsDir => fs.stat(&path).is_ok_and(|m| m.kind == Kind::Dir),
        U::FileExistsAndIsRegularFile => fs.stat(&path).is_ok_and(|m| m.kind == Kind::File),
        U::FileExistsAndIsSymlink => fs.lstat(&path).is_ok_and(|m| m.kind == Kind::Symlink),
        U::FileExistsAndIsNotZeroLength => fs.stat(&path).is_ok_and(|m| m.size > 0),
        U::FileExistsAndIsExecutable => fs.stat(&path).is_ok_and(|m| m.mode & 0o111 != 0),
        U::FileExistsAndIsReadable => fs.exists(&path),
        U::FileExistsAndIsWritable => fs.exists(&path),
        U::ShellVariableIsSetAndAssigned => is_set(s),
        _ => false,
    }
}

fn num(s: &str) -> Result<i64, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s}: integer expression expected"))
}

/// A binary `test` predicate.
pub fn binary(op: &BinaryPredicate, a: &str, b: &str) -> Result<bool, String> {
    use BinaryPredicate as B;
    Ok(match op {
        B::StringExactlyMatchesString | B::StringExactlyMatchesPattern => a == b,
        B::StringDoesNotExactlyMatchString | B::StringDoesNotExactlyMatchPattern => a != b,
        B::LeftSortsBeforeRight => a < b,
        B::LeftSortsAfterRight => a > b,
        B::ArithmeticEqualTo => num(a)? == num(b)?,
        B::ArithmeticNotEqualTo => num(a)? != num(b)?,
        B::ArithmeticLessThan => num(a)? < num(b)?,
        B::ArithmeticLessThanOrEqualTo => num(a)? <= num(b)?,
        B::ArithmeticGreaterThan => num(a)? > num(b)?,
        B::ArithmeticGreaterThanOrEqualTo => num(a)? >= num(b)?,
        B::StringContainsSubstring => a.contains(b),
        _ => return Err("unsupported test operator".into()),
    })
}
