//! Text utilities: echo printf wc grep head tail sed sort md5sum sha256sum seq tr.

use md5::Md5;
use regex::bytes::Regex;
use sha2::{Digest, Sha256};

use super::args;
use super::files::{read_operand, with_name};
use super::sed::bre_to_regex;
use crate::runtime::process::Proc;

/// `echo [-n] [-e] ARG...` (escapes only with `-e`, as busybox).
pub async fn echo(p: Proc) -> i32 {
    let mut newline = true;
    let mut escapes = false;
    let mut i = 1;
    while let Some(a) = p.argv.get(i) {
        if a.len() > 1 && a.starts_with('-') && a[1..].chars().all(|c| "neE".contains(c)) {
            for c in a[1..].chars() {
                match c {
                    'n' => newline = false,
                    'e' => escapes = true,
                    _ => escapes = false,
                }
            }
            i += 1;
        } else {
            break;
        }
    }
    let mut s = p.argv[i..].join(" ");
    if escapes {
        let (t, stop) = unescape(&s);
        s = t;
        if stop {
            newline = false;
        }
    }
    if newline {
        s.push('\n');
    }
    p.io.stdout.print(&s);
    0
}

/// Interprets backslash escapes; the flag says `\c` asked to stop output.
pub fn unescape(s: &str) -> (String, bool) {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('a') => out.push('\x07'),
            Some('b') => out.push('\x08'),
            Some('f') => out.push('\x0c'),
            Some('v') => out.push('\x0b'),
            Some('e') => out.push('\x1b'),
            Some('\\') => out.push('\\'),
            Some('c') => return (out, true),
            Some('0') => {
                let mut v = 0u32;
                for _ in 0..3 {
                    match it.peek() {
                        Some(d @ '0'..='7') => {
                            v = v * 8 + d.to_digit(8).unwrap_or(0);
                            it.next();
                        }
                        _ => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('?'));
            }
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    (out, false)
}

/// `printf FORMAT [ARG...]` (%s %d %i %u %x %X %o %c %b %%, widths, precision, `-` flag).
pub async fn printf(p: Proc) -> i32 {
    let Some(fmt) = p.argv.get(1) else {
        p.err("usage: printf FORMAT [ARGUMENT...]");
        return 1;
    };
    let (out, code) = format_printf(fmt, &p.argv[2..]);
    p.io.stdout.print(&out);
    if code != 0 {
        p.err("invalid number");
    }
    code
}

/// Renders a printf format against arguments, reusing the format while arguments remain.
pub fn format_printf(fmt: &str, args: &[String]) -> (String, i32) {
    let mut out = String::new();
    let mut code = 0;
    let mut ai = 0;
    loop {
        let start_ai = ai;
        let chars: Vec<char> = fmt.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' {
                let mut esc = String::from('\\');
                i += 1;
                if let Some(n) = chars.get(i) {
                    esc.push(*n);
                    if *n == '0' {
                        while esc.len() < 5 && chars.get(i + 1).is_some_and(|d| d.is_digit(8)) {
                            i += 1;
                            esc.push(chars[i]);
                        }
                    }
                }
                out.push_str(&unescape(&esc).0);
                i += 1;
                continue;
            }
            if c != '%' {
                out.push(c);
                i += 1;
                continue;
            }
            i += 1;
            if chars.get(i) == Some(&'%') {
                out.push('%');
                i += 1;
                continue;
            }
            let mut flags = String::new();
            while let Some(f) = chars.get(i).filter(|f| "-+ 0#".contains(**f)) {
                flags.push(*f);
                i += 1;
            }
            let mut width = String::new();
            while let Some(d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
                width.push(*d);
                i += 1;
            }
            let mut prec: Option<usize> = None;
            if chars.get(i) == Some(&'.') {
                i += 1;
                let mut pr = String::new();
                while let Some(d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
                    pr.push(*d);
                    i += 1;
                }
                prec = Some(pr.parse().unwrap_or(0));
            }
            let Some(conv) = chars.get(i).copied() else {
                break;
            };
            i += 1;
            let arg = args.get(ai).cloned();
            ai += 1;
            let arg_s = arg.clone().unwrap_or_default();
            let num = || -> Option<i64> {
                let a = arg_s.trim();
                if a.is_empty() {
                    return Some(0);
                }
                if let Some(ch) = a.strip_prefix('\'').or_else(|| a.strip_prefix('"')) {
                    return ch.chars().next().map(|c| c as i64);
                }
                if let Some(h) = a.strip_prefix("0x") {
                    return i64::from_str_radix(h, 16).ok();
                }
                a.parse().ok()
            };
            let body = match conv {
                's' => {
                    let mut s = arg_s.clone();
                    if let Some(pr) = prec {
                        s = s.chars().take(pr).collect();
                    }
                    s
                }
                'b' => unescape(&arg_s).0,
                'c' => arg_s.chars().next().map(String::from).unwrap_or_default(),
                'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
                    let n = num().unwrap_or_else(|| {
                        code = 1;
                        0
                    });
                    match conv {
                        'x' => format!("{n:x}"),
                        'X' => format!("{n:X}"),
                        'o' => format!("{n:o}"),
                        _ if flags.contains('+') && n >= 0 => format!("+{n}"),
                        _ => n.to_string(),
                    }
                }
                other => {
                    ai -= 1;
                    format!("%{other}")
                }
            };
            let w: usize = width.parse().unwrap_or(0);
            let len = body.chars().count();
            if len < w {
                let pad = w - len;
                if flags.contains('-') {
                    out.push_str(&body);
                    out.push_str(&" ".repeat(pad));
                } else if flags.contains('0') && "diuxXo".contains(conv) {
                    let (sign, digits) = if let Some(d) = body.strip_prefix('-') {
                        ("-", d)
                    } else {
                        ("", body.as_str())
                    };
                    out.push_str(sign);
                    out.push_str(&"0".repeat(pad));
                    out.push_str(digits);
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(&body);
                }
            } else {
                out.push_str(&body);
            }
        }
        if ai >= args.len() || ai == start_ai {
            break;
        }
    }
    (out, code)
}

