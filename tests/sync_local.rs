//! The sync path end to end into a local directory: the real archive, extracted by the system's
//! GNU tar, deletions run by the real `rm`, through [`LocalExec`].

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::Mutex;

use futures::future::BoxFuture;
use odo::indexer::testtree::snapshot;
use odo::indexer::{FileIndex, IgnoreConfig, IgnoreRules};
use odo::sync::{
    BoxError, ExecError, ExecOutput, ExecStdin, FullResend, LocalExec, PushRequest, RemoteExec,
    SyncError, SyncTarget, push_changes,
};

fn target_of(dir: &Path) -> SyncTarget {
    SyncTarget::new(dir.to_str().expect("utf-8 temp dir"))
}

async fn push(
    src: &Path,
    target: &SyncTarget,
    uid: &str,
) -> Result<odo::sync::PushReport, SyncError> {
    push_as(src, target, uid, None).await
}

/// A push into pod `uid`, container instance `container_id` when given.
async fn push_as(
    src: &Path,
    target: &SyncTarget,
    uid: &str,
    container_id: Option<&str>,
) -> Result<odo::sync::PushReport, SyncError> {
    let ignore = IgnoreConfig::default();
    let req = PushRequest::new(src, &ignore, target, uid).container(container_id);
    push_changes(&LocalExec::new(), &req, odo::sync::no_assemble).await
}

/// Source minus ignored paths must equal the target, byte for byte (files, modes, mtimes,
/// directory modes, symlink targets).
fn assert_synced(src: &Path, dst: &Path) {
    let rules = IgnoreRules::load(src, &IgnoreConfig::default()).expect("rules");
    let want =
        snapshot(src, &|rel, is_dir| rules.is_ignored_entry(rel, is_dir)).expect("source snapshot");
    let got = snapshot(dst, &|_, _| false).expect("target snapshot");
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "same paths"
    );
    for (k, w) in &want {
        assert_eq!(Some(w), got.get(k), "{k} differs");
    }
}

fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, content).expect("write");
}

#[tokio::test]
async fn awkward_names_modes_mtimes_symlinks_and_empty_dirs_arrive_intact() {
    let src = tempfile::tempdir().expect("tmp");
    let dst = tempfile::tempdir().expect("tmp");
    let s = src.path();
    write(s, "plain.txt", "hello");
    write(s, "with space/and more spaces.js", "x");
    write(s, "-rf", "leading dash");
    write(s, "--help/-v.txt", "dash dir");
    write(s, "ünïcödé/日本語.md", "unicode");
    write(
        s,
        &format!("{}/deep.txt", "long-directory-name-".repeat(8)),
        "long path beyond 100 bytes",
    );
    write(s, "script.sh", "#!/bin/sh\necho hi\n");
    fs::set_permissions(s.join("script.sh"), fs::Permissions::from_mode(0o751)).expect("chmod");
    fs::create_dir_all(s.join("empty/nested-empty")).expect("mkdir");
    fs::set_permissions(s.join("empty"), fs::Permissions::from_mode(0o700)).expect("chmod");
    symlink("plain.txt", s.join("link-to-plain")).expect("symlink");
    symlink("/etc/passwd", s.join("abs-link")).expect("symlink");
    symlink("missing", s.join("dangling")).expect("symlink");
    write(s, "app.log", "ignored");
    write(s, ".gitignore", "*.log\n");
    write(s, ".git/HEAD", "ref: never synced");

    let target = target_of(dst.path());
    let report = push(s, &target, "uid-1").await.expect("push");
    assert_eq!(report.full_resend, Some(FullResend::NoIndex));
    assert!(report.changes.added.contains(&"-rf".to_string()));
    assert!(
        !report
            .changes
            .added
            .iter()
            .any(|p| p.contains(".log") || p.starts_with(".git/"))
    );
    assert_synced(s, dst.path());

    // Nothing changed: nothing to do, nothing sent.
    let again = push(s, &target, "uid-1").await.expect("push");
    assert!(again.nothing_to_do(), "{:?}", again.changes);
    assert_eq!(again.sent_entries, 0);
}

#[tokio::test]
async fn deletions_renames_and_kind_changes_are_applied() {
    let src = tempfile::tempdir().expect("tmp");
    let dst = tempfile::tempdir().expect("tmp");
    let mirror = tempfile::tempdir().expect("tmp");
    let s = src.path();
    write(s, "a/b/c.txt", "c");
    write(s, "a/keep.txt", "k");
    write(s, "old name.txt", "rename me");
    write(s, "becomes-dir", "file for now");
    write(s, "gone/x.txt", "x");
    let target =
        target_of(dst.path()).with_mirrors([mirror.path().to_str().expect("utf-8").to_string()]);
    push(s, &target, "uid-1").await.expect("first push");
    // The mirror directory (another place the workflow copies into) holds copies too.
    write(mirror.path(), "gone/x.txt", "x");
    write(mirror.path(), "old name.txt", "rename me");

    fs::rename(s.join("old name.txt"), s.join("new name.txt")).expect("rename");
    fs::remove_dir_all(s.join("gone")).expect("rm");
    fs::remove_file(s.join("becomes-dir")).expect("rm");
    write(s, "becomes-dir/inner.txt", "now a dir");
    fs::remove_dir_all(s.join("a/b")).expect("rm");
    symlink("keep.txt", s.join("a/b")).expect("dir becomes symlink");

    let report = push(s, &target, "uid-1").await.expect("second push");
    assert_eq!(
        report.changes.deleted,
        ["a/b/c.txt", "gone", "gone/x.txt", "old name.txt"]
    );
    assert_eq!(report.changes.modified, ["a/b", "becomes-dir"]);
    assert_eq!(
        report.changes.added,
        ["becomes-dir/inner.txt", "new name.txt"]
    );
    assert_eq!(report.rm_commands, 1);
    assert_synced(s, dst.path());
    assert!(!mirror.path().join("gone").exists() && !mirror.path().join("old name.txt").exists());
}

