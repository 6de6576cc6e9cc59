//! Change detection: racy timestamps, modes, directories, corrupt and odo-written indexes,
//! special files.

use std::fs::{self, File, FileTimes};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use odo::indexer::{FileIndex, IgnoreConfig, ScanOptions, pending_changes, scan_tree, write_index};

const T: i64 = 1_700_000_000_000_000_000;

fn set_mtime(path: &Path, nanos: i64) {
    let t = UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).expect("positive"));
    File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_times(FileTimes::new().set_modified(t))
        .expect("set mtime");
}

/// Scans as of `now` and records the result as the index.
fn index_at(root: &Path, now: i64) {
    let opts = ScanOptions {
        now: Some(now),
        ..ScanOptions::default()
    };
    let scan = scan_tree(root, &IgnoreConfig::default(), &opts).expect("scan");
    scan.into_new_index(&[]).write(root).expect("write");
}

fn changes_at(root: &Path, now: i64) -> odo::indexer::Changes {
    let opts = ScanOptions {
        now: Some(now),
        ..ScanOptions::default()
    };
    scan_tree(root, &IgnoreConfig::default(), &opts)
        .expect("scan")
        .changes
}

#[test]
fn same_size_same_mtime_edit_within_the_racy_window_is_detected() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("a.txt");
    fs::write(&f, "version 1").expect("write");
    set_mtime(&f, T);
    // Indexed half a second after the write: the timestamp is not trustworthy yet.
    index_at(dir.path(), T + 500_000_000);
    let idx = FileIndex::read(dir.path()).expect("index");
    assert!(
        idx.get("a.txt").expect("entry").meta.hash.is_some(),
        "racy file hashed at index time"
    );

    fs::write(&f, "version 2").expect("write");
    set_mtime(&f, T);
    assert_eq!(
        changes_at(dir.path(), T + 60_000_000_000).modified,
        ["a.txt"]
    );

    // Unchanged content with the same racy stamp is verified by hash, not resent.
    fs::write(&f, "version 1").expect("write");
    set_mtime(&f, T);
    assert!(changes_at(dir.path(), T + 60_000_000_000).is_empty());
}

#[test]
fn old_timestamps_are_trusted_without_hashing() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("a.txt");
    fs::write(&f, "version 1").expect("write");
    set_mtime(&f, T);
    index_at(dir.path(), T + 60_000_000_000);
    let idx = FileIndex::read(dir.path()).expect("index");
    assert!(
        idx.get("a.txt").expect("entry").meta.hash.is_none(),
        "no hash outside the racy window"
    );
    // Any real edit moves the mtime and is caught by stat alone.
    fs::write(&f, "version 2").expect("write");
    set_mtime(&f, T + 1);
    assert_eq!(
        changes_at(dir.path(), T + 120_000_000_000).modified,
        ["a.txt"]
    );
}

#[test]
fn edit_right_after_a_real_push_is_not_missed() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("a.txt");
    fs::write(&f, "aaaa").expect("write");
    write_index(dir.path(), &IgnoreConfig::default()).expect("index");
    let before = fs::metadata(&f).expect("stat").modified().expect("mtime");
    fs::write(&f, "bbbb").expect("write");
    File::options()
        .write(true)
        .open(&f)
        .expect("open")
        .set_times(FileTimes::new().set_modified(before))
        .expect("mtime");
    assert_eq!(
        pending_changes(dir.path(), &IgnoreConfig::default())
            .expect("scan")
            .modified,
        ["a.txt"]
    );
}

#[test]
fn chmod_is_a_modification_and_directories_are_not_resent_for_their_children() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = dir.path();
    fs::create_dir_all(r.join("d/e")).expect("mkdir");
    fs::write(r.join("d/e/f.txt"), "f").expect("write");
    fs::write(r.join("run.sh"), "#!/bin/sh").expect("write");
    write_index(r, &IgnoreConfig::default()).expect("index");
    fs::set_permissions(r.join("run.sh"), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::write(r.join("d/e/new.txt"), "n").expect("write");
    fs::remove_file(r.join("d/e/f.txt")).expect("rm");
    let c = pending_changes(r, &IgnoreConfig::default()).expect("scan");
    assert_eq!(c.added, ["d/e/new.txt"]);
    assert_eq!(c.modified, ["run.sh"]);
    assert_eq!(c.deleted, ["d/e/f.txt"]);
    assert_eq!(
        (c.added_bytes, c.modified_bytes, c.deleted_bytes),
        (1, 9, 1)
    );
    fs::set_permissions(r.join("d"), fs::Permissions::from_mode(0o700)).expect("chmod dir");
    assert_eq!(
        pending_changes(r, &IgnoreConfig::default())
            .expect("scan")
            .modified,
        ["d", "run.sh"]
    );
}

