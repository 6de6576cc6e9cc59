//! Zip uploads of binary builds (`oc start-build --from-archive=app.zip`): the zip is checked
//! entry by entry and repacked as the tar the build pod unpacks into `/tmp/src`.
//!
//! The real build pod extracts the upload with `bsdtar -x -o -m`, which reads zip as well as
//! tar and refuses entries that would land outside the target directory. The simulator does
//! the same checks at upload time and answers 400 BadRequest naming the first bad entry; the
//! tar is built completely in memory first, so a refused zip leaves nothing behind.

use std::io::Read;

use crate::error::{ApiError, ApiResult};

/// The most a zip upload may unpack to: a guard against zip bombs.
pub const MAX_UNPACKED: u64 = 512 * 1024 * 1024;

/// Whether `data` starts like a zip archive (a local file header, or the end record of an
/// empty zip).
pub fn is_zip(data: &[u8]) -> bool {
    data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06")
}

/// Why a path inside the archive may not be unpacked, if it may not.
fn unsafe_path(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("an empty name");
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("an absolute path");
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Some("an absolute path");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Some("a path that leaves the source directory (`..`)");
    }
    if name.contains('\0') {
        return Some("a NUL byte in its name");
    }
    None
}

fn bad(entry: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "the uploaded zip archive cannot be unpacked: entry {entry:?}: {why}"
    ))
}

/// Repacks a zip upload as a tar (entries in the zip's order), refusing unsafe or damaged
/// entries by name.
pub fn zip_to_tar(data: &[u8]) -> ApiResult<Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(data)).map_err(|e| {
        ApiError::bad_request(format!("the uploaded body is not a valid zip archive: {e}"))
    })?;
    let mut out = tar::Builder::new(Vec::new());
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| {
            ApiError::bad_request(format!("the uploaded zip archive: entry #{i}: {e}"))
        })?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        if let Some(why) = unsafe_path(&name) {
            return Err(bad(&name, format!("unsafe path: {why}")));
        }
        let path = name.replace('\\', "/");
        let path = path.trim_end_matches('/');
        if path.is_empty() || path == "." {
            continue;
        }
        let mode = entry.unix_mode().map(|m| m & 0o7777);
        let mut h = tar::Header::new_gnu();
        h.set_mtime(0);
        if entry.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(mode.unwrap_or(0o755));
            h.set_size(0);
            out.append_data(&mut h, path, std::io::empty())
                .map_err(|e| bad(&name, e))?;
            continue;
        }
        let limit = MAX_UNPACKED.saturating_sub(total) + 1;
        let mut body = Vec::new();
        (&mut entry)
            .take(limit)
            .read_to_end(&mut body)
            .map_err(|e| bad(&name, format!("damaged entry: {e}")))?;
        total += body.len() as u64;
        if total > MAX_UNPACKED {
            return Err(bad(
                &name,
                format!("the archive unpacks to more than {MAX_UNPACKED} bytes"),
            ));
        }
        if entry.is_symlink() {
            let target = String::from_utf8_lossy(&body).into_owned();
            if let Some(why) = unsafe_path(&target) {
                return Err(bad(&name, format!("a symbolic link to {target:?}, {why}")));
            }
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            out.append_link(&mut h, path, &target)
                .map_err(|e| bad(&name, e))?;
            continue;
        }
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode.unwrap_or(0o644));
        h.set_size(body.len() as u64);
        out.append_data(&mut h, path, body.as_slice())
            .map_err(|e| bad(&name, e))?;
    }
    out.into_inner()
        .map_err(|e| ApiError::internal(format!("repacking the zip upload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o640);
        for (name, body) in entries {
            if name.ends_with('/') {
                w.add_directory(*name, opts).expect("dir");
            } else {
                w.start_file(*name, opts).expect("start");
                w.write_all(body).expect("write");
            }
        }
        w.finish().expect("finish").into_inner()
    }

    fn tar_entries(t: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut ar = tar::Archive::new(t);
        let mut v = Vec::new();
        for e in ar.entries().expect("entries") {
            let mut e = e.expect("entry");
            let name = e.path().expect("path").display().to_string();
            let mode = e.header().mode().expect("mode");
            let mut b = Vec::new();
            e.read_to_end(&mut b).expect("read");
            v.push((name, mode, b));
        }
        v
    }

    #[test]
    fn a_zip_is_repacked_as_a_tar_with_its_dirs_modes_and_contents() {
        let z = zip_of(&[
            ("src/", b""),
            ("src/app.py", b"print('zip')\n"),
            ("requirements.txt", b"flask\n"),
        ]);
        assert!(is_zip(&z));
        let t = zip_to_tar(&z).expect("repack");
        let e = tar_entries(&t);
        let names: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["src", "src/app.py", "requirements.txt"]);
        assert_eq!(e[1].1, 0o640);
        assert_eq!(e[1].2, b"print('zip')\n");
    }

    #[test]
    fn unsafe_entries_are_refused_by_name() {
        for bad_name in [
            "../evil.sh",
            "a/../../evil.sh",
            "/etc/passwd",
            "C:/x",
            "a\\..\\b",
        ] {
            let z = zip_of(&[("ok.txt", b"fine"), (bad_name, b"x")]);
            let e = zip_to_tar(&z).expect_err(bad_name);
            assert_eq!(e.code, 400);
            assert!(
                e.message.contains(&format!("{bad_name:?}")) && e.message.contains("unsafe path"),
                "{bad_name}: {}",
                e.message
            );
        }
        assert!(
            zip_to_tar(&zip_of(&[("a/..b/c", b"x")])).is_ok(),
            "`..b` is a plain name"
        );
    }

    #[test]
    fn a_damaged_zip_is_a_bad_request() {
        let mut z = zip_of(&[("app.py", b"print('a fairly long body to compress well')\n")]);
        let e = zip_to_tar(&z[..z.len() / 2]).expect_err("truncated");
        assert_eq!(e.code, 400);
        assert!(
            e.message.contains("not a valid zip archive"),
            "{}",
            e.message
        );
        // Flip a byte of the compressed data: the CRC check names the entry.
        let at = 30 + "app.py".len() + 2;
        z[at] ^= 0xff;
        let e = zip_to_tar(&z).expect_err("corrupt");
        assert_eq!(e.code, 400);
        assert!(e.message.contains("\"app.py\""), "{}", e.message);
    }
}