/// Records every command and fails the one whose argv[0] matches.
struct Flaky {
    fail: Mutex<Option<&'static str>>,
    log: Mutex<Vec<Vec<String>>>,
}

impl RemoteExec for Flaky {
    fn exec<'a>(
        &'a self,
        command: &'a [String],
        stdin: Option<ExecStdin>,
    ) -> BoxFuture<'a, Result<ExecOutput, ExecError>> {
        Box::pin(async move {
            self.log.lock().expect("log").push(command.to_vec());
            let failing = *self.fail.lock().expect("fail");
            if failing == Some(command[0].as_str()) {
                return Ok(ExecOutput {
                    exit_code: 2,
                    stdout: vec![],
                    stderr: b"tar: broken pipe (simulated)".to_vec(),
                });
            }
            LocalExec::new().exec(command, stdin).await
        })
    }
}

#[tokio::test]
async fn interrupted_push_resends_everything_still_pending() {
    let src = tempfile::tempdir().expect("tmp");
    let dst = tempfile::tempdir().expect("tmp");
    let s = src.path();
    write(s, "one.txt", "1");
    let target = target_of(dst.path());
    let flaky = Flaky {
        fail: Mutex::new(None),
        log: Mutex::new(vec![]),
    };
    let ignore = IgnoreConfig::default();
    let req = PushRequest::new(s, &ignore, &target, "uid-1");
    push_changes(&flaky, &req, odo::sync::no_assemble)
        .await
        .expect("first push");
    let index_before = fs::read(odo::indexer::index_path(s)).expect("index");

    write(s, "two.txt", "2");
    fs::remove_file(s.join("one.txt")).expect("rm");
    *flaky.fail.lock().expect("fail") = Some("tar");
    let err = push_changes(&flaky, &req, odo::sync::no_assemble)
        .await
        .expect_err("tar fails");
    assert!(err.to_string().contains("exit code 2"), "{err}");
    assert_eq!(
        fs::read(odo::indexer::index_path(s)).expect("index"),
        index_before,
        "index untouched"
    );

    // The assemble step failing also keeps everything pending.
    *flaky.fail.lock().expect("fail") = None;
    let failing_assemble = |_: &odo::indexer::Changes| async {
        Err::<(), BoxError>("assemble-and-restart exited 1".into())
    };
    let err = push_changes(&flaky, &req, failing_assemble)
        .await
        .expect_err("assemble fails");
    assert!(matches!(err, SyncError::Assemble(_)));
    assert_eq!(
        fs::read(odo::indexer::index_path(s)).expect("index"),
        index_before,
        "index untouched"
    );

    let report = push_changes(&flaky, &req, odo::sync::no_assemble)
        .await
        .expect("resumed push");
    assert_eq!(report.changes.added, ["two.txt"]);
    assert_eq!(report.changes.deleted, ["one.txt"]);
    assert_synced(s, dst.path());
}

#[tokio::test]
async fn a_new_pod_uid_resends_the_whole_tree_and_still_deletes_on_persistent_dirs() {
    let src = tempfile::tempdir().expect("tmp");
    let dst = tempfile::tempdir().expect("tmp");
    let pvc = tempfile::tempdir().expect("tmp");
    let s = src.path();
    write(s, "a.txt", "a");
    write(s, "d/b.txt", "b");
    let target =
        target_of(dst.path()).with_mirrors([pvc.path().to_str().expect("utf-8").to_string()]);
    push(s, &target, "uid-1").await.expect("push");
    write(pvc.path(), "a.txt", "copied by the workflow onto the PVC");
    // The pod was replaced: its emptyDir content is gone; the PVC stays.
    fs::remove_dir_all(dst.path()).expect("wipe");
    fs::create_dir(dst.path()).expect("mkdir");
    fs::remove_file(s.join("a.txt")).expect("rm");
    let report = push(s, &target, "uid-2").await.expect("push to new pod");
    assert_eq!(report.full_resend, Some(FullResend::PodChanged));
    assert_eq!(report.changes.modified, ["d", "d/b.txt"]);
    assert_eq!(report.changes.deleted, ["a.txt"]);
    assert_synced(s, dst.path());
    assert!(
        !pvc.path().join("a.txt").exists(),
        "deletion reached the persistent directory"
    );
    let index = FileIndex::read(s).expect("index");
    assert_eq!(index.pod_uid.as_deref(), Some("uid-2"));
}

