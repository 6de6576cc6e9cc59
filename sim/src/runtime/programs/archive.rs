//! Archives: `tar` (create, extract, list; optional gzip) with the `tar` crate, and `gzip`.
//!
//! odo streams its sources with `tar xf - -C /tmp/src` over exec, and the builder image's
//! `copy-files-to-volume` script pipes `tar cf - .` into `tar xf -`.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use jiff::Timestamp;

use super::files::with_name;
use crate::runtime::fs::{FsError, Node, Vfs, absolute};
use crate::runtime::process::Proc;

struct TarArgs {
    mode: char,
    file: Option<String>,
    dir: Option<String>,
    gzip: bool,
    verbose: bool,
    keep_mtime: bool,
    paths: Vec<String>,
}

fn parse_tar(argv: &[String]) -> Result<TarArgs, String> {
    let mut t = TarArgs {
        mode: ' ',
        file: None,
        dir: None,
        gzip: false,
        verbose: false,
        keep_mtime: true,
        paths: Vec::new(),
    };
    let mut i = 0;
    let mut first = true;
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some(("directory", d)) => t.dir = Some(d.to_string()),
                Some(("file", f)) => t.file = Some(f.to_string()),
                _ => match long {
                    "extract" | "get" => t.mode = 'x',
                    "create" => t.mode = 'c',
                    "list" => t.mode = 't',
                    "gzip" => t.gzip = true,
                    "touch" => t.keep_mtime = false,
                    "directory" => {
                        t.dir = argv.get(i).cloned();
                        i += 1;
                    }
                    // Ownership and permission options have no meaning for one simulated user.
                    _ => {}
                },
            }
            continue;
        }
        let bundle = if let Some(b) = a.strip_prefix('-') {
            Some(b)
        } else if first {
            Some(a.as_str())
        } else {
            None
        };
        first = false;
        let Some(bundle) = bundle else {
            t.paths.push(a.clone());
            continue;
        };
        for c in bundle.chars() {
            match c {
                'x' | 'c' | 't' => t.mode = c,
                'z' => t.gzip = true,
                'v' => t.verbose = true,
                'm' => t.keep_mtime = false,
                'f' => {
                    t.file = Some(
                        argv.get(i)
                            .cloned()
                            .ok_or("option requires an argument -- 'f'")?,
                    );
                    i += 1;
                }
                'C' => {
                    t.dir = Some(
                        argv.get(i)
                            .cloned()
                            .ok_or("option requires an argument -- 'C'")?,
                    );
                    i += 1;
                }
                'o' | 'p' | 'h' | 'O' => {}
                other => return Err(format!("invalid option -- '{other}'")),
            }
        }
    }
    if t.mode == ' ' {
        return Err("You must specify one of the '-Acdtrux' options".into());
    }
    Ok(t)
}

/// `tar [-]{x|c|t}[zvf] [ARCHIVE] [-C DIR] [PATH...]`.
pub async fn tar(p: Proc) -> i32 {
    let t = match parse_tar(&p.argv[1..]) {
        Ok(t) => t,
        Err(e) => {
            p.err(e);
            return 2;
        }
    };
    let base = t.dir.as_deref().map(|d| p.abs(d)).unwrap_or(p.cwd.clone());
    if t.dir.is_some() && !p.sys.fs.is_dir(&base) {
        p.err(format!(
            "{}: Cannot open: No such file or directory",
            t.dir.as_deref().unwrap_or("")
        ));
        return 2;
    }
    match t.mode {
        'c' => {
            let data = match create(&p.sys.fs, &base, &t.paths, t.verbose.then_some(&p)) {
                Ok(d) => d,
                Err(e) => {
                    p.err(e);
                    return 2;
                }
            };
            let data = if t.gzip { gzip_bytes(&data) } else { data };
            match t.file.as_deref() {
                None | Some("-") => p.io.stdout.write(&data),
                Some(f) => {
                    if let Err(e) = p.sys.fs.write(&p.abs(f), &data, false, 0o644, p.now()) {
                        p.err(e);
                        return 2;
                    }
                }
            }
            0
        }
        _ => {
            let raw = match t.file.as_deref() {
                None | Some("-") => p.io.stdin.read_all().await,
                Some(f) => match p.sys.fs.read(&p.abs(f)) {
                    Ok(d) => d.to_vec(),
                    Err(e) => {
                        p.err(format!("{}: Cannot open", with_name(e, f)));
                        return 2;
                    }
                },
            };
            let data = if t.gzip || raw.starts_with(&[0x1f, 0x8b]) {
                match gunzip_bytes(&raw) {
                    Ok(d) => d,
                    Err(e) => {
                        p.err(format!("gzip: stdin: {e}"));
                        return 2;
                    }
                }
            } else {
                raw
            };
            let res = if t.mode == 'x' {
                extract(&p, &data, &base, t.keep_mtime, t.verbose)
            } else {
                list(&p, &data)
            };
            match res {
                Ok(()) => 0,
                Err(e) => {
                    p.err(e);
                    2
                }
            }
        }
    }
}

