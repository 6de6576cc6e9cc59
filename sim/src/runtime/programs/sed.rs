//! `sed` (s///, d, p, q with line, `$` and /regex/ addresses; -n, -i, -e) and the translation
//! of POSIX basic regular expressions that `sed` and `grep` share.

use regex::bytes::Regex;

use super::files::with_name;
use super::text::{inputs, lines_of};
use crate::runtime::process::Proc;

/// Translates a POSIX basic regular expression into `regex` syntax.
pub fn bre_to_regex(bre: &str, extended: bool) -> String {
    if extended {
        return bre.to_string();
    }
    let mut out = String::new();
    let mut it = bre.chars().peekable();
    let mut in_bracket = false;
    while let Some(c) = it.next() {
        if in_bracket {
            if c == ']' {
                in_bracket = false;
            }
            if c == '\\' || c == '[' && it.peek() != Some(&':') {
                out.push('\\');
            }
            out.push(c);
            continue;
        }
        match c {
            '\\' => match it.next() {
                Some(n @ ('(' | ')' | '{' | '}' | '|' | '+' | '?')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push_str("\\\\"),
            },
            '(' | ')' | '{' | '}' | '|' | '+' | '?' => {
                out.push('\\');
                out.push(c);
            }
            '[' => {
                in_bracket = true;
                out.push('[');
                if it.peek() == Some(&'^') {
                    out.push('^');
                    it.next();
                }
                if it.peek() == Some(&']') {
                    out.push_str("\\]");
                    it.next();
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// One parsed sed command with its optional address.
struct SedCmd {
    addr: Option<SedAddr>,
    op: SedOp,
}

enum SedAddr {
    Line(usize),
    Last,
    Re(Regex),
}

enum SedOp {
    Subst {
        re: Regex,
        rep: String,
        global: bool,
        print: bool,
    },
    Delete,
    Print,
    Quit,
}

fn sed_parse(script: &str) -> Result<Vec<SedCmd>, String> {
    let mut cmds = Vec::new();
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let read_delim = |i: &mut usize, delim: char| -> Result<String, String> {
        let mut s = String::new();
        while *i < chars.len() {
            let c = chars[*i];
            if c == '\\' && chars.get(*i + 1) == Some(&delim) {
                s.push(delim);
                *i += 2;
                continue;
            }
            if c == '\\' {
                s.push(c);
                if let Some(n) = chars.get(*i + 1) {
                    s.push(*n);
                }
                *i += 2;
                continue;
            }
            if c == delim {
                *i += 1;
                return Ok(s);
            }
            s.push(c);
            *i += 1;
        }
        Err(format!("unterminated `s' command in '{script}'"))
    };
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ';') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut addr = None;
        if chars[i].is_ascii_digit() {
            let mut n = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                n.push(chars[i]);
                i += 1;
            }
            addr = Some(SedAddr::Line(n.parse().unwrap_or(0)));
        } else if chars[i] == '$' {
            addr = Some(SedAddr::Last);
            i += 1;
        } else if chars[i] == '/' {
            i += 1;
            let re = read_delim(&mut i, '/')?;
            addr = Some(SedAddr::Re(
                Regex::new(&bre_to_regex(&re, false)).map_err(|e| e.to_string())?,
            ));
        }
        let Some(&c) = chars.get(i) else {
            return Err("missing command".into());
        };
        i += 1;
        let op = match c {
            's' => {
                let delim = *chars.get(i).ok_or("unterminated `s' command")?;
                i += 1;
                let re = read_delim(&mut i, delim)?;
                let rep = read_delim(&mut i, delim)?;
                let mut global = false;
                let mut print = false;
                let mut icase = false;
                while i < chars.len() && !matches!(chars[i], ';' | '\n' | '}') {
                    match chars[i] {
                        'g' => global = true,
                        'p' => print = true,
                        'I' | 'i' => icase = true,
                        _ => {}
                    }
                    i += 1;
                }
                let mut pat = bre_to_regex(&re, false);
                if icase {
                    pat = format!("(?i){pat}");
                }
                SedOp::Subst {
                    re: Regex::new(&pat).map_err(|e| format!("bad regex '{re}': {e}"))?,
                    rep,
                    global,
                    print,
                }
            }
            'd' => SedOp::Delete,
            'p' => SedOp::Print,
            'q' => SedOp::Quit,
            other => return Err(format!("unsupported command: {other}")),
        };
        cmds.push(SedCmd { addr, op });
    }
    Ok(cmds)
}

/// Expands a sed replacement (`&`, `\1`..`\9`, `\n`) for one match.
fn sed_replacement(rep: &str, caps: &regex::bytes::Captures<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut it = rep.chars();
    while let Some(c) = it.next() {
        match c {
            '&' => out.extend_from_slice(caps.get(0).map(|m| m.as_bytes()).unwrap_or(b"")),
            '\\' => match it.next() {
                Some(d @ '0'..='9') => {
                    let k = d.to_digit(10).unwrap_or(0) as usize;
                    out.extend_from_slice(caps.get(k).map(|m| m.as_bytes()).unwrap_or(b""));
                }
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some(o) => out.extend_from_slice(o.to_string().as_bytes()),
                None => out.push(b'\\'),
            },
            c => out.extend_from_slice(c.to_string().as_bytes()),
        }
    }
    out
}

fn sed_run(cmds: &[SedCmd], data: &[u8], quiet: bool) -> Vec<u8> {
    let lines = lines_of(data);
    let last = lines.len();
    let mut out = Vec::new();
    'lines: for (n, line) in lines.iter().enumerate() {
        let mut cur = line.to_vec();
        let mut quit = false;
        for cmd in cmds {
            let hit = match &cmd.addr {
                None => true,
                Some(SedAddr::Line(k)) => *k == n + 1,
                Some(SedAddr::Last) => n + 1 == last,
                Some(SedAddr::Re(r)) => r.is_match(&cur),
            };
            if !hit {
                continue;
            }
            match &cmd.op {
                SedOp::Subst {
                    re,
                    rep,
                    global,
                    print,
                } => {
                    let mut res = Vec::new();
                    let mut last_end = 0;
                    let mut did = false;
                    for caps in re.captures_iter(&cur) {
                        let Some(m) = caps.get(0) else { continue };
                        res.extend_from_slice(&cur[last_end..m.start()]);
                        res.extend(sed_replacement(rep, &caps));
                        last_end = m.end();
                        did = true;
                        if !global {
                            break;
                        }
                    }
                    if did {
                        res.extend_from_slice(&cur[last_end..]);
                        cur = res;
                        if *print {
                            out.extend_from_slice(&cur);
                            out.push(b'\n');
                        }
                    }
                }
                SedOp::Delete => continue 'lines,
                SedOp::Print => {
                    out.extend_from_slice(&cur);
                    out.push(b'\n');
                }
                SedOp::Quit => quit = true,
            }
        }
        if !quiet {
            out.extend_from_slice(&cur);
            if n + 1 < last || data.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        if quit {
            break;
        }
    }
    out
}

/// `sed [-n] [-i] [-e SCRIPT]... [SCRIPT] [FILE...]` (commands s///, d, p, q with addresses).
pub async fn sed(p: Proc) -> i32 {
    let mut scripts = Vec::new();
    let mut files = Vec::new();
    let (mut quiet, mut in_place) = (false, false);
    let mut i = 1;
    while i < p.argv.len() {
        let a = &p.argv[i];
        match a.as_str() {
            "-n" => quiet = true,
            "-i" => in_place = true,
            "-e" => {
                i += 1;
                if let Some(s) = p.argv.get(i) {
                    scripts.push(s.clone());
                }
            }
            "-E" | "-r" => {}
            _ if a.starts_with("-i") => in_place = true,
            _ if scripts.is_empty() && files.is_empty() && !a.starts_with('-') => {
                scripts.push(a.clone())
            }
            _ => files.push(a.clone()),
        }
        i += 1;
    }
    let cmds = match sed_parse(&scripts.join("\n")) {
        Ok(c) => c,
        Err(e) => {
            p.err(format!("-e expression #1: {e}"));
            return 1;
        }
    };
    if in_place {
        let mut code = 0;
        for f in &files {
            let abs = p.abs(f);
            match p.sys.fs.read(&abs) {
                Ok(d) => {
                    let out = sed_run(&cmds, &d, quiet);
                    if let Err(e) = p.sys.fs.write(&abs, &out, false, 0o644, p.now()) {
                        p.err(e);
                        code = 4;
                    }
                }
                Err(e) => {
                    p.err(format!("can't read {f}: {}", with_name(e, f)));
                    code = 2;
                }
            }
        }
        return code;
    }
    let (ins, code) = inputs(&p, &files).await;
    let all: Vec<u8> = ins.into_iter().flat_map(|(_, d)| d).collect();
    p.io.stdout.write(&sed_run(&cmds, &all, quiet));
    code
}