#[tokio::test]
async fn a_restarted_container_gets_the_whole_tree_again() {
    let src = tempfile::tempdir().expect("tmp");
    let dst = tempfile::tempdir().expect("tmp");
    let s = src.path();
    write(s, "a.txt", "a");
    write(s, "d/b.txt", "b");
    let target = target_of(dst.path());
    push_as(s, &target, "uid-1", Some("odo-sim://one"))
        .await
        .expect("push");
    let same = push_as(s, &target, "uid-1", Some("odo-sim://one"))
        .await
        .expect("push");
    assert!(same.nothing_to_do(), "same instance, nothing to send");
    // Same pod, new container instance: the writable layer holding the target is fresh.
    fs::remove_dir_all(dst.path()).expect("wipe");
    fs::create_dir(dst.path()).expect("mkdir");
    let report = push_as(s, &target, "uid-1", Some("odo-sim://two"))
        .await
        .expect("push after restart");
    assert_eq!(report.full_resend, Some(FullResend::ContainerRestarted));
    assert_synced(s, dst.path());
    let index = FileIndex::read(s).expect("index");
    assert_eq!(index.container_id.as_deref(), Some("odo-sim://two"));
    assert_eq!(index.pod_uid.as_deref(), Some("uid-1"));
}

#[tokio::test]
async fn forced_push_resends_and_still_deletes() {
    let src = tempfile::tempdir().expect("tmp");
    let dst = tempfile::tempdir().expect("tmp");
    let s = src.path();
    write(s, "a.txt", "a");
    write(s, "b.txt", "b");
    let target = target_of(dst.path());
    push(s, &target, "uid-1").await.expect("push");
    fs::remove_file(s.join("b.txt")).expect("rm");
    let ignore = IgnoreConfig::default();
    let req = PushRequest::new(s, &ignore, &target, "uid-1").force(true);
    let report = push_changes(&LocalExec::new(), &req, odo::sync::no_assemble)
        .await
        .expect("forced");
    assert_eq!(report.full_resend, Some(FullResend::Forced));
    assert_eq!(report.changes.modified, ["a.txt"]);
    assert_eq!(report.changes.deleted, ["b.txt"]);
    assert_synced(s, dst.path());
    // Forced with nothing changed still runs (assemble included).
    let report = push_changes(&LocalExec::new(), &req, odo::sync::no_assemble)
        .await
        .expect("forced again");
    assert!(!report.nothing_to_do());
}

#[tokio::test]
async fn path_traversal_from_a_tampered_index_is_refused_before_anything_is_sent() {
    let src = tempfile::tempdir().expect("tmp");
    let dst = tempfile::tempdir().expect("tmp");
    let s = src.path();
    write(s, "a.txt", "a");
    let target = target_of(dst.path());
    push(s, &target, "uid-1").await.expect("push");
    write(s, "b.txt", "new");
    let path = odo::indexer::index_path(s);
    let json = fs::read_to_string(&path).expect("index");
    let tampered = json.replacen(
        r#""Files":{"#,
        r#""Files":{"../../victim":{"Size":1,"LastModifiedDate":"2020-01-01T00:00:00Z","Mode":420},"#,
        1,
    );
    fs::write(&path, tampered).expect("tamper");
    let flaky = Flaky {
        fail: Mutex::new(None),
        log: Mutex::new(vec![]),
    };
    let ignore = IgnoreConfig::default();
    let req = PushRequest::new(s, &ignore, &target, "uid-1");
    let err = push_changes(&flaky, &req, odo::sync::no_assemble)
        .await
        .expect_err("refused");
    assert!(matches!(err, SyncError::Unsafe(_)), "{err}");
    assert!(err.to_string().contains("../../victim"));
    assert!(
        flaky.log.lock().expect("log").is_empty(),
        "no command may run"
    );
    assert!(!dst.path().join("b.txt").exists());

    let bad_target = SyncTarget::new("/tmp/../etc");
    let req = PushRequest::new(s, &ignore, &bad_target, "uid-1");
    assert!(matches!(
        push_changes(&flaky, &req, odo::sync::no_assemble).await,
        Err(SyncError::Unsafe(_))
    ));
}

#[tokio::test]
async fn unreadable_index_means_full_resync_not_failure() {
    let src = tempfile::tempdir().expect("tmp");
    let dst = tempfile::tempdir().expect("tmp");
    let s = src.path();
    write(s, "a.txt", "a");
    let target = target_of(dst.path());
    push(s, &target, "uid-1").await.expect("push");
    fs::write(
        odo::indexer::index_path(s),
        b"{\"kind\":\"FileIndex\",\"Files\":{trunc",
    )
    .expect("corrupt");
    let report = push(s, &target, "uid-1")
        .await
        .expect("push despite corrupt index");
    assert_eq!(report.full_resend, Some(FullResend::NoIndex));
    assert_eq!(report.changes.added, ["a.txt"]);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("corrupt"));
    assert!(FileIndex::read(s).is_ok(), "rewritten");
}
