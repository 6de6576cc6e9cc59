//! File helpers shared by the local config and the preference file: YAML reads whose errors name
//! the file and the line, and atomic writes (temp file in the same directory + rename).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ConfigError;

/// Reads and parses a YAML file; `Ok(None)` when it does not exist.
pub fn read_yaml<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse_yaml(path, &text).map(Some)
}

/// Parses YAML text that came from `path`, turning a syntax or shape error into one naming the
/// file, the line and the column.
pub fn parse_yaml<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    if text.trim().is_empty() {
        return serde_yaml::from_str("{}").map_err(|err| yaml_error(path, err));
    }
    serde_yaml::from_str(text).map_err(|err| yaml_error(path, err))
}

fn yaml_error(path: &Path, err: serde_yaml::Error) -> ConfigError {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let mut message = err.to_string();
    // serde_yaml appends " at line X column Y"; the location is printed separately.
    if let Some(idx) = message.find(" at line ") {
        message.truncate(idx);
    }
    ConfigError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Serializes `value` as YAML and writes it atomically to `path`, creating parent directories.
pub fn write_yaml_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), ConfigError> {
    let text = serde_yaml::to_string(value).map_err(|err| ConfigError::Serialize {
        path: path.to_path_buf(),
        message: err.to_string(),
    })?;
    write_atomic(path, text.as_bytes())
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    use std::io::Write;
    let write_err = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = parent_dir(path);
    std::fs::create_dir_all(&dir).map_err(write_err)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".odo-tmp-")
        .tempfile_in(&dir)
        .map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|err| write_err(err.error))?;
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Doc {
        a: u32,
    }

    #[test]
    fn parse_error_names_file_and_line() {
        let path = Path::new("/x/config.yaml");
        let err = parse_yaml::<Doc>(path, "a: 1\nb: [\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/x/config.yaml:"), "{text}");
        match err {
            ConfigError::Parse { line, .. } => assert!(line >= 2, "line {line}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn type_error_has_line() {
        let err = parse_yaml::<Doc>(Path::new("f.yaml"), "\n\na: notanumber\n").unwrap_err();
        match err {
            ConfigError::Parse { line, .. } => assert_eq!(line, 3),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn atomic_write_round_trips_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/doc.yaml");
        write_yaml_atomic(&path, &Doc { a: 7 }).unwrap();
        write_yaml_atomic(&path, &Doc { a: 8 }).unwrap();
        let back: Doc = read_yaml(&path).unwrap().unwrap();
        assert_eq!(back, Doc { a: 8 });
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("doc.yaml")]);
    }

    #[test]
    fn missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_yaml::<Doc>(&dir.path().join("nope"))
                .unwrap()
                .is_none()
        );
    }
}
