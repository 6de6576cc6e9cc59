//! Building the tar stream of the added and modified paths, written incrementally to any
//! `Write` (in a push: a pipe whose other end is the exec's stdin), one file open at a time.
//!
//! Entries are GNU tar headers (long names via GNU extensions) each preceded by a PAX header
//! carrying the nanosecond `mtime`, so GNU tar restores modification times exactly. Modes are the
//! file's permission bits; symlinks are link entries; directories are header-only entries (their
//! content is never re-sent because of them). A file that cannot be opened is left out and
//! reported in [`ArchiveSummary::unsent`], so it stays pending for the next push. A file that
//! shrinks while being read is padded with zeros to the size in its header (and will differ
//! next time, so it is resent).

use std::io::{self, Read, Write};
use std::path::Path;

use tar::{EntryType, Header, HeaderMode};

use crate::indexer::{EntryKind, Update};

/// What went into an archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Regular files written.
    pub files: u64,
    /// Directory entries written.
    pub dirs: u64,
    /// Symlink entries written.
    pub symlinks: u64,
    /// Bytes of file content written.
    pub content_bytes: u64,
    /// Paths left out because they could not be read (sorted), with a warning each.
    pub unsent: Vec<String>,
    /// One line per path left out.
    pub warnings: Vec<String>,
}

/// Writes the archive of `entries` (relative to `root`, in the given order) to `out`.
pub fn write_archive<'u, W: Write>(
    root: &Path,
    entries: impl IntoIterator<Item = &'u Update>,
    out: W,
) -> io::Result<ArchiveSummary> {
    let mut builder = tar::Builder::new(out);
    builder.mode(HeaderMode::Complete);
    builder.follow_symlinks(false);
    let mut summary = ArchiveSummary::default();
    for u in entries {
        let path = root.join(&u.path);
        let skip = |summary: &mut ArchiveSummary, err: io::Error| {
            summary.unsent.push(u.path.clone());
            summary.warnings.push(format!("not sent {}: {err}", u.path));
        };
        match u.meta.kind {
            EntryKind::File | EntryKind::Unknown => {
                let file = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) => {
                        skip(&mut summary, e);
                        continue;
                    }
                };
                let md = match file.metadata() {
                    Ok(md) if md.is_file() => md,
                    Ok(_) => {
                        skip(
                            &mut summary,
                            io::Error::other("it is no longer a regular file"),
                        );
                        continue;
                    }
                    Err(e) => {
                        skip(&mut summary, e);
                        continue;
                    }
                };
                let mut header = Header::new_gnu();
                header.set_metadata_in_mode(&md, HeaderMode::Complete);
                header.set_entry_type(EntryType::Regular);
                let size = md.len();
                header.set_size(size);
                append_mtime(&mut builder, crate::indexer::scan::mtime_nanos(&md))?;
                let reader = file.take(size).chain(io::repeat(0)).take(size);
                builder.append_data(&mut header, &u.path, reader)?;
                summary.files += 1;
                summary.content_bytes += size;
            }
            EntryKind::Dir => {
                let md = match std::fs::symlink_metadata(&path) {
                    Ok(md) if md.is_dir() => md,
                    Ok(_) => {
                        skip(
                            &mut summary,
                            io::Error::other("it is no longer a directory"),
                        );
                        continue;
                    }
                    Err(e) => {
                        skip(&mut summary, e);
                        continue;
                    }
                };
                let mut header = Header::new_gnu();
                header.set_metadata_in_mode(&md, HeaderMode::Complete);
                header.set_entry_type(EntryType::Directory);
                header.set_size(0);
                append_mtime(&mut builder, crate::indexer::scan::mtime_nanos(&md))?;
                builder.append_data(&mut header, &u.path, io::empty())?;
                summary.dirs += 1;
            }
            EntryKind::Symlink => {
                let (md, target) = match std::fs::symlink_metadata(&path)
                    .and_then(|md| Ok((md, std::fs::read_link(&path)?)))
                {
                    Ok(v) => v,
                    Err(e) => {
                        skip(&mut summary, e);
                        continue;
                    }
                };
                let mut header = Header::new_gnu();
                header.set_metadata_in_mode(&md, HeaderMode::Complete);
                header.set_entry_type(EntryType::Symlink);
                header.set_size(0);
                append_mtime(&mut builder, crate::indexer::scan::mtime_nanos(&md))?;
                builder.append_link(&mut header, &u.path, &target)?;
                summary.symlinks += 1;
            }
        }
    }
    builder.into_inner()?.flush()?;
    summary.unsent.sort();
    Ok(summary)
}

fn append_mtime<W: Write>(builder: &mut tar::Builder<W>, mtime: i64) -> io::Result<()> {
    let value = if mtime >= 0 {
        format!("{}.{:09}", mtime / 1_000_000_000, mtime % 1_000_000_000)
    } else {
        format!("{}", mtime.div_euclid(1_000_000_000))
    };
    builder.append_pax_extensions([("mtime", value.as_bytes())])
}
