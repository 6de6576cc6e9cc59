//! Which paths of a component's source tree are ignored.
//!
//! As in odo, the rules come from exactly one source: the `--ignore` globs when given, else
//! `<context>/.odoignore` when it exists, else `<context>/.gitignore`. Unlike odo the patterns
//! follow real gitignore semantics (the `ignore` crate): `!negation`, anchored `/x`, `dir/`,
//! `**`, patterns with inner slashes. Only the file at the root of the context is read.
//! `.odo` and `.git` (directories or files, at any depth) are always skipped, whatever the
//! rules say. Nothing here ever writes to the user's `.gitignore`.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::{Deserialize, Serialize};

/// Names that are never part of the synced tree, at any depth.
pub const ALWAYS_SKIPPED: [&str; 2] = [".odo", ".git"];

/// Where the ignore rules of a push or watch come from (what the CLI flags say).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoreConfig {
    /// `--ignore` globs; when non-empty they replace `.odoignore`/`.gitignore` entirely.
    pub globs: Vec<String>,
}

impl IgnoreConfig {
    /// Rules read from `.odoignore`/`.gitignore` only (no `--ignore` flag).
    pub fn from_files() -> Self {
        Self::default()
    }

    /// Rules given on the command line (`--ignore`), replacing the ignore files.
    pub fn with_globs<I: IntoIterator<Item = S>, S: Into<String>>(globs: I) -> Self {
        Self {
            globs: globs.into_iter().map(Into::into).collect(),
        }
    }
}

/// Where the active rules were read from (for messages and `-o json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "path")]
pub enum RuleSource {
    /// `--ignore` globs.
    Flags,
    /// A root ignore file (`.odoignore` or `.gitignore`).
    File(PathBuf),
    /// No rules: only `.odo` and `.git` are skipped.
    None,
}

/// Errors while building the ignore rules.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A `--ignore` glob or a line of the ignore file is not a valid pattern.
    #[error("invalid ignore pattern {pattern:?} (from {source_name}): {cause}")]
    Pattern {
        /// The offending pattern.
        pattern: String,
        /// `--ignore` or the ignore file's path.
        source_name: String,
        /// What the glob parser said.
        cause: ignore::Error,
    },
    /// The ignore file exists but could not be read.
    #[error("cannot read ignore file {path}: {cause}; fix its permissions or pass --ignore")]
    Read {
        /// The ignore file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
}

/// Compiled ignore rules for one context directory.
#[derive(Debug, Clone)]
pub struct IgnoreRules {
    matcher: Gitignore,
    source: RuleSource,
}

impl IgnoreRules {
    /// Loads the rules for `root` as described in the module docs.
    pub fn load(root: &Path, config: &IgnoreConfig) -> Result<Self, RulesError> {
        let mut builder = GitignoreBuilder::new(root);
        let source = if !config.globs.is_empty() {
            for glob in &config.globs {
                add_line(&mut builder, glob, "--ignore")?;
            }
            RuleSource::Flags
        } else {
            let odoignore = root.join(".odoignore");
            let gitignore = root.join(".gitignore");
            let file = if odoignore.is_file() {
                Some(odoignore)
            } else if gitignore.is_file() {
                Some(gitignore)
            } else {
                None
            };
            match file {
                Some(path) => {
                    let text =
                        std::fs::read_to_string(&path).map_err(|cause| RulesError::Read {
                            path: path.clone(),
                            cause,
                        })?;
                    let name = path.display().to_string();
                    for line in text.lines() {
                        add_line(&mut builder, line, &name)?;
                    }
                    RuleSource::File(path)
                }
                None => RuleSource::None,
            }
        };
        let matcher = builder.build().map_err(|cause| RulesError::Pattern {
            pattern: String::new(),
            source_name: "ignore rules".into(),
            cause,
        })?;
        Ok(Self { matcher, source })
    }

    /// Rules that ignore nothing but `.odo` and `.git`.
    pub fn none() -> Self {
        Self {
            matcher: Gitignore::empty(),
            source: RuleSource::None,
        }
    }

    /// Where the rules came from.
    pub fn source(&self) -> &RuleSource {
        &self.source
    }

    /// Whether an entry seen by a walk (whose parents were not ignored) is ignored.
    ///
    /// `rel` is relative to the context directory with `/` separators.
    pub fn is_ignored_entry(&self, rel: &str, is_dir: bool) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if ALWAYS_SKIPPED.contains(&name) {
            return true;
        }
        !self.matcher.is_empty() && self.matcher.matched(Path::new(rel), is_dir).is_ignore()
    }

    /// Whether any path (for instance from a file-system event) is ignored, itself or through
    /// one of its parent directories: the same answer a walk would give by pruning.
    pub fn is_ignored_path(&self, rel: &str, is_dir: bool) -> bool {
        let mut end = 0;
        while let Some(pos) = rel[end..].find('/') {
            let parent = &rel[..end + pos];
            if self.is_ignored_entry(parent, true) {
                return true;
            }
            end += pos + 1;
        }
        self.is_ignored_entry(rel, is_dir)
    }
}

fn add_line(
    builder: &mut GitignoreBuilder,
    line: &str,
    source_name: &str,
) -> Result<(), RulesError> {
    builder
        .add_line(None, line)
        .map(|_| ())
        .map_err(|cause| RulesError::Pattern {
            pattern: line.to_string(),
            source_name: source_name.to_string(),
            cause,
        })
}
