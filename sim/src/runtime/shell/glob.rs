//! Shell patterns: matching (`case`, `${x#pat}`, `find -name`) and pathname expansion.
//!
//! A backslash in a pattern quotes the next character; the expander escapes quoted text this way.

use crate::runtime::fs::Vfs;

/// Whether `pattern` contains an unquoted `*`, `?` or `[`.
pub fn has_meta(pattern: &str) -> bool {
    let mut esc = false;
    for c in pattern.chars() {
        if esc {
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if matches!(c, '*' | '?' | '[') {
            return true;
        }
    }
    false
}

/// Removes pattern quoting (backslashes) from `pattern`.
pub fn unescape(pattern: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in pattern.chars() {
        if esc || c != '\\' {
            out.push(c);
            esc = false;
        } else {
            esc = true;
        }
    }
    out
}

/// Whether `text` matches the whole of `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_at(&p, &t)
}

fn match_at(p: &[char], t: &[char]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, next)) = bracket(p, pi, t[ti])
                        && ok
                    {
                        pi = next;
                        ti += 1;
                        continue;
                    } else if bracket(p, pi, t[ti]).is_none() && t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    pi += 2;
                    ti += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() => {}
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Matches `c` against the bracket expression starting at `p[start]`; returns (matched, index
/// after the expression), or `None` when the bracket is not closed (then `[` is literal).
fn bracket(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        let ch = p[i];
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if ch == '[' && p.get(i + 1) == Some(&':') {
            let end =
                (i + 2..p.len().saturating_sub(1)).find(|&k| p[k] == ':' && p[k + 1] == ']')?;
            let class: String = p[i + 2..end].iter().collect();
            matched |= match class.as_str() {
                "alpha" => c.is_alphabetic(),
                "digit" => c.is_ascii_digit(),
                "alnum" => c.is_alphanumeric(),
                "space" => c.is_whitespace(),
                "upper" => c.is_uppercase(),
                "lower" => c.is_lowercase(),
                "punct" => c.is_ascii_punctuation(),
                _ => false,
            };
            i = end + 2;
            continue;
        }
        let lo = if ch == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            ch
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|x| *x != ']') {
            let hi = p[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    None
}

/// Expands a pathname pattern against the filesystem; sorted matches, or empty if none.
pub fn expand_path(fs: &Vfs, cwd: &str, pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut results: Vec<String> = vec![if absolute { "/".into() } else { String::new() }];
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for base in &results {
            let dir = if base.is_empty() {
                cwd.to_string()
            } else {
                crate::runtime::fs::absolute(cwd, base)
            };
            let join = |name: &str| -> String {
                if base.is_empty() {
                    name.to_string()
                } else if base.ends_with('/') {
                    format!("{base}{name}")
                } else {
                    format!("{base}/{name}")
                }
            };
            if !has_meta(comp) {
                let name = unescape(comp);
                let cand = join(&name);
                if !last || fs.lstat(&crate::runtime::fs::absolute(cwd, &cand)).is_ok() {
                    next.push(cand);
                }
                continue;
            }
            let Ok(entries) = fs.read_dir(&dir) else {
                continue;
            };
            for (name, meta) in entries {
                if name.starts_with('.') && !comp.starts_with('.') && !comp.starts_with("\\.") {
                    continue;
                }
                if matches(comp, &name)
                    && (last
                        || meta.kind == crate::runtime::fs::Kind::Dir
                        || fs.is_dir(&format!("{dir}/{name}")))
                {
                    next.push(join(&name));
                }
            }
        }
        results = next;
    }
    if pattern.ends_with('/') {
        results = results.into_iter().map(|r| format!("{r}/")).collect();
    }
    results.sort();
    results
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::matches;

    #[test]
    fn patterns() {
        assert!(matches("*.js", "server.js"));
        assert!(!matches("*.js", "server.py"));
        assert!(matches("a?c", "abc"));
        assert!(matches("[a-c]x", "bx"));
        assert!(!matches("[!a-c]x", "bx"));
        assert!(matches("\\*", "*"));
        assert!(!matches("\\*", "a"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "axxbyyc"));
    }
}
