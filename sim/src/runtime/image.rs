//! The image catalogue: images as data (`fixtures/images/*.yaml`, embedded in the binary; more
//! directories can be loaded), turned into immutable file trees plus their configuration.
//!
//! An image file lists its files (inline content and mode, directories, symlinks, or `program:`
//! markers that stand for builtin programs), env, working dir, user, labels, entrypoint/cmd and
//! exposed ports; `base:` inherits another image. References are normalised the way container
//! runtimes do (`busybox` is `docker.io/library/busybox:latest`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use jiff::Timestamp;
use serde::Deserialize;

use super::fs::{Node, SharedTree, Vfs};
use super::programs;

/// The catalogue files shipped with the simulator.
const BUILTIN: &[(&str, &str)] = &[
    (
        "busybox.yaml",
        include_str!("../../../fixtures/images/busybox.yaml"),
    ),
    (
        "ubi8.yaml",
        include_str!("../../../fixtures/images/ubi8.yaml"),
    ),
    (
        "nodejs-14.yaml",
        include_str!("../../../fixtures/images/nodejs-14.yaml"),
    ),
    (
        "openjdk-11.yaml",
        include_str!("../../../fixtures/images/openjdk-11.yaml"),
    ),
    (
        "python-38.yaml",
        include_str!("../../../fixtures/images/python-38.yaml"),
    ),
    (
        "odo-init.yaml",
        include_str!("../../../fixtures/images/odo-init.yaml"),
    ),
    (
        "hello-openshift.yaml",
        include_str!("../../../fixtures/images/hello-openshift.yaml"),
    ),
];

/// Reference of the image unknown images run on.
pub const BASE_IMAGE: &str = "docker.io/library/busybox:latest";

/// An error loading the catalogue.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// A catalogue file is not valid YAML of the expected shape.
    #[error("image file {file}: {source}")]
    Parse {
        /// The file.
        file: String,
        /// What was wrong.
        source: serde_yaml::Error,
    },
    /// A directory could not be read.
    #[error("reading image catalogue directory {dir}: {source}")]
    Io {
        /// The directory.
        dir: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// An image names a base that is not in the catalogue.
    #[error("image {image}: base image {base} is not in the catalogue (define it first)")]
    MissingBase {
        /// The image.
        image: String,
        /// The missing base.
        base: String,
    },
    /// A file entry is invalid.
    #[error("image {image}: file {path}: {reason}")]
    BadFile {
        /// The image.
        image: String,
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
}

/// Why an image could not be pulled (the kubelet reports `ErrImagePull`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    /// The catalogue is strict and does not hold this image.
    #[error(
        "failed to pull image \"{reference}\": not found in the simulator's image catalogue (add fixtures/images/<name>.yaml or disable strict mode)"
    )]
    NotFound {
        /// The reference as given.
        reference: String,
    },
    /// The reference cannot be parsed.
    #[error("invalid image reference \"{0}\"")]
    InvalidReference(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageFile {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    base: Option<String>,
    user: Option<String>,
    workdir: Option<String>,
    #[serde(default)]
    env: IndexMap<String, String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    #[serde(default)]
    ports: Vec<String>,
    #[serde(default)]
    dirs: Vec<String>,
    /// Directory to list of builtin programs placed there.
    #[serde(default)]
    programs: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    files: Vec<FileEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    path: String,
    content: Option<String>,
    program: Option<String>,
    symlink: Option<String>,
    mode: Option<String>,
}

/// Configuration of an image (what `docker inspect` shows under Config).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct ImageConfig {
    /// User to run as (name or uid).
    pub user: Option<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// Environment, in order.
    pub env: Vec<(String, String)>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Default command.
    pub cmd: Vec<String>,
    /// Exposed ports (`8080/tcp`).
    pub ports: Vec<String>,
}