fn to_epoch(t: Timestamp) -> u64 {
    u64::try_from(t.as_second()).unwrap_or(0)
}

/// Builds an uncompressed tar of `paths` (relative to `base`), entry names as given.
pub fn create(
    fs: &Vfs,
    base: &str,
    paths: &[String],
    verbose: Option<&Proc>,
) -> Result<Vec<u8>, String> {
    let mut b = tar::Builder::new(Vec::new());
    for path in paths {
        let node = fs
            .subtree(&absolute(base, path), false)
            .map_err(|e| format!("{}: Cannot stat", with_name(e, path)))?;
        let name = path.trim_start_matches('/').to_string();
        append(&mut b, &name, &node, verbose)?;
    }
    b.into_inner().map_err(|e| e.to_string())
}

fn append(
    b: &mut tar::Builder<Vec<u8>>,
    name: &str,
    node: &Node,
    verbose: Option<&Proc>,
) -> Result<(), String> {
    if let Some(p) = verbose {
        p.io.stderr.print(&format!("{name}\n"));
    }
    let mut h = tar::Header::new_gnu();
    h.set_mode(node.mode());
    h.set_mtime(to_epoch(node.mtime()));
    h.set_uid(0);
    h.set_gid(0);
    let err = |e: std::io::Error| format!("{name}: {e}");
    match node {
        Node::File(f) => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(f.data.len() as u64);
            b.append_data(&mut h, name, &f.data[..]).map_err(err)?;
        }
        Node::Symlink(s) => {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, name, &s.target).map_err(err)?;
        }
        Node::Dir(d) => {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            let dname = if name.ends_with('/') || name.is_empty() {
                name.to_string()
            } else {
                format!("{name}/")
            };
            let dname = if dname.is_empty() {
                "./".to_string()
            } else {
                dname
            };
            b.append_data(&mut h, &dname, std::io::empty())
                .map_err(err)?;
            for (child, n) in &d.entries {
                let cname = if name == "." {
                    format!("./{child}")
                } else {
                    format!("{}{child}", dname)
                };
                append(b, &cname, n, verbose)?;
            }
        }
    }
    Ok(())
}

fn ensure_dir(fs: &Vfs, path: &str, now: Timestamp) -> Result<(), FsError> {
    match fs.node(path) {
        Ok(n) if matches!(*n, Node::Dir(_)) => Ok(()),
        _ => fs.mkdir(path, true, 0o755, now),
    }
}