#[test]
fn corrupt_index_warns_once_and_counts_everything_as_added() {
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(dir.path().join("a.txt"), "a").expect("write");
    fs::create_dir(dir.path().join(".odo")).expect("mkdir");
    fs::write(odo::indexer::index_path(dir.path()), "\u{0}\u{1}garbage").expect("corrupt");
    let c = pending_changes(dir.path(), &IgnoreConfig::default())
        .expect("a corrupt index is not an error");
    assert_eq!(c.added, ["a.txt"]);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(
        c.warnings[0].contains("odo-file-index.json"),
        "{}",
        c.warnings[0]
    );
}

#[test]
fn an_index_written_by_odo_is_read_and_upgraded() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = dir.path();
    fs::create_dir(r.join("src")).expect("mkdir");
    fs::write(r.join("src/app.js"), "console.log(1)").expect("write");
    set_mtime(&r.join("src/app.js"), T + 123_456_789);
    fs::create_dir(r.join(".odo")).expect("mkdir");
    // What odo v1.2.5 writes: directories indexed like files, times with a local offset.
    let odo_json = r#"{"kind":"FileIndex","apiVersion":"v1","Files":{"src":{"Size":4096,"LastModifiedDate":"2001-01-01T00:00:00+01:00"},"src/app.js":{"Size":14,"LastModifiedDate":"2023-11-15T00:13:20.123456789+02:00"},"removed.txt":{"Size":3,"LastModifiedDate":"2023-11-15T00:13:20Z"}}}"#;
    fs::write(odo::indexer::index_path(r), odo_json).expect("index");
    let c = pending_changes(r, &IgnoreConfig::default()).expect("scan");
    assert!(c.added.is_empty() && c.modified.is_empty(), "{c:?}");
    assert_eq!(c.deleted, ["removed.txt"]);
    write_index(r, &IgnoreConfig::default()).expect("rewrite");
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(odo::indexer::index_path(r)).expect("read"))
            .expect("json");
    assert_eq!(v["kind"], "FileIndex");
    assert_eq!(v["Files"]["src/app.js"]["Size"], 14);
    assert_eq!(
        v["Files"]["src/app.js"]["LastModifiedDate"],
        "2023-11-14T22:13:20.123456789Z"
    );
    assert_eq!(v["Files"]["src"]["Type"], "dir");
    assert!(v["Files"]["src/app.js"]["Mode"].is_u64());
}

