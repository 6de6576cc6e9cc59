//! A build's source: the tar archive in the ConfigMap `<build>-source` that the build pod
//! unpacks. Git sources are local directories (a `ref` is checked out by the `git` command
//! into a scratch clone), packed when the build starts; binary uploads are written by the
//! `instantiatebinary` endpoint with [`source_object`].

use serde_json::{Value, json};

use super::BUILD_NAME;
use crate::cluster::World;
use crate::controllers::controller_ref;
use crate::store::{WriteOptions, meta};

/// The ConfigMap holding a build's source as a tar archive (key [`SOURCE_KEY`]), mounted
/// into the build pod at [`INPUTS_DIR`]. For binary builds `instantiatebinary` writes it;
/// for Git builds the controller packs the local directory the URI names.
pub fn source_config_map(build: &str) -> String {
    format!("{build}-source")
}
/// The key of the source archive in the source ConfigMap.
pub const SOURCE_KEY: &str = "source.tar";
/// Where the build pod sees its inputs.
pub const INPUTS_DIR: &str = "/tmp/build/inputs";

/// The local directory a Git source URI names: `file:///path` or an absolute path (the
/// simulator clones nothing: it reads the working tree as it is, without `.git`).
pub fn local_source(uri: &str) -> Option<std::path::PathBuf> {
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    path.starts_with('/')
        .then(|| std::path::PathBuf::from(path))
}

/// Packs a directory into a tar archive (entries sorted by name, `.git` left out, times
/// set to `mtime` so that the same tree always packs the same bytes).
pub fn pack_dir(dir: &std::path::Path, mtime: u64) -> Result<Vec<u8>, String> {
    fn walk(
        ar: &mut tar::Builder<Vec<u8>>,
        dir: &std::path::Path,
        rel: &str,
        mtime: u64,
    ) -> Result<(), String> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" {
                continue;
            }
            let path = e.path();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let md = std::fs::symlink_metadata(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                md.permissions().mode() & 0o7777
            };
            let mut h = tar::Header::new_gnu();
            h.set_mtime(mtime);
            h.set_mode(mode);
            if md.file_type().is_symlink() {
                let target = std::fs::read_link(&path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                ar.append_link(&mut h, &rel, &target)
                    .map_err(|e| format!("packing {rel}: {e}"))?;
            } else if md.is_dir() {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                ar.append_data(&mut h, format!("{rel}/"), std::io::empty())
                    .map_err(|e| format!("packing {rel}: {e}"))?;
                walk(ar, &path, &rel, mtime)?;
            } else {
                let data =
                    std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                ar.append_data(&mut h, &rel, data.as_slice())
                    .map_err(|e| format!("packing {rel}: {e}"))?;
            }
        }
        Ok(())
    }
    let mut ar = tar::Builder::new(Vec::new());
    walk(&mut ar, dir, "", mtime)?;
    ar.into_inner().map_err(|e| format!("packing: {e}"))
}

/// The source ConfigMap object of a build (owned by it when `owner` is given).
pub fn source_object(build: &str, archive: &[u8], owner: Option<&Value>) -> Value {
    use base64::Engine;
    let mut cm = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": source_config_map(build), "labels": {BUILD_NAME: build}},
        "binaryData": {SOURCE_KEY: base64::engine::general_purpose::STANDARD.encode(archive)},
    });
    if let Some(o) = owner {
        cm["metadata"]["ownerReferences"] = json!([controller_ref(o)]);
    }
    cm
}

/// Clones the local repository `repo` into a scratch directory and checks out `r` (a
/// branch, tag or commit) with the `git` command; Err says why (unknown ref, no git).
pub(super) fn checkout_ref(repo: &std::path::Path, r: &str) -> Result<tempfile::TempDir, String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("creating a checkout directory: {e}"))?;
    let git = |args: &[&std::ffi::OsStr]| -> Result<(), String> {
        let out = std::process::Command::new("git")
            .args(["-c", "advice.detachedHead=false"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .map_err(|e| format!("running git to check out {r:?}: {e} (is git installed?)"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    };
    git(&[
        "clone".as_ref(),
        "--quiet".as_ref(),
        "--no-checkout".as_ref(),
        repo.as_os_str(),
        tmp.path().as_os_str(),
    ])
    .map_err(|e| format!("cloning {}: {e}", repo.display()))?;
    git(&[
        "-C".as_ref(),
        tmp.path().as_os_str(),
        "checkout".as_ref(),
        "--quiet".as_ref(),
        r.as_ref(),
        "--".as_ref(),
    ])
    .map_err(|e| {
        format!(
            "error: unable to check out {r:?} of {}: {e}",
            repo.display()
        )
    })?;
    Ok(tmp)
}

/// Packs a Git build's local source into its source ConfigMap (nothing to do for other
/// sources); Err is the message of a FetchSourceFailed build.
pub(super) fn stage_git_source(w: &mut World<'_>, b: &Value) -> Result<(), String> {
    let Some(uri) = b.pointer("/spec/source/git/uri").and_then(Value::as_str) else {
        return Ok(());
    };
    let Some(mut dir) = local_source(uri) else {
        return Err(format!(
            "the simulator reads Git sources from local directories only (file:///path or /path), not {uri:?}"
        ));
    };
    // A ref: that commit of the repository, checked out by the `git` command into a scratch
    // clone (the working tree otherwise).
    let checkout;
    if let Some(r) = b
        .pointer("/spec/source/git/ref")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        checkout = checkout_ref(&dir, r)?;
        dir = checkout.path().to_path_buf();
    }
    if let Some(ctx) = b
        .pointer("/spec/source/contextDir")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    {
        dir = dir.join(ctx.trim_start_matches('/'));
    }
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mtime = w.now.as_second().max(0) as u64;
    let archive = pack_dir(&dir, mtime)?;
    let cm_tid = w
        .store
        .type_id_of::<k8s_openapi::api::core::v1::ConfigMap>()
        .ok_or("configmaps are not served")?;
    let cm = source_object(meta::name(b), &archive, Some(b));
    match w
        .store
        .create(cm_tid, meta::namespace(b), cm, &WriteOptions::default())
    {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e.message.clone()),
    }
}
