//! Deterministic source trees for the indexer benchmarks and tests.
//!
//! `generate(root, n)` writes `n` files (sizes 64..2111 bytes, pseudo-random printable content,
//! fixed modification times in 2024) in a two-level directory layout of 20 files per directory,
//! plus a `.gitignore`. The same `n` always gives the same tree, byte for byte and mtime for
//! mtime, so benchmark runs are comparable. Not part of the odo API.

use std::fs::{self, File, FileTimes};
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Files per leaf directory.
pub const FILES_PER_DIR: usize = 20;
/// 2024-01-01T00:00:00Z.
const BASE_MTIME: u64 = 1_704_067_200;
const EXTS: [&str; 5] = ["rs", "js", "txt", "json", "md"];

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Relative path of generated file number `i`.
pub fn file_path(i: usize) -> String {
    let d = i / FILES_PER_DIR;
    format!(
        "p{:03}/q{:02}/file-{i:06}.{}",
        d / 32,
        d % 32,
        EXTS[i % EXTS.len()]
    )
}

/// Content of file `i` in `round` (round 0 is the generated tree; later rounds have the same
/// size and different bytes).
pub fn content(i: usize, round: u64) -> Vec<u8> {
    let len = 64 + (mix(i as u64) % 2048) as usize;
    let mut state = mix((i as u64) ^ (round << 40));
    (0..len)
        .map(|_| {
            state = mix(state);
            b' ' + (state % 94) as u8
        })
        .collect()
}

/// Modification time of file `i` in `round`.
pub fn mtime(i: usize, round: u64) -> SystemTime {
    let nanos = mix(i as u64 ^ round) % 1_000_000_000;
    UNIX_EPOCH + Duration::new(BASE_MTIME + i as u64 + round * 86_400, nanos as u32)
}

/// Writes file `i` as it is in `round`, creating its directory.
pub fn write_file(root: &Path, i: usize, round: u64) -> io::Result<()> {
    let path = root.join(file_path(i));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&path, content(i, round))?;
    File::options()
        .write(true)
        .open(&path)?
        .set_times(FileTimes::new().set_modified(mtime(i, round)))
}

/// Generates the tree of `n` files under `root` (which must exist).
pub fn generate(root: &Path, n: usize) -> io::Result<()> {
    fs::write(
        root.join(".gitignore"),
        "# generated\n*.log\n/target/\nnode_modules/\n!keep.log\n",
    )?;
    for i in 0..n {
        write_file(root, i, 0)?;
    }
    Ok(())
}

/// The indices of `count` files out of `n`, spread evenly (deterministic).
pub fn spread(n: usize, count: usize) -> Vec<usize> {
    if count == 0 || n == 0 {
        return Vec::new();
    }
    let step = (n / count).max(1);
    (0..count.min(n))
        .map(|k| (k * step + step / 2) % n)
        .collect()
}

/// One path of a [`snapshot`]: what a byte-for-byte tree comparison looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Regular file: content, permission bits and mtime in nanoseconds.
    File {
        /// Bytes.
        content: Vec<u8>,
        /// Permission bits.
        mode: u32,
        /// Modification time (ns since the epoch).
        mtime: i64,
    },
    /// Directory with its permission bits.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// Symlink and its target.
    Symlink {
        /// Link target as stored.
        target: std::path::PathBuf,
    },
}

/// Reads a whole tree with `std::fs` only (independent of the indexer), skipping `.odo`/`.git`
/// and every path for which `skip(rel, is_dir)` is true (a skipped directory hides its subtree).
pub fn snapshot(
    root: &Path,
    skip: &dyn Fn(&str, bool) -> bool,
) -> io::Result<std::collections::BTreeMap<String, Node>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let md = fs::symlink_metadata(entry.path())?;
            if crate::indexer::rules::ALWAYS_SKIPPED.contains(&name.as_str())
                || skip(&rel, md.is_dir())
            {
                continue;
            }
            let node = if md.is_symlink() {
                Node::Symlink {
                    target: fs::read_link(entry.path())?,
                }
            } else if md.is_dir() {
                stack.push((entry.path(), rel.clone()));
                Node::Dir {
                    mode: crate::indexer::scan::mode_bits(&md),
                }
            } else {
                Node::File {
                    content: fs::read(entry.path())?,
                    mode: crate::indexer::scan::mode_bits(&md),
                    mtime: crate::indexer::scan::mtime_nanos(&md),
                }
            };
            out.insert(rel, node);
        }
    }
    Ok(out)
}