#[test]
fn special_files_are_skipped_with_a_warning() {
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(dir.path().join("a.txt"), "a").expect("write");
    let status = std::process::Command::new("mkfifo")
        .arg(dir.path().join("pipe"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let c = pending_changes(dir.path(), &IgnoreConfig::default()).expect("scan");
    assert_eq!(c.added, ["a.txt"]);
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("pipe") && c.warnings[0].contains("not a regular file"),
        "{}",
        c.warnings[0]
    );
}

#[test]
fn json_output_shape() {
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(dir.path().join("a b.txt"), "abc").expect("write");
    let c = pending_changes(dir.path(), &IgnoreConfig::default()).expect("scan");
    let v = serde_json::to_value(&c).expect("json");
    assert_eq!(
        v,
        serde_json::json!({"added":["a b.txt"],"modified":[],"deleted":[],"addedBytes":3,"modifiedBytes":0,"deletedBytes":0})
    );
}

#[test]
fn index_entry_stays_small() {
    // Per-file memory beyond the path bytes: the entry (key range + metadata) and its 4-byte
    // table position; vector and hash-table slack add ~15%.
    const { assert!(odo::indexer::index::SLOT_BYTES <= 52) };
    let dir = tempfile::tempdir().expect("tmp");
    odo::indexer::testtree::generate(dir.path(), 3000).expect("tree");
    write_index(dir.path(), &IgnoreConfig::default()).expect("index");
    let idx = FileIndex::read(dir.path()).expect("read");
    assert_eq!(
        idx.len(),
        3000 + 150 + 5 + 1,
        "files, leaf dirs, top dirs, .gitignore"
    );
    assert!(
        idx.heap_bytes_per_entry() < 100,
        "{} bytes per file",
        idx.heap_bytes_per_entry()
    );
}

/// The scan reads the previous index on its own thread while the walk starts; entries reached
/// before it is ready are compared afterwards. A loader that is late for the whole walk must
/// give exactly what a loader that is ready at once gives: same lists, same refreshed entries,
/// same racy-file hashes, same deletions.
#[test]
fn an_index_that_loads_late_gives_the_same_scan() {
    use odo::indexer::IgnoreRules;
    use odo::indexer::scan::{Previous, scan_with};

    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    for d in ["a", "a/b", "c"] {
        fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    for (i, f) in ["a/1.txt", "a/b/2.txt", "c/3.txt", "top.txt", "gone.txt"]
        .iter()
        .enumerate()
    {
        fs::write(root.join(f), format!("file {i}")).expect("write");
        set_mtime(&root.join(f), T);
    }
    index_at(root, T + 500_000_000); // every file racy: hashed in the index
    fs::write(root.join("a/1.txt"), "file 9").expect("same-size edit");
    set_mtime(&root.join("a/1.txt"), T);
    fs::write(root.join("new.txt"), "new").expect("write");
    fs::remove_file(root.join("gone.txt")).expect("rm");

    let rules = IgnoreRules::load(root, &IgnoreConfig::default()).expect("rules");
    let opts = ScanOptions {
        now: Some(T + 60_000_000_000),
        ..ScanOptions::default()
    };
    let run = |delay: Duration| {
        let load = || {
            std::thread::sleep(delay);
            Previous {
                index: FileIndex::read(root).expect("index"),
                resend_all: false,
                extra: 7,
            }
        };
        let (scan, extra) = scan_with(root, &rules, &opts, load).expect("scan");
        assert_eq!(extra, 7, "the loader's extra comes back");
        let updates: Vec<String> = scan
            .updates
            .iter()
            .map(|u| format!("{} {:?} {:?}", u.path, u.change, u.meta))
            .collect();
        (scan.changes, updates)
    };
    let (ready, ready_updates) = run(Duration::ZERO);
    assert_eq!(ready.added, ["new.txt"]);
    assert_eq!(ready.modified, ["a/1.txt"]);
    assert_eq!(ready.deleted, ["gone.txt"]);
    let (late, late_updates) = run(Duration::from_millis(300));
    assert_eq!(late, ready);
    assert_eq!(late_updates, ready_updates);
}

/// The walk finds a path's entry among its directory's run of the sorted index. Names chosen
/// so that siblings sort between a directory and its children (`a b`, `a-x` between `a` and
/// `a/...`, `a0` after): every kind of change in and around them is still seen, and an
/// unchanged tree gives nothing, over two rounds (the second index is rewritten from one that
/// had entries appended out of order).
#[test]
fn changes_next_to_directories_whose_names_interleave_are_all_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    let files = [
        "a b/f", "a-x/f", "a/f", "a/z/f", "a/z/g", "a0", "a.txt", "b",
    ];
    for d in ["a b", "a-x", "a", "a/z"] {
        fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let write_all = |files: &[&str]| {
        for f in files {
            fs::write(root.join(f), "12345").expect("write");
            set_mtime(&root.join(f), T);
        }
    };
    write_all(&files);
    let now = T + 60_000_000_000;
    index_at(root, now);
    assert!(changes_at(root, now).is_empty(), "unchanged after indexing");

    fs::write(root.join("a/f"), "123456").expect("size change");
    set_mtime(&root.join("a/f"), T);
    set_mtime(&root.join("a/z/g"), T + 1); // mtime only
    fs::set_permissions(root.join("a-x/f"), fs::Permissions::from_mode(0o600)).expect("chmod");
    fs::remove_file(root.join("a b/f")).expect("rm");
    fs::write(root.join("a/new"), "n").expect("add");
    fs::write(root.join("a0"), "54321").expect("same size");
    set_mtime(&root.join("a0"), T - 1);
    let c = changes_at(root, now);
    assert_eq!(c.added, ["a/new"]);
    assert_eq!(c.modified, ["a-x/f", "a/f", "a/z/g", "a0"]);
    assert_eq!(c.deleted, ["a b/f"]);

    index_at(root, now);
    assert!(
        changes_at(root, now).is_empty(),
        "unchanged after the second index"
    );
    fs::write(root.join("a b/f"), "back").expect("re-add");
    let c = changes_at(root, now);
    assert_eq!(
        (c.added, c.modified.len(), c.deleted.len()),
        (vec!["a b/f".to_string()], 0, 0)
    );
}