/// Extracts a tar into `base` (leading `/` and `..` components are dropped, as GNU tar does).
pub fn extract(
    p: &Proc,
    data: &[u8],
    base: &str,
    keep_mtime: bool,
    verbose: bool,
) -> Result<(), String> {
    let fs = &p.sys.fs;
    let now = p.now();
    let mut ar = tar::Archive::new(data);
    let entries = ar
        .entries()
        .map_err(|e| format!("This does not look like a tar archive: {e}"))?;
    // Directory times are applied last, since creating children changes them.
    let mut dir_times = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("Unexpected EOF in archive: {e}"))?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let clean: Vec<&str> = name
            .split('/')
            .filter(|c| !c.is_empty() && *c != "." && *c != "..")
            .collect();
        if verbose {
            p.io.stdout.print(&format!("{name}\n"));
        }
        let target = if clean.is_empty() {
            base.to_string()
        } else {
            absolute(base, &clean.join("/"))
        };
        let h = entry.header();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mtime = if keep_mtime {
            h.mtime()
                .ok()
                .and_then(|m| Timestamp::from_second(i64::try_from(m).unwrap_or(0)).ok())
                .unwrap_or(now)
        } else {
            now
        };
        let etype = h.entry_type();
        let parent = absolute(&target, "..");
        if !clean.is_empty() {
            ensure_dir(fs, &parent, now).map_err(|e| format!("{name}: Cannot mkdir: {e}"))?;
        }
        match etype {
            tar::EntryType::Directory => {
                ensure_dir(fs, &target, now).map_err(|e| format!("{name}: Cannot mkdir: {e}"))?;
                let _ = fs.modify(&target, |n| n.set_mode(mode));
                dir_times.push((target, mtime));
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let _ = fs.remove(&target, true, now);
                fs.put(&target, Node::symlink(link, mtime), true)
                    .map_err(|e| format!("{name}: Cannot create symlink: {e}"))?;
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|l| l.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let src = fs
                    .node(&absolute(base, &link))
                    .map_err(|e| format!("{name}: Cannot hard link: {e}"))?;
                fs.put(&target, (*src).clone(), true)
                    .map_err(|e| format!("{name}: Cannot hard link: {e}"))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut buf = Vec::new();
                entry
                    .read_to_end(&mut buf)
                    .map_err(|e| format!("{name}: Read error: {e}"))?;
                if let Ok(n) = fs.lnode(&target)
                    && !matches!(*n, Node::Dir(_))
                {
                    let _ = fs.remove(&target, false, now);
                }
                fs.put(&target, Node::file(buf, mode, mtime), false)
                    .map_err(|e| format!("{name}: Cannot open: {e}"))?;
            }
            // Pax/GNU extension headers are consumed by the tar crate; others are skipped.
            _ => {}
        }
    }
    for (path, t) in dir_times.into_iter().rev() {
        let _ = fs.modify(&path, |n| n.set_mtime(t));
    }
    Ok(())
}

fn list(p: &Proc, data: &[u8]) -> Result<(), String> {
    let mut ar = tar::Archive::new(data);
    for entry in ar.entries().map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        p.io.stdout.print(&format!(
            "{}\n",
            String::from_utf8_lossy(&entry.path_bytes())
        ));
    }
    Ok(())
}

/// Gzip-compresses bytes (deterministic: no name, no time in the header).
pub fn gzip_bytes(d: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(d);
    e.finish().unwrap_or_default()
}

/// Decompresses gzip bytes.
pub fn gunzip_bytes(d: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    GzDecoder::new(d)
        .read_to_end(&mut out)
        .map_err(|_| "not in gzip format".to_string())?;
    Ok(out)
}

/// `gzip [-d] [-c] [FILE...]`, `gunzip`, `zcat`.
pub async fn gzip(p: Proc) -> i32 {
    let name = p.name();
    let mut decompress = name == "gunzip" || name == "zcat";
    let mut to_stdout = name == "zcat";
    let mut files = Vec::new();
    for a in &p.argv[1..] {
        match a.as_str() {
            "-d" => decompress = true,
            "-c" => to_stdout = true,
            "-dc" | "-cd" => {
                decompress = true;
                to_stdout = true;
            }
            "-f" | "-9" | "-n" => {}
            f => files.push(f.to_string()),
        }
    }
    let convert = |d: &[u8]| -> Result<Vec<u8>, String> {
        if decompress {
            gunzip_bytes(d)
        } else {
            Ok(gzip_bytes(d))
        }
    };
    if files.is_empty() {
        let input = p.io.stdin.read_all().await;
        return match convert(&input) {
            Ok(d) => {
                p.io.stdout.write(&d);
                0
            }
            Err(e) => {
                p.err(format!("stdin: {e}"));
                1
            }
        };
    }
    let mut code = 0;
    for f in files {
        let abs = p.abs(&f);
        let res = p
            .sys
            .fs
            .read(&abs)
            .map_err(|e| with_name(e, &f).to_string())
            .and_then(|d| convert(&d));
        match res {
            Ok(out) if to_stdout => p.io.stdout.write(&out),
            Ok(out) => {
                let target = if decompress {
                    abs.trim_end_matches(".gz").to_string()
                } else {
                    format!("{abs}.gz")
                };
                let w = p.sys.fs.write(&target, &out, false, 0o644, p.now());
                let r = p.sys.fs.remove(&abs, false, p.now());
                if let Err(e) = w.and(r) {
                    p.err(e);
                    code = 1;
                }
            }
            Err(e) => {
                p.err(e);
                code = 1;
            }
        }
    }
    code
}
