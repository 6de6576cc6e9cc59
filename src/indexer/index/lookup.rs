//! Looking a path up among the entries of its own directory: the walk's fast path.
//!
//! An index read from disk is sorted by path, so the entries under one directory `d` (the keys
//! that start with `d/`) are one contiguous run of slots. A [`Cursor`] remembers the runs of
//! the last few directories it was asked about and binary-searches a path inside its
//! directory's run: a handful of neighbouring slots, already in cache after the first file of
//! the directory, instead of three dependent random reads (table group, position, slot and
//! name) per file. A run is found from the directory's own slot (one table lookup per
//! directory) by galloping forward. When the index is not known to be sorted, or a run is too
//! long for a short search, the cursor asks the hash table; the answer is the same either way.

use std::cmp::Ordering;

use super::{FileIndex, IndexEntry, Slot, key_of};

/// Directories remembered (a walker thread alternates between a directory and its parent).
const WAYS: usize = 4;
/// Longest run searched by bisection; a longer one (a huge flat directory) uses the table.
const MAX_RUN: usize = 512;

/// A per-thread lookup helper over a read-only [`FileIndex`].
#[derive(Debug)]
pub struct Cursor<'a> {
    index: &'a FileIndex,
    ways: [Way; WAYS],
    next: usize,
}

#[derive(Debug, Default)]
struct Way {
    used: bool,
    dir: String,
    lo: usize,
    hi: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `index`.
    pub fn new(index: &'a FileIndex) -> Self {
        Self {
            index,
            ways: Default::default(),
            next: 0,
        }
    }

    /// The entry of `path`: the same answer as [`FileIndex::get`].
    pub fn get(&mut self, path: &str) -> Option<&'a IndexEntry> {
        let index = self.index;
        if index.unsorted {
            return index.get(path);
        }
        let dir = path.rfind('/').map_or("", |i| &path[..i]);
        let (lo, hi) = self.run(dir);
        if hi - lo > MAX_RUN {
            return index.get(path);
        }
        let run = &index.slots[lo..hi];
        run.binary_search_by(|s| key_of(&index.names, s).cmp(path))
            .ok()
            .map(|i| &run[i].entry)
    }

    fn run(&mut self, dir: &str) -> (usize, usize) {
        if let Some(w) = self.ways.iter().find(|w| w.used && w.dir == dir) {
            return (w.lo, w.hi);
        }
        let (lo, hi) = run_of(self.index, dir);
        let w = &mut self.ways[self.next];
        self.next = (self.next + 1) % WAYS;
        w.used = true;
        w.dir.clear();
        w.dir.push_str(dir);
        w.lo = lo;
        w.hi = hi;
        (lo, hi)
    }
}

/// Where `key` sorts relative to the keys under `dir` (those starting with `dir/`): `Less`
/// before all of them, `Equal` when it is one of them, `Greater` after all of them.
fn relative_to_dir(key: &[u8], dir: &[u8]) -> Ordering {
    let n = dir.len();
    let m = key.len().min(n);
    match key[..m].cmp(&dir[..m]) {
        Ordering::Equal if key.len() <= n => Ordering::Less,
        Ordering::Equal => key[n].cmp(&b'/'),
        other => other,
    }
}

/// The run of slots under `dir` (every slot for the root, `dir == ""`) of a sorted index.
fn run_of(index: &FileIndex, dir: &str) -> (usize, usize) {
    let slots = &index.slots;
    if dir.is_empty() {
        return (0, slots.len());
    }
    let names = &index.names;
    let rel = |s: &Slot| relative_to_dir(key_of(names, s).as_bytes(), dir.as_bytes());
    // Every key under `dir/` sorts after `dir` itself.
    let from = index.position(dir).map_or(0, |p| p + 1);
    let lo = gallop(slots, from, |s| rel(s) == Ordering::Less);
    let hi = gallop(slots, lo, |s| rel(s) == Ordering::Equal);
    (lo, hi)
}

/// The first position at or after `from` where `pred` fails, for a `pred` that holds on a
/// prefix of `slots[from..]` and fails on the rest: probes 1, 2, 4, ... slots ahead, then
/// bisects the last step, so a short run costs a few reads of neighbouring slots.
fn gallop(slots: &[Slot], from: usize, pred: impl Fn(&Slot) -> bool) -> usize {
    let mut lo = from.min(slots.len());
    let mut step = 1;
    loop {
        let probe = lo + step - 1;
        if probe >= slots.len() {
            return lo + slots[lo..].partition_point(&pred);
        }
        if !pred(&slots[probe]) {
            return lo + slots[lo..probe].partition_point(&pred);
        }
        lo = probe + 1;
        step *= 2;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{EntryKind, FileIndex, Meta};
    use super::Cursor;

    fn meta(size: u64) -> Meta {
        Meta {
            size,
            mtime: 0,
            hash: None,
            mode: 0o644,
            kind: EntryKind::File,
        }
    }

    /// Names whose byte order interleaves a directory's children with its siblings:
    /// `a b` and `a-x` sort between `a` and `a/...`, `a0` after them.
    fn name() -> impl Strategy<Value = String> {
        let part = proptest::sample::select(vec!["a", "a b", "a-x", "a0", "b", "é", "a/"]);
        proptest::collection::vec(part, 1..4).prop_map(|p| p.join("/").replace("//", "/"))
    }

    proptest! {
        /// The cursor answers exactly like the hash table, for every stored path and for
        /// absent ones, on sorted indices (the bisection path) and unsorted ones (the fallback).
        #[test]
        fn cursor_agrees_with_the_table(
            names in proptest::collection::btree_set(name(), 0..40),
            probes in proptest::collection::vec(name(), 0..40),
            shuffle in any::<bool>(),
        ) {
            let mut names: Vec<String> = names.into_iter().collect();
            if shuffle {
                names.reverse();
            }
            let mut index = FileIndex::default();
            for (i, n) in names.iter().enumerate() {
                index.insert(n, meta(i as u64));
            }
            prop_assert_eq!(index.unsorted, shuffle && names.len() > 1);
            let mut cursor = Cursor::new(&index);
            for p in names.iter().chain(&probes) {
                let via_cursor = cursor.get(p).map(|e| e.meta.size);
                let via_table = index.get(p).map(|e| e.meta.size);
                prop_assert_eq!(via_cursor, via_table, "{}", p);
            }
        }
    }

    #[test]
    fn a_removal_turns_the_fast_path_off() {
        let mut index = FileIndex::default();
        for (i, n) in ["a", "a/x", "a/y", "b"].into_iter().enumerate() {
            index.insert(n, meta(i as u64));
        }
        assert!(!index.unsorted);
        assert_eq!(Cursor::new(&index).get("a/y").map(|e| e.meta.size), Some(2));
        index.remove("a/x");
        assert!(index.unsorted);
        let mut cursor = Cursor::new(&index);
        assert!(cursor.get("a/x").is_none());
        assert_eq!(cursor.get("a/y").map(|e| e.meta.size), Some(2));
    }
}