/// Reads every operand (or stdin) and reports errors; returns (name, bytes) pairs and a status.
pub(crate) async fn inputs(p: &Proc, operands: &[String]) -> (Vec<(String, Vec<u8>)>, i32) {
    let mut out = Vec::new();
    let mut code = 0;
    let ops: Vec<String> = if operands.is_empty() {
        vec!["-".into()]
    } else {
        operands.to_vec()
    };
    for f in ops {
        match read_operand(p, &f).await {
            Ok(d) => out.push((f, d)),
            Err(e) => {
                p.err(with_name(e, &f));
                code = 1;
            }
        }
    }
    (out, code)
}

/// `wc [-l] [-w] [-c] [FILE...]` (GNU output layout).
pub async fn wc(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let (mut l, mut w, mut c) = (o.has('l'), o.has('w'), o.has('c') || o.has('m'));
    if !l && !w && !c {
        (l, w, c) = (true, true, true);
    }
    let (ins, code) = inputs(&p, &o.operands).await;
    let counts: Vec<(String, [usize; 3])> = ins
        .iter()
        .map(|(n, d)| {
            let lines = d.iter().filter(|b| **b == b'\n').count();
            let words = String::from_utf8_lossy(d).split_whitespace().count();
            (n.clone(), [lines, words, d.len()])
        })
        .collect();
    let selected = [l, w, c].iter().filter(|x| **x).count();
    let single_stdin = o.operands.is_empty();
    let width = if selected == 1 && counts.len() == 1 {
        0
    } else if single_stdin {
        7
    } else {
        counts
            .iter()
            .flat_map(|(_, v)| v.iter())
            .max()
            .map(|m| m.to_string().len())
            .unwrap_or(1)
            .max(1)
    };
    let mut total = [0usize; 3];
    for (name, v) in &counts {
        let mut fields = Vec::new();
        for (k, on) in [l, w, c].iter().enumerate() {
            if *on {
                fields.push(format!("{:>width$}", v[k]));
            }
            total[k] += v[k];
        }
        let mut line = fields.join(" ");
        if !single_stdin {
            line.push(' ');
            line.push_str(name);
        }
        line.push('\n');
        p.io.stdout.print(&line);
    }
    if counts.len() > 1 {
        let fields: Vec<String> = [l, w, c]
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .map(|(k, _)| format!("{:>width$}", total[k]))
            .collect();
        p.io.stdout.print(&format!("{} total\n", fields.join(" ")));
    }
    code
}