/// An image: its normalised reference, immutable root tree and configuration.
#[derive(Debug, Clone)]
pub struct Image {
    /// Normalised reference (`docker.io/library/busybox:latest`).
    pub reference: String,
    /// The read-only layer every container of this image shares.
    pub root: Arc<Node>,
    /// Env, workdir, user, labels, entrypoint/cmd, ports.
    pub config: ImageConfig,
}

/// Normalises an image reference: default registry `docker.io`, `library/` for single names,
/// default tag `latest`.
pub fn normalize(reference: &str) -> Result<String, PullError> {
    let r = reference.trim();
    if r.is_empty() || r.contains(char::is_whitespace) {
        return Err(PullError::InvalidReference(reference.to_string()));
    }
    let (name, suffix) = if let Some((n, d)) = r.split_once('@') {
        (n.to_string(), format!("@{d}"))
    } else {
        let last_slash = r.rfind('/').map(|i| i + 1).unwrap_or(0);
        match r[last_slash..].rfind(':') {
            Some(i) => (
                r[..last_slash + i].to_string(),
                r[last_slash + i..].to_string(),
            ),
            None => (r.to_string(), ":latest".to_string()),
        }
    };
    let first = name.split('/').next().unwrap_or("");
    let has_domain =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_domain {
        name
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    Ok(format!("{}{suffix}", full.to_lowercase()))
}

/// The simulated content digest (`sha256:<hex>`) of an image reference: the SHA-256 of its
/// normalised form, so a tag always stands for the same image and `repo@<digest>` pulls it.
pub fn simulated_digest(reference: &str) -> String {
    use sha2::Digest;
    let norm = normalize(reference).unwrap_or_else(|_| reference.trim().to_string());
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(norm.as_bytes()))
    )
}

/// `repo@<simulated digest>` of a normalised tagged reference (None for a digest reference).
fn digest_reference(norm: &str) -> Option<String> {
    if norm.contains('@') {
        return None;
    }
    let last_slash = norm.rfind('/').map(|i| i + 1).unwrap_or(0);
    let repo = match norm[last_slash..].rfind(':') {
        Some(i) => &norm[..last_slash + i],
        None => norm,
    };
    Some(format!("{repo}@{}", simulated_digest(norm)))
}

/// The set of images the simulator can run.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    images: BTreeMap<String, Arc<Image>>,
    /// Images pushed while the cluster runs (the output of builds), by normalised reference;
    /// shared by the clones of this catalogue.
    pushed: Arc<std::sync::RwLock<BTreeMap<String, Arc<Image>>>>,
    /// Where pushes are recorded to outlive a restart (`--state DIR`); shared like `pushed`.
    journal: Arc<std::sync::OnceLock<super::image_journal::Journal>>,
    /// When true, unknown images fail to pull instead of running on the busybox base.
    pub strict: bool,
}

fn parse_mode(
    image: &str,
    path: &str,
    m: Option<&str>,
    default: u32,
) -> Result<u32, CatalogueError> {
    match m {
        None => Ok(default),
        Some(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).map_err(|_| {
            CatalogueError::BadFile {
                image: image.to_string(),
                path: path.to_string(),
                reason: format!("mode {s:?} is not an octal number like \"0755\""),
            }
        }),
    }
}

impl Catalogue {
    /// The catalogue shipped with the simulator (embedded fixtures).
    pub fn builtin() -> Result<Self, CatalogueError> {
        let mut c = Catalogue::default();
        for (file, text) in BUILTIN {
            c.add_yaml(file, text)?;
        }
        Ok(c)
    }

