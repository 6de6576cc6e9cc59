//! Pure helpers of the sync: refusing unsafe paths, and turning deletions into `rm` commands.

use std::collections::HashSet;

/// Default budget for the bytes of one `rm` command line (the exec request carries the argv in
/// its URL, so stay far below typical 1 MiB request-line limits).
pub const DEFAULT_ARG_BUDGET: usize = 64 * 1024;

/// Why a path may not be sent or deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to sync {path:?}: {reason}")]
pub struct UnsafePath {
    /// The offending path.
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Checks that `rel` stays inside the target directory: relative, no `.`/`..`/empty components,
/// no NUL byte.
pub fn check_relative(rel: &str) -> Result<(), UnsafePath> {
    let bad = |reason| {
        Err(UnsafePath {
            path: rel.to_string(),
            reason,
        })
    };
    if rel.is_empty() {
        return bad("empty path");
    }
    if rel.starts_with('/') {
        return bad("absolute path would escape the target directory");
    }
    if rel.contains('\0') {
        return bad("NUL byte in path");
    }
    for comp in rel.split('/') {
        match comp {
            ".." => return bad("'..' would escape the target directory"),
            "" | "." => return bad("empty or '.' path component"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a target directory inside the container: absolute, normalised, not `/`.
pub fn check_target_dir(dir: &str) -> Result<(), UnsafePath> {
    let bad = |reason| {
        Err(UnsafePath {
            path: dir.to_string(),
            reason,
        })
    };
    if !dir.starts_with('/') {
        return bad("target directory must be absolute");
    }
    let trimmed = dir.trim_end_matches('/');
    if trimmed.is_empty() {
        return bad("target directory must not be the root");
    }
    check_relative(&trimmed[1..]).map_err(|e| UnsafePath {
        path: dir.to_string(),
        reason: e.reason,
    })
}

/// The minimal set of paths to remove: drops every path that has an ancestor in the set.
/// Returns them sorted.
pub fn collapse_removals<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let set: HashSet<&str> = paths.into_iter().collect();
    let mut out: Vec<String> = set
        .iter()
        .filter(|p| !p.match_indices('/').any(|(i, _)| set.contains(&p[..i])))
        .map(|p| p.to_string())
        .collect();
    out.sort_unstable();
    out
}

/// `rm -rf -- <dir>/<rel>...` command lines covering every `rel` under every `dir`, each line's
/// total bytes within `budget` (a single over-long path still gets its own command).
pub fn rm_commands(dirs: &[String], rels: &[String], budget: usize) -> Vec<Vec<String>> {
    let head = ["rm", "-rf", "--"];
    let head_len: usize = head.iter().map(|s| s.len() + 1).sum();
    let mut out = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut cur_len = head_len;
    for dir in dirs {
        let dir = dir.trim_end_matches('/');
        for rel in rels {
            let arg = format!("{dir}/{rel}");
            if !cur.is_empty() && cur_len + arg.len() + 1 > budget {
                out.push(std::mem::take(&mut cur));
                cur_len = head_len;
            }
            if cur.is_empty() {
                cur.extend(head.iter().map(|s| s.to_string()));
            }
            cur_len += arg.len() + 1;
            cur.push(arg);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused() {
        for p in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a/.",
            "",
            "a\0b",
        ] {
            assert!(check_relative(p).is_err(), "{p:?} accepted");
        }
        for p in ["a", "a b/c", "-rf", "ünï/cödé", "..a/b..", ".hidden"] {
            assert_eq!(check_relative(p), Ok(()), "{p:?} refused");
        }
        assert!(check_target_dir("/").is_err());
        assert!(check_target_dir("tmp/src").is_err());
        assert!(check_target_dir("/tmp/../etc").is_err());
        assert!(check_target_dir("/tmp/src/").is_ok());
    }

    #[test]
    fn removals_collapse_to_top_most() {
        let got = collapse_removals(["a", "a b", "a/b", "a/b/c", "ab/c", "x/y"]);
        assert_eq!(got, ["a", "a b", "ab/c", "x/y"]);
    }

    #[test]
    fn rm_commands_respect_budget_and_cover_every_path() {
        let rels: Vec<String> = (0..100).map(|i| format!("dir/file-{i:03}")).collect();
        let dirs = vec!["/tmp/src".to_string(), "/opt/app-root/src/".to_string()];
        let cmds = rm_commands(&dirs, &rels, 300);
        assert!(cmds.len() > 1);
        let mut all = Vec::new();
        for c in &cmds {
            assert_eq!(&c[..3], ["rm", "-rf", "--"]);
            assert!(c.iter().map(|s| s.len() + 1).sum::<usize>() <= 300);
            all.extend(c[3..].iter().cloned());
        }
        assert_eq!(all.len(), 200);
        assert_eq!(all[0], "/tmp/src/dir/file-000");
        assert_eq!(all[100], "/opt/app-root/src/dir/file-000");
        assert!(rm_commands(&dirs, &[], 300).is_empty());
    }
}