pub(crate) fn lines_of(d: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = d.split(|b| *b == b'\n').collect();
    if d.ends_with(b"\n") || d.is_empty() {
        v.pop();
    }
    v
}

/// `grep [-q] [-v] [-i] [-c] [-n] [-E] [-F] [-e PATTERN] PATTERN [FILE...]`.
pub async fn grep(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "e", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 2;
        }
    };
    let mut operands = o.operands.clone();
    let pat = match o.value('e') {
        Some(e) => e.to_string(),
        None if !operands.is_empty() => operands.remove(0),
        None => {
            p.err("usage: grep [OPTION]... PATTERNS [FILE]...");
            return 2;
        }
    };
    let extended = o.has('E') || p.name() == "egrep";
    let mut re = if o.has('F') {
        regex::escape(&pat)
    } else {
        bre_to_regex(&pat, extended)
    };
    if o.has('i') {
        re = format!("(?i){re}");
    }
    let re = match Regex::new(&re) {
        Ok(r) => r,
        Err(e) => {
            p.err(format!("invalid regular expression '{pat}': {e}"));
            return 2;
        }
    };
    let multi = operands.len() > 1;
    let (ins, code) = inputs(&p, &operands).await;
    let mut matched = false;
    for (name, d) in &ins {
        let mut count = 0;
        for (n, line) in lines_of(d).into_iter().enumerate() {
            if re.is_match(line) != o.has('v') {
                matched = true;
                count += 1;
                if o.has('q') {
                    return 0;
                }
                if !o.has('c') && !o.has('l') {
                    let mut s = Vec::new();
                    if multi {
                        s.extend_from_slice(format!("{name}:").as_bytes());
                    }
                    if o.has('n') {
                        s.extend_from_slice(format!("{}:", n + 1).as_bytes());
                    }
                    s.extend_from_slice(line);
                    s.push(b'\n');
                    p.io.stdout.write(&s);
                }
            }
        }
        if o.has('c') {
            let prefix = if multi {
                format!("{name}:")
            } else {
                String::new()
            };
            p.io.stdout.print(&format!("{prefix}{count}\n"));
        }
        if o.has('l') && count > 0 {
            p.io.stdout.print(&format!("{name}\n"));
        }
    }
    if code != 0 && !o.has('s') {
        2
    } else if matched {
        0
    } else {
        1
    }
}

fn count_arg(o: &args::Opts) -> Result<(usize, bool), String> {
    let raw = o.value('n').or(o.value('#')).unwrap_or("10");
    let from_start = raw.starts_with('+');
    raw.trim_start_matches(['+', '-'])
        .parse::<usize>()
        .map(|n| (n, from_start))
        .map_err(|_| format!("invalid number of lines: '{raw}'"))
}

/// `head [-n N|-N] [FILE...]`.
pub async fn head(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "nc", true) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let (n, _) = match count_arg(&o) {
        Ok(v) => v,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let (ins, code) = inputs(&p, &o.operands).await;
    for (_, d) in ins {
        if let Some(c) = o.value('c').and_then(|c| c.parse::<usize>().ok()) {
            p.io.stdout.write(&d[..c.min(d.len())]);
            continue;
        }
        let mut taken = 0;
        let mut end = 0;
        for (i, b) in d.iter().enumerate() {
            if taken == n {
                break;
            }
            end = i + 1;
            if *b == b'\n' {
                taken += 1;
            }
        }
        p.io.stdout.write(&d[..end]);
    }
    code
}

