//! Each ignore-rule form, through the indexer (`pending_changes`) and through the path matcher
//! the watcher uses, which must agree with the walk.

use std::fs;
use std::path::Path;

use odo::indexer::{IgnoreConfig, IgnoreRules, RuleSource, pending_changes, write_index};

fn write(root: &Path, rel: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, rel).expect("write");
}

/// Files (not directories) the indexer would send.
fn sent_files(root: &Path, cfg: &IgnoreConfig) -> Vec<String> {
    let changes = pending_changes(root, cfg).expect("scan");
    changes
        .added
        .into_iter()
        .filter(|p| root.join(p).is_file())
        .collect()
}

fn tree(files: &[&str], ignore_file: Option<(&str, &str)>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    for f in files {
        write(dir.path(), f);
    }
    if let Some((name, text)) = ignore_file {
        fs::write(dir.path().join(name), text).expect("ignore file");
    }
    dir
}

fn check(rules_text: &str, files: &[&str], expect_sent: &[&str]) {
    let dir = tree(files, Some((".gitignore", rules_text)));
    let mut want: Vec<String> = expect_sent.iter().map(|s| s.to_string()).collect();
    want.push(".gitignore".into());
    want.sort();
    let got = sent_files(dir.path(), &IgnoreConfig::default());
    assert_eq!(got, want, "rules {rules_text:?}");
    // The watcher's per-path answer agrees with the walk for every file.
    let rules = IgnoreRules::load(dir.path(), &IgnoreConfig::default()).expect("rules");
    for f in files {
        let sent = want.iter().any(|w| w == f);
        assert_eq!(
            rules.is_ignored_path(f, false),
            !sent,
            "{f} under {rules_text:?}"
        );
    }
}

#[test]
fn glob_matches_at_any_depth() {
    check(
        "*.log\n",
        &["a.log", "x/b.log", "x/y/c.log", "keep.txt", "log.txt"],
        &["keep.txt", "log.txt"],
    );
}

#[test]
fn negation_reincludes() {
    check(
        "*.log\n!keep.log\n",
        &["a.log", "keep.log", "sub/keep.log", "sub/z.log"],
        &["keep.log", "sub/keep.log"],
    );
}

#[test]
fn negation_cannot_reinclude_inside_an_ignored_directory() {
    check(
        "build/\n!build/keep.txt\n",
        &["build/keep.txt", "build/out.o", "src/a.c"],
        &["src/a.c"],
    );
}

#[test]
fn leading_slash_anchors_to_the_root() {
    check(
        "/target\n",
        &["target/debug/x", "sub/target/y", "targets.txt"],
        &["sub/target/y", "targets.txt"],
    );
}

#[test]
fn trailing_slash_matches_directories_only() {
    check(
        "out/\n",
        &["out/a.js", "web/out/b.js", "sub/out"],
        &["sub/out"],
    );
}

#[test]
fn double_star_spans_directories() {
    check(
        "docs/**/*.tmp\n**/cache\n",
        &[
            "docs/x.tmp",
            "docs/a/b/y.tmp",
            "docs/a/keep.md",
            "other/z.tmp",
            "cache/1",
            "deep/er/cache/2",
        ],
        &["docs/a/keep.md", "other/z.tmp"],
    );
}

#[test]
fn inner_slash_is_relative_to_the_root() {
    check(
        "src/gen\n",
        &["src/gen/a.rs", "lib/src/gen/b.rs", "src/main.rs"],
        &["lib/src/gen/b.rs", "src/main.rs"],
    );
}

#[test]
fn comments_blank_lines_and_dot_git_prefixed_rules_are_honoured_as_git_does() {
    // odo drops every rule starting with ".git"; real gitignore semantics keep `.github/`.
    check(
        "# comment\n\n   \n.github/\n",
        &[".github/workflows/ci.yml", ".gitlab-ci.yml", "#notacomment"],
        &[".gitlab-ci.yml", "#notacomment"],
    );
}

#[test]
fn odo_and_git_dirs_are_always_skipped_even_if_negated() {
    check(
        "!.odo\n!.git/\n",
        &[".odo/config.yaml", ".git/HEAD", "sub/.git", "a.txt"],
        &["a.txt"],
    );
}

#[test]
fn odoignore_replaces_gitignore() {
    let dir = tree(
        &["a.log", "b.tmp", "c.txt"],
        Some((".gitignore", "*.log\n")),
    );
    fs::write(dir.path().join(".odoignore"), "*.tmp\n").expect("odoignore");
    let rules = IgnoreRules::load(dir.path(), &IgnoreConfig::default()).expect("rules");
    assert_eq!(
        rules.source(),
        &RuleSource::File(dir.path().join(".odoignore"))
    );
    assert_eq!(
        sent_files(dir.path(), &IgnoreConfig::default()),
        [".gitignore", ".odoignore", "a.log", "c.txt"]
    );
}

#[test]
fn ignore_flags_replace_both_files() {
    let dir = tree(
        &["a.log", "b.tmp", "c.txt", "node_modules/x.js"],
        Some((".gitignore", "*.log\n")),
    );
    fs::write(dir.path().join(".odoignore"), "*.tmp\n").expect("odoignore");
    let cfg = IgnoreConfig::with_globs(["*.txt", "node_modules/"]);
    assert_eq!(
        sent_files(dir.path(), &cfg),
        [".gitignore", ".odoignore", "a.log", "b.tmp"]
    );
}

#[test]
fn the_users_gitignore_is_never_written() {
    let with = tree(&["a.txt"], Some((".gitignore", "*.log")));
    write_index(with.path(), &IgnoreConfig::default()).expect("index");
    assert_eq!(
        fs::read_to_string(with.path().join(".gitignore")).expect("read"),
        "*.log"
    );
    let without = tree(&["a.txt"], None);
    write_index(without.path(), &IgnoreConfig::default()).expect("index");
    assert!(!without.path().join(".gitignore").exists());
    assert!(odo::indexer::index_path(without.path()).is_file());
}

#[test]
fn invalid_pattern_is_an_error_naming_it() {
    let dir = tree(&["a.txt"], None);
    let err =
        pending_changes(dir.path(), &IgnoreConfig::with_globs(["src/{a,b"])).expect_err("bad glob");
    assert!(err.to_string().contains("src/{a,b"), "{err}");
}

#[test]
fn newly_ignored_paths_are_reported_deleted() {
    let dir = tree(&["a.txt", "logs/x.log"], None);
    write_index(dir.path(), &IgnoreConfig::default()).expect("index");
    fs::write(dir.path().join(".gitignore"), "logs/\n").expect("gitignore");
    let changes = pending_changes(dir.path(), &IgnoreConfig::default()).expect("scan");
    assert_eq!(changes.added, [".gitignore"]);
    assert_eq!(changes.deleted, ["logs", "logs/x.log"]);
}