    /// Adds every `*.yaml` file of `dir` (sorted by name; bases must come first or already exist).
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), CatalogueError> {
        let io = |source| CatalogueError::Io {
            dir: dir.display().to_string(),
            source,
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(io)?;
            self.add_yaml(&f.display().to_string(), &text)?;
        }
        Ok(())
    }

    /// Adds one image described in YAML.
    pub fn add_yaml(&mut self, file: &str, text: &str) -> Result<(), CatalogueError> {
        let spec: ImageFile =
            serde_yaml::from_str(text).map_err(|source| CatalogueError::Parse {
                file: file.to_string(),
                source,
            })?;
        let image = self.build(spec.name.clone(), &spec)?;
        let image = Arc::new(image);
        // Each name also pulls by its simulated digest (`repo@sha256:...`), the reference an
        // ImageStream import records and DeploymentConfigs and builds then use.
        let mut names: Vec<String> = spec
            .aliases
            .iter()
            .filter_map(|a| normalize(a).ok())
            .collect();
        names.push(image.reference.clone());
        for n in names {
            if let Some(d) = digest_reference(&n) {
                self.images.insert(d, image.clone());
            }
            self.images.insert(n, image.clone());
        }
        Ok(())
    }

    fn build(&self, name: String, spec: &ImageFile) -> Result<Image, CatalogueError> {
        let reference = normalize(&name).map_err(|_| CatalogueError::BadFile {
            image: name.clone(),
            path: String::new(),
            reason: "invalid image reference".into(),
        })?;
        let t = Timestamp::UNIX_EPOCH;
        let (root, mut config) = match &spec.base {
            Some(b) => {
                let base = self.get(b).ok_or_else(|| CatalogueError::MissingBase {
                    image: name.clone(),
                    base: b.clone(),
                })?;
                (base.root.clone(), base.config.clone())
            }
            None => (Arc::new(Node::empty_dir(0o755, t)), ImageConfig::default()),
        };
        let tree = SharedTree::new(root);
        let vfs = Vfs::new(tree.clone(), vec![]);
        let bad = |path: &str, reason: String| CatalogueError::BadFile {
            image: name.clone(),
            path: path.to_string(),
            reason,
        };
        for d in &spec.dirs {
            vfs.mkdir(d, true, 0o755, t)
                .map_err(|e| bad(d, e.to_string()))?;
        }
        for (dir, names) in &spec.programs {
            vfs.mkdir(dir, true, 0o755, t)
                .map_err(|e| bad(dir, e.to_string()))?;
            for p in names {
                if programs::lookup(p).is_none() {
                    return Err(bad(
                        &format!("{dir}/{p}"),
                        format!("no builtin program named {p}"),
                    ));
                }
                let path = format!("{dir}/{p}");
                vfs.put(&path, Node::file(programs::program_file(p), 0o755, t), true)
                    .map_err(|e| bad(&path, e.to_string()))?;
            }
        }
        for f in &spec.files {
            let parent = super::fs::absolute(&f.path, "..");
            vfs.mkdir(&parent, true, 0o755, t)
                .map_err(|e| bad(&f.path, e.to_string()))?;
            let node = match (&f.content, &f.program, &f.symlink) {
                (Some(c), None, None) => {
                    let mode = parse_mode(&name, &f.path, f.mode.as_deref(), 0o644)?;
                    Node::file(c.clone().into_bytes(), mode, t)
                }
                (None, Some(p), None) => {
                    if programs::lookup(p).is_none() {
                        return Err(bad(&f.path, format!("no builtin program named {p}")));
                    }
                    let mode = parse_mode(&name, &f.path, f.mode.as_deref(), 0o755)?;
                    Node::file(programs::program_file(p), mode, t)
                }
                (None, None, Some(target)) => Node::symlink(target.clone(), t),
                _ => {
                    return Err(bad(
                        &f.path,
                        "give exactly one of content, program or symlink".into(),
                    ));
                }
            };
            // Replace whatever the base had at this path.
            let _ = vfs.remove(&f.path, true, t);
            vfs.put(&f.path, node, true)
                .map_err(|e| bad(&f.path, e.to_string()))?;
        }
        if spec.user.is_some() {
            config.user = spec.user.clone();
        }
        if spec.workdir.is_some() {
            config.workdir = spec.workdir.clone();
        }
        for (k, v) in &spec.env {
            match config.env.iter_mut().find(|(n, _)| n == k) {
                Some(e) => e.1 = v.clone(),
                None => config.env.push((k.clone(), v.clone())),
            }
        }
        config.labels.extend(spec.labels.clone());
        if let Some(e) = &spec.entrypoint {
            config.entrypoint = e.clone();
        }
        if let Some(c) = &spec.cmd {
            config.cmd = c.clone();
        }
        if !spec.ports.is_empty() {
            config.ports = spec.ports.clone();
        }
        Ok(Image {
            reference,
            root: tree.snapshot(),
            config,
        })
    }

    /// The image named `reference` if the catalogue holds it (pushed images included).
    pub fn get(&self, reference: &str) -> Option<Arc<Image>> {
        let r = normalize(reference).ok()?;
        self.images
            .get(&r)
            .cloned()
            .or_else(|| self.pushed_image(&r))
    }

    fn pushed_image(&self, normalized: &str) -> Option<Arc<Image>> {
        self.pushed
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(normalized)
            .cloned()
    }

    /// Adds (or replaces) an image under each of `references`, as a push to a registry does;
    /// the image's own reference is the first of them.
    pub fn push(&self, references: &[String], image: Image) -> Result<(), PullError> {
        let names = references
            .iter()
            .map(|r| normalize(r))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = names.first() else {
            return Err(PullError::InvalidReference(String::new()));
        };
        let image = Arc::new(Image {
            reference: first.clone(),
            ..image
        });
        let mut pushed = self
            .pushed
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for n in names {
            pushed.insert(n, image.clone());
        }
        Ok(())
    }

    /// Pushes the image a build made from `record` (its base pulled from this catalogue),
    /// recording the push in the state directory's journal first when there is one.
    pub fn push_recorded(&self, record: &super::image_journal::PushRecord) -> Result<(), String> {
        let base = self.pull(&record.base).map_err(|e| e.to_string())?;
        let image = record.assemble(&base)?;
        if let Some(j) = self.journal.get() {
            j.append(record)?;
        }
        self.push(&record.references, image)
            .map_err(|e| e.to_string())
    }

    /// Replays the pushes recorded in `dir` and records the coming ones there. A recorded
    /// push whose base image is gone (a catalogue changed between runs) is skipped with a
    /// warning. Returns how many images were restored.
    pub fn open_journal(&self, dir: &Path) -> Result<usize, super::image_journal::JournalError> {
        let (journal, records) = super::image_journal::Journal::open(dir)?;
        let mut restored = 0;
        for r in &records {
            match self.push_recorded(r) {
                Ok(()) => restored += 1,
                Err(why) => {
                    tracing::warn!(image = ?r.references.first(), %why, "a pushed image is not restored")
                }
            }
        }
        if self.journal.set(journal).is_err() {
            tracing::warn!("the image journal was already open; keeping the first");
        }
        Ok(restored)
    }

    /// Every image reference in the catalogue (aliases and pushed images included), sorted.
    pub fn references(&self) -> Vec<String> {
        let mut all: Vec<String> = self.images.keys().cloned().collect();
        all.extend(
            self.pushed
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .keys()
                .cloned(),
        );
        all.sort();
        all.dedup();
        all
    }

    /// Resolves an image for a container: the catalogue's image, else (unless strict) the busybox
    /// base under the requested name.
    pub fn pull(&self, reference: &str) -> Result<Arc<Image>, PullError> {
        let norm = normalize(reference)?;
        if let Some(i) = self
            .images
            .get(&norm)
            .cloned()
            .or_else(|| self.pushed_image(&norm))
        {
            return Ok(i);
        }
        if self.strict {
            return Err(PullError::NotFound {
                reference: reference.to_string(),
            });
        }
        let base = self
            .images
            .get(BASE_IMAGE)
            .ok_or_else(|| PullError::NotFound {
                reference: reference.to_string(),
            })?;
        Ok(Arc::new(Image {
            reference: norm,
            root: base.root.clone(),
            config: base.config.clone(),
        }))
    }
}