/// `tail [-n N|-n +N|-N] [FILE...]`.
pub async fn tail(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "nc", true) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let (n, from_start) = match count_arg(&o) {
        Ok(v) => v,
        Err(e) => {
            p.err(e);
            return 1;
        }
    };
    let (ins, code) = inputs(&p, &o.operands).await;
    for (_, d) in ins {
        let lines = lines_of(&d);
        let skip = if from_start {
            n.saturating_sub(1)
        } else {
            lines.len().saturating_sub(n)
        };
        let mut out = Vec::new();
        for l in lines.iter().skip(skip) {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        if !d.ends_with(b"\n") && !out.is_empty() && !lines.is_empty() {
            out.pop();
        }
        p.io.stdout.write(&out);
    }
    if o.has('f') || o.has('F') {
        // Follow: nothing else appends in the simulator's model of `tail -f`, so it waits until
        // a signal ends it (the `tail -f /dev/null` keep-alive idiom).
        let mut sig = p.pid.signals.clone();
        return 128 + sig.terminated().await;
    }
    code
}

/// `sort [-r] [-n] [-u] [FILE...]`.
pub async fn sort(p: Proc) -> i32 {
    let o = match args::parse(&p.argv[1..], "", false) {
        Ok(o) => o,
        Err(e) => {
            p.err(e);
            return 2;
        }
    };
    let (ins, code) = inputs(&p, &o.operands).await;
    let all: Vec<u8> = ins.into_iter().flat_map(|(_, d)| d).collect();
    let text = String::from_utf8_lossy(&all);
    let mut lines: Vec<&str> = text.lines().collect();
    if o.has('n') {
        let key = |s: &str| s.trim().parse::<f64>().unwrap_or(0.0);
        lines.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.cmp(b)));
    } else {
        lines.sort();
    }
    if o.has('r') {
        lines.reverse();
    }
    if o.has('u') {
        lines.dedup();
    }
    for l in lines {
        p.io.stdout.print(&format!("{l}\n"));
    }
    code
}

/// `tr SET1 SET2` / `tr -d SET1` (plain characters and `a-z` ranges).
pub async fn tr(p: Proc) -> i32 {
    fn expand(set: &str) -> Vec<char> {
        let cs: Vec<char> = unescape(set).0.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < cs.len() {
            if i + 2 < cs.len() && cs[i + 1] == '-' {
                for c in cs[i]..=cs[i + 2] {
                    out.push(c);
                }
                i += 3;
            } else {
                out.push(cs[i]);
                i += 1;
            }
        }
        out
    }
    let delete = p.argv.get(1).is_some_and(|a| a == "-d");
    let args: Vec<&String> = p.argv[1..].iter().filter(|a| *a != "-d").collect();
    let Some(set1) = args.first().map(|s| expand(s)) else {
        p.err("missing operand");
        return 1;
    };
    let set2 = args.get(1).map(|s| expand(s)).unwrap_or_default();
    let input = String::from_utf8_lossy(&p.io.stdin.read_all().await).into_owned();
    let out: String = input
        .chars()
        .filter_map(|c| match set1.iter().position(|x| *x == c) {
            Some(_) if delete => None,
            Some(i) => Some(*set2.get(i).or(set2.last()).unwrap_or(&c)),
            None => Some(c),
        })
        .collect();
    p.io.stdout.print(&out);
    0
}

/// `seq [FIRST] LAST`.
pub async fn seq(p: Proc) -> i32 {
    let nums: Vec<i64> = p.argv[1..].iter().filter_map(|a| a.parse().ok()).collect();
    let (first, last) = match nums.as_slice() {
        [l] => (1, *l),
        [f, l, ..] => (*f, *l),
        _ => {
            p.err("missing operand");
            return 1;
        }
    };
    let mut s = String::new();
    for n in first..=last {
        s.push_str(&format!("{n}\n"));
    }
    p.io.stdout.print(&s);
    0
}

async fn digest_cmd(p: Proc, hash: fn(&[u8]) -> String) -> i32 {
    let files: Vec<String> = p.argv[1..].to_vec();
    let (ins, code) = inputs(&p, &files).await;
    for (name, d) in ins {
        p.io.stdout.print(&format!("{}  {name}\n", hash(&d)));
    }
    code
}

/// `md5sum [FILE...]`.
pub async fn md5sum(p: Proc) -> i32 {
    digest_cmd(p, |d| hex::encode(Md5::digest(d))).await
}

/// `sha256sum [FILE...]`.
pub async fn sha256sum(p: Proc) -> i32 {
    digest_cmd(p, |d| hex::encode(Sha256::digest(d))).await
}
